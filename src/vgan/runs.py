"""Working with finished or interrupted run directories: reload, resume, sample."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Optional

import torch

from .checkpoint import load_checkpoint
from .config import Config, from_dict, load_config
from .errors import CheckpointError, ConfigError
from .images import make_grid, save_image
from .samplers import uniform_noise
from .train import Trainer


def _run_dir(run_dir: str | Path) -> Path:
    run_dir = Path(run_dir)
    if not (run_dir / "config.yaml").is_file():
        raise CheckpointError(f"{run_dir} is not a run directory (no config.yaml); pass the directory that "
                              "`vgan train` wrote, e.g. runs/mnist_vgan")
    return run_dir


def load_run(run_dir: str | Path, checkpoint: str = "last.pt", device: str = "cpu") -> Trainer:
    """Rebuild a run's energy and sampler from <run_dir>/<checkpoint>; no data is loaded."""
    run_dir = _run_dir(run_dir)
    state = load_checkpoint(run_dir / checkpoint, device)
    trainer = Trainer(from_dict(state["config"]), state["image_shape"], torch.device(device))
    trainer.load_state_dict(state)
    trainer.run_dir = run_dir
    return trainer


def resume_config(run_dir: str | Path, overrides: Optional[Dict[str, Any]] = None) -> Config:
    """The config of an existing run, with `overrides` (e.g. more epochs) on top.

    The run continues where its directory is now, even if it was moved.
    """
    run_dir = _run_dir(run_dir)
    return load_config(run_dir / "config.yaml",
                       values={**(overrides or {}), "out_dir": str(run_dir.parent), "name": run_dir.name})


def sample(run_dir: str | Path, n: int = 100, out: Optional[str | Path] = None, seed: int = 0,
           checkpoint: str = "last.pt", device: str = "cpu") -> Path:
    """Write a grid of n samples G(z) from a run's checkpoint to `out` (default <run_dir>/sample.png)."""
    if n < 2:
        raise ConfigError(f"cannot sample n={n}; ask for at least 2 (the generator's batch norm uses batch statistics)")
    trainer = load_run(run_dir, checkpoint, device)
    z = uniform_noise(n, trainer.cfg.z_dim, generator=torch.Generator().manual_seed(seed)).to(trainer.device)
    grid = make_grid(trainer.samples(z))
    return save_image(grid, out or trainer.run_dir / "sample.png")
