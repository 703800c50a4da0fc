"""The training loop around a `Trainer`: `train(cfg)` runs Algorithm 1 (VGAN), Eq. 1 (GAN),
Algorithm 2 (VCD) or contrastive divergence for the config's epochs, with logging, checkpoints,
resume and data parallelism (vgan.training.distributed).

    trainer = vgan.train(vgan.Config(epochs=1))   # or: vgan train [key=value ...]

A run directory `OUT_DIR/NAME/` holds config.yaml, metrics.jsonl and TensorBoard events
(vgan.training.log), samples/epoch_<n>.png, curves.png (vgan.runs.curves), run.json (the machine of
each session) and the checkpoints last.pt and epoch_<n>.pt. One process writes it, holding
RUN_DIR/.lock (vgan.runs.lock); a new run never starts where a run's files are. An epoch's files are
written before last.pt, so a run killed between any two of them resumes from a last.pt whose
epoch's files all exist, or repeats the steps that make them.
"""

from __future__ import annotations

import gc
import time
import warnings
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Optional

import torch
from tqdm import tqdm

from .._utils.errors import CheckpointError, ConfigError
from .._utils.images import save_image
from .._utils.machine import describe_machine, read_sessions, record_session, resolve_device
from ..config import images_per_step, save_config, validate
from ..data import as_float, batches, check_data_dir, load_dataset
from ..model.model import GRID_N
from ..runs.checkpoint import check_state, load_checkpoint, restore, save_checkpoint
from ..runs.curves import plot_curves, read_metrics
from ..runs.lock import RunLock, check_run_dir
from . import distributed
from .distributed import Dist
from .log import FiniteGuard, RunLogger
from .trainer import Trainer


def train(cfg, resume: bool = False, **parts) -> Trainer:
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


def _train(cfg, resume: bool, device: torch.device, group: Dist, parts: dict) -> Trainer:
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


@dataclass
class Plan:
    """How many images a step takes, how many steps an epoch has and how many the run takes in all."""

    per_step: int
    steps_per_epoch: int
    total: int

    @classmethod
    def of(cls, cfg, images: int) -> Plan:
        per_step = images_per_step(cfg)
        steps_per_epoch = images // per_step
        total = cfg.epochs * steps_per_epoch
        return cls(per_step, steps_per_epoch, total if cfg.max_steps is None else min(total, cfg.max_steps))


def _run(trainer: Trainer, images: torch.Tensor, resume: bool, group: Dist) -> Trainer:
    cfg = trainer.cfg
    if resume:
        resume_from(trainer, cfg.run_dir)
    plan = Plan.of(cfg, len(images))
    _check_work_left(trainer, plan)
    if group.main:
        _start_session(trainer, resume, group)
    logger = RunLogger(cfg.run_dir, trainer.step, cfg.tensorboard) if group.main else None
    bar = tqdm(
        total=plan.total,
        initial=trainer.step,
        disable=None if cfg.progress and group.main else True,
        unit="it",
        dynamic_ncols=True,
    )
    try:
        _epochs(trainer, images, plan, logger, bar)
    finally:
        bar.close()
        if logger:
            logger.close()
        trainer.unwrap()
    return trainer


def _check_work_left(trainer: Trainer, plan: Plan) -> None:
    cfg = trainer.cfg
    if trainer.step >= plan.total:
        limit = f"epochs={cfg.epochs}" + (f", max_steps={cfg.max_steps}" if cfg.max_steps is not None else "")
        raise ConfigError(
            f"{cfg.run_dir} has trained {trainer.step} of the {plan.total} iterations that {limit} allow: "
            "nothing to do; raise epochs= or max_steps= to train further"
        )


