import pickle

import pytest
import torch

from vgan._utils.errors import CheckpointError
from vgan.runs.checkpoint import load_checkpoint, save_checkpoint


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


@pytest.mark.slow
def test_noise_generator_state_from_another_device(trained_run, tmp_path):
    """A CUDA generator's state (16 bytes) cannot go into a CPU generator (5056): the run loads
    and re-seeds its noise from (seed, step), and a resumed run says so; a same-device state is
    restored exactly."""
    import shutil

    from vgan.cli import main
    from vgan.config import from_dict
    from vgan.training import Trainer

    saved = load_checkpoint(trained_run / "last.pt")  # trained on the GPU where there is one
    cfg = from_dict(saved["config"])
    trainer = Trainer(cfg, tuple(saved["image_shape"]), torch.device("cpu"))
    trainer.noise_rng.manual_seed(1234)
    state = {**trainer.state_dict(), "step": 7}  # a CPU run's
    trainer.noise_rng.manual_seed(0)
    trainer.load_state_dict(state)
    assert torch.equal(trainer.noise_rng.get_state(), state["noise_rng"]) and not trainer.noise_reseeded

    state["noise_rng"] = torch.arange(16, dtype=torch.uint8)  # what a CUDA run saves
    trainer.load_state_dict(state)
    reseeded = torch.Generator().manual_seed(cfg.seed + 1 + 7)
    assert torch.equal(trainer.noise_rng.get_state(), reseeded.get_state()) and trainer.noise_reseeded

    run = shutil.copytree(trained_run, tmp_path / "moved")
    save_checkpoint({**saved, "noise_rng": torch.arange(16, dtype=torch.uint8)}, run / "last.pt")
    with pytest.warns(UserWarning, match="another kind of device than cpu"):
        assert main(["train", "--resume", str(run), "epochs=3", "device=cpu"]) == 0
