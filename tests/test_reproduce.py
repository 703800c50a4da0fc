"""`vgan reproduce table1|table2 --scale smoke` end to end: every number in a table comes from a run."""

import hashlib
import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import vgan.evaluation
from vgan.cli import main
from vgan.data import SVHN
from vgan.records.paper import PAPER
from vgan.reproduce import table_rows

pytestmark = pytest.mark.slow  # the fast tier (pytest -m "not slow") leaves this module out

ROW2 = re.compile(
    r"^\| ([^|]+) \| ([0-9.]+)(?: ± [0-9.]+)? \| (\d+) \| ([0-9.]+) \| ([0-9.—]+) \| ([0-9.—]+) \| `(.+)` \|$", re.M
)
ROW1 = re.compile(r"^\| ([^|]+) \| ([0-9.]+) \| ([0-9.—]+) \| `(.+)` \|$", re.M)


class Brightness(nn.Module):
    """A stand-in for the cached digit classifier (which takes minutes to train): class by brightness."""

    def forward(self, x):
        return x.flatten(1).mean(1, keepdim=True) * torch.arange(10.0)


def tiny_svhn(folder: Path, monkeypatch) -> None:
    """SVHN files in the official layout (random pixels), accepted as if they were the real ones."""
    from scipy.io import savemat

    rng = np.random.default_rng(0)
    files = {}
    for name, n in (("train_32x32.mat", 500), ("test_32x32.mat", 200)):
        savemat(
            folder / name,
            {
                "X": rng.integers(0, 256, (32, 32, 3, n), dtype=np.uint8),
                "y": rng.integers(1, 11, (n, 1)).astype(np.uint8),
            },
        )
        files[name] = hashlib.md5((folder / name).read_bytes()).hexdigest()
    monkeypatch.setattr(SVHN, "files", files)
    monkeypatch.setattr(SVHN, "train_size", 400)
    real_find = SVHN.find
    monkeypatch.setattr(SVHN, "find", lambda self, data_dir: real_find(self, folder))


def test_reproduce_table2_smoke(mnist, tmp_path, capsys, monkeypatch):
    tiny_svhn(tmp_path, monkeypatch)
    monkeypatch.setattr(vgan.evaluation, "load_classifier", lambda *a, **k: Brightness())
    args = ["reproduce", "table2", "--scale", "smoke", "--out-dir", str(tmp_path / "out"), "--device", "cpu"]
    assert main([*args, "--seeds", "2", "--rows", "no_augmentation,vcd_rho_0_01"]) == 0
    root = tmp_path / "out" / "table2_smoke"
    table = (root / "table2_smoke.md").read_text()
    assert "not run (add `--rows vcd_rho_1`)" in table  # rows left out are listed, not computed
    assert not (root / "vcd_rho_1").exists()
    assert main(args) == 0  # the rest; the two rows above are reused with both their seeds
    table = (root / "table2_smoke.md").read_text()
    assert "scale: smoke" in table and "REDUCED" in table and "## mnist" in table and "## svhn" in table
    assert "Classifier protocol: labels 100, epochs 2, eval_n 200" in table
    mnist_part, svhn_part = table.split("## svhn")
    for part, dataset in ((mnist_part, "mnist"), (svhn_part, "svhn")):
        rows = ROW2.findall(part)
        assert [r[0] for r in rows] == list(PAPER["table2"][dataset])
        for row, ours, seeds, paper, kept, moved, source in rows:
            assert float(paper) == PAPER["table2"][dataset][row]
            saved = json.loads(Path(source).read_text())  # the number's own file
            assert f"{saved['test_error_pct']:.2f}" == ours and saved["dataset"] == dataset
            assert int(seeds) == len(saved["seeds"]) == len(saved["per_seed"])
            if row == "No augmentation":
                assert kept == moved == "—"
                continue
            quality = json.loads((Path(source).parent / "transitions.json").read_text())
            assert f"{quality['label_kept']:.3f}" == kept and f"{quality['distance']:.2f}" == moved
    two_seeds = [r for r in ROW2.findall(mnist_part) if r[0] in ("No augmentation", "VCD (rho = 0.01)")]
    assert [r[2] for r in two_seeds] == ["2", "2"]
    capsys.readouterr()
    mtime = (root / "vcd_rho_1" / "last.pt").stat().st_mtime
    assert main(args) == 0
    assert (root / "vcd_rho_1" / "last.pt").stat().st_mtime == mtime  # finished runs are reused
    cached = root / "vcd_rho_1" / "augment_seed_0.json"  # a cached result that lost a field
    cached.write_text(json.dumps({k: v for k, v in json.loads(cached.read_text()).items() if k != "per_seed"}))
    capsys.readouterr()
    assert main(args) == 2
    assert "augment_seed_0.json lacks per_seed; move it aside" in capsys.readouterr().err


