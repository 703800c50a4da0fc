"""Bad input, part 2: meaningless values are errors, not silent successes, and expected failures
are one line, not tracebacks. Same assertions as part 1 (test_bad_input.py): exit status 2, one
line naming the problem, no traceback, no file changed (badinput.World.refused)."""

import gzip

import pytest
import torch
import yaml

from badinput import nan_weights
from vgan.cli import main

# ---- 4. meaningless input is an error, not a silent success -------------------------------------


def key(override, message):
    return lambda w: (w.train("name=new", override), message)


def resume(*overrides, message):
    return lambda w: (["train", "--resume", w.run, *overrides], message)


def duplicated_key(w):
    return ["train", "--config", w.file("dup.yaml", "lr: 0.1\nk: 3\nlr: 0.5\n")], "gives the key 'lr' twice"


def sample_nan_weights(w):
    nan_weights(w.run)
    return ["sample", w.run], "holds NaN or inf weights (sampler."


def sample_langevin_zero_step(w):
    return ["sample", w.run, "--langevin-steps", "2", "--langevin-step-size", "0"], "must be a number > 0"


def sample_points_run(w):
    return ["sample", w.fake_run("toy", (2,), dataset="8gaussians")], "models 2-D points"


def probe_limit(w):
    return ["probe", w.run, "--limit", "5"], "at least one image of each of its 10 classes"


def vcd_reader(command, *args, message):
    return lambda w: ([command, w.fake_run("vcd", objective="vcd", code_dim=8), *args], message)


SILENT = {
    "max-steps-negative": key("max_steps=-3", "'max_steps' must be in [1, 10000000000] or null"),
    "max-steps-zero": key("max_steps=0", "'max_steps' must be in [1, 10000000000] or null"),
    "epochs-zero": key("epochs=0", "'epochs' must be in [1, 1000000]"),
    "train-limit-negative": key("train_limit=-1", "'train_limit' must be > 0 or null"),
    "lr-zero": key("lr=0", "'lr' must be > 0"),
    "prob-clip-half": key("prob_clip=0.5", "'prob_clip' must be in (0, 0.5)"),
    "rho-above-one": key("rho=1.5", "'rho' must be in [0, 1]"),
    "betas-one": key("betas=[0.5,1.0]", "'betas' must be two numbers in [0, 1)"),
    "ema-decay-one": key("ema_decay=1", "'ema_decay' must be in [0, 1)"),
    "seed-negative": key("seed=-1", "'seed' must be in [0, 4294967295]"),
    "entropy-weight-negative": key("gen_entropy_weight=-1", "'gen_entropy_weight' must be >= 0"),
    "no-full-batch": lambda w: (w.train("name=new", "train_limit=null", "batch_size=60000"), "make no full iteration"),
    "data-dir-flag-missing": lambda w: (w.train("name=new", "--data-dir", w.root / "nowhere"), "is not a folder"),
    "data-dir-key-missing": key("data_dir=nowhere", "data_dir nowhere is not a folder"),
    "verify-data-dir-missing": lambda w: (["data", "verify", "mnist", "--data-dir", "nowhere"], "is not a folder"),
    "duplicated-yaml-key": duplicated_key,
    "resume-a-finished-run": resume(message="nothing to do; raise epochs= or max_steps="),
    "resume-max-steps-reached": resume("max_steps=8", message="nothing to do"),
    "sample-nan-weights": sample_nan_weights,
    "sample-langevin-zero-step": sample_langevin_zero_step,
    "sample-points-run": sample_points_run,
    "sample-one-image": lambda w: (["sample", w.run, "--n", "1"], "must be an integer in [2, 10000]"),
    "sample-missing-checkpoint": lambda w: (["sample", w.run, "--checkpoint", "epoch_009.pt"], "no checkpoint at"),
    "augment-fewer-labels-than-a-batch": lambda w: (
        ["augment", "--dataset", "mnist", "--labels", "50"],
        "--labels must be >= 100",
    ),
    "augment-more-labels-than-the-split": lambda w: (
        ["augment", "--dataset", "mnist", "--labels", "60000"],
        "--labels must be <= 50000",
    ),
    "augment-zero-epochs": lambda w: (["augment", "--dataset", "mnist", "--epochs", "0"], "must be an integer > 0"),
    "augment-bad-seeds": lambda w: (["augment", "--dataset", "mnist", "--seeds", "0,0"], "distinct"),
    "augment-no-dataset": lambda w: (["augment"], "name the dataset"),
    "probe-limit-below-classes": probe_limit,
    "evaluate-one-sample": lambda w: (["evaluate", w.run, "--n", "1"], "must be an integer in [2, 1000000]"),
    "reconstruct-one-image": vcd_reader("reconstruct", "--n", "1", message="must be an integer in [2, 10000]"),
    "chain-zero-steps": vcd_reader("chain", "--steps", "0", message="must be an integer in [1, 1000]"),
    "chain-of-a-vgan-run": lambda w: (["chain", w.run], "need a VCD run"),
    "reproduce-zero-seeds": lambda w: (["reproduce", "table2", "--seeds", "0"], "must be an integer in [1, 100]"),
}

