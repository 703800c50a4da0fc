"""Samples of a run as a picture: `vgan sample`."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import torch

from .._utils.errors import CheckpointError, ConfigError
from .._utils.images import make_grid, save_image
from ..model.mcmc import MALA, Langevin
from ..model.model import Model
from ..runs import load_run
from ..runs.outputs import check_output


def require_images(model: Model, command: str) -> None:
    """A one-line ConfigError unless `model`'s run models images (not 2-D points)."""
    if len(model.image_shape) != 3:
        raise ConfigError(
            f"{model.run_dir} models 2-D points ({model.cfg.dataset}), not the images that `vgan {command}` "
            f"draws; `vgan evaluate {model.run_dir}` plots its samples over the energy landscape"
        )


def require_finite(samples: torch.Tensor, model: Model, checkpoint: str = "last.pt") -> torch.Tensor:
    """`samples`, or a one-line CheckpointError when any is NaN or inf (an energy or generator that diverged)."""
    if not torch.isfinite(samples).all():
        raise CheckpointError(
            f"the samples of {model.run_dir / checkpoint} are NaN or inf; pick an earlier "
            "checkpoint of the run (--checkpoint epoch_<n>.pt)"
        )
    return samples


def sample(
    run_dir: str | Path,
    n: int = 100,
    out: Optional[str | Path] = None,
    seed: int = 0,
    checkpoint: str = "last.pt",
    device: str = "cpu",
    *,
    langevin: Optional[Langevin] = None,
    mala: Optional[MALA] = None,
) -> Path:
    """Write a grid of n samples from a run's checkpoint to `out` (default `RUN_DIR/sample.png`):
    G(z), the chains of a CD run, or for a conditional run (VCD, CD-k) one transition of each of the
    first n validation images (`Model.samples`). `langevin` (with `steps`) refines them by that many
    Langevin steps on the run's energy (`Model.langevin`)."""
    if n < 2:
        raise ConfigError(f"cannot sample n={n}; ask for at least 2 (the generator's batch norm uses batch statistics)")
    out = check_output(out or Path(run_dir) / "sample.png", suffix=".png", default="sample.png")  # before any work
    model = load_run(run_dir, checkpoint, device)
    require_images(model, "sample")
    if mala is not None and mala.steps:
        samples, _ = model.mala_samples(n, mala, seed)
    else:
        samples = model.samples(n, seed)
    if langevin is not None and langevin.steps:
        refine = model.langevin(langevin)
        samples = refine(samples, rng=torch.Generator(model.device).manual_seed(seed + 1))
    return save_image(make_grid(require_finite(samples, model, checkpoint)), out)
