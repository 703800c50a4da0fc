import math

import pytest
import torch

from vgan.model.energy import GANEnergy, MultiModalEnergy, RBMFreeEnergy


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


def test_min_entropy_experts_keep_the_bounds_and_minima_of_eq8():
    from vgan.model.entropy import logit_bound

    torch.manual_seed(0)
    head = MultiModalEnergy(8, experts=16, entropy="min")
    torch.nn.init.zeros_(head.experts.bias)
    phi = torch.randn(256, 8) * torch.logspace(-3, 3, 256).unsqueeze(1)
    e = head(phi).energy
    assert (e >= 0).all() and (e <= 16 * math.log(2) + 1e-5).all() and e.max() > 15 * math.log(2)
    saturated = torch.full((1, 16), logit_bound(1e-4))
    assert math.isclose(
        MultiModalEnergy(1, 16, entropy="min").entropy(saturated, 1e-4).sum().item(),
        16 * -math.log(1 - 1e-4),
        rel_tol=1e-4,
    )


def test_dead_zones_by_hand():
    from vgan.model.energy import dead_zones

    logits = torch.tensor([[0.05, -0.05, 1.0, 20.0], [-9.5, 0.2, 0.0, 3.0]])
    zones = dead_zones(logits, prob_clip=1e-4)  # bound ln(9999) = 9.21
    assert zones["dead_saturated"].item() == 2 / 8 and zones["dead_flat"].item() == 3 / 8


def test_expert_rank_by_hand():
    from vgan.model.energy import expert_rank

    u, w = torch.tensor([1.0, -2.0, 0.5, 3.0]), torch.tensor([1.0, 4.0, -1.0])
    assert expert_rank(u[:, None] * w + 7.0).item() == pytest.approx(1.0)  # every expert a copy of one
    # centred already; covariance diag(2, 2, 0): (2 + 2)^2 / (2^2 + 2^2) = 2 directions of 3
    two = torch.tensor([[1.0, 0.0, 5.0], [-1.0, 0.0, 5.0], [0.0, 1.0, 5.0], [0.0, -1.0, 5.0]])
    assert expert_rank(two).item() == pytest.approx(2.0)
    a = torch.randn(50, 8, generator=torch.Generator().manual_seed(0))
    lam = torch.linalg.eigvalsh(torch.cov(a.T))  # the definition, through an eigendecomposition
    assert expert_rank(a).item() == pytest.approx((lam.sum() ** 2 / (lam**2).sum()).item(), rel=1e-5)
    assert expert_rank(torch.ones(4, 3)).item() == 0.0  # constant logits: no direction at all


def test_expert_decorrelation_by_hand():
    from vgan.model.energy import EnergyOutput, EnergyPenalty, expert_correlation

    a = torch.tensor([1.0, -1.0, 1.0, -1.0])
    copies = torch.stack([a, 2 * a, -a], 1)  # three experts, each a rescaled copy of the first
    assert expert_correlation(copies).item() == pytest.approx(1.0, abs=1e-5)
    independent = torch.tensor([[1.0, 1.0], [-1.0, 1.0], [1.0, -1.0], [-1.0, -1.0]])
    assert expert_correlation(independent).item() == pytest.approx(0.0, abs=1e-6)
    # corr([1,-1,1,-1], [1,-1,0,0]) = 2 / (4 * 1 * sqrt(1/2)) = 1/sqrt(2): squared, 1/2
    half = torch.stack([a, torch.tensor([1.0, -1.0, 0.0, 0.0])], 1)
    assert expert_correlation(half).item() == pytest.approx(0.5, abs=1e-5)
    assert expert_correlation(half * 1e-4).item() == pytest.approx(0.5, abs=1e-3)  # shrinking is no escape
    assert expert_correlation(torch.stack([a, torch.full((4,), 3.0)], 1)).item() == 0.0  # a constant expert
    logits = torch.randn(6, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(0)).requires_grad_(True)
    assert torch.autograd.gradcheck(expert_correlation, (logits,))

    real = EnergyOutput(torch.zeros(4), half.clone().requires_grad_(True))
    fake = EnergyOutput(torch.zeros(4), torch.zeros(4, 2))
    total, stats = EnergyPenalty(decorrelation=2.0)(real, fake)
    assert total.item() == pytest.approx(1.0, abs=1e-4) and stats["expert_correlation"].item() == pytest.approx(
        0.5, 1e-4
    )
    total.backward()
    assert real.logits.grad.abs().sum() > 0  # on: it pushes the two experts apart
    off, stats = EnergyPenalty()(real, fake)
    assert off.item() == 0.0 and not off.requires_grad and stats == {}  # off: no term, no gradient


