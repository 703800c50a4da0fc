"""MCMC on the energy itself, for contrastive divergence (beyond the paper): Langevin chains in data
space (`langevin`, `LangevinSampler`, the negatives of objective cd), and MALA in a generator's
latent space (`latent_mala`, MEG's sampler, Kumar et al. 2019), whose Metropolis correction makes
it exact for exp(-E(G(z))) p(z)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Dict, Optional, Sequence, Tuple

import torch
from torch import nn

from .._utils.checks import non_negative, optional, positive, require
from .energy import BOX, energies
from .reads import When
from .samplers import Draw, NegativeSource, _device


class LangevinSampler(NegativeSource):
    """Negatives from Langevin dynamics on the energy E itself (contrastive divergence):

        x <- clamp(x - a * grad_x E(x) + s * xi, box),   xi ~ N(0, I),   `steps` times,

    a = `step_size`, s = `noise` (IGEBM's and short-run EBMs' form, a and s free rather than tied
    by s^2 = 2a). The chains start (`init`) from uniform noise on the box (short-run, Nijkamp et al.
    2019), from images (`cond`: CD-k from data, Hinton 2002; `conditional`), or from a replay
    buffer of earlier chains' ends (persistent, Du & Mordatch 2019), each restarted from noise with
    probability `restart`. The buffer is a registered buffer, so checkpoints keep it; it is written
    back in training mode only. `energy` is held, not owned: its weights stay the energy's.

    A draw's `stats`: `langevin_grad_norm` (mean ||grad_x E|| per chain and step),
    `langevin_drift` (mean ||a grad_x E||), `langevin_noise` (s sqrt(d), the noise's norm),
    `langevin_energy_start` (mean E where the chains began) and `langevin_clamped` (the share of
    coordinates on the box's faces at the end).
    """

    trainable = False
    distributable = False  # a per-draw seed and one buffer: torchrun would repeat the chains
    config_keys = {
        "langevin_init": None,
        "langevin_steps": None,
        "langevin_step_size": None,
        "langevin_noise": None,
        "buffer_size": When("langevin_init=buffer", lambda cfg: cfg.langevin_init == "buffer"),
        "buffer_restart": When("langevin_init=buffer", lambda cfg: cfg.langevin_init == "buffer"),
    }
    chosen_by = ("objective", ("cd",))

    def __init__(
        self,
        energy: nn.Module,
        image_shape: Sequence[int],
        *,
        steps: int = 20,
        step_size: float = 1.0,
        noise: float = 0.01,
        init: str = "buffer",
        buffer_size: int = 10_000,
        restart: float = 0.05,
        box: Tuple[float, float] = BOX,
    ):
        super().__init__()
        if init not in ("noise", "data", "buffer"):
            raise ValueError(f"init must be 'noise', 'data' or 'buffer', got {init!r}")
        self.__dict__["energy"] = energy  # not a submodule: no second copy of its weights
        self.image_shape = tuple(image_shape)
        self.steps, self.step_size, self.noise_scale = steps, step_size, noise
        self.init, self.restart, self.box = init, restart, box
        self.conditional = init == "data"
        if init == "buffer":
            self.register_buffer("buffer", self.uniform(buffer_size, None))
        self._eval_order: Optional[torch.Tensor] = None  # evaluation reads the buffer's rows in this order
        self._eval_next = 0

    def train(self, mode: bool = True) -> LangevinSampler:
        self._eval_order, self._eval_next = None, 0  # each evaluation starts a fresh pass over the buffer
        return super().train(mode)

    def uniform(self, n: int, rng: Optional[torch.Generator], device: Optional[torch.device] = None) -> torch.Tensor:
        """n points uniform on the box, (n, *image_shape)."""
        lo, hi = self.box
        return lo + (hi - lo) * torch.rand(n, *self.image_shape, generator=rng, device=device)

    def noise(self, n: int, rng: Optional[torch.Generator] = None) -> torch.Tensor:
        """One seed (a 1-element int64 tensor) for all the randomness of a draw of n chains."""
        device = rng.device if rng is not None else _device(self)
        return torch.randint(0, 2**62, (1,), generator=rng, device=device)

    def draw(
        self,
        n: int,
        cond: Optional[torch.Tensor] = None,
        *,
        rng: Optional[torch.Generator] = None,
        noise: Optional[torch.Tensor] = None,
        recon: bool = False,
    ) -> Draw:
        """n chains' ends; `cond` are the chains' starts when `init` is 'data'."""
        device = cond.device if cond is not None else self._energy_device()
        if noise is not None:
            rng = torch.Generator(device).manual_seed(int(noise.reshape(-1)[0]))
        start, index = self.start(n, cond, rng, device)
        x, stats = self.run(start, rng)
        if index is not None and self.training:
            self.buffer[index] = x.to(self.buffer.dtype)
        return Draw(x, cond=cond, stats=stats)

    def forward(self, n_or_x: int | torch.Tensor, *, rng: Optional[torch.Generator] = None) -> torch.Tensor:
        """Samples: `n` chains from the sampler's start, or chains from the images `x`."""
        if isinstance(n_or_x, torch.Tensor):
            return self.run(n_or_x, rng)[0]
        return self.draw(n_or_x, rng=rng).x

    def start(
        self, n: int, cond: Optional[torch.Tensor], rng: Optional[torch.Generator], device: torch.device
    ) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        """The chains' first states, and the buffer rows they came from (None: not from the buffer)."""
        if self.init == "data":
            if cond is None:
                raise ValueError("a LangevinSampler with init='data' starts from images: pass cond")
            return cond, None
        if self.init == "noise":
            return self.uniform(n, rng, device), None
        size = len(self.buffer)
        if not self.training:  # evaluation: the chains as they are, each row once before any twice, no restarts
            if self._eval_order is None:
                self._eval_order = torch.randperm(size, generator=rng, device=device)
            index = self._eval_order[(self._eval_next + torch.arange(n, device=device)) % size]
            self._eval_next = (self._eval_next + n) % size
            return self.buffer[index], index
        if n > size:  # before any chain runs: each row written back once needs distinct rows
            raise ValueError(f"a draw of {n} chains cannot be written back to a buffer of {size}")
        index = torch.randperm(size, generator=rng, device=device)[:n]
        fresh = torch.rand(n, generator=rng, device=device) < self.restart
        x = torch.where(fresh.view(-1, *[1] * len(self.image_shape)), self.uniform(n, rng, device), self.buffer[index])
        return x, index

    def run(self, x: torch.Tensor, rng: Optional[torch.Generator]) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
        """`steps` Langevin steps from x; the chains' ends (detached) and their statistics."""
        return langevin(
            self.energy, x, steps=self.steps, step_size=self.step_size, noise=self.noise_scale, box=self.box, rng=rng
        )

    def _energy_device(self) -> torch.device:
        return next(self.energy.parameters()).device


def langevin(
    energy: nn.Module,
    x: torch.Tensor,
    *,
    steps: int,
    step_size: float,
    noise: float,
    box: Tuple[float, float] = BOX,
    rng: Optional[torch.Generator] = None,
) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
    """`steps` steps of x <- clamp(x - step_size grad_x E(x) + noise xi, box) from x (N, ...) on the
    energy module (an `EnergyModel`, or any module whose output has `.energy`, or gives energies).
    Returns the chains' ends (detached, float32) and their statistics (`LangevinSampler`). Only
    x's gradient is computed: the energy's weights get none, and their requires_grad is left alone."""
    x = x.detach().float()
    dims = x[0].numel()
    grad_norm = drift = x.new_zeros(())
    e_start = None
    with torch.enable_grad():
        for _ in range(steps):
            x.requires_grad_(True)
            e = energies(energy, x)
            if e_start is None:
                e_start = e.detach().mean()
            (grad,) = torch.autograd.grad(e.sum(), x)
            norms = grad.flatten(1).norm(dim=1).mean()
            grad_norm, drift = grad_norm + norms.detach(), drift + step_size * norms.detach()
            xi = torch.randn(x.shape, generator=rng, device=x.device, dtype=x.dtype)
            x = (x.detach() - step_size * grad + noise * xi).clamp_(*box)
    lo, hi = box
    steps = max(steps, 1)
    stats = {
        "langevin_grad_norm": grad_norm / steps,
        "langevin_drift": drift / steps,
        "langevin_noise": x.new_tensor(noise * dims**0.5),
        "langevin_energy_start": e_start if e_start is not None else x.new_zeros(()),
        "langevin_clamped": ((x <= lo) | (x >= hi)).float().mean(),
    }
    return x.detach(), stats


@dataclass(frozen=True)
class Langevin:
    """How many Langevin steps x <- clamp(x - a grad E(x) + s xi, box) to take on an energy (`steps`),
    the step a (`step_size`) and the noise s (`noise`); None leaves a setting to the run's config
    (`Model.langevin`). `vgan sample`, `chain` and `augment` take them as --langevin-*."""

    steps: Optional[int] = None
    step_size: Optional[float] = None
    noise: Optional[float] = None

    def __post_init__(self) -> None:
        for value, what, check in (
            (self.steps, "--langevin-steps", positive),
            (self.step_size, "--langevin-step-size", positive),
            (self.noise, "--langevin-noise", non_negative),
        ):
            require(value, optional(check), what, "use a number above 0 (0 or more for the noise), or leave it out")

    def keywords(self) -> dict:
        """The LangevinSampler keywords these settings give (None: not set)."""
        return dict(steps=self.steps, step_size=self.step_size, noise=self.noise)


def langevin_settings(cfg) -> dict:
    """The LangevinSampler keywords that a config's langevin_* and buffer_* keys give."""
    return dict(
        steps=cfg.langevin_steps,
        step_size=cfg.langevin_step_size,
        noise=cfg.langevin_noise,
        init=cfg.langevin_init,
        buffer_size=cfg.buffer_size,
        restart=cfg.buffer_restart,
    )


@dataclass(frozen=True)
class MALA:
    """Metropolis-adjusted Langevin in a generator's latent space (`latent_mala`): `steps` steps of
    size `step_size` (0 steps: off)."""

    steps: int = 0
    step_size: float = 0.01

    def __post_init__(self) -> None:
        require(self.steps, non_negative, "--mala-steps", "use 0 (off) or more")
        require(self.step_size, positive, "--mala-step-size", "use a number above 0")


def latent_mala(
    energy: nn.Module,
    generator: nn.Module,
    z: torch.Tensor,
    *,
    steps: int,
    step_size: float,
    log_prior: Callable[[torch.Tensor], torch.Tensor],
    rng: Optional[torch.Generator] = None,
) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
    """MEG's sampler (Kumar et al. 2019): MALA on U(z) = E(G(z)) - log p(z), from latents z (N, d).
    Each step proposes z' = z - h grad U(z) + sqrt(2h) xi, h = `step_size`, and accepts it with
    probability min(1, exp(U(z) - U(z') + log r(z | z') - log r(z' | z))),
    r(b | c) = N(b; c - h grad U(c), 2h I); `log_prior` is log p(z) up to a constant (-inf outside a
    bounded prior).
    A generator with batch norm is one function of z only with its statistics held fixed
    (`networks.batch_statistics`, as `Model.mala_samples` does). Returns the latents (detached) and
    `mala_acceptance`, the share of proposals accepted."""

    def u_and_grad(v: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        with torch.enable_grad():
            v = v.detach().requires_grad_(True)
            u = energies(energy, generator(v)).float() - log_prior(v)
            (g,) = torch.autograd.grad(u.sum(), v)
        return u.detach(), g

    z = z.detach()
    u, g = u_and_grad(z)
    accepted = []
    for _ in range(steps):
        xi = torch.randn(z.shape, generator=rng, device=z.device, dtype=z.dtype)
        proposal = z - step_size * g + math.sqrt(2 * step_size) * xi
        u_new, g_new = u_and_grad(proposal)
        forward = (proposal - z + step_size * g).pow(2).sum(1) / (4 * step_size)
        backward = (z - proposal + step_size * g_new).pow(2).sum(1) / (4 * step_size)
        log_alpha = u - u_new - backward + forward
        uniform = torch.rand(len(z), generator=rng, device=z.device)
        accept = torch.isfinite(u_new) & (uniform.log() < log_alpha)
        z = torch.where(accept[:, None], proposal, z)
        u, g = torch.where(accept, u_new, u), torch.where(accept[:, None], g_new, g)
        accepted.append(accept.float().mean())
    rate = torch.stack(accepted).mean() if accepted else z.new_zeros(())
    return z.detach(), {"mala_acceptance": rate}


def normal_log_prior(z: torch.Tensor) -> torch.Tensor:
    """log N(z; 0, I) up to a constant."""
    return -0.5 * z.pow(2).sum(1)


def uniform_log_prior(z: torch.Tensor) -> torch.Tensor:
    """log U(z; [-1, 1]^d) up to a constant: 0 inside, -inf outside."""
    inside = (z.abs() <= 1).all(1)
    return torch.where(inside, z.new_zeros(len(z)), z.new_full((len(z),), -math.inf))