def _start_session(trainer: Trainer, resume: bool, group: Dist) -> None:
    """config.yaml and this session in run.json; all is read and checked (the checkpoint, run.json
    and metrics.jsonl) before the first write."""
    run_dir = trainer.cfg.run_dir
    sessions = read_sessions(run_dir) if resume else []
    if resume and (run_dir / "metrics.jsonl").exists():
        read_metrics(run_dir / "metrics.jsonl")  # a damaged line is refused, not dropped by the rewrite
    save_config(trainer.cfg, run_dir / "config.yaml")
    record_session(run_dir, sessions, {**describe_machine(trainer.device, group.world), "start_step": trainer.step})


def _epochs(trainer: Trainer, images: torch.Tensor, plan: Plan, logger: Optional[RunLogger], bar: tqdm) -> None:
    cfg, run_dir = trainer.cfg, trainer.cfg.run_dir
    guard = FiniteGuard(trainer.device)
    last_good, clock = trainer.step, (time.perf_counter(), trainer.step)
    while trainer.step < plan.total:
        epoch, start = divmod(trainer.step, plan.steps_per_epoch)
        for x in batches(images, plan.per_step, seed=cfg.seed, epoch=epoch, start=start, device=trainer.device):
            log = (trainer.step + 1) % cfg.log_every == 0  # this step is logged: with diagnostics
            stats = trainer.train_step(x, diagnostics=log)
            trainer.step += 1
            guard.update(stats, trainer.step)
            bar.update(1)
            epoch_end = trainer.step % plan.steps_per_epoch == 0
            save = epoch_end or trainer.step % cfg.save_every == 0 or trainer.step == plan.total
            if log or save:  # the only host syncs of the loop
                guard.check(run_dir, last_good, plan.steps_per_epoch)
            if logger is not None and log:
                clock = _log(trainer, logger, bar, stats, epoch + 1, clock, plan.per_step)
            if epoch_end:  # before last.pt: a last.pt at an epoch's end means its files are written
                _end_of_epoch(trainer, logger, epoch + 1, final=trainer.step == cfg.epochs * plan.steps_per_epoch)
            if save:
                if logger is not None:
                    save_checkpoint(trainer.state_dict(), run_dir / "last.pt")
                last_good = trainer.step
            if trainer.step >= plan.total:
                break


def _log(trainer: Trainer, logger: RunLogger, bar: tqdm, stats: Dict[str, torch.Tensor], epoch: int, clock, per_step):
    """One metrics line; returns the clock (time, step) for the next line's images/s."""
    now, (tick, tick_step) = time.perf_counter(), clock
    values = {k: round(v.item(), 6) for k, v in stats.items()}
    values["epoch"] = epoch
    values["images_per_s"] = round((trainer.step - tick_step) * per_step / (now - tick), 1)
    logger.scalars(trainer.step, values)
    bar.set_postfix({k: values[k] for k in ("loss_e", "loss_g", "images_per_s") if k in values})
    return now, trainer.step


def _end_of_epoch(trainer: Trainer, logger: Optional[RunLogger], epoch: int, final: bool) -> None:
    """The epoch's sample grid, curves.png and (every ckpt_every epochs, and at the last) epoch_<n>.pt."""
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


def resume_from(trainer, run_dir: Path) -> None:
    """Continue `trainer` from RUN_DIR/last.pt; a run stopped before its first checkpoint starts
    again from step 0, and one whose last.pt was moved aside says which checkpoint to copy."""
    path = run_dir / "last.pt"
    if path.exists():
        restore(trainer.load_state_dict, path, check_state(load_checkpoint(path, trainer.device), path))
        if trainer.noise_reseeded:
            warnings.warn(
                f"{run_dir} was trained on another kind of device than {trainer.device.type}; its noise "
                "generator is re-seeded, so the resumed run does not repeat the original's noise",
                stacklevel=2,
            )
        return
    kept = sorted(run_dir.glob("epoch_*.pt"), key=lambda p: (len(p.stem), p.stem))  # epoch_999 before epoch_1000
    if kept:  # last.pt was moved aside (corrupt?): say which checkpoint to continue from
        raise CheckpointError(
            f"{run_dir} has no last.pt, but {kept[-1].name}; copy {kept[-1].name} to last.pt to resume from it"
        )
