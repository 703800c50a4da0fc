"""Likelihoods of energy models by annealed importance sampling (Neal 2001).

An energy E defines p(x) = exp(-E(x)) / Z on the data box [0, 1]^d, where every dataset lies.
`ais_log_z` estimates log Z by annealing from the uniform base (log Z_0 = 0 on the unit box)
through p_t(x) ~ exp(-beta_t E(x)), 0 = beta_0 < ... < beta_T = 1, with one Hamiltonian Monte
Carlo transition per temperature that reflects at the box's faces (so it leaves p_t invariant on
the box). `log_likelihood` turns it into the test set's mean log p(x), in nats and bits per
dimension.

    result = ais_log_z(model.energy.alone(), (1, 28, 28), AIS(temperatures=5000))
    ll = log_likelihood(model.energy.alone(), test_images, result.log_z)

AIS estimates Z without bias, so log Z-hat is low in expectation (Jensen) and the log-likelihood
it gives is high in expectation; `raise_log_likelihood` (reverse annealing from the data, Burda et
al. 2015) estimates it from below. The two bracket the log-likelihood when the chains mix; far
apart, they say that the chains did not. Z is over the continuous box: a density, not the
probability of the quantised image.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from torch import nn

from ..model.energy import BOX, energies

Box = Tuple[float, float]


@dataclass(frozen=True)
class AIS:
    """The settings of annealed importance sampling, forward (`ais_log_z`) and reverse
    (`raise_log_likelihood`): `runs` independent runs of `chains` chains, `temperatures` steps of the
    sigmoid schedule, one HMC transition of `leapfrog` steps per temperature, its step starting at
    `step_size` and adapted towards `target_acceptance`, all drawn from `seed`. RAISE reads the
    schedule and HMC settings (it runs one chain per input)."""

    chains: int = 25
    runs: int = 4
    temperatures: int = 2000  # enough on 784-d mixtures: benchmarks/ais_check.py
    leapfrog: int = 4
    step_size: float = 0.01
    target_acceptance: float = 0.65
    seed: int = 0

    def __post_init__(self) -> None:
        if min(self.chains, self.runs, self.temperatures, self.leapfrog) < 1:
            raise ValueError("chains, runs, temperatures and leapfrog must each be at least 1")
        if not (self.step_size > 0 and 0 < self.target_acceptance < 1):
            raise ValueError("step_size must be > 0 and target_acceptance in (0, 1)")


@dataclass
class AISResult:
    log_z: float  # the estimate of all chains pooled: log mean_i w_i + log Z_0
    log_z_runs: List[float]  # one estimate per independent run of `chains` chains
    log_z_std: float  # the standard deviation of the runs' estimates (0 for one run)
    acceptance: float  # the HMC transitions' mean acceptance rate
    chains: int  # per run
    temperatures: int


def sigmoid_schedule(temperatures: int, sharpness: float = 4.0) -> torch.Tensor:
    """beta_0 = 0 < ... < beta_T = 1, dense near both ends (Grosse et al. 2013), float64 (T + 1,)."""
    t = torch.linspace(-sharpness, sharpness, temperatures + 1, dtype=torch.float64)
    s = torch.sigmoid(t)
    return (s - s[0]) / (s[-1] - s[0])


def reflect(x: torch.Tensor, p: torch.Tensor, box: Box) -> Tuple[torch.Tensor, torch.Tensor]:
    """Fold positions back into the box as a particle bouncing off its faces, flipping the momentum
    of each coordinate that bounced an odd number of times. Volume-preserving and reversible."""
    lo, hi = box
    width = hi - lo
    bounces = torch.floor((x - lo) / width)
    inside = (x - lo) - bounces * width
    odd = bounces.remainder(2) == 1
    return lo + torch.where(odd, width - inside, inside), torch.where(odd, -p, p)


def energy_and_grad(energy: nn.Module, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """E(x) (N,) and grad_x E (N, ...), detached; the energy's weights get no gradient."""
    with torch.enable_grad():
        x = x.detach().requires_grad_(True)
        e = energies(energy, x).float()
        (g,) = torch.autograd.grad(e.sum(), x)
    return e.detach(), g.detach()


