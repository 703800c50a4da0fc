"""Bad input, part 3: the failure classes of the second round, each closed at its cause, with the
cases that found them (the fuzz harness, test_fuzz.py, looks for more). Refusals are checked as in
parts 1 and 2 (badinput.World.refused: exit status 2, one line naming the problem, no file changed)."""

import fcntl
import os
import subprocess
import sys
import tempfile
import time

import pytest
import torch

from badinput import edit_checkpoint
from conftest import TINY, with_keys
from vgan.cli import main
from vgan.runs.checkpoint import load_checkpoint


def key(*overrides, message):
    return lambda w: (w.train(*with_keys(["name=new"], *overrides)), message)


def config_file(text, message):
    return lambda w: (["train", "--config", w.file("c.yaml", text)], message)


def resume(*args, damage=None, message):
    def case(w):
        if damage:
            damage(w.run)
        return ["train", "--resume", w.run, "epochs=3", *args], message

    return case


def replace_by_folder(name):
    def damage(run):
        (run / name).unlink()
        (run / name).mkdir()

    return damage


def replace_by_file(name):
    def damage(run):
        import shutil

        shutil.rmtree(run / name)
        (run / name).write_text("not a folder")

    return damage


def damaged(run, damage):
    damage(run)
    return run


def write(name, data):
    return lambda run: (run / name).write_bytes(data)


def checkpoint(field, value, command=("sample",)):
    def case(w):
        edit_checkpoint(w.run / "last.pt", lambda s: s.__setitem__(field, value))
        return [*command, w.run], f"is damaged: its {field} must be"

    return case


def points_vcd(command, *args):
    return lambda w: ([command, w.fake_run("vcd2d", (2,), dataset="25gaussians", objective="vcd"), *args], "2-D points")


def plot_with(metrics: bytes, message):
    def case(w):
        (w.run / "metrics.jsonl").write_bytes(metrics)
        return ["plot", w.run, "--out", w.root / "c.png"], message

    return case


