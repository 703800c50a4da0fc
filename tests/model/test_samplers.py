import pytest
import torch
from torch import nn

import vgan
from conftest import with_keys
from vgan.model.model import build_sampler
from vgan.model.samplers import LatentSampler, TransitionSampler, uniform_noise
from vgan.training import Trainer


def tiny_cfg(**kw):
    mlp = {"gen_hidden": 16} if kw.get("arch", "mlp") == "mlp" else {}  # a conv VCD decoder has no first dense layer
    return vgan.Config(objective="vcd", channels=4, hidden=16, feature_dim=16, code_dim=8, **mlp, **kw)


def test_uniform_noise_range():
    z = uniform_noise(1000, 4, generator=torch.Generator().manual_seed(0))
    assert z.shape == (1000, 4) and z.min() >= -1 and z.max() <= 1 and abs(z.mean()) < 0.05


def test_mask_replaces_about_half_the_code_with_uniform_noise():
    sampler = TransitionSampler(nn.Identity(), nn.Identity(), code_dim=256)
    h = torch.full((200, 256), 5.0)  # outside [-1, 1], so replaced entries are recognisable
    mixed = sampler.mix(h, torch.Generator().manual_seed(0))
    replaced = mixed != 5.0
    assert abs(replaced.float().mean().item() - 0.5) < 0.01
    assert mixed[replaced].abs().max() <= 1 and abs(mixed[replaced].mean().item()) < 0.02


def test_noise_switch_is_independent_of_train_and_eval():
    torch.manual_seed(0)
    sampler = build_sampler(tiny_cfg(arch="mlp"), (1, 28, 28))
    x = torch.rand(10, 1, 28, 28)
    for mode in (sampler.train, sampler.eval):
        mode()
        clean = sampler(x, noise=False)
        assert torch.equal(clean, sampler(x, noise=False))
        assert torch.allclose(clean, sampler.decoder(sampler.encoder(x)))
        assert not torch.allclose(sampler(x), sampler(x))  # fresh mask and noise each call


@pytest.mark.parametrize("arch", ["mlp", "conv"])
@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32)])
def test_transition_shapes(arch, shape):
    sampler = build_sampler(tiny_cfg(arch=arch), shape)
    x = torch.rand(6, *shape)
    h = sampler.encoder(x)
    assert h.shape == (6, 8) and h.abs().max() <= 1  # tanh code
    draw = sampler.draw(6, x, recon=True)
    assert draw.x.shape == draw.recon.shape == (6, *shape) and draw.cond is x
    assert 0 <= draw.x.min() and draw.x.max() <= 1
    assert sampler.draw(6, x).recon is None


def test_build_sampler_picks_the_algorithm():
    assert isinstance(build_sampler(tiny_cfg(), (1, 28, 28)), TransitionSampler)
    assert isinstance(build_sampler(vgan.Config(hidden=16, gen_hidden=16), (1, 28, 28)), LatentSampler)


def test_averaged_sampler_is_an_exponential_moving_average_by_hand():
    sampler = LatentSampler(nn.Linear(2, 3), z_dim=2)
    avg = vgan.AveragedSampler(sampler, decay=0.9)
    weights = [torch.full((3, 2), v) for v in (1.0, 2.0, 4.0)]
    for w in weights:
        with torch.no_grad():
            sampler.generator.weight.copy_(w)
        avg.update_parameters(sampler)
    # the first update copies, then w_avg <- 0.9 w_avg + 0.1 w: 1 -> 0.9 + 0.2 = 1.1 -> 0.99 + 0.4 = 1.39
    assert torch.allclose(avg.module.generator.weight, torch.full((3, 2), 1.39))
    assert torch.equal(sampler.generator.weight, weights[-1])  # the sampler itself is left as it was
    assert isinstance(avg.module, LatentSampler) and avg.n_averaged.item() == 3


class Quadratic(nn.Module):
    """E(x) = sum_i (x_i - mu)^2 / (2 var) per row: grad_x E = (x - mu) / var."""

    def __init__(self, mu=0.5, var=1.0):
        super().__init__()
        self.mu, self.var = mu, var
        self.dummy = nn.Parameter(torch.zeros(()))  # a weight, as an energy network has

    def forward(self, x):
        return ((x - self.mu) ** 2).flatten(1).sum(1) / (2 * self.var) + 0 * self.dummy


def test_one_langevin_step_by_hand():
    from vgan.model.mcmc import langevin

    x0 = torch.tensor([[0.2, 0.9], [0.5, 0.1]])
    x1, stats = langevin(Quadratic(), x0, steps=1, step_size=0.1, noise=0.05, rng=torch.Generator().manual_seed(3))
    xi = torch.randn(2, 2, generator=torch.Generator().manual_seed(3))
    drift = -0.1 * (x0 - 0.5)  # -a grad E
    assert torch.allclose(x1, (x0 + drift + 0.05 * xi).clamp(0, 1))
    assert torch.isclose(stats["langevin_grad_norm"], (x0 - 0.5).norm(dim=1).mean())
    assert torch.isclose(stats["langevin_noise"], torch.tensor(0.05 * 2**0.5))
    assert torch.isclose(stats["langevin_energy_start"], Quadratic()(x0).mean())
    far = langevin(Quadratic(mu=5.0), x0, steps=1, step_size=1.0, noise=0.0)[0]
    assert torch.equal(far, torch.ones(2, 2))  # clamped to the data box [0, 1]
    assert not x0.requires_grad and Quadratic().dummy.grad is None


