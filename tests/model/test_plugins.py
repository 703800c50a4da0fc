"""A user's own entropy estimator and negative source, defined here, outside the package, trained
end to end through `vgan.train` (tiny networks, 200 real MNIST images)."""

import pytest
import torch
from torch import nn

import vgan
from conftest import TINY, with_keys
from vgan.config import load_config
from vgan.model.entropy import SampleEntropy
from vgan.model.objectives import CDObjective, VGANObjective
from vgan.model.samplers import Draw, NegativeSource
from vgan.runs.checkpoint import load_checkpoint
from vgan.runs.curves import read_metrics


class LogSpread(SampleEntropy):
    """A Gaussian's entropy from the batch's per-pixel spread, scaled by a weight of its own."""

    name = "log_spread"
    couples_batch = True

    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(torch.ones(()))

    def estimate(self, draw, fake):
        return self.scale.tanh() * draw.x.flatten(1).var(0).add(1e-4).log().mean()


class SaltAndPepper(NegativeSource):
    """Negatives without weights: each pixel 0 or 1 at random."""

    trainable = False
    distributable = False

    def __init__(self, shape):
        super().__init__()
        self.shape = tuple(shape)
        self.register_buffer("draws", torch.zeros((), dtype=torch.long))  # state the checkpoint keeps

    def noise(self, n, rng=None):
        return (torch.rand(n, *self.shape, generator=rng) < 0.5).float()

    def draw(self, n, cond=None, *, rng=None, noise=None, recon=False):
        self.draws += 1
        x = self.noise(n, rng) if noise is None else noise
        return Draw(x, stats={"pepper": x.mean()})

    def forward(self, n, *, rng=None):
        return self.noise(n, rng)


def cfg(tmp_path, name, *extra):
    return load_config(values={"out_dir": str(tmp_path), "name": name}, overrides=with_keys(TINY, *extra))


@pytest.mark.slow
def test_a_users_entropy_estimator_trains_with_the_generator_and_is_checkpointed(tmp_path, mnist):
    estimator = LogSpread()
    objective = VGANObjective(sample_entropies=[(0.5, estimator)])
    trainer = vgan.train(cfg(tmp_path, "spread"), objective=objective)
    lines = read_metrics(tmp_path / "spread" / "metrics.jsonl")
    assert len(lines) == 8 and all("log_spread" in m for m in lines)
    assert estimator.scale.item() != 1.0  # stepped by the generator's optimiser
    assert any(p is estimator.scale for group in trainer.opt_g.param_groups for p in group["params"])
    saved = load_checkpoint(tmp_path / "spread" / "last.pt")["objective"]
    assert torch.equal(saved["sample_entropies.0.scale"], estimator.scale.detach())


@pytest.mark.slow
def test_a_users_negative_source_trains_the_energy_by_contrastive_divergence(tmp_path, mnist):
    source = SaltAndPepper((1, 28, 28))
    c = cfg(tmp_path, "pepper", "objective=cd", "energy=scalar")
    trainer = vgan.train(c, sampler=source, objective=CDObjective())
    lines = read_metrics(tmp_path / "pepper" / "metrics.jsonl")
    assert [round(m["pepper"], 1) for m in lines] == [0.5] * 8
    assert lines[-1]["energy_real"] < lines[-1]["energy_fake"]  # data below the noise, as CD asks
    assert trainer.opt_g is None and source.draws.item() == 8
    assert load_checkpoint(tmp_path / "pepper" / "last.pt")["sampler"]["draws"] == 8