def hmc_step(
    energy: nn.Module,
    x: torch.Tensor,
    e: torch.Tensor,
    g: torch.Tensor,
    beta: float,
    step: float,
    leapfrog: int,
    box: Box,
    rng: Optional[torch.Generator],
) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """One HMC transition that leaves exp(-beta E) on the box invariant; returns x, E(x), grad E(x)
    and each chain's acceptance (0 or 1)."""
    p = torch.randn(x.shape, generator=rng, device=x.device, dtype=x.dtype)
    h_old = beta * e + 0.5 * p.flatten(1).pow(2).sum(1)
    x_new, p_new, g_new, e_new = x, p - 0.5 * step * beta * g, g, e
    for i in range(leapfrog):
        x_new, p_new = reflect(x_new + step * p_new, p_new, box)
        e_new, g_new = energy_and_grad(energy, x_new)
        p_new = p_new - (0.5 if i == leapfrog - 1 else 1.0) * step * beta * g_new
    h_new = beta * e_new + 0.5 * p_new.flatten(1).pow(2).sum(1)
    u = torch.rand(len(x), generator=rng, device=x.device)
    accept = (u.log() < (h_old - h_new)) & torch.isfinite(h_new)
    keep = accept.view(-1, *[1] * (x.dim() - 1))
    return (
        torch.where(keep, x_new, x),
        torch.where(accept, e_new, e),
        torch.where(keep, g_new, g),
        accept.float(),
    )


def anneal(
    energy: nn.Module,
    x: torch.Tensor,
    betas: Sequence[float],
    *,
    leapfrog: int,
    step_size: float,
    target_acceptance: float,
    box: Box,
    rng: Optional[torch.Generator],
    transition_first: bool = False,
) -> Tuple[torch.Tensor, List[float]]:
    """Anneal states x along `betas`, accumulating log w_i = sum_t -(beta_t - beta_{t-1}) E(x_i).
    Forward AIS (`betas` increasing from the base) takes each weight before the HMC transition at
    beta_t; `transition_first` (reverse annealing from data, `raise_log_likelihood`) takes the
    transition at beta_{t-1} first. The step size is adapted after every transition towards
    `target_acceptance`, the same for all chains. Returns log w (float64) and the acceptance rates."""
    e, g = energy_and_grad(energy, x)
    log_w = torch.zeros(len(x), dtype=torch.float64, device=x.device)
    step, accepted = step_size, []
    for b_prev, b in zip(betas[:-1], betas[1:]):
        if not transition_first:
            log_w -= (b - b_prev) * e.double()
        x, e, g, acc = hmc_step(energy, x, e, g, b_prev if transition_first else b, step, leapfrog, box, rng)
        if transition_first:
            log_w -= (b - b_prev) * e.double()
        rate = acc.mean().item()
        step *= 1.02 if rate > target_acceptance else 0.98
        accepted.append(rate)
    return log_w, accepted


def _annealing(dims: int, ais: AIS, box: Box, device):
    """What forward AIS and RAISE share: log Z_0 of the uniform base on the box (d dimensions), the
    sigmoid schedule beta_0..beta_T, and `anneal`'s keywords with a generator seeded by `ais.seed`."""
    lo, hi = box
    settings = dict(leapfrog=ais.leapfrog, step_size=ais.step_size, target_acceptance=ais.target_acceptance, box=box)
    settings["rng"] = torch.Generator(device).manual_seed(ais.seed)
    return dims * math.log(hi - lo), sigmoid_schedule(ais.temperatures).tolist(), settings