DEEP = "[" * 700 + "]" * 700
CASES = {
    # tracebacks, now one line
    "lr-1e300": key("lr=1e300", message="'lr' must be a finite number, 0 or of magnitude in"),
    "yaml-nested-700-deep": config_file(f"lr: {DEEP}\n", "nests values more than 8 deep"),
    "override-nested-700-deep": key(f"lr={DEEP}", message="nests values more than 8 deep"),
    "plot-metrics-not-utf8": plot_with(b'{"step": 1, "loss_e": 1}\n\xff\xfe\n{"step": 2}\n', "line 2 is not a metrics"),
    "plot-metrics-nested-deep": plot_with(b'{"a": ' + b"[" * 100000 + b"\n{}\n", "line 1 is not a metrics record"),
    "augment-points-dataset": lambda w: (["augment", "--dataset", "25gaussians"], "holds 2-D points, not images"),
    "chain-points-vcd-run": points_vcd("chain"),
    "reconstruct-points-vcd-run": points_vcd("reconstruct", "--no-classifier"),
    "augment-points-vcd-run": points_vcd("augment"),
    "hidden-overflows-a-tensor": key(f"hidden={2**63 - 1}", message="'hidden' must be in [1, 1048576]"),
    "z-dim-past-int64": key(f"z_dim={10**20}", message="'z_dim' must fit in 64 bits"),
    "sample-n-past-int64": lambda w: (["sample", w.run, "--n", "9" * 20], "must be an integer in [2, 10000]"),
    "resume-run-json-of-another-layout": resume(damage=write("run.json", b'{"sessions": 5}'), message="is damaged"),
    "checkpoint-image-shape-negative": checkpoint("image_shape", [1, -28, 28]),
    "checkpoint-rng-not-bytes": checkpoint("noise_rng", "x", ("train", "--resume")),
    "checkpoint-step-a-bool": checkpoint("step", True, ("train", "--resume")),
    # resource exhaustion (the alias bomb under a memory limit: test_an_alias_bomb_...)
    "yaml-alias": config_file("a: &x 0.1\nlr: *x\n", "uses the alias *x (line 2)"),
    "config-file-of-megabytes": config_file("# " + "x" * (1 << 20) + "\n", "more than a config ever does"),
    "chain-steps-past-bound": lambda w: (["chain", w.run, "--steps", "1001"], "must be an integer in [1, 1000]"),
    "reproduce-seeds-past-bound": lambda w: (["reproduce", "table2", "--seeds", "101"], "in [1, 100]"),
    # data loss: check before writing
    "sample-out-a-checkpoint": lambda w: (["sample", w.run, "--out", w.run / "last.pt"], "does not end in .png"),
    "sample-out-the-curves": lambda w: (["sample", w.run, "--out", w.run / "curves.png"], "a file that training keeps"),
    "plot-out-a-sample-grid": lambda w: (["plot", w.run, "--out", w.run / "samples/epoch_001.png"], "training keeps"),
    "sample-out-a-pipe": lambda w: (["sample", w.run, "--out", fifo(w)], "is not a regular file"),
    "resume-metrics-a-folder": resume(damage=replace_by_folder("metrics.jsonl"), message="is a folder where the run"),
    "resume-run-json-a-folder": resume(damage=replace_by_folder("run.json"), message="run.json is a folder"),
    "resume-samples-a-file": resume(damage=replace_by_file("samples"), message="samples is a file where the run"),
    "resume-tb-a-file": resume(damage=replace_by_file("tb"), message="tb is a file where the run keeps a folder"),
    "resume-metrics-line-damaged": resume(damage=write("metrics.jsonl", b'{"step": "1"}\n{}\n'), message="line 1"),
    "resume-run-json-not-json": resume(damage=write("run.json", b"\xff{"), message="run.json is damaged"),
    "evaluate-json-a-folder": lambda w: (["evaluate", toy_with_folder(w, "evaluate.json")], "is a folder"),
    "sample-checkpoint-of-another-run": lambda w: (["sample", w.run, "--checkpoint", "../x/last.pt"], "a file name"),
    # a failed start: refused before it starts
    "batch-size-1": key("batch_size=1", message="'batch_size' must be >= 2"),
    # silent successes
    "override-key-twice": key("k=1", "k=2", message="the key 'k' is given twice among the overrides"),
    "override-empty-value": key("train_limit=", message="override 'train_limit=' has no value"),
    "flag-and-key-for-one-key": key("device=cpu", "--device", "cpu", message="device is given twice, as --device"),
    "option-twice": lambda w: (["sample", w.run, "--n", "4", "--n", "9"], "argument --n: given twice"),
    "option-empty": lambda w: (["sample", w.run, "--out", ""], "argument --out: is empty"),
    "rows-empty": lambda w: (["reproduce", "table1", "--rows", ""], "argument --rows: must be distinct"),
    "metrics-twice": lambda w: (["evaluate", w.run, "--metrics", "fid,fid"], "must be distinct comma-separated"),
    "plot-empty-config": lambda w: (["plot", w.file("runs/run/config.yaml", "").parent], "config.yaml lacks name"),
    "plot-step-not-a-number": plot_with(b'{"step": "x", "loss_e": 1}\n{"step": 2}\n', "line 1 is not a metrics"),
    "data-dir-for-generated-points": key("dataset=8gaussians", "--data-dir", ".", message="data_dir has no effect"),
    "augment-run-and-another-dataset": lambda w: (["augment", w.run, "--dataset", "fashion-mnist"], "drop --dataset"),
    "name-with-a-line-break": key('name="a\\nb"', message="must be one line of text"),
    # messages that pointed at the wrong cause
    "sample-points-vcd-run": points_vcd("sample"),
    "resume-empty-config": resume(damage=write("config.yaml", b""), message="config.yaml lacks name, dataset"),
    "sample-checkpoint-a-folder": lambda w: (["sample", w.run, "--checkpoint", "samples"], "is a folder or a device"),
    "plot-metrics-a-folder": lambda w: (["plot", damaged(w.run, replace_by_folder("metrics.jsonl"))], "is a folder"),
    "name-read-as-a-date": key("name=2001-12-14", message="quote it, e.g. name='2001-12-14'"),
}

if not torch.cuda.is_available():  # the baseline row resolves its device as a run does
    CASES["augment-on-cuda-without-cuda"] = lambda w: (["augment", "--dataset", "mnist", "--device", "cuda"], "CUDA")


def toy_with_folder(w, name):
    run = w.fake_run("toy", (2,), dataset="8gaussians")
    (run / name).mkdir()
    return run


def fifo(w):
    os.mkfifo(w.root / "pipe.png")
    return w.root / "pipe.png"


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_refused_without_side_effects(world, case, capsys):
    args, message = case(world)
    world.refused(args, message, capsys)


def test_vgan_data_naming_a_file_is_refused(world, monkeypatch, capsys):
    monkeypatch.setenv("VGAN_DATA", str(world.file("afile", "x")))
    world.refused(["data", "verify", "mnist"], "VGAN_DATA=", capsys)


