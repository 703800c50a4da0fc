import pytest
import torch
from torch import nn

import vgan
from vgan.samplers import LatentSampler, TransitionSampler, build_sampler, uniform_noise


def tiny_cfg(**kw):
    return vgan.Config(objective="vcd", channels=4, hidden=16, feature_dim=16, gen_hidden=16, code_dim=8, **kw)


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
