"""One training loop for Algorithm 1 (VGAN), Eq. 1 (GAN), Algorithm 2 (VCD) and contrastive
divergence with Langevin chains (CD), with logging,
checkpoints, resume and data parallelism (vgan.distributed).

    trainer = vgan.train(vgan.Config(epochs=1))   # or: vgan train [key=value ...]

A run directory <out_dir>/<name>/ holds config.yaml, metrics.jsonl and TensorBoard events (vgan.runlog),
samples/epoch_<n>.png, curves.png (vgan.curves), run.json (the machine of each session,
vgan.machine) and the checkpoints last.pt and epoch_<n>.pt. One process writes it, holding
RUN_DIR/.lock (vgan.lock); a new run never starts where a run's files are.
"""

from __future__ import annotations

import gc
import time
from contextlib import contextmanager, nullcontext
from typing import Callable, Dict, Iterator, Optional

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel as DDP
from tqdm import tqdm

from . import distributed, objectives
from .allocator import keep_freed_memory
from .checkpoint import resume_from, save_checkpoint
from .config import Config, images_per_step, save_config, validate
from .curves import plot_curves, read_metrics
from .data import as_float, batches, check_data_dir, load_dataset
from .distributed import Dist, globalise_batch_norm
from .energy import dead_zones, expert_rank
from .errors import ConfigError
from .images import make_grid, save_image, side_by_side
from .lock import RunLock, check_run_dir
from .machine import describe_machine, read_sessions, record_session
from .networks import build_energy
from .objectives import Objective
from .runlog import FiniteGuard, RunLogger
from .samplers import AveragedSampler, Draw, NegativeSource, build_sampler

SINGLE = Dist()  # one process, no data parallelism
GRID_N = 100  # a 10x10 grid of samples from a fixed z each epoch


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device 'cuda' was asked for but CUDA is not available; use device=cpu or auto")
    return torch.device(name)


def optimizer_settings(cfg: Config) -> Dict[str, object]:
    """The config's optimiser hyperparameters, as torch names them in a param group."""
    if cfg.optimizer == "adadelta":
        return {"lr": cfg.lr, "rho": cfg.adadelta_rho, "eps": cfg.adadelta_eps}
    return {"lr": cfg.lr, "betas": tuple(cfg.betas)}


