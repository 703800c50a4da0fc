"""The Trainer: a `Model` (the energy and the sampler of its negatives), the objective both
players descend, their optimisers, and one iteration of Algorithm 1 (VGAN), Eq. 1 (GAN),
Algorithm 2 (VCD) or contrastive divergence with Langevin chains (CD). The loop around it, with
logging, checkpoints and resume, is vgan.training.loop.
"""

from __future__ import annotations

from typing import Dict, Optional

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel as DDP

from .._utils.errors import ConfigError
from .._utils.machine import resolve_device
from ..model import objectives
from ..model.energy import dead_zones, expert_rank
from ..model.model import GRID_N, Model, SamplerOrFactory
from ..model.objectives import Objective
from ..model.samplers import Draw, VERASampler
from .allocator import keep_freed_memory
from .distributed import Dist, globalise_batch_norm

SINGLE = Dist()  # one process, no data parallelism


def optimizer_settings(cfg) -> Dict[str, object]:
    """The config's optimiser hyperparameters, as torch names them in a param group."""
    if cfg.optimizer == "adadelta":
        return {"lr": cfg.lr, "rho": cfg.adadelta_rho, "eps": cfg.adadelta_eps}
    return {"lr": cfg.lr, "betas": tuple(cfg.betas)}


def build_optimizer(cfg, params) -> torch.optim.Optimizer:
    try:
        kind = torch.optim.Adadelta if cfg.optimizer == "adadelta" else torch.optim.Adam
        return kind(params, **optimizer_settings(cfg))
    except ValueError as e:  # an argument torch refuses that config.keys.CHECKS let through
        raise ConfigError(
            f"the {cfg.optimizer} optimiser refuses its settings ({e}); fix lr, betas or adadelta_rho/adadelta_eps"
        ) from None


def fp32(t: tuple) -> tuple:
    """A NamedTuple of tensors (EnergyOutput, Draw) with every tensor in float32."""
    return type(t)(*(v.float() if isinstance(v, torch.Tensor) else v for v in t))


class DrawStep(nn.Module):
    """`sampler.draw` as a forward(), so that DistributedDataParallel can wrap it."""

    def __init__(self, sampler: nn.Module):
        super().__init__()
        self.sampler = sampler

    def forward(self, n: int, cond: Optional[torch.Tensor], noise: torch.Tensor, recon: bool) -> Draw:
        return self.sampler.draw(n, cond, noise=noise, recon=recon)


