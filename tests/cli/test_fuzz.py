"""The fuzz harness: generated config values, YAML, command lines and damaged run directories, each
run through vgan's real entry points with the properties of `fuzzing.run_cli`: exit status 0, or 2
and one short line; within a time and memory bound; no file outside the command's purpose changed;
nothing left behind. Examples per property: the "ci" profile's (tests/conftest.py) times a factor;
`--hypothesis-profile long` or VGAN_FUZZ=long runs twenty times as many, at random."""

import argparse
import os
import shutil
import tempfile
from pathlib import Path

import pytest
import torch
import yaml
from hypothesis import event, given, settings
from hypothesis import strategies as st

from badinput import World
from conftest import TINY, with_keys
from fuzzing import ANY, HINTS, TEXT, WEIRD_TEXT, override, run_cli, time_limit, valid_values, values, yaml_text
from vgan._utils.errors import ConfigError
from vgan.cli import build_parser
from vgan.config import Config, from_dict, load_config, save_config
from vgan.runs.checkpoint import load_checkpoint, save_checkpoint

pytestmark = pytest.mark.slow  # the fast tier (pytest -m "not slow") leaves this module out

N = settings.default.max_examples  # the profile's unit
SLOW = ("compile",)  # an accepted compile=true compiles the networks: minutes, not a bound the harness can hold


@pytest.fixture(scope="module", autouse=True)
def offline():
    """No fetch reaches the network or the data cache: a dataset that is not local is a one-line error."""
    from vgan.data import datasets

    def offline(*args, **kwargs):
        raise OSError("offline (the fuzz harness)")

    with pytest.MonkeyPatch.context() as m:
        m.setattr(datasets, "download", offline)
        m.setattr(datasets, "with_npm_tarball", offline)
        yield


@pytest.fixture(scope="module")
def template(tmp_path_factory, trained_run):
    """A working folder to copy for each example: runs/run (trained), runs/vcd and runs/toy (untrained
    checkpoints), a config file, a text file, a folder and a link."""
    root = tmp_path_factory.mktemp("fuzz") / "world"
    world = World(root, trained_run, None)
    world.fake_run("vcd", objective="vcd", code_dim=8)
    world.fake_run("toy", (2,), dataset="8gaussians")
    world.file("good.yaml", "\n".join(k.replace("=", ": ") for k in TINY) + "\nmax_steps: 1\n")
    world.file("notes.txt", "precious")
    (root / "afolder").mkdir()
    (root / "link").symlink_to("notes.txt")
    return root


class Copy:
    """A fresh copy of the template, with a named pipe in it."""

    def __init__(self, template: Path):
        self.tmp = tempfile.mkdtemp(prefix="vgan-fuzz-")
        self.root = Path(self.tmp) / "world"
        shutil.copytree(template, self.root, symlinks=True)
        os.mkfifo(self.root / "pipe")

    def __enter__(self) -> Path:
        return self.root

    def __exit__(self, *exc):
        shutil.rmtree(self.tmp)


# ---- 1. config values, from the declared tables ---------------------------------------------------
KEYS = sorted(HINTS)


def key_values(small=False, keys=KEYS):
    return st.sampled_from(keys).flatmap(lambda k: values(k, small).map(lambda v: (k, v)))


@settings(max_examples=30 * N)
@given(st.lists(key_values(), min_size=1, max_size=3))
def test_every_config_value_is_accepted_or_refused_in_one_line(pairs):
    try:
        with time_limit(5):
            cfg = from_dict(dict(pairs))
    except ConfigError as e:
        assert "\n" not in str(e) and len(str(e)) < 600, str(e)
        return
    with tempfile.TemporaryDirectory() as tmp:  # an accepted config is saved and read back unchanged
        save_config(cfg, Path(tmp) / "c.yaml")
        assert load_config(Path(tmp) / "c.yaml") == cfg


@settings(max_examples=4 * N)
@given(
    st.sampled_from([k for k in KEYS if k not in SLOW]).flatmap(
        lambda k: st.tuples(st.just(k), st.one_of(valid_values(k), values(k, small=True)))
    ),
    st.booleans(),
)
def test_every_config_value_trains_or_is_refused(mnist, pair, as_text):
    key, value = pair
    base = [*TINY, "out_dir=runs", "name=fuzz", "max_steps=1", "tensorboard=false"]
    arg = f"{key}={value}" if as_text and isinstance(value, str) else override(key, value)
    with tempfile.TemporaryDirectory() as tmp:
        code, out, _ = run_cli(Path(tmp), ["train", *with_keys(base, arg)], may_change=trained_dir)
        event(f"exit {code}")
        if code == 2:
            assert not (Path(tmp) / "runs" / "fuzz").exists()  # a failed start leaves no run behind


def trained_dir(stdout: str) -> list:
    return [stdout.rsplit(" in ", 1)[1].strip()] if " in " in stdout else []