def build_optimizer(cfg: Config, params) -> torch.optim.Optimizer:
    try:
        kind = torch.optim.Adadelta if cfg.optimizer == "adadelta" else torch.optim.Adam
        return kind(params, **optimizer_settings(cfg))
    except ValueError as e:  # an argument torch refuses that config.CHECKS let through
        raise ConfigError(
            f"the {cfg.optimizer} optimiser refuses its settings ({e}); fix lr, betas or adadelta_rho/adadelta_eps"
        ) from None


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
    """Holds the energy E, the sampler (a `samplers.NegativeSource`: G(z), the VCD transition or
    Langevin chains on E), the objective (`objectives.Objective`, with the networks it owns),
    their optimisers and the run dir; with ema_decay also the sampler's moving average, which
    `eval_sampler` returns.

    `sampler` and `objective` replace the ones the config names: a `NegativeSource` (or a callable
    that takes the energy and returns one) and an `Objective`. The objective's own weights are
    stepped with the sampler's, and both are saved in the checkpoint.
    """

    def __init__(
        self,
        cfg: Config,
        image_shape,
        device: Optional[torch.device] = None,
        group: Dist = SINGLE,
        *,
        sampler: Optional[NegativeSource | Callable[[nn.Module], NegativeSource]] = None,
        objective: Optional[Objective] = None,
    ):
        self.cfg = cfg
        self.device = device or resolve_device(cfg.device)
        self.run_dir = cfg.run_dir
        self.image_shape = tuple(image_shape)
        self.group = group
        if self.device.type == "cpu" and cfg.keep_freed_memory:
            keep_freed_memory()
        torch.manual_seed(cfg.seed)  # the same initial weights in every process
        self.memory_format = torch.channels_last if cfg.channels_last and cfg.arch == "conv" else None
        self.energy = build_energy(cfg, image_shape).to(self.device, memory_format=self.memory_format)
        if sampler is None:
            sampler = build_sampler(cfg, image_shape, self.energy)
        elif not isinstance(sampler, nn.Module):  # a factory of the energy
            sampler = sampler(self.energy)
        self.sampler = globalise_batch_norm(sampler, group).to(self.device, memory_format=self.memory_format)
        if group.enabled and not self.sampler.distributable:
            raise ConfigError(
                f"the {type(self.sampler).__name__}'s draws cannot be sharded over torchrun's processes; "
                "run it in one process"
            )
        trained = self.sampler.trainable
        self.sampler_ema = AveragedSampler(self.sampler, cfg.ema_decay) if cfg.ema_decay and trained else None
        batch_mean = group.batch_mean if group.enabled else None
        self.objective = (objective or objectives.build_objective(cfg, image_shape, batch_mean)).to(self.device)
        problem = self.objective.unsupported(distributed=group.enabled, compiled=cfg.compile)
        if self.objective.trains_sampler != trained:
            problem = (
                f"{type(self.objective).__name__} {'trains' if self.objective.trains_sampler else 'does not train'} "
                f"its sampler, but the {type(self.sampler).__name__} {'has' if trained else 'has no'} weights "
                "to train; pair a generator with vgan/gan/vcd and weightless chains with cd"
            )
        if problem:
            raise ConfigError(problem)
        # what the gradient steps call: DistributedDataParallel wrappers when data-parallel
        self.unwrap()
        if group.enabled:
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.energy_step = DDP(self.energy, device_ids=ids)  # buffers (spectral norm's u, v) come from rank 0
            if trained:
                self.draw_step = DDP(self.draw_step, device_ids=ids)  # no buffers: BN keeps no running stats
        if cfg.compile:
            self.energy_fwd, self.energy_step, self.draw_step = (
                torch.compile(m) for m in (self.energy_fwd, self.energy_step, self.draw_step)
            )
        self.opt_e = build_optimizer(cfg, self.energy.parameters())
        generator = [*self.sampler.parameters(), *self.objective.generator_parameters()]
        self.opt_g = build_optimizer(cfg, generator) if trained and generator else None
        self.noise_rng = torch.Generator(self.device).manual_seed(cfg.seed + 1)
        self.noise_reseeded = False  # set by load_state_dict: a checkpoint from another kind of device
        self.fixed_x: Optional[torch.Tensor] = None  # conditional samplers: validation images for the figures
        self.step = 0

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

    @property
    def eval_sampler(self) -> nn.Module:
        """The sampler that figures and evaluation draw from: the averaged weights when ema_decay > 0."""
        return self.sampler if self.sampler_ema is None else self.sampler_ema.module

    @torch.no_grad()
    def samples(self, n: int = GRID_N, seed: Optional[int] = None) -> torch.Tensor:
        """n samples of an unconditional sampler from the noise of `seed` (default: the run's
        fixed grid noise, the same every epoch), (N, C, H, W) in [0, 1]."""
        rng = torch.Generator(self.device).manual_seed(self.cfg.seed + 2 if seed is None else seed)
        with evaluating(self.eval_sampler, self.energy):  # Langevin chains run on the energy
            return self.eval_sampler(n, rng=rng)

    @torch.no_grad()
    def figure(self) -> Optional[torch.Tensor]:
        """The per-epoch image: a 10x10 grid of samples, or for a conditional sampler grids side by
        side, validation inputs x | (VCD: reconstructions x_bar |) transitions x~ (as Figure 3);
        None for data that are not images (2-D points)."""
        if len(self.image_shape) != 3:
            return None
        if not self.sampler.conditional:
            return make_grid(self.samples(), nrow=10)
        x = self.fixed_x
        rng = torch.Generator(self.device).manual_seed(self.cfg.seed + 3)  # the same noise every epoch
        reconstruct = getattr(self.eval_sampler, "reconstruct", None)  # VCD's x_bar
        with evaluating(self.eval_sampler, self.energy):
            panels = [x, *([reconstruct(x)] if reconstruct else []), self.eval_sampler(x, rng=rng)]
        return side_by_side([make_grid(p, nrow=10) for p in panels])

    # ---- checkpoints -----------------------------------------------------------------------
    def state_dict(self) -> dict:
        parts = {
            "sampler_ema": self.sampler_ema.state_dict() if self.sampler_ema is not None else None,
            "objective": self.objective.state_dict() or None,  # only an objective that owns networks
            "opt_g": self.opt_g.state_dict() if self.opt_g is not None else None,
        }
        return {
            "config": self.cfg.to_dict(),
            "step": self.step,
            "image_shape": list(self.image_shape),
            "energy": self.energy.state_dict(),
            "sampler": self.sampler.state_dict(),
            "opt_e": self.opt_e.state_dict(),
            "noise_rng": self.noise_rng.get_state(),
            "torch_rng": torch.get_rng_state(),
            **{k: v for k, v in parts.items() if v is not None},
        }

    def load_state_dict(self, state: dict) -> None:
        self.energy.load_state_dict(state["energy"])
        self.sampler.load_state_dict(state["sampler"])
        # a checkpoint saved without ema_decay has no average; turned on at resume, its first update copies
        if self.sampler_ema is not None and "sampler_ema" in state:
            self.sampler_ema.load_state_dict(state["sampler_ema"])
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