def test_langevin_chain_samples_a_gaussian_energy():
    from vgan.model.mcmc import langevin

    # E = |x - mu|^2 / (2 var): with noise^2 = 2 a the chain's stationary law is N(mu, var / (1 - a / (2 var)))
    var, a = 0.05**2, 0.02 * 0.05**2
    x = torch.full((4000, 2), 0.5)
    x, _ = langevin(
        Quadratic(0.5, var), x, steps=400, step_size=a, noise=(2 * a) ** 0.5, rng=torch.Generator().manual_seed(0)
    )
    want_var = var / (1 - a / (2 * var))
    assert torch.allclose(x.mean(0), torch.full((2,), 0.5), atol=0.003)  # 4000 chains: se 0.0008
    assert torch.allclose(x.var(0), torch.full((2,), want_var), rtol=0.08)


def test_buffer_restarts_the_asked_share_of_chains_and_keeps_the_rest():
    from vgan.model.mcmc import LangevinSampler

    sampler = LangevinSampler(Quadratic(), (2,), buffer_size=20_000, restart=0.2, steps=1, step_size=0.0, noise=0.0)
    sampler.buffer.fill_(5.0)  # outside the box: a kept chain is recognisable
    start, index = sampler.start(20_000, None, torch.Generator().manual_seed(0), torch.device("cpu"))
    fresh = (start != 5.0).all(1)
    assert abs(fresh.float().mean().item() - 0.2) < 0.01 and sorted(index.tolist()) == list(range(20_000))
    assert start[fresh].min() >= 0 and start[fresh].max() <= 1  # restarted from uniform noise on the box
    draw = sampler.draw(10, noise=sampler.noise(10, torch.Generator().manual_seed(1)))
    written = sampler.buffer[(sampler.buffer <= 1).all(1)]  # the drawn rows now hold the chains' ends
    assert 1 <= len(written) <= 10 and draw.x.shape == (10, 2)
    assert all(any(torch.equal(row, end) for end in draw.x) for row in written)
    sampler.eval()
    before = sampler.buffer.clone()
    sampler.draw(10, rng=torch.Generator().manual_seed(2))
    assert torch.equal(sampler.buffer, before)  # evaluation leaves the buffer alone


def test_evaluation_reads_each_buffer_row_once_before_any_twice_and_restarts_none():
    from vgan.model.mcmc import LangevinSampler

    sampler = LangevinSampler(Quadratic(), (2,), buffer_size=50, restart=0.5, steps=1, step_size=0.0, noise=0.0)
    sampler.buffer.copy_(torch.arange(100.0).view(50, 2) + 5)  # distinct rows, all outside the box
    sampler.eval()
    rng = torch.Generator().manual_seed(0)
    rows = torch.cat([sampler.start(20, None, rng, torch.device("cpu"))[0] for _ in range(3)])
    assert (rows >= 5).all()  # no chain restarted from noise
    assert len(torch.unique(rows[:50], dim=0)) == 50  # the first 50 starts are the 50 rows
    assert torch.equal(rows[50:], rows[:10])  # then the same order again
    sampler.train()
    sampler.eval()  # a new evaluation starts a new pass
    assert len(torch.unique(sampler.start(50, None, rng, torch.device("cpu"))[0], dim=0)) == 50


def test_langevin_draws_repeat_from_their_noise_and_data_init_starts_at_the_images():
    from vgan.model.mcmc import LangevinSampler

    sampler = LangevinSampler(Quadratic(), (1, 2, 2), init="noise", steps=3, step_size=0.1, noise=0.05)
    seed = sampler.noise(4, torch.Generator().manual_seed(0))
    assert torch.equal(sampler.draw(4, noise=seed).x, sampler.draw(4, noise=seed).x)
    ends = LangevinSampler(Quadratic(), (1, 2, 2), init="data", steps=1, step_size=0.5, noise=0.0)
    x = torch.zeros(3, 1, 2, 2)
    assert ends.conditional and torch.allclose(ends(x), torch.full_like(x, 0.25))  # x - 0.5 (x - 0.5)
    with pytest.raises(ValueError, match="pass cond"):
        ends.draw(3)


@pytest.mark.slow
def test_figures_read_the_buffer_without_writing_it(tiny, tmp_path):
    from vgan.cli import main

    keys = ["objective=cd", "langevin_steps=2", "buffer_size=100", "name=cd", "max_steps=4"]
    assert main(["train", *with_keys(tiny, *keys)]) == 0
    trainer = vgan.load_run(tmp_path / "cd")
    trainer.sampler.train()  # as during training
    before = trainer.sampler.buffer.clone()
    trainer.figure()
    assert torch.equal(trainer.sampler.buffer, before) and trainer.sampler.training


def test_figures_leave_a_spectrally_normalised_energy_as_it_was(tiny, tmp_path):
    from vgan.cli import main

    keys = ["objective=cd", "langevin_steps=2", "buffer_size=100", "name=sn", "max_steps=2", "spectral_norm=true"]
    assert main(["train", *with_keys(tiny, *keys)]) == 0
    trainer = vgan.load_run(tmp_path / "sn")
    trainer.energy.train()
    before = {k: v.clone() for k, v in trainer.energy.state_dict().items()}
    trainer.figure()
    assert all(torch.equal(v, before[k]) for k, v in trainer.energy.state_dict().items())  # power iteration held
    assert trainer.energy.training


def test_an_objective_and_a_sampler_that_disagree_on_training_it_are_refused():
    from vgan._utils.errors import ConfigError
    from vgan.model.objectives import CDObjective

    cfg = vgan.load_config("toy25_vgan", overrides=["device=cpu"])
    with pytest.raises(ConfigError, match="does not train its sampler, but the LatentSampler has weights"):
        Trainer(cfg, (2,), torch.device("cpu"), objective=CDObjective())
