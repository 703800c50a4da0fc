"""Working with finished or interrupted run directories: reload, resume, sample."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Dict, Optional

import torch

from .checkpoint import load_checkpoint
from .config import Config, check_resume, from_dict, load_config
from .errors import CheckpointError, ConfigError
from .images import make_grid, save_image
from .train import Trainer, resolve_device, restore


def _run_dir(run_dir: str | Path) -> Path:
    run_dir = Path(run_dir)
    if not (run_dir / "config.yaml").is_file():
        raise CheckpointError(
            f"{run_dir} is not a run directory (no config.yaml); pass the directory that "
            "`vgan train` wrote, e.g. runs/mnist_vgan"
        )
    return run_dir


def _finite_weights(trainer: Trainer, path: Path) -> None:
    parts = {"energy": trainer.energy, "sampler": trainer.sampler, "sampler_ema": trainer.sampler_ema}
    for part, module in parts.items():
        if module is None:  # no average without ema_decay
            continue
        for name, t in module.state_dict().items():
            if t.is_floating_point() and not torch.isfinite(t).all():
                raise CheckpointError(
                    f"{path} holds NaN or inf weights ({part}.{name}); it is not usable: pick an "
                    "earlier checkpoint of the run (--checkpoint epoch_<n>.pt)"
                )


def load_run(run_dir: str | Path, checkpoint: str = "last.pt", device: str = "cpu") -> Trainer:
    """Rebuild a run's energy and sampler from <run_dir>/<checkpoint>; no data is loaded. A
    checkpoint with NaN or inf weights is refused. The energy is in eval mode, so that with
    `spectral_norm` no evaluation runs a power iteration and changes it."""
    run_dir = _run_dir(run_dir)
    device = resolve_device(device)
    path = run_dir / checkpoint
    state = load_checkpoint(path, device)
    try:
        trainer = Trainer(from_dict(state["config"]), tuple(int(d) for d in state["image_shape"]), device)
    except (KeyError, TypeError, ValueError) as e:
        raise CheckpointError(
            f"{path} has no usable config or image_shape ({e}); pass a checkpoint that `vgan train` wrote"
        ) from None
    restore(trainer, path, state)
    _finite_weights(trainer, path)
    trainer.energy.eval()
    trainer.run_dir = run_dir
    return trainer


def resume_config(run_dir: str | Path, overrides: Optional[Dict[str, Any]] = None) -> Config:
    """The config of an existing run, with `overrides` (e.g. more epochs) on top; keys that its
    checkpoint fixes (`config.FIXED_ON_RESUME`: the networks, the optimiser, the run's place)
    cannot change.

    The run continues where its directory is now, even if it was moved.
    """
    run_dir = _run_dir(run_dir)
    if run_dir.name in ("", ".", ".."):
        run_dir = Path(os.path.abspath(run_dir))
    overrides = overrides or {}
    saved = load_config(run_dir / "config.yaml", values={"out_dir": str(run_dir.parent), "name": run_dir.name})
    check_resume(saved, overrides)
    return from_dict(overrides, base=saved)


def sample(
    run_dir: str | Path,
    n: int = 100,
    out: Optional[str | Path] = None,
    seed: int = 0,
    checkpoint: str = "last.pt",
    device: str = "cpu",
) -> Path:
    """Write a grid of n samples G(z) from a run's checkpoint to `out` (default <run_dir>/sample.png)."""
    if n < 2:
        raise ConfigError(f"cannot sample n={n}; ask for at least 2 (the generator's batch norm uses batch statistics)")
    trainer = load_run(run_dir, checkpoint, device)
    if trainer.sampler.conditional:
        raise ConfigError(
            f"{run_dir} is a VCD run, whose samples are transitions of images; use "
            f"`vgan chain {run_dir}` or `vgan reconstruct {run_dir}`"
        )
    if len(trainer.image_shape) != 3:
        raise ConfigError(
            f"{run_dir} models 2-D points ({trainer.cfg.dataset}), not images; "
            f"`vgan evaluate {run_dir}` plots its samples over the energy landscape"
        )
    samples = trainer.samples(n, seed)
    if not torch.isfinite(samples).all():
        raise CheckpointError(
            f"the samples of {trainer.run_dir / checkpoint} are NaN or inf; pick an earlier "
            "checkpoint of the run (--checkpoint epoch_<n>.pt)"
        )
    grid = make_grid(samples)
    return save_image(grid, out or trainer.run_dir / "sample.png")
