"""`vgan reproduce table2 --scale smoke` end to end: every number in the table comes from a run."""
import json
import re
from pathlib import Path

from vgan.cli import main
from vgan.reproduce import PAPER


def test_reproduce_table2_smoke(mnist, tmp_path, capsys):
    assert main(["reproduce", "table2", "--scale", "smoke", "--out-dir", str(tmp_path), "--device", "cpu"]) == 0
    root = tmp_path / "table2_smoke"
    table = (root / "table2_smoke.md").read_text()
    assert "scale: smoke" in table and "REDUCED" in table
    rows = re.findall(r"^\| (No augmentation|VCD \(rho = [0-9.]+\)) \| ([0-9.]+) \| ([0-9.]+) \| `(.+)` \|$", table, re.M)
    assert [r[0] for r in rows] == list(PAPER["table2"])
    for row, ours, paper, source in rows:
        assert float(paper) == PAPER["table2"][row]
        saved = json.loads(Path(source).read_text())  # the number's own run
        assert f"{saved['test_error_pct']:.2f}" == ours
    for rho in ("0", "0_001", "0_01", "0_1", "1"):
        assert (root / f"vcd_rho_{rho}" / "last.pt").is_file()
    capsys.readouterr()
    mtime = (root / "vcd_rho_1" / "last.pt").stat().st_mtime
    assert main(["reproduce", "table2", "--scale", "smoke", "--out-dir", str(tmp_path), "--device", "cpu"]) == 0
    assert (root / "vcd_rho_1" / "last.pt").stat().st_mtime == mtime  # finished runs are reused