def test_logit_penalty_gives_a_saturated_expert_a_gradient_only_when_on():
    from vgan.model.energy import EnergyOutput, EnergyPenalty
    from vgan.model.entropy import binary_entropy_from_logits
    from vgan.model.objectives import VGANObjective

    def energy_step_grad(penalty):
        a_real = torch.tensor([[50.0, -1.0]], requires_grad=True)  # one expert saturated past the clip
        a_fake = torch.tensor([[0.5, 30.0]], requires_grad=True)
        out = lambda a: EnergyOutput(binary_entropy_from_logits(a).sum(1), a)  # noqa: E731
        loss, stats = VGANObjective(penalty=penalty).energy_loss(out(a_real), out(a_fake))
        loss.backward()
        return a_real.grad, a_fake.grad, stats

    g_real, g_fake, stats = energy_step_grad(EnergyPenalty())
    assert g_real[0, 0].item() == 0 and g_fake[0, 1].item() == 0 and "logit_l2" not in stats
    g_real, g_fake, stats = energy_step_grad(EnergyPenalty(logit=0.01))
    # d/da of 0.01 * (mean a_real^2 + mean a_fake^2), means over 2 logits: 0.01 * a
    assert math.isclose(g_real[0, 0].item(), 0.5, rel_tol=1e-6) and math.isclose(g_fake[0, 1].item(), 0.3, rel_tol=1e-6)
    assert math.isclose(stats["logit_l2"].item(), (50**2 + 1) / 2 + (0.25 + 30**2) / 2, rel_tol=1e-6)


def test_r1_penalty_by_hand_on_a_linear_energy():
    from vgan.model.energy import EnergyOutput, EnergyPenalty

    w = torch.tensor([1.0, -2.0, 0.5], requires_grad=True)
    x = torch.randn(6, 3, requires_grad=True)  # 4 real rows, 2 generated
    energy = x @ w  # grad_x E = w for every row
    real = EnergyOutput(energy[:4], energy[:4, None])
    fake = EnergyOutput(energy[4:], energy[4:, None])
    penalty, stats = EnergyPenalty(r1=10.0)(real, fake, x)
    assert math.isclose(stats["r1"].item(), 1 + 4 + 0.25, rel_tol=1e-6)
    assert math.isclose(penalty.item(), 5 * 5.25, rel_tol=1e-6)
    penalty.backward()  # differentiable in the energy's parameters: d/dw 5 ||w||^2 = 10 w
    assert torch.allclose(w.grad, 10 * w.detach())


def test_r1_penalty_of_a_packed_energy_is_the_mean_over_real_images():
    from vgan.model.energy import EnergyOutput, EnergyPenalty

    w = torch.tensor([1.0, -2.0, 0.5, 3.0])  # E of a pack of two 2-d points: w . [x_a, x_b]
    x = torch.randn(8, 2, requires_grad=True)  # 4 real points (2 packs), then 4 generated
    energy = x.reshape(4, 4) @ w
    real, fake = EnergyOutput(energy[:2], energy[:2, None]), EnergyOutput(energy[2:], energy[2:, None])
    _, stats = EnergyPenalty(r1=1.0)(real, fake, x)
    assert math.isclose(stats["r1"].item(), (5 + 9.25) / 2, rel_tol=1e-6)  # ||(1, -2)||^2, ||(0.5, 3)||^2


@pytest.mark.parametrize("head", [True, False])
def test_spectral_norm_bounds_the_normalised_energy_layers(head):
    import vgan

    cfg = vgan.Config(hidden=32, feature_dim=16, experts=8, spectral_norm=True, spectral_norm_head=head)
    energy = vgan.build_energy(cfg, (1, 4, 4))
    for _ in range(20):  # power iterations run in training-mode forwards
        energy(torch.rand(5, 1, 4, 4))
    layers = [m for m in energy.modules() if isinstance(m, torch.nn.Linear)]
    assert len(layers) == 3
    normalised = layers if head else [m for m in energy.features.modules() if isinstance(m, torch.nn.Linear)]
    assert len(normalised) == (3 if head else 2)
    for m in normalised:
        assert math.isclose(torch.linalg.matrix_norm(m.weight, 2).item(), 1.0, rel_tol=0.05)
    # false: Eq. 8's expert layer is left alone, so the logits keep a free scale
    assert torch.nn.utils.parametrize.is_parametrized(energy.head.experts) == head