@pytest.mark.slow
def test_an_alias_bomb_is_refused_at_once_within_a_memory_bound(tmp_path):
    """400 bytes that expand to 9^7 items: read under a 2 GiB address-space limit, refused at the first alias."""
    levels = ["&a0 [x, x, x, x, x, x, x, x, x]"] + [f"&a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 8)]
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(f"lr: [{', '.join(levels)}]\n")
    code = "import resource, sys; resource.setrlimit(resource.RLIMIT_AS, (2 << 30,) * 2); from vgan.cli import main; "
    start = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-c", code + f"sys.exit(main(['train', '--config', {str(bomb)!r}]))"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert "uses the alias *a0" in result.stderr and time.monotonic() - start < 60


@pytest.mark.slow
def test_a_new_run_that_fails_after_its_first_write_leaves_nothing(tiny, tmp_path, capsys):
    args = with_keys(tiny, f"out_dir={tmp_path / 'new' / 'runs'}", "name=nan", "lr=3e38")
    assert main(["train", *args]) == 2  # config.yaml and run.json written, then NaN
    assert "no checkpoint was written yet" in capsys.readouterr().err
    assert not (tmp_path / "new").exists()  # nor the out_dir it made for it
    assert main(["train", *tiny, "name=nan", "lr=3e38"]) == 2
    assert not (tmp_path / "nan").exists()
    assert main(["train", *tiny, "name=nan", "max_steps=1"]) == 0  # the name is free


@pytest.mark.slow
def test_a_failed_dry_run_leaves_no_temporary_folder(mnist, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where the dry run makes its folder
    assert main(["train", "--dry-run", *TINY, "lr=3e38"]) == 2
    assert list(tmp_path.glob("vgan-dry-run-*")) == []
    assert main(["train", "--dry-run", *TINY]) == 0  # a successful one keeps it, to look at
    assert len(list(tmp_path.glob("vgan-dry-run-*"))) == 1


def test_sigterm_during_a_write_leaves_no_temporary_file(world, monkeypatch):
    from PIL import Image

    def killed(self, fp, *args, **kwargs):
        fp.write(b"\x89PNG half")
        os.kill(os.getpid(), 15)  # SIGTERM, as `kill` or a scheduler sends it mid-write

    old = (world.run / "samples" / "epoch_001.png").read_bytes()
    (world.run / "sample.png").write_bytes(old)
    monkeypatch.setattr(Image.Image, "save", killed)
    assert main(["sample", str(world.run)]) == 143
    assert [p.name for p in world.run.iterdir() if p.name.endswith(".tmp")] == []
    assert (world.run / "sample.png").read_bytes() == old  # the old file, whole


def test_a_killed_writers_temp_file_is_removed_by_the_next_write_not_a_live_ones(world):
    dead, live = world.run / ".sample.png.dead.tmp", world.run / ".sample.png.live.tmp"
    for path in (dead, live):
        path.write_bytes(b"partial")
        os.utime(path, (time.time() - 60,) * 2)
    with open(live, "rb") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # a writer still at work
        assert main(["sample", str(world.run)]) == 0
        assert not dead.exists() and live.exists()


@pytest.mark.slow
def test_resume_trains_with_the_lr_it_is_given(world):
    assert main(["train", "--resume", str(world.run), "epochs=3", "lr=0.001"]) == 0
    state = load_checkpoint(world.run / "last.pt")
    assert [g["lr"] for g in state["opt_e"]["param_groups"] + state["opt_g"]["param_groups"]] == [0.001, 0.001]


@pytest.mark.slow
def test_tilde_in_a_config_file_is_the_home_folder(world, monkeypatch, capsys):
    monkeypatch.setenv("HOME", str(world.root / "home"))
    path = world.file("t.yaml", "\n".join(k.replace("=", ": ") for k in TINY) + "\nout_dir: ~/runs\nmax_steps: 1\n")
    assert main(["train", "--config", str(path), "name=t"]) == 0
    assert (world.root / "home" / "runs" / "t" / "last.pt").is_file() and not (world.root / "~").exists()


def test_a_checkpoint_holding_no_tensors_where_they_belong_is_one_line(world, capsys):
    edit_checkpoint(world.run / "last.pt", lambda s: s.__setitem__("energy", {"w": torch.zeros(3)}))
    world.refused(["sample", world.run], "does not fit the networks", capsys)


@pytest.mark.slow
def test_a_last_batch_of_one_is_drawn_with_the_one_before(world, capsys):
    """The samplers' batch norm needs two images: 101 samples in chunks of 100, or 501 validation
    images in chunks of 500, were a traceback (the harness found the second)."""
    from vgan.data import spans

    assert [(s.start, s.stop) for s in spans(501, 500)] == [(0, 501)] and len(spans(500, 500)) == 1
    assert main(["evaluate", str(world.fake_run("toy", (2,), dataset="8gaussians")), "--n", "101"]) == 0
    vcd = world.fake_run("vcd", objective="vcd", code_dim=8)
    assert main(["reconstruct", str(vcd), "--no-classifier", "--eval-n", "501", "--n", "2"]) == 0
    assert "images  501" in capsys.readouterr().out


def test_a_resumed_run_that_fails_before_its_next_checkpoint_names_the_one_it_has(world, capsys):
    """A run resumed from a checkpoint at step 0 was told "no checkpoint was written yet"."""
    run = world.fake_run("fresh")  # last.pt at step 0
    assert main(["train", "--resume", str(run), "lr=3e38"]) == 2
    assert f"the last good checkpoint {run / 'last.pt'} is at step 0" in capsys.readouterr().err
    assert load_checkpoint(run / "last.pt")["step"] == 0
