"""`Model`: what a run learns and what evaluation reads, the energy E(x) with the sampler of its
negatives, built from a config. Training owns one (`vgan.Trainer.model`); `vgan.load_run` gives one
back from a checkpoint without building a trainer, optimisers or anything global.

    model = vgan.load_run("runs/mnist_vgan")
    x = model.samples(16)            # G(z), the chains of a CD run, or transitions of validation images
    e = model.energy(x).energy       # E(x), (16,)
"""

from __future__ import annotations

from contextlib import contextmanager
from itertools import chain
from typing import Callable, Dict, Iterator, Optional, Sequence, Tuple

import torch
from torch import nn

from .._utils.errors import ConfigError
from .._utils.images import make_grid, side_by_side
from ..data import as_float, load_dataset, spans
from .mcmc import MALA, Langevin, LangevinSampler, langevin_settings, latent_mala, normal_log_prior, uniform_log_prior
from .networks import batch_statistics, build_autoencoder, build_energy, build_generator
from .samplers import AveragedSampler, LatentSampler, NegativeSource, TransitionSampler, VERASampler

GRID_N = 100  # a 10x10 grid of samples: the epoch figures' size, and samples()'s default

SamplerOrFactory = NegativeSource | Callable[[nn.Module], NegativeSource]


@contextmanager
def evaluating(*modules: nn.Module) -> Iterator[None]:
    """The modules in eval mode for the block (a replay buffer is read, not written; spectral norm's
    power iteration does not advance), then each as it was."""
    was = [m.training for m in modules]
    for m in modules:
        m.eval()
    try:
        yield
    finally:
        for m, mode in zip(modules, was):
            m.train(mode)


def sampler_class(cfg) -> type:
    """The sampler a config's objective trains with: Algorithm 2's transitions for 'vcd', Langevin
    chains for 'cd', VERA's noisy generator where its entropy is on, else Algorithm 1's G(z)."""
    if cfg.objective == "vgan" and cfg.vera_entropy_weight > 0:
        return VERASampler
    return {"vcd": TransitionSampler, "cd": LangevinSampler}.get(cfg.objective, LatentSampler)


def build_sampler(cfg, image_shape: Sequence[int], energy: Optional[nn.Module] = None) -> NegativeSource:
    """The sampler of `sampler_class(cfg)`; Langevin chains run on `energy`."""
    kind = sampler_class(cfg)
    if kind is TransitionSampler:
        return TransitionSampler(*build_autoencoder(cfg, image_shape), cfg.code_dim)
    if kind is VERASampler:
        range_ = (cfg.vera_sigma_min, cfg.vera_sigma_max)
        return VERASampler(
            build_generator(cfg, image_shape),
            cfg.z_dim,
            image_shape,
            sigma_range=range_,
            posterior_samples=cfg.vera_posterior_samples,
            proposal_lr=cfg.vera_proposal_lr,
        )
    if kind is LangevinSampler:
        if energy is None:
            raise ValueError("objective 'cd' draws its negatives by Langevin dynamics on the energy: pass energy")
        return LangevinSampler(energy, image_shape, **langevin_settings(cfg))
    return LatentSampler(build_generator(cfg, image_shape), cfg.z_dim)


