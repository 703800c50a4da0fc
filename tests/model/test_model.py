"""vgan.Model: what load_run gives back, without a trainer, for every kind of run."""

import sys

import pytest
import torch

import vgan
from conftest import with_keys
from vgan.cli import main

KINDS = {  # the kinds of run: each draws its samples its own way
    "vgan_ema": ["ema_decay=0.5"],
    "gan": ["objective=gan", "energy=gan"],
    "vcd": ["objective=vcd", "code_dim=8", "train_limit=400"],
    "cd_buffer": ["objective=cd", "langevin_steps=2", "buffer_size=100"],
    "cd_data": ["objective=cd", "langevin_steps=2", "langevin_init=data", "train_limit=400"],
    "cd_noise": ["objective=cd", "langevin_steps=2", "langevin_init=noise"],
    "points": ["dataset=25gaussians", "train_limit=null"],
}


def test_import_vgan_loads_no_training_module():
    code = "import sys, vgan; vgan.load_run; print(sorted(m for m in sys.modules if m.startswith('vgan.training')))"
    import subprocess

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_a_loaded_run_samples_and_leaves_the_global_rng_alone(trained_run):
    before = torch.get_rng_state()
    model = vgan.load_run(trained_run)
    x = model.samples(16)
    assert isinstance(model, vgan.Model) and not hasattr(model, "opt_e") and model.step == 8
    assert x.shape == (16, 1, 28, 28) and torch.equal(torch.get_rng_state(), before)
    assert torch.equal(x, model.samples(16)) and not torch.equal(x, model.samples(16, seed=5))  # the seed decides


@pytest.mark.slow
@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_kind_of_run_loads_as_a_model_that_samples(kind, tiny, tmp_path):
    assert main(["train", *with_keys(tiny, f"name={kind}", "max_steps=2", *KINDS[kind])]) == 0
    before = torch.get_rng_state()
    model = vgan.load_run(tmp_path / kind)
    x = model.samples(16)
    assert torch.equal(torch.get_rng_state(), before) and torch.isfinite(x).all()
    assert x.shape == ((16, 2) if kind == "points" else (16, 1, 28, 28)) and 0 <= x.min() and x.max() <= 1
    assert torch.equal(x, model.samples(16))  # the same draw: evaluation reads a replay buffer, never writes it
