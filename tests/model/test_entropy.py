import math

import pytest
import torch

from vgan.model.entropy import (
    InfoMaxEntropy,
    batch_entropy,
    binary_entropy,
    binary_entropy_from_logits,
    pairwise_batch_entropy,
)


def h(p):
    return -p * math.log(p) - (1 - p) * math.log(1 - p)


def test_binary_entropy_matches_hand_values():
    p = torch.tensor([0.5, 0.1, 0.9, 0.25])
    expected = torch.tensor([h(0.5), h(0.1), h(0.9), h(0.25)])
    assert torch.allclose(binary_entropy(p), expected, atol=1e-6)
    assert torch.allclose(binary_entropy_from_logits(torch.logit(p)), expected, atol=1e-6)


def test_saturated_logits_are_clipped_not_nan():
    a = torch.tensor([-1e4, -50.0, 50.0, 1e4], requires_grad=True)
    out = binary_entropy_from_logits(a, prob_clip=1e-4)
    assert torch.allclose(out, torch.full((4,), h(1e-4)), atol=1e-5)
    out.sum().backward()
    assert torch.isfinite(a.grad).all()
    assert torch.isfinite(binary_entropy(torch.tensor([0.0, 1.0]))).all()


def test_batch_entropy_eq9_on_hand_made_batch():
    p = torch.tensor([[0.8, 0.2], [0.6, 0.2]])  # column means 0.7 and 0.2
    assert math.isclose(batch_entropy(torch.logit(p)).item(), h(0.7) + h(0.2), rel_tol=1e-5)
    p = torch.tensor([[0.9, 0.5], [0.1, 0.5]])  # means 0.5, 0.5: the maximum, K ln 2
    assert math.isclose(batch_entropy(torch.logit(p)).item(), 2 * math.log(2), rel_tol=1e-5)


def test_batch_entropy_is_small_for_a_collapsed_batch_and_large_for_a_diverse_one():
    collapsed = torch.full((100, 16), 9.0)  # every sample saturates every expert the same way
    diverse = torch.randn(100, 16) * 9.0
    assert batch_entropy(collapsed).item() < 0.05
    assert batch_entropy(diverse).item() > 0.9 * 16 * math.log(2)


def test_min_entropy_hand_values_and_slope_at_the_plateau():
    from vgan.model.entropy import min_entropy_from_logits

    p = torch.tensor([0.5, 0.1, 0.9, 0.25])
    expected = torch.tensor([-math.log(max(q, 1 - q)) for q in p.tolist()])
    assert torch.allclose(min_entropy_from_logits(torch.logit(p)), expected, atol=1e-6)
    a = torch.tensor([0.5, -0.5, 1e-3], requires_grad=True)
    min_entropy_from_logits(a).sum().backward()
    sig = lambda v: 1 / (1 + math.exp(-v))  # noqa: E731
    assert torch.allclose(a.grad, torch.tensor([-sig(-0.5), sig(-0.5), -sig(-1e-3)]), atol=1e-6)
    b = torch.tensor([0.5, 1e-3], requires_grad=True)  # Shannon's slope: -a sigmoid(a)(1 - sigmoid(a))
    binary_entropy_from_logits(b).sum().backward()
    assert abs(b.grad[1].item()) < 3e-4 < 0.49 < abs(a.grad[2].item())  # near a = 0: ~0 against ~1/2


def test_saturated_experts_pass_no_gradient_through_either_entropy():
    from vgan.model.entropy import min_entropy_from_logits

    for h_of in (binary_entropy_from_logits, min_entropy_from_logits):
        a = torch.tensor([-50.0, 12.0], requires_grad=True)  # past the 1e-4 clip at |a| = 9.21
        h_of(a).sum().backward()
        assert torch.equal(a.grad, torch.zeros(2))


def test_nearest_neighbour_entropy_by_hand():
    from vgan.model.entropy import nearest_neighbour_entropy

    x = torch.tensor([[0.0], [1.0], [3.0]], requires_grad=True)  # nearest-neighbour distances 1, 1, 2
    h_nn = nearest_neighbour_entropy(x)
    assert math.isclose(h_nn.item(), math.log(2) / 3, abs_tol=1e-6)  # d * mean log rho, d = 1
    h_nn.backward()
    assert x.grad[0].item() < 0 < x.grad[2].item()  # ascending it pushes the outer points apart
    points = torch.randn(50, 2)
    spread = nearest_neighbour_entropy(points * 10) - nearest_neighbour_entropy(points)
    assert math.isclose(spread.item(), 2 * math.log(10), rel_tol=1e-4)  # scaling by s adds d log s
    collapsed = torch.cat([points[:5]] * 10) + 1e-3 * torch.randn(50, 2)
    assert nearest_neighbour_entropy(collapsed) < nearest_neighbour_entropy(points) - 5