# ---- 2. YAML ---------------------------------------------------------------------------------------
@settings(max_examples=20 * N)
@given(st.one_of(yaml_text(), TEXT, st.binary(max_size=200).map(lambda b: b.decode("latin-1"))))
def test_every_config_file_loads_or_is_refused_in_one_line(text):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "c.yaml"
        path.write_bytes(text.encode("utf-8", "surrogatepass"))
        (Path(tmp) / "other.yaml").write_text("base: c.yaml\nk: 1\n")  # a `base:` may name it: a cycle
        try:
            with time_limit(5):
                assert isinstance(load_config(path), Config)
        except ConfigError as e:
            assert "\n" not in str(e) and len(str(e)) < 600, str(e)


# ---- 3. command lines ------------------------------------------------------------------------------
PATHS = ["runs/run", "runs/vcd", "runs/toy", "runs/run/last.pt", "runs/run/config.yaml", "runs/run/curves.png"]
PATHS += ["runs/run/samples/epoch_001.png", "runs/run/samples", "notes.txt", "link", "pipe", "afolder", "missing"]
PATHS += ["out.png", "out.jpg", "new/out.png", "runs/run/sample.png", "good.yaml", "", ".", " "]
NUMBERS = ["0", "1", "2", "3", "-1", "x", "", "1e3", " 2", "10001", "99999999999999999999", "٣"]
POOLS = {  # option -> values to draw; others draw from their choices, NUMBERS or PATHS
    "--n": NUMBERS,
    "--steps": ["1", "2", "0", "1001", "x", ""],
    "--seed": ["0", "-1", "4294967296", "x", ""],
    "--eval-n": ["1", "20", "0", "x", ""],
    "--limit": ["5", "20", "0", "x", ""],
    "--labels": ["50", "100", "0", "99999999999999999999", "x"],
    "--epochs": ["1", "0", "x", ""],
    "--seeds": ["0", "0,0", "0,1", "x", "", "-1", "1"],
    "--metrics": ["modes", "fid", "modes,modes", "", ",", "xyz", "ood,fid"],
    "--dataset": ["mnist", "25gaussians", "8gaussians", "cifar10", "foo", ""],
    "--rows": ["", ",", "xyz", "raw_pixels,raw_pixels", "raw_pixels"],
    "--checkpoint": ["last.pt", "epoch_002.pt", "../vcd/last.pt", "", "missing.pt", "config.yaml", "."],
    "--config": ["good.yaml", "mnist_gan", "missing.yaml", "", "afolder", "pipe", "notes.txt"],
    "--resume": ["runs/run", "runs/vcd", "runs/toy", "missing", "notes.txt", "", "pipe"],
    "--data-dir": ["afolder", "missing", "notes.txt", "", "."],
    "--out-dir": ["rep", "", "notes.txt"],
}
OVERRIDES = ["k=1", "k=2", "k=", "=1", "k", "name=n1", "name=n2", "epochs=3", "max_steps=2", "lr=1e300", "batch_size=1"]
OVERRIDES += ["out_dir=afolder", "out_dir=notes.txt", "data_dir=afolder", "device=cuda", "dataset=25gaussians"]
OVERRIDES += ["objective=vcd", "code_dim=8", "hidden=64", "betas=[0.5]", "name=", "name=a b", "out_dir=~/x", "lr=abc"]
CHEAP = {  # what keeps an accepted command to seconds, added unless the example gives the option itself
    "reconstruct": ["--no-classifier", "--eval-n", "20"],
    "probe": ["--limit", "20"],
    "augment": ["--epochs", "1", "--eval-n", "20", "--labels", "100"],
    "evaluate": ["--n", "50"],
    "reproduce": ["--rows", "xyz"],
}
PURPOSE = {  # command -> the files an accepted command may change, relative to the working folder
    "sample": lambda o, r: [o or f"{r}/sample.png"],
    "plot": lambda o, r: [o or f"{r}/curves.png"],
    "chain": lambda o, r: [o or f"{r}/chain.png"],
    "reconstruct": lambda o, r: [o or f"{r}/reconstruct.png"],
    "evaluate": lambda o, r: [f"{r}/evaluate.json", f"{r}/energy_landscape.png"],
}


def _commands():
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    found = {}
    for name, p in sub.choices.items():
        nested = [a for a in p._actions if isinstance(a, argparse._SubParsersAction)]
        for sname, sp in nested[0].choices.items() if nested else [(None, p)]:
            found[(name, sname) if sname else (name,)] = sp
    return found


COMMANDS = _commands()  # every subcommand the parser has: one added later is fuzzed too


def _option_values(action):
    pool = POOLS.get(action.option_strings[-1]) or (list(action.choices) + ["", "bad"] if action.choices else None)
    return st.sampled_from(pool or NUMBERS + PATHS)


