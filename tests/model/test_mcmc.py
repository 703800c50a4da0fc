"""Latent MALA (MEG's sampler): exact for its target, and on a run's generator from the command line."""

import pytest
import torch
from torch import nn

import vgan
from vgan.cli import main
from vgan.model.mcmc import MALA, latent_mala, normal_log_prior, uniform_log_prior


class Quadratic(nn.Module):
    """E(x) = |x - m|^2 / (2 s^2), per row."""

    def forward(self, x):
        return (x - 0.5).pow(2).sum(1) / (2 * 0.1**2)


def test_mala_leaves_its_gaussian_target_invariant():
    precision = 1 / 0.1**2 + 1  # E(z) + |z|^2 / 2 with the identity as the generator
    mean = 0.5 / 0.1**2 / precision
    rng = torch.Generator().manual_seed(0)
    z = mean + torch.randn(20_000, 2, generator=rng) / precision**0.5  # already from the target
    out, stats = latent_mala(
        Quadratic(), nn.Identity(), z, steps=20, step_size=0.002, log_prior=normal_log_prior, rng=rng
    )
    assert abs(out.mean().item() - mean) < 0.003 and abs(out.var().item() * precision - 1) < 0.05
    assert 0.5 < stats["mala_acceptance"].item() < 1


def test_a_bounded_prior_rejects_every_step_outside_it():
    z = torch.full((100, 2), 0.999)
    out, stats = latent_mala(Quadratic(), nn.Identity(), z, steps=5, step_size=1.0, log_prior=uniform_log_prior)
    assert (out.abs() <= 1).all() and stats["mala_acceptance"].item() < 0.5


def test_sample_and_evaluate_draw_by_mala_on_a_generator_run(trained_run, tmp_path, capsys):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    model = vgan.load_run(run)
    x, stats = model.mala_samples(8, MALA(steps=3, step_size=0.01), seed=1)
    assert x.shape == (8, 1, 28, 28) and 0 <= stats["mala_acceptance"] <= 1
    assert main(["sample", str(run), "--n", "4", "--mala-steps", "2"]) == 0
    assert main(["sample", str(run), "--mala-step-size", "0.1"]) == 2
    assert "--mala-step-size shapes the steps of --mala-steps" in capsys.readouterr().err


def test_a_draw_larger_than_the_buffer_is_refused_before_any_chain_runs():
    from vgan.model.mcmc import LangevinSampler

    calls = []

    class Counting(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.ones(2))

        def forward(self, x):
            calls.append(len(x))
            return (x.flatten(1) * self.w).sum(1)

    sampler = LangevinSampler(Counting(), (2,), steps=3, buffer_size=8).train()
    before = sampler.buffer.clone()
    with pytest.raises(ValueError, match="a draw of 9 chains cannot be written back to a buffer of 8"):
        sampler.draw(9)
    assert calls == [] and torch.equal(sampler.buffer, before)
    sampler.draw(8)
    assert calls and not torch.equal(sampler.buffer, before)
