"""vgan.model.networks: the conv networks' pool-then-activation order is the paper's function exactly; the energy
model's outputs."""

import pytest
import torch
from torch import nn

from vgan.model.networks import ConvEncoder, ConvFeatures


def relu_before_pool(net: nn.Sequential) -> nn.Sequential:
    """The same modules with every (MaxPool2d, ReLU) pair swapped back to (ReLU, MaxPool2d)."""
    mods = list(net)
    for i in range(len(mods) - 1):
        if isinstance(mods[i], nn.MaxPool2d) and isinstance(mods[i + 1], (nn.ReLU, nn.LeakyReLU)):
            mods[i], mods[i + 1] = mods[i + 1], mods[i]
    return nn.Sequential(*mods)


@pytest.mark.parametrize(
    "network", [ConvFeatures, ConvEncoder, lambda *a, **k: ConvFeatures(*a, **k, act="leaky_relu")]
)
def test_pool_before_relu_is_exact(network):
    """max-pool and a monotone activation commute, so pooling first (4x less activation work) changes
    nothing, gradients included."""
    torch.manual_seed(0)
    net = network((1, 28, 28), channels=8).net
    swapped = relu_before_pool(net)
    assert [type(m) for m in swapped] != [type(m) for m in net]
    x = torch.rand(5, 1, 28, 28)
    x[:, :, :14] = 0.0  # flat regions: windows whose values tie
    outs = []
    for model in (net, swapped):
        xi = x.clone().requires_grad_(True)
        y = model(xi)
        outs.append([y, *torch.autograd.grad(y.square().sum(), [xi, model[0].weight])])
    assert all(torch.equal(a, b) for a, b in zip(*outs))


def test_leaky_energy_passes_a_gradient_where_every_relu_is_off():
    import vgan

    x = torch.full((4, 1, 4, 4), 0.5, requires_grad=True)
    for act, expect_grad in (("relu", False), ("leaky_relu", True)):
        energy = vgan.build_energy(vgan.Config(hidden=8, feature_dim=8, experts=4, energy_activation=act), (1, 4, 4))
        with torch.no_grad():  # every first-layer unit off for these inputs
            energy.features.net[1].weight.fill_(-1.0)
        (grad,) = torch.autograd.grad(energy(x).energy.sum(), x)
        assert bool(grad.abs().sum() > 0) == expect_grad


def test_energy_model_returns_the_features_its_head_saw():
    import vgan

    torch.manual_seed(0)
    energy = vgan.build_energy(vgan.Config(hidden=8, feature_dim=6, experts=4), (1, 4, 4))
    x = torch.rand(3, 1, 4, 4)
    out = energy(x)
    phi = energy.features(x)  # (3, 6)
    assert torch.equal(out.features, phi)
    assert torch.equal(out.logits, energy.head.experts(phi))  # the logits Eq. 8 and Eq. 9 read come from that phi


@pytest.mark.parametrize("arch,shape", [("mlp", (1, 4, 4)), ("conv", (1, 28, 28)), ("mlp", (2,))])
def test_a_packed_energy_reads_consecutive_images_as_one(arch, shape):
    """pack = m (PacGAN): E of N images is E of N/m inputs, each m consecutive images stacked along the
    channels, so the output has N/m rows; `alone()` gives each image a pack of m copies of itself."""
    import vgan

    torch.manual_seed(0)
    cfg = vgan.Config(arch=arch, hidden=8, channels=4, feature_dim=6, experts=4, pack=3, batch_size=6)
    energy = vgan.build_energy(cfg, shape)
    x = torch.rand(6, *shape)
    out = energy(x)
    assert out.energy.shape == (2,)
    stacked = torch.cat([x[0::3], x[1::3], x[2::3]], dim=1)  # (2, 3C, ...): images 0, 1, 2 | 3, 4, 5
    assert torch.allclose(out.features, energy.features(stacked), atol=1e-6)
    alone = energy.alone()(x[:2])
    assert alone.energy.shape == (2,)
    copies = torch.cat([x[:2]] * 3, dim=1)
    assert torch.allclose(alone.energy, energy.head(energy.features(copies)).energy, atol=1e-6)
    with pytest.raises(ValueError, match="packs of 3 images; got a batch of 4"):
        energy(x[:4])


def test_an_unpacked_energy_is_its_own_alone_view():
    import vgan

    energy = vgan.build_energy(vgan.Config(hidden=8, feature_dim=6, experts=4), (1, 4, 4))
    assert energy.alone() is energy and energy(torch.rand(5, 1, 4, 4)).energy.shape == (5,)
