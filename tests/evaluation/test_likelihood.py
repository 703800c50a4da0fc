"""AIS against log Z known exactly (a Gaussian, an RBM's free energy) or by quadrature (2-D)."""

import math

import pytest
import torch
from torch import nn

from vgan.evaluation.likelihood import (
    AIS,
    ais_log_z,
    log_likelihood,
    quadrature_log_z,
    raise_log_likelihood,
    reflect,
    sigmoid_schedule,
)


class Gaussian(nn.Module):
    def __init__(self, mu=0.5, sigma=0.1):
        super().__init__()
        self.mu, self.sigma = mu, sigma

    def forward(self, x):
        return ((x - self.mu) ** 2).flatten(1).sum(1) / (2 * self.sigma**2)


def gaussian_log_z(d, mu=0.5, sigma=0.1):
    cdf = lambda t: 0.5 * (1 + math.erf(t / math.sqrt(2)))  # noqa: E731
    return d * math.log(math.sqrt(2 * math.pi) * sigma * (cdf((1 - mu) / sigma) - cdf(-mu / sigma)))


class RBM(nn.Module):
    """E(x) = -b^T x - sum_j softplus(W_j^T x + c_j), the RBM free energy with phi the identity."""

    def __init__(self, d, hidden, seed=0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.w = nn.Parameter(0.1 * torch.randn(hidden, d, generator=g))
        self.b = nn.Parameter(torch.randn(d, generator=g))
        self.c = nn.Parameter(torch.randn(hidden, generator=g))

    def forward(self, x):
        x = x.flatten(1)
        return -x @ self.b - torch.nn.functional.softplus(x @ self.w.T + self.c).sum(1)

    def exact_log_z(self):
        """Z = sum_h exp(c^T h) prod_i int_0^1 exp(u_i x) dx, u = b + W^T h: (e^u - 1) / u per pixel."""
        hidden = self.c.numel()
        h = torch.tensor([[(k >> j) & 1 for j in range(hidden)] for k in range(2**hidden)], dtype=torch.float64)
        u = self.b.double() + h @ self.w.double()  # (2^H, d)
        small = u.abs() < 1e-6
        log_int = torch.where(small, u / 2, torch.log(torch.expm1(u) / torch.where(small, 1.0, u)))
        return torch.logsumexp(h @ self.c.double() + log_int.sum(1), 0).item()


def test_schedule_and_reflection():
    betas = sigmoid_schedule(10)
    assert betas[0] == 0 and betas[-1] == 1 and (betas.diff() > 0).all()
    x, p = reflect(torch.tensor([1.2, -0.3, 2.5, 0.4]), torch.ones(4), (0.0, 1.0))
    assert torch.allclose(x, torch.tensor([0.8, 0.3, 0.5, 0.4])) and torch.equal(p, torch.tensor([-1.0, -1, 1, 1]))


def test_ais_on_a_gaussian_energy():
    result = ais_log_z(Gaussian(), (10,), AIS(chains=100, runs=2, temperatures=1000, leapfrog=1, seed=0))
    assert abs(result.log_z - gaussian_log_z(10)) < 0.1
    assert 0.3 < result.acceptance < 0.95 and len(result.log_z_runs) == 2


@pytest.mark.slow
def test_ais_on_a_two_dimensional_energy_against_quadrature():
    torch.manual_seed(0)
    mlp = nn.Sequential(nn.Linear(2, 32), nn.Tanh(), nn.Linear(32, 1))
    energy = lambda x: 4 * mlp(x).squeeze(1)  # noqa: E731
    n = 1000
    axis = (torch.arange(n) + 0.5) / n
    grid = torch.stack(torch.meshgrid(axis, axis, indexing="ij"), -1).view(-1, 2)
    with torch.no_grad():
        exact = (torch.logsumexp(-energy(grid).double(), 0) - 2 * math.log(n)).item()
    assert abs(ais_log_z(energy, (2,), AIS(chains=100, runs=2, temperatures=500)).log_z - exact) < 0.1


def test_quadrature_of_a_gaussian_energy_in_one_and_two_dimensions():
    for d in (1, 2):
        assert abs(quadrature_log_z(Gaussian(), d, points=400) - gaussian_log_z(d)) < 1e-4
    with pytest.raises(ValueError, match="1 or 2 dimensions"):
        quadrature_log_z(Gaussian(), 3)


@pytest.mark.slow
def test_ais_on_a_784_dimensional_rbm_free_energy():
    rbm = RBM(784, hidden=8)
    exact = rbm.exact_log_z()
    result = ais_log_z(rbm, (1, 28, 28), AIS(chains=100, runs=4, temperatures=500, leapfrog=4, seed=0))
    assert abs(result.log_z - exact) < 0.1, (result, exact)
    assert result.log_z_std < 0.2 and 0.5 < result.acceptance < 0.95


def test_log_likelihood_of_the_uniform_and_a_shifted_energy():
    x = torch.rand(100, 1, 4, 4)
    zero = lambda v: torch.zeros(len(v))  # noqa: E731  the uniform density on the unit box: log p = 0
    assert log_likelihood(zero, x, 0.0) == {"loglik_nats": 0.0, "loglik_bits_per_dim": 0.0}
    two = lambda v: torch.full((len(v),), 2.0)  # noqa: E731
    ll = log_likelihood(two, x, -2.0)  # E = 2 everywhere: Z = e^-2, p = 1 again
    assert ll["loglik_nats"] == pytest.approx(0.0, abs=1e-12)
    assert log_likelihood(zero, x, 16 * math.log(2))["loglik_bits_per_dim"] == pytest.approx(1.0)


@pytest.mark.slow
def test_raise_brackets_the_log_likelihood_with_forward_ais():
    # data drawn from the energy itself: the two estimates meet at the truth, RAISE from below
    g = torch.Generator().manual_seed(0)
    x = (0.5 + 0.1 * torch.randn(200, 10, generator=g)).clamp(0, 1)  # 5 sigma inside the box: exact samples
    truth = -Gaussian()(x).double().mean().item() - gaussian_log_z(10)
    forward = ais_log_z(Gaussian(), (10,), AIS(chains=100, runs=2, temperatures=1000, leapfrog=1, seed=0))
    upper = log_likelihood(Gaussian(), x, forward.log_z)["loglik_nats"]
    lower = raise_log_likelihood(Gaussian(), x, AIS(temperatures=1000, leapfrog=1, seed=0))
    assert abs(upper - truth) < 0.1 and abs(lower["loglik_nats_raise"] - truth) < 0.1
    assert lower["loglik_nats_raise"] < upper + 0.05 and 0 < lower["loglik_nats_raise_se"] < 0.5
