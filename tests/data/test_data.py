import gzip
import hashlib
import io
import json
import pickle
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from vgan import data
from vgan._utils.errors import DataError
from vgan.data import (
    CIFAR10,
    SVHN,
    IDXDataset,
    batches,
    chunks,
    datasets,
    decode_png_rows,
    epoch_order,
    parse_idx,
    read_bytes,
    read_svhn_mat,
    read_verified,
)


def idx_bytes(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(d.to_bytes(4, "big") for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


# ---- IDX (MNIST, Fashion-MNIST) --------------------------------------------------------------


def test_idx_reader_plain_and_gz(tmp_path):
    images = np.arange(3 * 4 * 5, dtype=np.uint8).reshape(3, 4, 5)
    (tmp_path / "img").write_bytes(idx_bytes(images))
    (tmp_path / "img.gz").write_bytes(gzip.compress(idx_bytes(images)))
    for name in ("img", "img.gz"):
        assert np.array_equal(parse_idx(read_bytes(tmp_path / name)), images)
    assert parse_idx(idx_bytes(np.array([7, 0, 9], dtype=np.uint8))).tolist() == [7, 0, 9]


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
    with pytest.raises(
        DataError,
        match=r"SHA256 .* corrupt, truncated or not the official one; move it aside and run `vgan data fetch`",
    ):
        read_verified(path, sha(b"other"))
    assert read_verified(path, sha(b"hello")) == b"hello"


def test_idx_dataset_in_torchvision_layout(tmp_path, monkeypatch):
    monkeypatch.setenv("VGAN_DATA", str(tmp_path / "cache"))
    raw = tmp_path / "root" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    arrays = {
        "train-images-idx3-ubyte": np.full((4, 2, 2), 7),
        "train-labels-idx1-ubyte": np.array([1, 2, 3, 4]),
        "t10k-images-idx3-ubyte": np.zeros((2, 2, 2)),
        "t10k-labels-idx1-ubyte": np.array([5, 6]),
    }
    files = {}
    for name, a in arrays.items():
        b = idx_bytes(a)
        files[name] = sha(b)
        (raw / f"{name}.gz").write_bytes(gzip.compress(b))  # torchvision keeps the .gz too
    ds = IDXDataset("toy", files, (), (".", "MNIST/raw"), train_size=3)
    found = ds.find(tmp_path / "root")
    assert found.arrays["x_train"].shape == (4, 2, 2) and found.arrays["y_test"].tolist() == [5, 6]
    assert ds.find(tmp_path / "elsewhere") is None


def test_missing_dataset_without_a_way_to_fetch(tmp_path, monkeypatch):
    monkeypatch.setenv("VGAN_DATA", str(tmp_path))

    def offline(*args, **kwargs):
        raise OSError("network is unreachable")

    monkeypatch.setattr(datasets, "download", offline)
    monkeypatch.setattr(datasets, "with_npm_tarball", offline)
    with pytest.raises(
        DataError, match=r"could not fetch mnist .*download train-images-idx3-ubyte.gz.* or pass --data-dir"
    ):
        data.fetch("mnist")
    with pytest.raises(DataError, match=r"download train_32x32.mat and test_32x32.mat from http"):
        data.fetch("svhn")


# ---- CIFAR-10 ---------------------------------------------------------------------------------


def cifar_parts(n=2):
    """Six tiny batches: planar rows (N, 3072) and labels, and the HWC arrays they must decode to."""
    rng = np.random.default_rng(0)
    rows = [rng.integers(0, 256, (n, 3072), dtype=np.uint8) for _ in range(6)]
    labels = [rng.integers(0, 10, n) for _ in range(6)]
    hwc = [r.reshape(n, 3, 32, 32).transpose(0, 2, 3, 1) for r in rows]
    expected = {
        "x_train": np.concatenate(hwc[:5]),
        "y_train": np.concatenate(labels[:5]).astype(np.int64),
        "x_test": hwc[5],
        "y_test": labels[5].astype(np.int64),
    }
    return rows, labels, expected


@pytest.fixture
def cifar_checksums(monkeypatch, tmp_path):
    monkeypatch.setenv("VGAN_DATA", str(tmp_path / "cache"))
    rows, labels, expected = cifar_parts()
    monkeypatch.setattr(
        datasets, "CIFAR_SHA256", {k: sha(np.ascontiguousarray(v).tobytes()) for k, v in expected.items()}
    )
    return rows, labels, expected


def assert_same(found, expected):
    for k, v in expected.items():
        assert np.array_equal(found.arrays[k], v), k


def test_cifar_python_and_binary_layouts(tmp_path, cifar_checksums, monkeypatch):
    rows, labels, expected = cifar_checksums
    py, bn = tmp_path / "root" / "cifar-10-batches-py", tmp_path / "root2" / "cifar-10-batches-bin"
    py.mkdir(parents=True)
    bn.mkdir(parents=True)
    for name, r, y in zip(CIFAR10.batches, rows, labels):
        (py / name).write_bytes(pickle.dumps({b"data": r, b"labels": [int(v) for v in y]}))
        (bn / f"{name}.bin").write_bytes(np.concatenate([y.astype(np.uint8)[:, None], r], 1).tobytes())
    monkeypatch.setattr(
        datasets, "CIFAR_PY_MD5", {b: hashlib.md5((py / b).read_bytes()).hexdigest() for b in CIFAR10.batches}
    )
    assert_same(CIFAR10().find(tmp_path / "root"), expected)
    assert_same(CIFAR10().find(tmp_path / "root2"), expected)
    assert expected["x_train"][0, 0, 0].tolist() == [rows[0][0, 0], rows[0][0, 1024], rows[0][0, 2048]]
    (bn / "test_batch.bin").write_bytes((bn / "test_batch.bin").read_bytes()[:-5])
    with pytest.raises(DataError, match="truncated"):
        CIFAR10().find(tmp_path / "root2")


def test_png_row_decoder_and_npm_layout(tmp_path, cifar_checksums):
    rows, labels, expected = cifar_checksums
    hwc = np.concatenate([expected["x_train"], expected["x_test"]])
    tar_path = tmp_path / "pkg.tgz"
    with tarfile.open(tar_path, "w:gz") as tar:

        def add(name, payload):
            info = tarfile.TarInfo(f"package/{name}")
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))

        for i, name in enumerate(CIFAR10.batches):
            buffer = io.BytesIO()
            Image.fromarray(hwc[2 * i : 2 * i + 2].reshape(2, 1024, 3)).save(buffer, format="PNG")  # row i = image i
            add(f"{name}.png", buffer.getvalue())
            if i == 0:
                assert np.array_equal(decode_png_rows(buffer.getvalue()), hwc[:2])
        add("train_lables.json", json.dumps(expected["y_train"].tolist()).encode())
        add("test_lables.json", json.dumps(expected["y_test"].tolist()).encode())
    CIFAR10()._decode_npm(tar_path)  # decodes once into the cache ...
    found = CIFAR10().find(None)  # ... which is then read back and verified
    assert_same(found, expected)
    assert data.load_dataset("cifar10", "test").images.shape == (2, 3, 32, 32)


