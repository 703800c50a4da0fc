"""Crash-consistent runs: a run killed (os._exit, as kill -9) right after any one of the files that
training writes resumes to exactly the uninterrupted run's end, with every epoch's files."""

import json
import os
import subprocess
import sys

import pytest
import torch

from conftest import TINY
from vgan.runs.checkpoint import load_checkpoint

pytestmark = pytest.mark.slow

# run vgan with every write of the training loop counted, and the process killed after the Nth
CRASHING = """
import os, sys
from vgan.training import loop

target, seen = int(os.environ["VGAN_CRASH_AFTER"]), [0]

def counted(write):
    def wrapper(*args, **kwargs):
        out = write(*args, **kwargs)
        seen[0] += 1
        if seen[0] == target:
            os._exit(137)  # no cleanup, no flush: as kill -9 right after the write
        return out
    return wrapper

for name in ("save_config", "record_session", "save_checkpoint", "save_image", "plot_curves"):
    setattr(loop, name, counted(getattr(loop, name)))
from vgan.cli import main
sys.exit(main(sys.argv[1:]))
"""
WRITES = 11  # config.yaml, run.json; step 3 last.pt; epoch 1: grid, curves, last.pt; step 6 last.pt;
# epoch 2: grid, curves, epoch_002.pt, last.pt


def vgan(*args, crash_after=0):
    env = {**os.environ, "VGAN_CRASH_AFTER": str(crash_after)}
    return subprocess.run([sys.executable, "-c", CRASHING, *map(str, args)], env=env, capture_output=True, text=True)


def metrics(run):
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def tensors(state, prefix=""):
    """The names of every tensor in a checkpoint (nested state dicts flattened)."""
    out = []
    for key, value in state.items():
        if isinstance(value, dict):
            out += tensors(value, f"{prefix}{key}.")
        elif isinstance(value, torch.Tensor):
            out.append(f"{prefix}{key}")
    return sorted(out)


def same(a, b):
    """Whether two checkpoints hold equal tensors under every name (config and step aside)."""
    if isinstance(a, dict):
        return all(same(a[k], b[k]) for k in a if k not in ("config",))
    if isinstance(a, torch.Tensor):
        return torch.equal(a, b)
    return True


def comparable(lines):
    return [{k: v for k, v in m.items() if k != "images_per_s"} for m in lines]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, mnist):
    root = tmp_path_factory.mktemp("whole")
    done = vgan("train", *TINY, f"out_dir={root}", "name=run", "tensorboard=false")
    assert done.returncode == 0, done.stderr
    return root / "run"


@pytest.mark.parametrize("after", range(1, WRITES + 1))
def test_a_kill_after_any_write_resumes_to_the_same_end(after, uninterrupted, tmp_path):
    run = tmp_path / "run"
    killed = vgan("train", *TINY, f"out_dir={tmp_path}", "name=run", "tensorboard=false", crash_after=after)
    assert killed.returncode == 137, killed.stderr
    resumed = vgan("train", "--resume", run)
    if after == WRITES:  # killed after its last write: the run is complete, and resume says so
        assert resumed.returncode == 2 and "nothing to do" in resumed.stderr
    else:
        assert resumed.returncode == 0, resumed.stderr
    for name in ("epoch_002.pt", "curves.png", "samples/epoch_001.png", "samples/epoch_002.png"):
        assert (run / name).is_file(), name
    want, got = (load_checkpoint(r / "last.pt") for r in (uninterrupted, run))
    assert got["step"] == want["step"] == 8
    assert tensors(got) == tensors(want) and same(got, want)  # weights, optimisers, the sampler, the RNGs
    assert comparable(metrics(run)) == comparable(metrics(uninterrupted))
