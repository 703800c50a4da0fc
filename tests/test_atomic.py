"""vgan.atomic: a write either replaces the file whole or leaves the old one."""
import pytest
import torch

from vgan.atomic import atomic_path, write_atomic
from vgan.checkpoint import load_checkpoint, save_checkpoint


def test_write_atomic_replaces_text_and_bytes(tmp_path):
    path = tmp_path / "sub" / "result.json"
    write_atomic(path, '{"a": 1}')
    assert path.read_text() == '{"a": 1}'
    write_atomic(path, b"\x00\x01")
    assert path.read_bytes() == b"\x00\x01"
    assert sorted(p.name for p in path.parent.iterdir()) == ["result.json"]


def test_a_failed_write_keeps_the_old_file_and_no_temp_file(tmp_path):
    path = tmp_path / "last.pt"
    save_checkpoint({"step": 1}, path)
    with pytest.raises(RuntimeError), atomic_path(path) as tmp:
        tmp.write_bytes(b"half a checkpoint")
        raise RuntimeError("crash while writing")
    assert load_checkpoint(path)["step"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]

    class Unsaveable:  # torch.save fails part way through the file
        def __reduce__(self):
            raise RuntimeError("cannot pickle")

    with pytest.raises(RuntimeError):
        save_checkpoint({"step": 2, "w": torch.ones(3), "bad": Unsaveable()}, path)
    assert load_checkpoint(path)["step"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]