# ---- SVHN, toy mixtures, StackedMNIST ---------------------------------------------------------


def test_svhn_mat_reader_and_split(tmp_path, monkeypatch):
    from scipy.io import savemat

    monkeypatch.setenv("VGAN_DATA", str(tmp_path / "cache"))
    rng = np.random.default_rng(0)
    files = {}
    for name, n in (("train_32x32.mat", 5), ("test_32x32.mat", 3)):
        x = rng.integers(0, 256, (32, 32, 3, n), dtype=np.uint8)
        savemat(tmp_path / name, {"X": x, "y": np.array([[10], [1], [2], [10], [9]][:n], dtype=np.uint8)})
        files[name] = hashlib.md5((tmp_path / name).read_bytes()).hexdigest()
    images, labels = read_svhn_mat(tmp_path / "train_32x32.mat")
    assert images.shape == (5, 32, 32, 3) and labels.tolist() == [0, 1, 2, 0, 9]
    monkeypatch.setattr(SVHN, "files", files)
    monkeypatch.setattr(SVHN, "train_size", 3)
    monkeypatch.setitem(data.DATASETS, "svhn", SVHN())
    train, val = data.load_dataset("svhn", "train", tmp_path), data.load_dataset("svhn", "val", tmp_path)
    assert train.images.shape == (3, 3, 32, 32) and val.labels.tolist() == [0, 9]
    monkeypatch.setattr(SVHN, "files", {**files, "test_32x32.mat": "0" * 32})
    with pytest.raises(DataError, match="MD5"):
        SVHN().find(tmp_path)


@pytest.mark.parametrize("name, modes", [("8gaussians", 8), ("25gaussians", 25)])
def test_toy_mixtures(name, modes):
    ds = data.load_dataset(name, "train")
    assert ds.images.shape == (50_000, 2) and ds.images.dtype == torch.float32
    assert 0 < ds.images.min() and ds.images.max() < 1
    toy = data.get(name)
    centres = torch.tensor((toy.centres() + 2.5) / 5, dtype=torch.float32)
    nearest = torch.cdist(ds.images, centres).argmin(1)
    assert torch.equal(nearest, ds.labels) and len(ds.labels.unique()) == modes


@pytest.mark.slow
def test_stacked_mnist(mnist):
    train = data.load_dataset("stackedmnist", "train")
    assert train.images.shape == (50_000, 3, 28, 28) and train.images.dtype == torch.uint8
    assert 0 <= train.labels.min() and train.labels.max() <= 999 and len(train.labels.unique()) > 990


# ---- batching and the real MNIST ---------------------------------------------------------------


def test_batches_are_a_resumable_permutation():
    images = torch.arange(10, dtype=torch.uint8).view(10, 1, 1, 1)
    full = list(batches(images, 3, seed=1, epoch=0))
    assert len(full) == 3 and all(b.shape == (3, 1, 1, 1) for b in full)  # remainder dropped
    assert all(b.dtype == torch.float32 and b.max() <= 10 / 255 for b in full)
    assert torch.equal(torch.cat(list(batches(images, 3, seed=1, epoch=0, start=1))), torch.cat(full[1:]))
    assert not torch.equal(epoch_order(10, seed=1, epoch=0), epoch_order(10, seed=1, epoch=1))


def test_chunks_cover_every_image_in_order():
    images = torch.arange(10, dtype=torch.uint8).view(10, 1, 1, 1)
    parts = list(chunks(images, 4))
    assert [len(p) for p in parts] == [4, 4, 2]  # the remainder kept
    assert torch.equal(torch.cat(parts), images.float() / 255)


def test_real_mnist_splits(mnist):
    train, val, test = (data.load_dataset("mnist", s) for s in ("train", "val", "test"))
    assert (len(train), len(val), len(test)) == (50_000, 10_000, 10_000)
    assert train.images.dtype == torch.uint8 and train.image_shape == (1, 28, 28)
    assert torch.bincount(test.labels).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


@pytest.mark.skipif(not Path("/usr/share/datasets/fashion-mnist").is_dir(), reason="Debian's dataset-fashion-mnist")
def test_fashion_mnist_from_the_debian_package():
    test = data.load_dataset("fashion-mnist", "test")
    assert test.images.shape == (10_000, 1, 28, 28) and torch.bincount(test.labels).tolist() == [1000] * 10
