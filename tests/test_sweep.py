"""benchmarks/sweep.py: the commands its records give run as written."""

import importlib.util
import json
import shlex
import sys
from pathlib import Path

import pytest

SWEEP = Path(__file__).resolve().parents[1] / "benchmarks" / "sweep.py"


def _sweep_module():
    spec = importlib.util.spec_from_file_location("sweep", SWEEP)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_a_seed_summary_records_a_command_that_reproduces_it(tmp_path, monkeypatch, capsys):
    sweep = _sweep_module()
    records = tmp_path / "records"
    keys = ["hidden=16", "gen_hidden=16", "z_dim=4", "experts=4", "train_limit=200", "batch_size=50", "epochs=1"]
    argv = ["sweep.py", "toy25_vgan", "--grid", "max_steps=2", "--seeds", "0,1", "--metrics", "modes", "--n", "300"]
    argv += ["--set", *keys, "--out-dir", str(tmp_path / "runs"), "--records", str(records)]
    monkeypatch.setattr(sys, "argv", argv)
    sweep.main()
    rows = capsys.readouterr().out.strip().splitlines()[-2:]
    assert [r.split()[-1] for r in rows] == ["0", "1"]  # no --score: the rows as they ran
    summary = json.loads((records / "toy25_vgan_2.json").read_text())
    assert summary["values"]["seeds"] == "0,1" and summary["values"]["samples.mean"] == 300
    command = shlex.split(summary["command"])
    assert command[:2] == ["python", "benchmarks/sweep.py"] and command[command.index("--n") + 1] == "300"
    monkeypatch.setattr(sys, "argv", ["sweep.py", *command[2:], "--out-dir", str(tmp_path / "runs")])
    sweep.main()  # the recorded command runs as written: every finished point is reused
    again = json.loads((tmp_path / "runs" / "toy25_vgan.json").read_text())
    assert [r["seed"] for r in again] == [0, 1]
    single = json.loads((records / "toy25_vgan_2_s0.json").read_text())
    assert single["command"].endswith("vgan evaluate runs/toy25_vgan_2_s0 --metrics modes --n 300")
