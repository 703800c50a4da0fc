"""vgan.networks: the conv networks' pool-then-ReLU order is the paper's function exactly."""

import pytest
import torch
from torch import nn

from vgan.networks import ConvEncoder, ConvFeatures


def relu_before_pool(net: nn.Sequential) -> nn.Sequential:
    """The same modules with every (MaxPool2d, ReLU) pair swapped back to (ReLU, MaxPool2d)."""
    mods = list(net)
    for i in range(len(mods) - 1):
        if isinstance(mods[i], nn.MaxPool2d) and isinstance(mods[i + 1], nn.ReLU):
            mods[i], mods[i + 1] = mods[i + 1], mods[i]
    return nn.Sequential(*mods)


@pytest.mark.parametrize("network", [ConvFeatures, ConvEncoder])
def test_pool_before_relu_is_exact(network):
    """max-pool and ReLU commute, so pooling first (4x less ReLU work) changes nothing, gradients included."""
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
