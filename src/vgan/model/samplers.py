"""Samplers: where the energy step's negatives come from.

Every sampler is a `NegativeSource`. `LatentSampler` is q(x) = p_g(x), x = G(z) (Section 4,
Algorithm 1). `TransitionSampler` is the transition distribution p_g(x~ | x) of variational
contrastive divergence (Section 6, Algorithm 2). `LangevinSampler` runs Langevin chains on the
energy itself (contrastive divergence, beyond the paper), with no weights of its own. Each gives a
`Draw` through `draw()`, which is what the training loop uses. `AveragedSampler` keeps a moving
average of a trained sampler's weights for evaluation (`ema_decay`).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import chain
from typing import Dict, NamedTuple, Optional, Sequence, Tuple

import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel

from .._utils.checks import non_negative, optional, positive, require
from .energy import BOX, energies
from .networks import build_autoencoder, build_generator
from .reads import ReadsConfig, When


class Draw(NamedTuple):
    x: torch.Tensor  # the samples that E sees: G(z), x~ or the chains' ends (N, C, H, W)
    recon: Optional[torch.Tensor] = None  # VCD: the clean reconstruction x_bar = Decode(h)
    cond: Optional[torch.Tensor] = None  # VCD: the images x conditioned on
    z: Optional[torch.Tensor] = None  # VGAN: the noise behind x = G(z) (N, z_dim)
    stats: Optional[Dict[str, torch.Tensor]] = None  # scalars to log (Langevin: the chains' statistics)


# what a trained sampler's networks and the trainer's generator steps read
GENERATOR_KEYS = {
    "gen_hidden": None,
    "gen_channels": When("arch=conv", lambda cfg: cfg.arch == "conv"),
    "k": None,
    "ema_decay": None,
}


def uniform_noise(
    n: int, dim: int, *, generator: Optional[torch.Generator] = None, device: torch.device | str = "cpu"
) -> torch.Tensor:
    """z ~ U[-1, 1]^dim, shape (n, dim)."""
    return torch.rand(n, dim, generator=generator, device=device) * 2 - 1


def _device(module: nn.Module) -> torch.device:
    return next(chain(module.parameters(), module.buffers()), torch.empty(0)).device


class NegativeSource(ReadsConfig, nn.Module):
    """Where the energy step's negatives come from; subclass it to plug in your own.

    - `draw(n, cond, *, rng=None, noise=None, recon=False) -> Draw`: n negatives (conditioned on the
      images `cond` when `conditional`); `noise` is what `noise(n, rng)` returned, so that a draw is
      reproducible and, under torchrun, each process keeps its slice of the global batch's noise.
    - `forward(n)` (or `forward(x)` when conditional) with `rng=`: samples for figures and evaluation.
    - `conditional`: each iteration takes 2 x batch_size images, the second half the draws' `cond`.
    - `trainable`: its weights descend the objective's generator loss, k steps per energy step.
    - `distributable`: torchrun can shard its draws over processes.
    - `config_keys`: the config keys its builder reads (`reads.ReadsConfig`).
    """

    conditional = False
    trainable = True
    distributable = True

    def noise(self, n: int, rng: Optional[torch.Generator] = None) -> torch.Tensor:
        raise NotImplementedError

    def draw(
        self,
        n: int,
        cond: Optional[torch.Tensor] = None,
        *,
        rng: Optional[torch.Generator] = None,
        noise: Optional[torch.Tensor] = None,
        recon: bool = False,
    ) -> Draw:
        raise NotImplementedError


class LatentSampler(NegativeSource):
    """q(x) = p_g(x): x = G(z), z ~ U[-1, 1]^z_dim (Eq. 6)."""

    conditional = False
    config_keys = {**GENERATOR_KEYS, "z_dim": None, "gen_hidden": None}
    chosen_by = ("objective", ("vgan", "gan"))

    def __init__(self, generator: nn.Module, z_dim: int):
        super().__init__()
        self.generator = generator
        self.z_dim = z_dim

    def noise(self, n: int, rng: Optional[torch.Generator] = None) -> torch.Tensor:
        """The noise of n samples: z (n, z_dim)."""
        return uniform_noise(n, self.z_dim, generator=rng, device=_device(self))

    def forward(
        self, n: int, *, z: Optional[torch.Tensor] = None, rng: Optional[torch.Generator] = None
    ) -> torch.Tensor:
        """n samples (n, C, H, W); pass `z` for fixed noise, or `rng` for reproducible noise."""
        return self.generator(self.noise(n, rng) if z is None else z)

    def draw(
        self,
        n: int,
        cond: Optional[torch.Tensor] = None,
        *,
        rng: Optional[torch.Generator] = None,
        noise: Optional[torch.Tensor] = None,
        recon: bool = False,
    ) -> Draw:
        """n samples as a Draw, with their noise; `noise` (from `noise()`) overrides `rng`."""
        z = self.noise(n, rng) if noise is None else noise
        return Draw(self.generator(z), z=z)


class TransitionSampler(NegativeSource):
    """p_g(x~ | x) of Section 6: h = Encode(x), h~ = m*z + (1-m)*h, x~ = Decode(h~).

    m ~ Bernoulli(0.5) and z ~ U[-1, 1]^d, fresh for every sample. Whether noise is mixed in is
    the explicit `noise` argument, independent of train()/eval().
    """

    conditional = True
    config_keys = {**GENERATOR_KEYS, "code_dim": None, "gen_hidden": When("arch=mlp", lambda cfg: cfg.arch == "mlp")}
    chosen_by = ("objective", ("vcd",))

    def __init__(self, encoder: nn.Module, decoder: nn.Module, code_dim: int, mask_prob: float = 0.5):
        super().__init__()
        self.encoder, self.decoder = encoder, decoder
        self.code_dim, self.mask_prob = code_dim, mask_prob

    def noise(self, n: int, rng: Optional[torch.Generator] = None) -> torch.Tensor:
        """The noise of n transitions, (n, 2, d): the mask m (0/1) and z ~ U[-1, 1]^d."""
        device = _device(self)
        m = (torch.rand(n, self.code_dim, generator=rng, device=device) < self.mask_prob).float()
        return torch.stack([m, uniform_noise(n, self.code_dim, generator=rng, device=device)], 1)

    def mix(
        self, h: torch.Tensor, rng: Optional[torch.Generator] = None, noise: Optional[torch.Tensor] = None
    ) -> torch.Tensor:
        """h~ = m*z + (1-m)*h for codes h (N, d); `noise` (from `noise()`) overrides `rng`."""
        m, z = (self.noise(h.shape[0], rng) if noise is None else noise).to(h.dtype).unbind(1)
        return m * z + (1 - m) * h

    def forward(self, x: torch.Tensor, *, noise: bool = True, rng: Optional[torch.Generator] = None) -> torch.Tensor:
        """x~ (N, C, H, W) given x; with noise=False the reconstruction x_bar."""
        h = self.encoder(x)
        return self.decoder(self.mix(h, rng) if noise else h)

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """x_bar = Decode(Encode(x)), the transition without noise."""
        return self(x, noise=False)

    def draw(
        self,
        n: int,
        cond: Optional[torch.Tensor] = None,
        *,
        rng: Optional[torch.Generator] = None,
        noise: Optional[torch.Tensor] = None,
        recon: bool = False,
    ) -> Draw:
        """A transition of each row of `cond` (n of them), and its clean reconstruction if `recon`."""
        h = self.encoder(cond)
        return Draw(self.decoder(self.mix(h, rng, noise)), self.decoder(h) if recon else None, cond)


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
            if len(index) > len(self.buffer):
                raise ValueError(
                    f"a draw of {len(index)} chains cannot be written back to a buffer of {len(self.buffer)}"
                )
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
        if n <= size:  # distinct rows when they suffice, so that writing back has one value per row
            index = torch.randperm(size, generator=rng, device=device)[:n]
        else:
            index = torch.randint(0, size, (n,), generator=rng, device=device)
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


def sampler_class(cfg) -> type:
    """The sampler a config's objective trains with: Algorithm 2's transitions for 'vcd', Langevin
    chains for 'cd', else Algorithm 1's G(z)."""
    return {"vcd": TransitionSampler, "cd": LangevinSampler}.get(cfg.objective, LatentSampler)