@st.composite
def command_lines(draw):
    words = draw(st.sampled_from(sorted(COMMANDS)))
    parser = COMMANDS[words]
    options = [a for a in parser._actions if a.option_strings and a.dest != "help"]
    argv, given = list(words), set()
    for action in draw(st.lists(st.sampled_from(options), max_size=4)) if options else []:  # repeats too
        given.add(action.option_strings[-1])
        argv += [action.option_strings[-1]] + ([] if action.nargs == 0 else [draw(_option_values(action))])
    for action in (a for a in parser._actions if not a.option_strings and a.dest not in ("help", "overrides")):
        runs = [p for p in PATHS if words[0] != "evaluate" or p not in ("runs/run", "runs/vcd")]  # no FID: minutes
        pool = list(action.choices) + ["", "bad"] if action.choices else runs
        if action.nargs != "?" or draw(st.booleans()):
            argv.append(draw(st.sampled_from(pool)))
    cheap = CHEAP.get(words[0], [])
    argv += [w for i, w in enumerate(cheap) if not (w in given or (i and cheap[i - 1] in given))]
    if words[0] == "train":
        keys = draw(
            st.lists(
                st.one_of(
                    st.sampled_from(OVERRIDES), key_values(True, ["k", "lr", "seed"]).map(lambda kv: override(*kv))
                ),
                max_size=3,
            )
        )
        base = [] if "--resume" in given else [*TINY, "out_dir=runs", "max_steps=1", "tensorboard=false"]
        argv += with_keys(base, *keys) if draw(st.booleans()) else base + keys  # keys given twice, too
    return argv


def _purpose(argv):
    if argv[0] == "train":
        resumed = argv[argv.index("--resume") + 1] if "--resume" in argv else None
        return (lambda out: [resumed]) if resumed else trained_dir
    if argv[0] == "reproduce":
        return [argv[argv.index("--out-dir") + 1] if "--out-dir" in argv else "runs/reproduce"]
    out = argv[argv.index("--out") + 1] if "--out" in argv else None
    run = next((a for a in argv[1:] if a in PATHS), "")
    return PURPOSE.get(argv[0], lambda o, r: [])(out, run)


@settings(max_examples=6 * N)
@given(command_lines())
def test_every_command_line_succeeds_or_is_refused_cleanly(template, argv):
    with Copy(template) as root:
        event(f"{argv[0]}: exit {run_cli(root, argv, may_change=_purpose(argv))[0]}")


# ---- 4. damaged run directories ------------------------------------------------------------------------
FILES = ["config.yaml", "metrics.jsonl", "run.json", "last.pt", "epoch_002.pt", "curves.png", "samples/epoch_001.png"]
FOLDERS = ["samples", "tb"]
READERS = [  # (command, what it may change)
    (["sample", "runs/run", "--out", "s.png"], ["s.png"]),
    (["plot", "runs/run", "--out", "p.png"], ["p.png"]),
    (["train", "--resume", "runs/run", "epochs=3", "tensorboard=false"], ["runs/run"]),
    (["probe", "runs/run", "--limit", "20"], []),
]


@st.composite
def damage(draw):
    """A function that damages one file or folder of a run directory, as a crash, a disk or a careless
    hand would: truncated, bytes changed, not UTF-8, another type, replaced by a folder, link or pipe."""
    name = draw(st.sampled_from(FILES + FOLDERS))
    how = draw(st.sampled_from(["truncate", "flip", "bytes", "not-utf8", "empty", "folder", "link", "pipe", "text"]))
    how = "file" if name in FOLDERS and how not in ("link", "pipe") else how
    cut, byte, junk = draw(st.floats(0, 1)), draw(st.integers(0, 255)), draw(st.binary(max_size=64))
    text = draw(st.one_of(yaml_text(), st.sampled_from(WEIRD_TEXT), ANY.map(lambda v: yaml.safe_dump(v))))
    field = draw(st.sampled_from(["config", "image_shape", "step", "energy", "noise_rng", "torch_rng", "opt_e"]))
    value = draw(st.one_of(ANY, st.sampled_from([torch.zeros(3), torch.zeros(2, 2, dtype=torch.uint8), [1, -1, 1]])))

    def apply(run: Path):
        path = run / name
        data = path.read_bytes() if path.is_file() else b""
        if name.endswith(".pt") and how == "text":  # a checkpoint with one field of another type
            state = {k: v for k, v in load_checkpoint(path).items() if k != "format"}
            state[field] = value
            return save_checkpoint(state, path)
        shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
        if how == "folder":
            return path.mkdir()
        if how == "link":
            return path.symlink_to(run.parent.parent / "notes.txt")
        if how == "pipe":
            return os.mkfifo(path)
        middle = int(cut * len(data))
        path.write_bytes(
            {
                "truncate": data[:middle],
                "flip": data[:middle] + bytes([byte]) + data[middle + 1 :],
                "bytes": junk,
                "not-utf8": data[:middle] + b"\xff\xfe" + data[middle:],
                "empty": b"",
                "text": text.encode("utf-8", "surrogatepass"),
                "file": junk,
            }[how]
        )

    apply.__name__ = f"{how} {name}"
    return apply


@settings(max_examples=6 * N)
@given(damage(), st.sampled_from(READERS))
def test_a_damaged_run_is_read_or_refused_cleanly(template, damaged, reader):
    argv, purpose = reader
    with Copy(template) as root:
        damaged(root / "runs" / "run")
        event(f"{argv[0]}: exit {run_cli(root, argv, may_change=purpose)[0]}")
