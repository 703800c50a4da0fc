import math

import torch

from vgan.energy import GANEnergy, MultiModalEnergy, RBMFreeEnergy


def h(p):
    return -p * math.log(p) - (1 - p) * math.log(1 - p)


def sig(a):
    return 1 / (1 + math.exp(-a))


def test_multimodal_energy_eq8_hand_computation():
    head = MultiModalEnergy(1, experts=2)
    with torch.no_grad():
        head.experts.weight.copy_(torch.tensor([[1.0], [-2.0]]))
        head.experts.bias.copy_(torch.tensor([0.0, 1.0]))
    out = head(torch.tensor([[0.5], [3.0]]))
    expected = [h(sig(0.5)) + h(sig(0.0)), h(sig(3.0)) + h(sig(-5.0))]
    assert out.energy.shape == (2,) and out.logits.shape == (2, 2)
    assert torch.allclose(out.energy, torch.tensor(expected), atol=1e-6)


def test_multimodal_energy_is_bounded_in_0_K():
    torch.manual_seed(0)
    K = 16
    head = MultiModalEnergy(8, experts=K)
    phi = torch.randn(256, 8) * torch.logspace(-3, 3, 256).unsqueeze(1)  # tiny to saturating
    e = head(phi).energy
    assert torch.isfinite(e).all()
    assert (e >= 0).all() and (e <= K * math.log(2) + 1e-5).all()
    assert e.max() > 0.9 * K * math.log(2) and e.min() < 0.1  # both ends are reached


def test_gan_energy_is_minus_log_d():
    head = GANEnergy(1)
    with torch.no_grad():
        head.unit.weight.fill_(1.0)
        head.unit.bias.zero_()
    out = head(torch.tensor([[0.0], [2.0], [-30.0]]))
    expected = [-math.log(sig(0.0)), -math.log(sig(2.0)), 30.0]
    assert torch.allclose(out.energy, torch.tensor(expected), atol=1e-5)


def test_rbm_free_energy_hand_computation_and_unbounded_below():
    head = RBMFreeEnergy(1, input_dim=2, hidden=1)
    with torch.no_grad():
        head.hidden.weight.fill_(2.0)
        head.hidden.bias.fill_(-1.0)
        head.visible.weight.copy_(torch.tensor([[0.5, -1.0]]))
    x = torch.tensor([[1.0, 2.0]])
    out = head(torch.tensor([[1.5]]), x)
    expected = -(0.5 * 1 - 1.0 * 2) - math.log1p(math.exp(2 * 1.5 - 1))
    assert math.isclose(out.energy.item(), expected, rel_tol=1e-6)
    assert head(torch.tensor([[1000.0]]), x).energy.item() < -1000  # no lower bound