class Model(nn.Module):
    """The energy E (an `EnergyModel`), the sampler (a `NegativeSource`: G(z), VCD's transition or
    Langevin chains on E) and, with ema_decay, the sampler's moving average (`sampler_ema`), with the
    config `cfg` and `image_shape` they were built for. `run_dir` is where the run lies."""

    def __init__(
        self,
        cfg,
        image_shape: Sequence[int],
        energy: nn.Module,
        sampler: NegativeSource,
        sampler_ema: Optional[AveragedSampler] = None,
    ):
        super().__init__()
        self.cfg = cfg
        self.image_shape = tuple(image_shape)
        self.energy = energy
        self.sampler = sampler
        self.sampler_ema = sampler_ema
        self.run_dir = cfg.run_dir
        self.step = 0  # the iterations it was trained for (load_run: the checkpoint's)

    @classmethod
    def build(cls, cfg, image_shape: Sequence[int], *, sampler: Optional[SamplerOrFactory] = None) -> Model:
        """The networks `cfg` (a vgan.Config) names, initialised from the global RNG as it stands
        (training seeds it); `sampler` replaces the config's (a `NegativeSource`, or a callable that
        takes the energy and returns one). No moving average yet: `average()` adds it."""
        energy = build_energy(cfg, image_shape)
        if sampler is None:
            sampler = build_sampler(cfg, image_shape, energy)
        elif not isinstance(sampler, nn.Module):  # a factory of the energy
            sampler = sampler(energy)
        return cls(cfg, image_shape, energy, sampler)

    @classmethod
    def from_config(cls, cfg, image_shape: Sequence[int], device: torch.device | str = "cpu") -> Model:
        """`build` from the config's seed, with the moving average when `cfg` has one, on `device`;
        torch's global RNG is left as it was."""
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(cfg.seed)
            model = cls.build(cfg, image_shape)
        model.average()
        return model.to(device)

    def average(self) -> Model:
        """Add the moving average of the sampler's weights that `cfg.ema_decay` asks for (a trained sampler only)."""
        if self.cfg.ema_decay and self.sampler.trainable:
            self.sampler_ema = AveragedSampler(self.sampler, self.cfg.ema_decay)
        return self

    @property
    def device(self) -> torch.device:
        return next(chain(self.energy.parameters(), self.energy.buffers())).device

    @property
    def eval_sampler(self) -> nn.Module:
        """The sampler that figures and evaluation draw from: the averaged weights when ema_decay > 0."""
        return self.sampler if self.sampler_ema is None else self.sampler_ema.module

    @torch.no_grad()
    def samples(
        self,
        n: int = GRID_N,
        seed: Optional[int] = None,
        *,
        cond: Optional[torch.Tensor] = None,
        chunk: Optional[int] = None,
    ) -> torch.Tensor:
        """n samples (N, C, H, W) in [0, 1] (or (N, 2) points), in eval mode: for an unconditional
        sampler from the noise of `seed` (default: the run's fixed grid noise, the same every epoch);
        for a conditional one (VCD, CD-k) one transition of each image of `cond` (default: the first n
        validation images). `chunk` draws that many at a time (the generator's batch norm uses the
        statistics of each draw, as in training). With ema_decay the averaged weights draw them."""
        rng = torch.Generator(self.device).manual_seed(self.cfg.seed + 2 if seed is None else seed)
        if self.sampler.conditional and cond is None:
            cond = as_float(load_dataset(self.cfg.dataset, "val", self.cfg.data_dir).images[:n]).to(self.device)
        total = n if cond is None else len(cond)
        pieces = spans(total, chunk) if chunk else [slice(0, total)]
        with evaluating(self.eval_sampler, self.energy):  # Langevin chains run on the energy
            if cond is None:
                out = [self.eval_sampler(p.stop - p.start, rng=rng) for p in pieces]
            else:
                out = [self.eval_sampler(cond[p], rng=rng) for p in pieces]
        return torch.cat(out)

    @torch.no_grad()
    def figure(self, cond: Optional[torch.Tensor] = None) -> Optional[torch.Tensor]:
        """The epoch picture: a 10x10 grid of samples (the fixed grid noise), or for a conditional
        sampler grids side by side, inputs x (`cond`, default the first 100 validation images) |
        (VCD: reconstructions x_bar |) transitions x~ (as Figure 3); None for 2-D points."""
        if len(self.image_shape) != 3:
            return None
        if not self.sampler.conditional:
            return make_grid(self.samples(), nrow=10)
        if cond is None:
            cond = as_float(load_dataset(self.cfg.dataset, "val", self.cfg.data_dir).images[:GRID_N]).to(self.device)
        reconstruct = getattr(self.eval_sampler, "reconstruct", None)  # VCD's x_bar
        with evaluating(self.eval_sampler, self.energy):
            recon = [reconstruct(cond)] if reconstruct else []
        panels = [cond, *recon, self.samples(seed=self.cfg.seed + 3, cond=cond)]  # the same noise every epoch
        return side_by_side([make_grid(p, nrow=10) for p in panels])

    @torch.no_grad()
    def mala_samples(
        self, n: int, mala: MALA, seed: Optional[int] = None, *, chunk: Optional[int] = None
    ) -> Tuple[torch.Tensor, Dict[str, float]]:
        """n samples of the generator (G(z); for VERA's, G(z) + sigma eps) whose latents took
        `mala.steps` steps of MALA on E(G(z)) - log p(z) from the prior's draws (MEG's sampler,
        `mcmc.latent_mala`; p is U[-1, 1]^d, or N(0, I) for VERA's generator), and
        `mala_acceptance`, the share of proposals accepted. G's batch norm keeps the statistics of
        the prior's batch throughout, so each chain is exact for its own target. A generator run only."""
        sampler = self.require_generator("MALA in latent space")
        rng = torch.Generator(self.device).manual_seed(self.cfg.seed + 2 if seed is None else seed)
        prior = normal_log_prior if isinstance(sampler, VERASampler) else uniform_log_prior
        out, rates = [], []
        with evaluating(sampler, self.energy):
            for piece in spans(n, chunk) if chunk else [slice(0, n)]:
                size = piece.stop - piece.start
                z = sampler.noise(size, rng)[:, : sampler.z_dim]
                with batch_statistics(sampler.generator) as norms:  # the prior batch's, then held fixed
                    sampler.generator(z)
                with batch_statistics(sampler.generator, norms):  # so each chain's target is its own
                    z, stats = latent_mala(
                        self.energy.alone(),
                        sampler.generator,
                        z,
                        steps=mala.steps,
                        step_size=mala.step_size,
                        log_prior=prior,
                        rng=rng,
                    )
                    out.append(sampler(size, z=z, rng=rng))
                rates.append(stats["mala_acceptance"] * size)
        return torch.cat(out), {"mala_acceptance": (sum(rates) / n).item(), "mala_steps": mala.steps}

    def require_generator(self, what: str) -> LatentSampler:
        """The sampler to draw from when it is a generator G(z), else a one-line ConfigError naming `what` needs one."""
        if not isinstance(self.eval_sampler, LatentSampler):
            raise ConfigError(
                f"{self.run_dir} has no generator G(z) (objective '{self.cfg.objective}'); "
                f"{what} needs a vgan or gan run"
            )
        return self.eval_sampler

    def langevin(self, settings: Optional[Langevin] = None, init: str = "data") -> LangevinSampler:
        """Langevin chains on this energy (read one image at a time), from images (`init="data"`: a
        transition x -> x'), from uniform noise (`"noise"`) or from a fresh replay buffer of uniform
        noise (`"buffer"`, not the one the run trained with); what `settings` leaves out comes from
        the config (langevin_steps, langevin_step_size, langevin_noise). In eval mode."""
        given = {k: v for k, v in (settings or Langevin()).keywords().items() if v is not None}
        keywords = {**langevin_settings(self.cfg), "init": init, **given}
        return LangevinSampler(self.energy.alone(), self.image_shape, **keywords).eval()

    # ---- checkpoints: the parts a training state holds (vgan.Trainer.state_dict) ---------------
    def parts(self) -> Dict[str, dict]:
        """The state dicts of the energy, the sampler and (when there is one) its average."""
        parts = {"energy": self.energy.state_dict(), "sampler": self.sampler.state_dict()}
        if self.sampler_ema is not None:
            parts["sampler_ema"] = self.sampler_ema.state_dict()
        return parts

    def load_parts(self, state: dict) -> None:
        """Load `parts()` from a training state (strict: a mismatch raises). A state saved without
        ema_decay has no average: one turned on at resume starts with a copy at its first update."""
        self.energy.load_state_dict(state["energy"])
        self.sampler.load_state_dict(state["sampler"])
        if self.sampler_ema is not None and "sampler_ema" in state:
            self.sampler_ema.load_state_dict(state["sampler_ema"])

    def nonfinite(self) -> Optional[str]:
        """The first weight that is NaN or inf, as `part.name`; None when every weight is finite."""
        for part in ("energy", "sampler", "sampler_ema"):
            module = getattr(self, part)
            if module is None:
                continue
            for name, t in module.state_dict().items():
                if t.is_floating_point() and not torch.isfinite(t).all():
                    return f"{part}.{name}"
        return None