def test_reproduce_table1_smoke_with_controls(tmp_path, capsys):
    pytest.importorskip("sklearn")
    args = ["reproduce", "table1", "--scale", "smoke", "--out-dir", str(tmp_path / "out"), "--device", "cpu"]
    assert main([*args, "--record", str(tmp_path / "rec" / "table1.json")]) == 0
    root = tmp_path / "out" / "table1_smoke"
    record = json.loads((tmp_path / "rec" / "table1.json").read_text())  # vgan.records: the same numbers
    assert record["kind"] == "reproduce" and record["command"] == "vgan " + " ".join(args) + " --record " + str(
        tmp_path / "rec" / "table1.json"
    )
    assert record["scale"] == "table1 at scale smoke" and record["machine"]["cpu"]
    table = (root / "table1_smoke.md").read_text()
    assert "Probe protocol: features standardised" in table and "C in {0.01, 0.1, 1.0}" in table
    rows = ROW1.findall(table)
    assert [r[0] for r in rows] == [r.label for r in table_rows("table1")]
    labels = {r[0] for r in rows}
    assert {"GAN k=1 (saturating)", "Random-init energy network", "Raw pixels"} <= labels
    slugs = {r.label: r.slug for r in table_rows("table1")}
    for row, ours, paper, source in rows:
        saved = json.loads(Path(source).read_text())
        assert f"{saved['test_error_pct']:.2f}" == ours
        assert record["values"][f"{slugs[row]}.test_error_pct"] == saved["test_error_pct"]
        assert paper == str(PAPER["table1"]["cifar10"].get(row, "—"))
    assert "gan_generator_loss: saturating" in (root / "gan_k_1_saturating" / "config.yaml").read_text()
    assert json.loads((root / "raw_pixels" / "probe.json").read_text())["feature_dim"] == 3 * 32 * 32


def test_a_run_directory_holding_another_model_is_not_reused(tmp_path):
    from vgan._utils.errors import ConfigError
    from vgan.config import Config, save_config
    from vgan.reproduce import _same_model, ensure_trained

    old = Config(name="vcd_rho_0_01", out_dir=str(tmp_path), objective="vcd", arch="mlp", k=3, epochs=10)
    old.run_dir.mkdir()
    save_config(old, old.run_dir / "config.yaml")  # e.g. left by the table's MLP scale of an older version
    wanted = Config(name="vcd_rho_0_01", out_dir=str(tmp_path), objective="vcd", arch="conv", k=1, epochs=12)
    with pytest.raises(ConfigError, match="was trained with arch='mlp' but this table needs arch='conv'"):
        ensure_trained(wanted)
    assert not (old.run_dir / "last.pt").exists()  # nothing was trained over it
    moved = Config(name="vcd_rho_0_01", out_dir="/where/it/was/trained", objective="vcd", arch="conv", k=1)
    save_config(moved, old.run_dir / "config.yaml")  # the same model in a directory moved since
    _same_model(Config(name="vcd_rho_0_01", out_dir=str(tmp_path), objective="vcd", arch="conv", k=1))