@torch.no_grad()
def ais_log_z(
    energy: nn.Module,
    shape: Sequence[int],
    ais: AIS = AIS(),
    *,
    box: Box = BOX,
    device: torch.device | str = "cpu",
) -> AISResult:
    """Estimate log Z = log integral over the box of exp(-E(x)) dx for inputs of `shape`, by
    `ais.runs` independent runs of `ais.chains` AIS chains each, `ais.temperatures` steps of the
    sigmoid schedule, one HMC transition per temperature (`anneal`).

    The chains start uniform on the box. Z-hat is unbiased, so log Z-hat is low in expectation and
    the log-likelihood it gives high: an estimate from above (`raise_log_likelihood` is the one
    from below)."""
    lo, hi = box
    log_z0, betas, settings = _annealing(math.prod(shape), ais, box, device)
    weights, accepted = [], []
    for _ in range(ais.runs):
        x = lo + (hi - lo) * torch.rand(ais.chains, *shape, generator=settings["rng"], device=device)
        log_w, rates = anneal(energy, x, betas, **settings)
        weights.append(log_w)
        accepted += rates
    mean_log = lambda w: (torch.logsumexp(w, 0) - math.log(len(w))).item()  # noqa: E731
    runs_log_z = [log_z0 + mean_log(w) for w in weights]
    return AISResult(
        log_z=log_z0 + mean_log(torch.cat(weights)),
        log_z_runs=runs_log_z,
        log_z_std=float(torch.tensor(runs_log_z).std().item()) if ais.runs > 1 else 0.0,
        acceptance=sum(accepted) / len(accepted),
        chains=ais.chains,
        temperatures=ais.temperatures,
    )


@torch.no_grad()
def raise_log_likelihood(energy: nn.Module, x: torch.Tensor, ais: AIS = AIS(), *, box: Box = BOX) -> Dict[str, float]:
    """Reverse annealing from each input (RAISE, Burda, Grosse and Salakhutdinov 2015): from x_T = x,
    an HMC transition at beta_t then the weight exp(-(beta_{t-1} - beta_t) E), down to the uniform
    base, on the schedule and HMC settings of `ais`. exp(-E(x)) / Z_0 times the weight estimates,
    without bias, the likelihood of x under the annealing model (AIS's own sampler), so its log is
    low in expectation for that model, which is the energy's when the chains mix (where they do not,
    inputs the annealing model over-weights, e.g. far in the energy's tails, can score above the
    energy's own log-likelihood). Returns the mean over x (N, ...) in nats per input and bits per
    dimension, and its standard error."""
    log_z0, betas, settings = _annealing(x[0].numel(), ais, box, x.device)
    e0 = energies(energy, x).float()
    log_w, _ = anneal(energy, x.float(), betas[::-1], transition_first=True, **settings)
    per_input = -e0.double() - log_z0 + log_w
    nats = per_input.mean().item()
    return {
        "loglik_nats_raise": nats,
        "loglik_bits_per_dim_raise": -nats / (x[0].numel() * math.log(2)),
        "loglik_nats_raise_se": (per_input.std() / math.sqrt(len(x))).item() if len(x) > 1 else 0.0,
    }


@torch.no_grad()
def quadrature_log_z(
    energy: nn.Module,
    dims: int,
    *,
    points: int = 1000,
    box: Box = BOX,
    chunk: int = 100_000,
    device: torch.device | str = "cpu",
) -> float:
    """log Z by the midpoint rule on a grid of `points` per axis over the box: the exact value, to
    the grid's resolution, where AIS is checked (inputs of 1 or 2 dimensions, e.g. the toy grids)."""
    if dims not in (1, 2):
        raise ValueError(f"quadrature needs inputs of 1 or 2 dimensions, not {dims}")
    lo, hi = box
    axis = lo + (hi - lo) * (torch.arange(points, dtype=torch.float64) + 0.5) / points
    grid = torch.cartesian_prod(*[axis] * dims).view(-1, dims).float()
    terms = []
    for part in grid.split(chunk):
        terms.append(-energies(energy, part.to(device)).double().cpu())
    return (torch.logsumexp(torch.cat(terms), 0) + dims * math.log((hi - lo) / points)).item()


@torch.no_grad()
def log_likelihood(energy: nn.Module, x: torch.Tensor, log_z: float, batch_size: int = 500) -> Dict[str, float]:
    """The mean log p(x) = -E(x) - log Z over float inputs x (N, ...) in the box: nats per input,
    and bits per dimension (-log2 p(x) / d, lower is better)."""
    total = 0.0
    for chunk in x.split(batch_size):
        total += energies(energy, chunk).double().sum().item()
    nats = -total / len(x) - log_z
    return {"loglik_nats": nats, "loglik_bits_per_dim": -nats / (x[0].numel() * math.log(2))}