def train(cfg: Config, resume: bool = False, **parts) -> Trainer:
    """Train per `cfg`, or continue the run in `cfg.run_dir` when `resume`; returns the Trainer.
    `parts` (`sampler=`, `objective=`) replace what the config names, as `Trainer` takes them.

    Under torchrun, every process calls this; process 0 alone writes the run directory.
    """
    validate(cfg)  # again: a Config's fields can be changed after it was made
    check_data_dir(cfg.data_dir)
    device = resolve_device(cfg.device)
    group = distributed.setup(device.type)
    try:
        if group.main:  # writes nothing: another process's run, or an old run's files
            check_run_dir(cfg.run_dir, resume)
        return _train(cfg, resume, device, group, parts)
    finally:
        gc.collect()  # free the DDP wrappers while the process group still exists
        distributed.teardown()


def _train(cfg: Config, resume: bool, device: torch.device, group: Dist, parts: dict) -> Trainer:
    run_dir = cfg.run_dir
    if device.type == "cuda":
        device = torch.device("cuda", group.local_rank)
    if cfg.batch_size % (group.world * cfg.pack):  # each process's share, in whole packs of the energy
        packs = f" in packs of {cfg.pack}" if cfg.pack > 1 else ""
        raise ConfigError(
            f"batch_size {cfg.batch_size} does not split over {group.world} processes{packs}; "
            f"make it a multiple of {group.world * cfg.pack}"
        )
    train_set = load_dataset(cfg.dataset, "train", cfg.data_dir)
    images = train_set.images[: cfg.train_limit] if cfg.train_limit else train_set.images
    trainer = Trainer(cfg, train_set.image_shape, device, group, **parts)
    images = images.to(trainer.device)  # uint8 on the device: batches need no host transfer
    if trainer.sampler.conditional:
        val = load_dataset(cfg.dataset, "val", cfg.data_dir).images[:GRID_N]
        trainer.fixed_x = as_float(val.to(trainer.device))
    if len(images) < images_per_step(cfg):
        raise ConfigError(
            f"the {len(images)} training images of {cfg.dataset} make no full iteration of "
            f"{images_per_step(cfg)}; lower batch_size"
        )
    with RunLock(run_dir, resume) if group.main else nullcontext() as lock:  # one writer, held until the run ends
        try:
            return _run(trainer, images, resume, group)
        except Exception:
            if lock is not None and not resume and not (run_dir / "last.pt").exists():
                lock.discard()  # a new run that failed before its first checkpoint leaves nothing
            raise


