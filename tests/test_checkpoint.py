import pickle

import pytest
import torch

from vgan.checkpoint import load_checkpoint, save_checkpoint
from vgan.errors import CheckpointError


def test_roundtrip_and_no_temp_file_left(tmp_path):
    path = save_checkpoint({"step": 7, "w": torch.arange(3.0)}, tmp_path / "last.pt")
    state = load_checkpoint(path)
    assert state["step"] == 7 and torch.equal(state["w"], torch.arange(3.0))
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]


def test_truncated_checkpoint(tmp_path):
    path = save_checkpoint({"w": torch.zeros(1000)}, tmp_path / "last.pt")
    path.write_bytes(path.read_bytes()[:500])
    with pytest.raises(CheckpointError, match="truncated or not a checkpoint.*move it aside"):
        load_checkpoint(path)


def test_foreign_checkpoints(tmp_path):
    torch.save({"state_dict": {}}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="not a vgan checkpoint"):
        load_checkpoint(tmp_path / "other.pt")
    (tmp_path / "evil.pt").write_bytes(pickle.dumps(print))  # weights_only refuses arbitrary objects
    with pytest.raises(CheckpointError, match="truncated or not a checkpoint"):
        load_checkpoint(tmp_path / "evil.pt")
    with pytest.raises(CheckpointError, match="no checkpoint at"):
        load_checkpoint(tmp_path / "missing.pt")
