"""Helpers of the bad-input suites (test_bad_input*.py): a world of files to break, crafted
hostile files, and the assertion that a command was refused cleanly."""

import hashlib
import os
import pickle
import shutil
from pathlib import Path

import numpy as np
import torch

from conftest import TINY, with_keys
from vgan.cli import main
from vgan.config import fit_keys, from_dict, parse_overrides, save_config
from vgan.data import CIFAR10
from vgan.data.sources import cache_dir
from vgan.runs.checkpoint import save_checkpoint
from vgan.training import Trainer


class Marker:
    """Unpickling this creates a file: the proof that a data file ran code."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return os.system, (f"touch {self.path}",)


def snapshot(root: Path) -> dict:
    """path -> sha256 of every file under `root` (links by target, folders as such); the .lock file
    by its presence only, since a refused --resume takes the lock before it reads the checkpoint."""
    out = {}
    for dirpath, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(dirpath) / name
            key = str(path.relative_to(root))
            if path.is_symlink():
                out[key] = "-> " + os.readlink(path)
            elif path.is_dir():
                out[key] = "dir"
            elif not path.is_file():  # a pipe or device: reading it could block
                out[key] = "special"
            else:
                out[key] = "lock" if name == ".lock" else hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def cache_listing() -> dict:
    """The data cache, by size and mtime (hashing it for each case would be slow)."""
    root = Path(os.environ.get("VGAN_DATA") or cache_dir())  # as set, even where vgan refuses it
    if not root.is_dir():
        return {}
    return {str(p): (p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*") if p.is_file()}


class World:
    """A folder (the working directory) holding runs/run, a finished tiny run, and whatever a case
    plants; `refused` runs one command and checks that it changed nothing."""

    def __init__(self, root: Path, trained: Path, monkeypatch):
        self.root, self.monkeypatch = root, monkeypatch
        self.runs = root / "runs"
        self.run = self.runs / "run"
        shutil.copytree(trained, self.run, symlinks=True)
        self.marker = root / "marker"

    def train(self, *extra) -> list:
        """`vgan train` of a tiny run into runs/, with `extra` arguments; a key in `extra` replaces
        the tiny run's (a key given twice is refused)."""
        return ["train", *with_keys([*TINY, f"out_dir={self.runs}"], *extra)]

    def file(self, name: str, content) -> Path:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
        return path

    def fake_run(self, name: str, image_shape=(1, 28, 28), **keys) -> Path:
        """A run directory with an untrained checkpoint of the config TINY + `keys`."""
        run_dir = self.runs / name
        cfg = from_dict(fit_keys(parse_overrides(TINY), {"out_dir": str(self.runs), "name": name, **keys}))
        save_config(cfg, run_dir / "config.yaml")
        save_checkpoint(Trainer(cfg, image_shape, torch.device("cpu")).state_dict(), run_dir / "last.pt")
        return run_dir

    def cifar_batches(self, payload) -> Path:
        """A cifar-10-batches-py folder whose six batches are pickle.dumps(payload(marker))."""
        folder = self.root / "cifar" / "cifar-10-batches-py"
        folder.mkdir(parents=True)
        for name in CIFAR10.batches:
            (folder / name).write_bytes(pickle.dumps(payload(self.marker), protocol=2))
        return folder.parent

    def trust_cifar_batches(self, root: Path) -> None:
        """Make the crafted batches pass the MD5 check: the unpickler alone must stop them."""
        from vgan.data import datasets

        folder = root / "cifar-10-batches-py"
        self.monkeypatch.setattr(
            datasets, "CIFAR_PY_MD5", {b: hashlib.md5((folder / b).read_bytes()).hexdigest() for b in CIFAR10.batches}
        )

    def refused(self, args: list, message: str, capsys) -> str:
        """Run `vgan ARGS`: exit status 2, one line naming `message`, and no file changed."""
        before, cache = snapshot(self.root), cache_listing()
        capsys.readouterr()
        code = main([str(a) for a in args])
        err = capsys.readouterr().err
        assert code == 2, err
        assert err.startswith("vgan: error: ") and err.count("\n") == 1 and "Traceback" not in err, err
        assert message in err, err
        assert snapshot(self.root) == before, "a file changed"
        assert cache_listing() == cache, "the data cache changed"
        assert not self.marker.exists(), "code from a file ran"
        return err


def edit_checkpoint(path: Path, edit) -> Path:
    """Rewrite the checkpoint at `path` with `edit(state)` applied to its state."""
    from vgan.runs.checkpoint import load_checkpoint

    state = {k: v for k, v in load_checkpoint(path).items() if k != "format"}
    edit(state)
    return save_checkpoint(state, path)


def nan_weights(run_dir: Path) -> None:
    def poison(state):
        name = next(k for k, v in state["sampler"].items() if v.is_floating_point())
        state["sampler"][name] = torch.full_like(state["sampler"][name], float("nan"))

    edit_checkpoint(run_dir / "last.pt", poison)


def object_npy(marker) -> bytes:
    import io

    buffer = io.BytesIO()
    np.save(buffer, np.array([Marker(marker)], dtype=object), allow_pickle=True)
    return buffer.getvalue()