def _run(trainer: Trainer, images: torch.Tensor, resume: bool, group: Dist) -> Trainer:
    cfg, run_dir, main = trainer.cfg, trainer.cfg.run_dir, group.main
    if resume:
        resume_from(trainer, run_dir)
    per_step = images_per_step(cfg)
    steps_per_epoch = len(images) // per_step
    total = cfg.epochs * steps_per_epoch
    if cfg.max_steps is not None:
        total = min(total, cfg.max_steps)
    if trainer.step >= total:
        limit = f"epochs={cfg.epochs}" + (f", max_steps={cfg.max_steps}" if cfg.max_steps is not None else "")
        raise ConfigError(
            f"{run_dir} has trained {trainer.step} of the {total} iterations that {limit} allow: "
            "nothing to do; raise epochs= or max_steps= to train further"
        )
    if main:  # all is read and checked (the checkpoint above, run.json and metrics.jsonl here) before the first write
        sessions = read_sessions(run_dir) if resume else []
        if resume and (run_dir / "metrics.jsonl").exists():
            read_metrics(run_dir / "metrics.jsonl")  # a damaged line is refused, not dropped by the rewrite
        save_config(cfg, run_dir / "config.yaml")
        record_session(run_dir, sessions, {**describe_machine(trainer.device, group.world), "start_step": trainer.step})
    logger = RunLogger(run_dir, trainer.step, cfg.tensorboard) if main else None
    bar = tqdm(
        total=total,
        initial=trainer.step,
        disable=None if cfg.progress and main else True,
        unit="it",
        dynamic_ncols=True,
    )
    guard = FiniteGuard(trainer.device)
    last_good, tick, tick_step = trainer.step, time.perf_counter(), trainer.step
    try:
        while trainer.step < total:
            epoch, start = divmod(trainer.step, steps_per_epoch)
            for x in batches(images, per_step, seed=cfg.seed, epoch=epoch, start=start, device=trainer.device):
                log = (trainer.step + 1) % cfg.log_every == 0  # this step is logged: with diagnostics
                stats = trainer.train_step(x, diagnostics=log)
                trainer.step += 1
                guard.update(stats, trainer.step)
                bar.update(1)
                epoch_end = trainer.step % steps_per_epoch == 0
                save = epoch_end or trainer.step % cfg.save_every == 0 or trainer.step == total
                if log or save:  # the only host syncs of the loop
                    guard.check(run_dir, last_good, steps_per_epoch)
                if main and log:
                    now = time.perf_counter()
                    values = {k: round(v.item(), 6) for k, v in stats.items()}
                    values["epoch"] = epoch + 1
                    values["images_per_s"] = round((trainer.step - tick_step) * per_step / (now - tick), 1)
                    tick, tick_step = now, trainer.step
                    logger.scalars(trainer.step, values)
                    bar.set_postfix({k: values[k] for k in ("loss_e", "loss_g", "images_per_s") if k in values})
                if save:
                    if main:
                        save_checkpoint(trainer.state_dict(), run_dir / "last.pt")
                    last_good = trainer.step
                if epoch_end:
                    _end_of_epoch(trainer, logger, epoch + 1, final=trainer.step == cfg.epochs * steps_per_epoch)
                if trainer.step >= total:
                    break
    finally:
        bar.close()
        if logger:
            logger.close()
        trainer.unwrap()
    return trainer


def _end_of_epoch(trainer: Trainer, logger: Optional[RunLogger], epoch: int, final: bool) -> None:
    grid = trainer.figure()  # in every process: the generator's batch norm is global
    if logger is None:
        return
    if grid is not None:
        save_image(grid, trainer.run_dir / "samples" / f"epoch_{epoch:03d}.png")
        logger.image("samples", grid, trainer.step)
    if logger.lines:
        plot_curves(trainer.run_dir)  # curves.png from metrics.jsonl: a few hundred points
    if final or epoch % trainer.cfg.ckpt_every == 0:
        save_checkpoint(trainer.state_dict(), trainer.run_dir / f"epoch_{epoch:03d}.pt")
