"""The run directory's guarantees: one writer (vgan.runs.lock), no new run over an old one, resume
after kill -9, and writes that stay inside the directory."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from conftest import with_keys
from vgan.cli import main
from vgan.runs.checkpoint import load_checkpoint
from vgan.runs.lock import RunLock


def start_trainer(args):
    return subprocess.Popen(
        [sys.executable, "-m", "vgan.cli", "train", *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )


def wait_for(path, proc, timeout=120):
    deadline = time.monotonic() + timeout
    while not path.is_file():
        assert proc.poll() is None, proc.stderr.read()
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.2)


@pytest.mark.slow
def test_a_second_trainer_is_refused_and_kill_9_leaves_no_stale_lock(tiny, tmp_path, capsys):
    run = tmp_path / "long"
    first = start_trainer(with_keys(tiny, "name=long", "epochs=100000", "save_every=1", "tensorboard=false"))
    try:
        wait_for(run / "last.pt", first)
        second = subprocess.run(
            [sys.executable, "-m", "vgan.cli", "train", "--resume", str(run)],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert second.returncode == 2 and second.stderr.count("\n") == 1, second.stderr
        assert f"is in use by another vgan train (pid {first.pid} on " in second.stderr
        assert main(["train", *tiny, "name=long"]) == 2  # a new run is refused too
        assert "in use by another vgan train" in capsys.readouterr().err
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    step = load_checkpoint(run / "last.pt")["step"]  # whole: written atomically
    assert main(["train", "--resume", str(run), f"max_steps={step + 2}"]) == 0  # the dead process's lock is gone
    assert load_checkpoint(run / "last.pt")["step"] == step + 2
    assert not [p for p in run.iterdir() if p.name.endswith(".tmp")]  # a killed write's temp file is cleaned up


@pytest.mark.slow
def test_a_held_lock_names_its_holder_and_two_new_runs_cannot_both_start(tiny, tmp_path, capsys):
    with RunLock(tmp_path / "r", resume=False):  # as if a trainer had just started here
        assert main(["train", *tiny, "name=r"]) == 2
        assert f"(pid {os.getpid()} on " in capsys.readouterr().err
    assert sorted(p.name for p in (tmp_path / "r").iterdir()) == [".lock"]  # nothing else was written
    assert main(["train", *tiny, "name=r", "max_steps=1"]) == 0  # free again: a run may start in it


@pytest.mark.slow
def test_resume_cleans_the_temp_files_of_every_write_it_owns(tiny, tmp_path):
    assert main(["train", *tiny, "name=t", "max_steps=2"]) == 0
    run = tmp_path / "t"
    ours = [".epoch_003.pt.k2j9.tmp", ".last.pt.x1.tmp", ".metrics.jsonl.a.tmp", ".curves.png.b.tmp"]
    for name in [*ours, ".notes.txt.c.tmp"]:  # a killed write leaves .<name>.<random>.tmp
        (run / name).write_bytes(b"partial")
    assert main(["train", "--resume", str(run), "max_steps=4"]) == 0
    assert [p.name for p in run.glob(".*.tmp")] == [".notes.txt.c.tmp"]  # not ours: left alone


@pytest.mark.slow
def test_a_planted_symlink_redirects_nothing(tiny, tmp_path, capsys):
    assert main(["train", *tiny, "name=s", "max_steps=2"]) == 0
    run, outside = tmp_path / "s", tmp_path / "outside.txt"
    outside.write_text("precious")
    for name in ("last.pt.tmp", ".last.pt.tmp", "config.yaml.tmp"):
        (run / name).symlink_to(outside)
    assert main(["train", "--resume", str(run), "max_steps=4"]) == 0
    assert outside.read_text() == "precious"
    assert not (run / "last.pt").is_symlink() and load_checkpoint(run / "last.pt")["step"] == 4
    (run / "metrics.jsonl").rename(run / "metrics.real")
    (run / "metrics.jsonl").symlink_to(outside)  # a run file that is a link is refused, not written through
    assert main(["train", "--resume", str(run), "max_steps=6"]) == 2
    assert "metrics.jsonl is a symbolic link" in capsys.readouterr().err
    assert outside.read_text() == "precious"


@pytest.mark.slow
@pytest.mark.parametrize("resume", [False, True])
def test_the_lock_is_released_when_training_fails(tiny, tmp_path, resume, capsys):
    assert main(["train", *tiny, "name=f", "max_steps=2"]) == 0
    args = ["--resume", str(tmp_path / "f"), "max_steps=2"] if resume else [*tiny, "name=f"]
    assert main(["train", *args]) == 2  # nothing to do / already a run
    assert main(["train", "--resume", str(tmp_path / "f"), "max_steps=3"]) == 0


@pytest.mark.slow
def test_a_run_stopped_before_its_first_checkpoint_resumes_from_step_0(tiny, tmp_path):
    assert main(["train", *tiny, "name=a", "max_steps=3"]) == 0
    run = tmp_path / "a"
    expected = (run / "metrics.jsonl").read_text().splitlines()
    (run / "last.pt").unlink()  # as if killed before the first save
    assert main(["train", "--resume", str(run), "max_steps=3"]) == 0
    lines = (run / "metrics.jsonl").read_text().splitlines()
    assert [ln.split(",")[0] for ln in lines] == [ln.split(",")[0] for ln in expected]  # steps 1-3, once each
    assert load_checkpoint(run / "last.pt")["step"] == 3


@pytest.mark.slow
def test_two_new_runs_started_together_do_not_mix(tiny, tmp_path):
    args = [*tiny, "name=both", "tensorboard=false", "device=cpu"]  # the CPU is deterministic
    procs = [start_trainer(args) for _ in range(2)]
    results = [(p.wait(timeout=300), p.stderr.read()) for p in procs]
    assert sorted(code for code, _ in results) == [0, 2], results
    err = next(e for code, e in results if code == 2)
    assert err.count("\n") == 1 and ("in use by another vgan train" in err or "already holds a run" in err), err
    assert main(["train", *tiny, "name=alone", "tensorboard=false", "device=cpu"]) == 0  # the winner's is whole
    assert (tmp_path / "both" / "metrics.jsonl").read_text().count("\n") == 8

    def losses(name):
        lines = (tmp_path / name / "metrics.jsonl").read_text().splitlines()
        return [[json.loads(ln)[k] for k in ("loss_g", "loss_e")] for ln in lines]

    assert losses("both") == losses("alone")


@pytest.mark.slow
def test_evaluate_refuses_a_planted_symlink_before_it_writes_anything(world, capsys):
    run = world.fake_run("toy", (2,), dataset="8gaussians")
    outside = world.file("outside.png", "precious")
    (run / "energy_landscape.png").symlink_to(outside)
    assert main(["evaluate", str(run), "--n", "200"]) == 2
    assert "energy_landscape.png is a symbolic link" in capsys.readouterr().err
    assert outside.read_text() == "precious" and (run / "energy_landscape.png").is_symlink()
    assert not (run / "evaluate.json").exists()
