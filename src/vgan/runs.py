"""Working with finished or interrupted run directories: reload, resume, sample."""

from __future__ import annotations

import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Dict, Iterator, Optional

import torch

from .checkpoint import check_state, load_checkpoint, restore
from .checks import file_name, require
from .config import FIXED_ON_RESUME, Config, from_dict, load_run_config
from .errors import CheckpointError, ConfigError
from .images import make_grid, save_image
from .lock import check_output, run_file
from .samplers import uniform_noise
from .train import Trainer, resolve_device


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
    run_dir = Path(run_dir)
    run_file(run_dir, "config.yaml")  # a run directory, or a message that says why not
    require(checkpoint, file_name, "--checkpoint", "name a checkpoint file in RUN_DIR, e.g. epoch_002.pt")
    device = resolve_device(device)
    path = run_dir / checkpoint
    state = check_state(load_checkpoint(path, device), path)
    try:
        cfg = from_dict(state["config"])
    except ConfigError as e:
        raise CheckpointError(
            f"{path} holds a config that does not validate ({e}); pass a checkpoint of the run"
        ) from None
    trainer = Trainer(cfg, tuple(state["image_shape"]), device)
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
    overrides = overrides or {}
    saved = load_run_config(run_dir)
    for key in FIXED_ON_RESUME:
        if key in overrides and overrides[key] != getattr(saved, key):
            raise ConfigError(
                f"--resume cannot change '{key}' ({getattr(saved, key)!r} -> {overrides[key]!r}): the "
                f"run's checkpoint was built with it; drop {key}=, or train a new run with another name="
            )
    if bool(overrides.get("mi_entropy_weight", saved.mi_entropy_weight)) != bool(saved.mi_entropy_weight):
        was_on = bool(saved.mi_entropy_weight)
        raise ConfigError(
            f"--resume cannot turn mi_entropy_weight {'off' if was_on else 'on'}: the run's checkpoint "
            f"{'holds' if was_on else 'has no'} statistics network for it; keep it {'> 0' if was_on else '0'}, "
            "or train a new run with another name="
        )
    return from_dict(overrides, base=saved)


@contextmanager
def dry_run_folder(cfg: Config) -> Iterator[None]:
    """Point `cfg` at a new temporary folder for the block, so that a dry run (`vgan train --dry-run`)
    never touches a real run; the folder is kept, to look at, when the block succeeds, removed when it fails."""
    cfg.out_dir = tempfile.mkdtemp(prefix="vgan-dry-run-")
    try:
        yield
    except BaseException:
        shutil.rmtree(cfg.out_dir, ignore_errors=True)
        raise


def require_images(trainer: Trainer, command: str) -> None:
    """A one-line ConfigError unless `trainer`'s run models images (not 2-D points)."""
    if len(trainer.image_shape) != 3:
        raise ConfigError(
            f"{trainer.run_dir} models 2-D points ({trainer.cfg.dataset}), not the images that `vgan {command}` "
            f"draws; `vgan evaluate {trainer.run_dir}` plots its samples over the energy landscape"
        )


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
    out = check_output(out or Path(run_dir) / "sample.png", default="sample.png")  # before any work
    trainer = load_run(run_dir, checkpoint, device)
    require_images(trainer, "sample")
    if trainer.sampler.conditional:
        raise ConfigError(
            f"{run_dir} is a VCD run, whose samples are transitions of images; use "
            f"`vgan chain {run_dir}` or `vgan reconstruct {run_dir}`"
        )
    z = uniform_noise(n, trainer.cfg.z_dim, generator=torch.Generator().manual_seed(seed)).to(trainer.device)
    samples = trainer.samples(z)
    if not torch.isfinite(samples).all():
        raise CheckpointError(
            f"the samples of {trainer.run_dir / checkpoint} are NaN or inf; pick an earlier "
            "checkpoint of the run (--checkpoint epoch_<n>.pt)"
        )
    grid = make_grid(samples)
    return save_image(grid, out)