# ---- 5. expected failures are one line, not a traceback ----------------------------------------


def not_utf8(w):
    return ["train", "--config", w.file("latin1.yaml", b"name: caf\xe9\n")], "is not UTF-8 text"


def resume_edited_config(w):  # the networks the config builds no longer fit the checkpoint
    cfg = yaml.safe_load((w.run / "config.yaml").read_text())
    cfg["hidden"] = 64
    (w.run / "config.yaml").write_text(yaml.safe_dump(cfg))
    return ["train", "--resume", w.run, "epochs=3"], "does not fit the networks of this config (size mismatch"


MNIST_RAW = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


def broken_mnist(w, damage):
    """A data dir whose four MNIST .gz files are `damage(gzip bytes)`."""
    raw = w.root / "mnist" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in MNIST_RAW:
        (raw / f"{name}.gz").write_bytes(damage(gzip.compress(bytes(range(256)) * 64)))
    return w.root / "mnist"


def corrupt_deflate(w):
    return broken_mnist(w, lambda data: data[:20] + b"\xff" * 10 + data[30:])  # the deflate stream, past the header


def truncated_gzip(w):
    broken_mnist(w, lambda data: data[:100])  # cut inside the stream
    return ["data", "verify", "mnist", "--data-dir", w.root / "mnist"], "cannot read"


def truncated_npy(w):
    w.monkeypatch.setenv("VGAN_DATA", str(w.root / "cache"))
    for k in ("x_train", "y_train", "x_test", "y_test"):
        w.file(
            f"cache/cifar10/{k}.npy",
            b"\x93NUMPY\x01\x00v\x00{'descr': '|u1', 'fortran_order': False, "
            b"'shape': (1000, 32), }" + b" " * 60 + b"\n" + bytes(10),
        )
    return ["data", "verify", "cifar10"], "is not a plain .npy array"


TRACEBACKS = {
    "lr-nan": key("lr=.nan", "'lr' must be a finite number"),
    "lr-inf": key("lr=.inf", "'lr' must be a finite number"),
    "lr-exponent-text": key("lr=1e-400", "'lr' must be"),
    "adadelta-rho-above-one": key("adadelta_rho=2", "'adadelta_rho' must be in [0, 1]"),
    "config-not-utf8": not_utf8,
    "config-is-a-folder": lambda w: (["train", "--config", w.root], "is not a file"),
    "config-is-a-list": lambda w: (["train", "--config", w.file("l.yaml", "- lr\n- k\n")], "must hold a mapping"),
    "config-int-key": lambda w: (["train", "--config", w.file("i.yaml", "1: 2\n")], "unknown config key(s) 1"),
    "config-base-not-a-name": lambda w: (["train", "--config", w.file("b.yaml", "base: [a]\n")], "must name another"),
    "resume-changes-hidden": resume("hidden=64", message="--resume cannot change 'hidden'"),
    "resume-changes-dataset": resume("dataset=fashion-mnist", message="--resume cannot change 'dataset'"),
    "resume-edited-config": resume_edited_config,
    "corrupt-deflate-verify": lambda w: (["data", "verify", "mnist", "--data-dir", corrupt_deflate(w)], "cannot read"),
    "corrupt-deflate-train": lambda w: (w.train("name=new", "--data-dir", corrupt_deflate(w)), "cannot read"),
    "truncated-gzip": truncated_gzip,
    "truncated-npy": truncated_npy,
    "unknown-flag": lambda w: (["train", "--epochs", "3"], "unrecognized arguments: --epochs"),
    "n-not-a-number": lambda w: (["sample", w.run, "--n", "ten"], "must be an integer in [2, 10000], got 'ten'"),
    "override-not-key-value": lambda w: (w.train("k3"), "is not key=value"),
}
if not torch.cuda.is_available():
    TRACEBACKS["sample-on-cuda-without-cuda"] = lambda w: (
        ["sample", w.run, "--device", "cuda"],
        "CUDA is not available",
    )
CASES = {**SILENT, **TRACEBACKS}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_refused_without_side_effects(world, case, capsys):
    args, message = case(world)
    world.refused(args, message, capsys)


def test_a_bug_still_shows_its_traceback(world, monkeypatch, capsys):
    from vgan.evaluation import sample

    def broken(*args, **kwargs):
        return 1 / 0

    monkeypatch.setattr(sample, "sample", broken)
    assert main(["sample", str(world.run)]) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and "ZeroDivisionError" in err and "please report it" in err
