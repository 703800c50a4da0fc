"""vgan.data.safe_pickle: CIFAR-10's pickled batches are read as plain data; nothing in them runs."""

import os
import pickle

import numpy as np
import pytest

from vgan.data import safe_pickle


def py2_batch(raw: bytes, shape=(2, 3)) -> bytes:
    """A protocol-2 pickle as Python 2's cPickle wrote the official batches: str keys, numpy.core."""

    def s(b):
        return b"U" + bytes([len(b)]) + b

    dims = b"".join(b"K" + bytes([d]) for d in shape)
    return (
        b"\x80\x02}q\x00("
        + s(b"data")
        + b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85"
        + s(b"b")
        + b"\x87R(K\x01"
        + dims
        + b"\x86cnumpy\ndtype\n"
        + s(b"u1")
        + b"K\x00K\x01\x87R(K\x03"
        + s(b"|")
        + b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb\x89"
        + s(raw)
        + b"tb"
        + s(b"labels")
        + b"](K\x01K\x02eu."
    )


class Marker:
    """Unpickling this would create a file: the proof that code ran."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return os.system, (f"touch {self.path}",)


def test_reads_the_official_layout_and_numpy_pickles_of_every_protocol():
    batch = safe_pickle.loads(py2_batch(bytes(range(6))))
    assert batch[b"data"].tolist() == [[0, 1, 2], [3, 4, 5]] and batch[b"labels"] == [1, 2]
    array = np.arange(12, dtype=np.uint8).reshape(3, 4)
    for protocol in range(2, pickle.HIGHEST_PROTOCOL + 1):
        out = safe_pickle.loads(pickle.dumps({b"data": array, b"labels": [1, 2, 3], b"name": "x"}, protocol=protocol))
        assert np.array_equal(out[b"data"], array) and out[b"labels"] == [1, 2, 3]


@pytest.mark.parametrize(
    "payload, message",
    [
        (lambda m: Marker(m), "names posix.system"),
        (lambda m: {b"data": [Marker(m)]}, "names posix.system"),
        (lambda m: np.array([1, "a"], dtype=object), "object array"),
        (lambda m: {b"data": np.zeros(2, dtype=[("a", "u1"), ("b", "O")])}, "object array"),
        (lambda m: np.array([1]).view(np.recarray), "numpy.rec"),
    ],
)
def test_refuses_code_and_object_arrays(tmp_path, payload, message):
    marker = tmp_path / "marker"
    data = pickle.dumps(payload(marker), protocol=2)
    with pytest.raises(pickle.UnpicklingError, match=message):
        safe_pickle.loads(data)
    assert not marker.exists()