def build_sampler(
    cfg, image_shape: Sequence[int], energy: Optional[nn.Module] = None
) -> LatentSampler | TransitionSampler | LangevinSampler:
    """The sampler of `sampler_class(cfg)`; Langevin chains run on `energy`."""
    kind = sampler_class(cfg)
    if kind is TransitionSampler:
        return TransitionSampler(*build_autoencoder(cfg, image_shape), cfg.code_dim)
    if kind is LangevinSampler:
        if energy is None:
            raise ValueError("objective 'cd' draws its negatives by Langevin dynamics on the energy: pass energy")
        return LangevinSampler(energy, image_shape, **langevin_settings(cfg))
    return LatentSampler(build_generator(cfg, image_shape), cfg.z_dim)


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


class AveragedSampler(AveragedModel):
    """An exponential moving average of a sampler's weights, for `ema_decay` (not the paper's).
    The adversarial game moves G's weights around the equilibrium rather than onto it, and the
    average of those iterates draws cleaner samples than the last one (Yazici et al. 2019); it
    never feeds back into training. `.module` is a sampler like the one averaged."""

    def __init__(self, sampler: nn.Module, decay: float):
        super().__init__(sampler, use_buffers=True)  # its step count n_averaged stays on the CPU
        self.decay = decay

    @torch.no_grad()
    def update_parameters(self, model: nn.Module) -> None:
        """w_avg <- decay * w_avg + (1 - decay) * w, the first update a copy. Unlike
        AveragedModel's, it never moves the step count to the device, which would make every
        CUDA iteration wait for the GPU."""
        first = self.n_averaged.item() == 0
        averaged = chain(self.module.parameters(), self.module.buffers())
        for avg, new in zip(averaged, chain(model.parameters(), model.buffers()), strict=True):
            if first or not avg.is_floating_point():
                avg.copy_(new)
            else:
                avg.lerp_(new, 1 - self.decay)
        self.n_averaged += 1
