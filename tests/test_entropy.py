import math

import torch

from vgan.entropy import batch_entropy, binary_entropy, binary_entropy_from_logits


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