def test_nearest_neighbour_entropy_of_near_duplicates_in_high_dimension():
    from vgan.model.entropy import nearest_neighbour_entropy

    torch.manual_seed(0)
    base = torch.rand(10, 784).repeat(5, 1)
    x = (base + 1e-4 * torch.randn(50, 784)).requires_grad_()  # a collapsed MNIST-sized batch
    exact = (x.detach().unsqueeze(1) - x.detach().unsqueeze(0)).double().pow(2).sum(-1)
    exact = 392 * (exact + torch.diag(torch.full((50,), float("inf")))).min(1).values.add(1e-8).log().mean()
    h_nn = nearest_neighbour_entropy(x)
    assert math.isclose(h_nn.item(), exact.item(), rel_tol=1e-3)  # the |a|^2+|b|^2-2ab form is off by 50% here
    h_nn.backward()
    assert torch.isfinite(x.grad).all() and (x.grad.abs().sum(1) > 0).all()  # every sample is pushed apart


def test_pairwise_batch_entropy_by_hand_for_two_experts():
    a = torch.randn(6, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    p = torch.sigmoid(a)
    m0, m1 = p.mean(0).tolist()
    q11 = (p[:, 0] * p[:, 1]).mean().item()
    joint = {(1, 1): q11, (1, 0): m0 - q11, (0, 1): m1 - q11, (0, 0): 1 - m0 - m1 + q11}
    info = sum(q * math.log(q / ((m0 if i else 1 - m0) * (m1 if j else 1 - m1))) for (i, j), q in joint.items())
    assert info > 0
    assert pairwise_batch_entropy(a).item() == pytest.approx(h(m0) + h(m1) - 2 * info, rel=1e-9)  # K - 1 = 1
    assert torch.autograd.gradcheck(pairwise_batch_entropy, (a.requires_grad_(True),))


def test_pairwise_batch_entropy_sees_copied_experts_that_eq9_cannot():
    firing = torch.tensor([9.0, 9.0, -9.0, -9.0])  # one balanced expert
    copies = firing[:, None].repeat(1, 5)  # (4, 5): five copies of it
    assert batch_entropy(copies).item() == pytest.approx(5 * math.log(2), rel=1e-3)  # Eq. 9: all five count
    assert pairwise_batch_entropy(copies).item() == pytest.approx(0.0, abs=0.02)  # they are one bit, not five
    independent = torch.tensor([[9.0, 9.0], [9.0, -9.0], [-9.0, 9.0], [-9.0, -9.0]])
    assert pairwise_batch_entropy(independent).item() == pytest.approx(2 * math.log(2), rel=1e-3)


def test_pairwise_correction_is_fourth_order_near_the_plateau():
    x = torch.randn(200, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    x[:, 1] = x[:, 0]  # two copied experts, which a correlation penalty would punish at any scale

    def dependence(s):
        return (batch_entropy(s * x) - pairwise_batch_entropy(s * x)).item()

    assert dependence(0.1) > 0 and dependence(0.1) / dependence(0.05) == pytest.approx(16, rel=0.05)


class Product(torch.nn.Module):
    def forward(self, v):  # T(x, z) = x * z for 1-D x and z: v = [x, z]
        return v[:, :1] * v[:, 1:]


def test_infomax_estimate_by_hand():
    mi = InfoMaxEntropy(1, 1, hidden=4)
    mi.statistics = Product()
    x = z = torch.tensor([[1.0], [2.0], [3.0]])
    # own pairs (x_i, z_i): T = 1, 4, 9; the noise rolled by one, z = 3, 1, 2: T = 3, 2, 6
    sp = lambda t: math.log1p(math.exp(t))  # noqa: E731
    want = 2 * math.log(2) - (sp(-1) + sp(-4) + sp(-9)) / 3 - (sp(3) + sp(2) + sp(6)) / 3
    assert math.isclose(mi(x, z).item(), want, rel_tol=1e-6)


def test_infomax_is_zero_when_t_cannot_tell_the_pairs_apart_and_learns_when_x_carries_z():
    torch.manual_seed(0)
    mi = InfoMaxEntropy(2, 2, hidden=32)
    torch.nn.init.zeros_(mi.statistics[-1].weight), torch.nn.init.zeros_(mi.statistics[-1].bias)
    z = torch.rand(64, 2) * 2 - 1
    assert mi(z, z).item() == 0.0  # T = 0 everywhere: the shifted bound is 0
    opt = torch.optim.Adam(mi.parameters(), lr=1e-2)
    for _ in range(150):  # T ascends the estimate, as in the generator's step
        z = torch.rand(64, 2) * 2 - 1
        opt.zero_grad()
        (-mi(z, z)).backward()
        opt.step()
    z = torch.rand(256, 2) * 2 - 1
    carried, independent = mi(z, z).item(), mi(torch.rand(256, 2), z).item()
    assert 0.8 < carried <= 2 * math.log(2) and independent < 0.2  # x = z: near its 2 ln 2 ceiling


def test_infomax_pushes_apart_samples_that_share_one_point():
    # x_i = G(z_i) collapsed onto one point: T cannot tell own noise from another's, and the
    # estimate's gradient on x is what tells G to make x depend on z again
    mi = InfoMaxEntropy(1, 1, hidden=4)
    mi.statistics = Product()
    z = torch.tensor([[-1.0], [1.0]])
    x = torch.zeros(2, 1, requires_grad=True)
    mi(x, z).backward()
    # d/dx_i [-sp(-x_i z_i) - sp(x_i z_{i-1})] / 2 at x = 0: (z_i - z_{i-1}) / 4
    assert torch.allclose(x.grad, torch.tensor([[-0.5], [0.5]]))
