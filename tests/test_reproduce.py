"""`vgan reproduce table2 --scale smoke` end to end: every number in the table comes from a run."""
import hashlib
import json
import re
from pathlib import Path

import numpy as np

from vgan.cli import main
from vgan.data import SVHN
from vgan.reproduce import PAPER

ROW = re.compile(r"^\| (No augmentation|VCD \(rho = [0-9.]+\)) \| ([0-9.]+) \| ([0-9.]+) \| `(.+)` \|$", re.M)


def tiny_svhn(folder: Path, monkeypatch) -> None:
    """SVHN files in the official layout (random pixels), accepted as if they were the real ones."""
    from scipy.io import savemat

    rng = np.random.default_rng(0)
    files = {}
    for name, n in (("train_32x32.mat", 500), ("test_32x32.mat", 200)):
        savemat(folder / name, {"X": rng.integers(0, 256, (32, 32, 3, n), dtype=np.uint8),
                                "y": rng.integers(1, 11, (n, 1)).astype(np.uint8)})
        files[name] = hashlib.md5((folder / name).read_bytes()).hexdigest()
    monkeypatch.setattr(SVHN, "files", files)
    monkeypatch.setattr(SVHN, "train_size", 400)
    real_find = SVHN.find
    monkeypatch.setattr(SVHN, "find", lambda self, data_dir: real_find(self, folder))


def test_reproduce_table2_smoke(mnist, tmp_path, capsys, monkeypatch):
    tiny_svhn(tmp_path, monkeypatch)
    args = ["reproduce", "table2", "--scale", "smoke", "--out-dir", str(tmp_path / "out"), "--device", "cpu"]
    assert main(args) == 0
    root = tmp_path / "out" / "table2_smoke"
    table = (root / "table2_smoke.md").read_text()
    assert "scale: smoke" in table and "REDUCED" in table and "## mnist" in table and "## svhn" in table
    mnist_part, svhn_part = table.split("## svhn")
    for part, dataset in ((mnist_part, "mnist"), (svhn_part, "svhn")):
        rows = ROW.findall(part)
        assert [r[0] for r in rows] == list(PAPER["table2"][dataset])
        for row, ours, paper, source in rows:
            assert float(paper) == PAPER["table2"][dataset][row]
            saved = json.loads(Path(source).read_text())  # the number's own run
            assert f"{saved['test_error_pct']:.2f}" == ours and saved["dataset"] == dataset
    for rho in ("0", "0_001", "0_01", "0_1", "1"):
        assert (root / f"vcd_rho_{rho}" / "last.pt").is_file() and (root / "svhn" / f"vcd_rho_{rho}" / "last.pt").is_file()
    capsys.readouterr()
    mtime = (root / "vcd_rho_1" / "last.pt").stat().st_mtime
    assert main(args) == 0
    assert (root / "vcd_rho_1" / "last.pt").stat().st_mtime == mtime  # finished runs are reused