class Trainer:
    """Holds the `Model` (`model`: the energy E, the sampler and, with ema_decay, its average, which
    `eval_sampler` returns), the objective (`objectives.Objective`, with the networks it owns),
    their optimisers and the run dir.

    `sampler` and `objective` replace the ones the config names: a `NegativeSource` (or a callable
    that takes the energy and returns one) and an `Objective`. The objective's own weights are
    stepped with the sampler's, and both are saved in the checkpoint.
    """

    def __init__(
        self,
        cfg,
        image_shape,
        device: Optional[torch.device] = None,
        group: Dist = SINGLE,
        *,
        sampler: Optional[SamplerOrFactory] = None,
        objective: Optional[Objective] = None,
    ):
        self.cfg = cfg
        self.device = device or resolve_device(cfg.device)
        self.run_dir = cfg.run_dir
        self.image_shape = tuple(image_shape)
        self.group = group
        if self.device.type == "cpu" and cfg.keep_freed_memory:
            keep_freed_memory()
        self.model = self._build_model(sampler)
        self.objective = self._build_objective(objective)
        self._wrap_steps()
        self.opt_e = build_optimizer(cfg, self.energy.parameters())
        generator = [*self.sampler.parameters(), *self.objective.generator_parameters()]
        self.opt_g = build_optimizer(cfg, generator) if self.sampler.trainable and generator else None
        self.noise_rng = torch.Generator(self.device).manual_seed(cfg.seed + 1)
        self.noise_reseeded = False  # set by load_state_dict: a checkpoint from another kind of device
        self.fixed_x: Optional[torch.Tensor] = None  # conditional samplers: validation images for the figures
        self.step = 0

    def _build_model(self, sampler: Optional[SamplerOrFactory]) -> Model:
        """The model, from the config's seed (the same initial weights in every process), with its
        generator's batch norm global under torchrun, on the device."""
        torch.manual_seed(self.cfg.seed)
        self.memory_format = torch.channels_last if self.cfg.channels_last and self.cfg.arch == "conv" else None
        model = Model.build(self.cfg, self.image_shape, sampler=sampler)
        if self.cfg.vera_entropy_weight > 0 and not isinstance(model.sampler, VERASampler):
            raise ConfigError(
                f"vera_entropy_weight reads the posterior score of a VERASampler, not of a "
                f"{type(model.sampler).__name__}; pass a VERASampler or set vera_entropy_weight=0"
            )
        model.sampler = globalise_batch_norm(model.sampler, self.group)
        model.to(self.device, memory_format=self.memory_format)
        if self.group.enabled and not model.sampler.distributable:
            raise ConfigError(
                f"the {type(model.sampler).__name__}'s draws cannot be sharded over torchrun's processes; "
                "run it in one process"
            )
        if self.cfg.compile and not model.sampler.compilable:
            raise ConfigError(
                f"the {type(model.sampler).__name__}'s draws take gradients of their own, which torch.compile "
                "cannot wrap; set compile=false"
            )
        return model.average()

    def _build_objective(self, objective: Optional[Objective]) -> Objective:
        """The objective, checked against the sampler and against torchrun and compile."""
        batch_mean = self.group.batch_mean if self.group.enabled else None
        objective = (objective or objectives.build_objective(self.cfg, self.image_shape, batch_mean)).to(self.device)
        problem = objective.unsupported(distributed=self.group.enabled, compiled=self.cfg.compile)
        trained = self.sampler.trainable
        if objective.trains_sampler != trained:
            problem = (
                f"{type(objective).__name__} {'trains' if objective.trains_sampler else 'does not train'} "
                f"its sampler, but the {type(self.sampler).__name__} {'has' if trained else 'has no'} weights "
                "to train; pair a generator with vgan/gan/vcd and weightless chains with cd"
            )
        if problem:
            raise ConfigError(problem)
        return objective

    def _wrap_steps(self) -> None:
        """What the gradient steps call: DistributedDataParallel wrappers when data-parallel, compiled
        when `compile`."""
        self.unwrap()
        if self.group.enabled:
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.energy_step = DDP(self.energy, device_ids=ids)  # buffers (spectral norm's u, v) come from rank 0
            if self.sampler.trainable:
                self.draw_step = DDP(self.draw_step, device_ids=ids)  # no buffers: BN keeps no running stats
        if self.cfg.compile:
            self.energy_fwd, self.energy_step, self.draw_step = (
                torch.compile(m) for m in (self.energy_fwd, self.energy_step, self.draw_step)
            )

    # ---- the model's parts ----------------------------------------------------------------
    @property
    def energy(self) -> nn.Module:
        return self.model.energy

    @property
    def sampler(self) -> nn.Module:
        return self.model.sampler

    @property
    def sampler_ema(self):
        return self.model.sampler_ema

    @property
    def eval_sampler(self) -> nn.Module:
        """The sampler that figures and evaluation draw from: the averaged weights when ema_decay > 0."""
        return self.model.eval_sampler

    # ---- one iteration of Algorithm 1 or 2 ------------------------------------------------
    def train_step(self, x: torch.Tensor, diagnostics: bool = True) -> Dict[str, torch.Tensor]:
        """k generator steps (for a trained sampler), then one energy step on x against the
        sampler's negatives (for CD: the ends of its Langevin chains).

        x is the real batch (B, C, H, W); for a conditional sampler (VCD, CD-k) it is (2B, C, H, W),
        split as in the authors' code into B real images and B images that the draws start from. It is the
        global batch: with data parallelism each process keeps its own shard of each half and of
        the noise, which every process draws for the whole batch. `diagnostics=False` skips Eq. 8's
        dead-zone and expert-rank statistics, which the loop computes on logging steps alone.
        """
        shard, cond = self.group.shard, None
        if self.memory_format is not None:
            x = x.contiguous(memory_format=self.memory_format)
        if self.sampler.conditional:
            x, cond = x.chunk(2)
            cond = shard(cond)
        n_global = x.shape[0]
        x = shard(x)
        n = x.shape[0]

        def noise():  # the global batch's noise, this process's slice
            return shard(self.sampler.noise(n_global, self.noise_rng))

        stats_g = self._generator_steps(n, cond, noise) if self.sampler.trainable else {}
        with torch.no_grad(), self.autocast():
            draw = self.sampler.draw(n, cond, noise=noise())  # Langevin chains take their own x-gradients
        inputs = torch.cat([x, draw.x.to(x.dtype)]).requires_grad_(self.objective.needs_input_grad)  # (2B, C, H, W)
        with self.autocast():
            out = self.energy_step(inputs)  # one pass over real and generated: E has no batch norm
        out = fp32(out)
        half = len(out.energy) // 2  # n rows, or n / m packs
        real_out = type(out)(*(t[:half] for t in out))
        fake_out = type(out)(*(t[half:] for t in out))
        loss_e, stats_e = self.objective.energy_loss(real_out, fake_out, inputs)
        self.opt_e.zero_grad(set_to_none=True)
        loss_e.backward()
        self.opt_e.step()
        stats = {
            **stats_g,
            **stats_e,
            **(draw.stats or {}),
            "energy_real": real_out.energy.detach().mean(),
            "energy_fake": fake_out.energy.detach().mean(),
            "logit_abs_fake": fake_out.logits.detach().abs().mean(),
        }
        if diagnostics and self.cfg.energy == "multimodal":
            stats.update(dead_zones(fake_out.logits, self.cfg.prob_clip), expert_rank=expert_rank(real_out.logits))
        return self.group.average(stats)

    def _generator_steps(self, n: int, cond: Optional[torch.Tensor], noise) -> Dict[str, torch.Tensor]:
        """The sampler's k steps on the objective's generator loss; the last step's statistics."""
        self.energy.requires_grad_(False)  # generator steps need no energy weight gradients
        for _ in range(self.cfg.k):
            with self.autocast():
                draw = self.draw_step(n, cond, noise(), self.objective.needs_recon)
                fake_out = self.energy_fwd(draw.x)
            loss_g, stats_g = self.objective.generator_loss(fp32(fake_out), fp32(draw))
            self.opt_g.zero_grad(set_to_none=True)
            loss_g.backward()
            self.opt_g.step()
            self.sampler.after_step()
        if self.sampler_ema is not None:
            self.sampler_ema.update_parameters(self.sampler)
        self.energy.requires_grad_(True)
        return stats_g

    def unwrap(self) -> None:
        """Drop the DistributedDataParallel and compile wrappers; the trainer then runs single-process."""
        self.energy_fwd, self.energy_step, self.draw_step = self.energy, self.energy, DrawStep(self.sampler)

    def autocast(self):
        """bf16 autocast of the networks when precision is bf16, else a no-op."""
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.cfg.precision == "bf16")

    def samples(self, n: int = GRID_N, seed: Optional[int] = None) -> torch.Tensor:
        """`Model.samples`: n samples from the noise of `seed` (default: the fixed grid noise)."""
        return self.model.samples(n, seed)

    def figure(self) -> Optional[torch.Tensor]:
        """`Model.figure` on the validation images the run keeps for it (`fixed_x`)."""
        return self.model.figure(self.fixed_x)

    # ---- checkpoints -----------------------------------------------------------------------
    def state_dict(self) -> dict:
        parts = {
            "objective": self.objective.state_dict() or None,  # only an objective that owns networks
            "opt_g": self.opt_g.state_dict() if self.opt_g is not None else None,
        }
        return {
            "config": self.cfg.to_dict(),
            "step": self.step,
            "image_shape": list(self.image_shape),
            **self.model.parts(),
            "opt_e": self.opt_e.state_dict(),
            "noise_rng": self.noise_rng.get_state(),
            "torch_rng": torch.get_rng_state(),
            **{k: v for k, v in parts.items() if v is not None},
        }

    def load_state_dict(self, state: dict) -> None:
        self.model.load_parts(state)
        self.objective.load_checkpoint(state)
        for opt, key in ((self.opt_e, "opt_e"), (self.opt_g, "opt_g")):
            if opt is None:  # a sampler without weights (CD) has no optimiser
                continue
            opt.load_state_dict(state[key])  # its moments; the hyperparameters are the config's (a resume may lower lr)
            for group in opt.param_groups:
                group.update(optimizer_settings(self.cfg))
        self.noise_reseeded = self._restore_noise_rng(state["noise_rng"].cpu(), state["step"])
        torch.set_rng_state(state["torch_rng"].cpu())  # RNG states are CPU byte tensors, wherever loaded
        self.step = state["step"]

    def _restore_noise_rng(self, saved: torch.Tensor, step: int) -> bool:
        """Restore the noise generator; True when it was re-seeded instead. A CPU and a CUDA
        generator's states differ in kind (5056 bytes against 16), so a run moved between devices
        cannot carry its noise stream over: it is re-seeded from (seed, step)."""
        if saved.numel() == self.noise_rng.get_state().numel():
            self.noise_rng.set_state(saved)
            return False
        self.noise_rng.manual_seed(self.cfg.seed + 1 + step)
        return True
