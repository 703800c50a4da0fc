"""Working with finished or interrupted run directories: reload, resume, sample."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Dict, Optional

import torch

from .checkpoint import load_checkpoint
from .checks import non_negative, optional, positive, require
from .config import Config, check_resume, from_dict, load_config
from .data import as_float, load_dataset
from .errors import CheckpointError, ConfigError
from .images import make_grid, save_image
from .samplers import LangevinSampler, langevin_settings
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
    checkpoint with NaN or inf weights is refused. The energy and the sampler are in eval mode, so
    that with `spectral_norm` no evaluation runs a power iteration and changes it, and a replay
    buffer stays as saved."""
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
    trainer.sampler.eval()  # a replay buffer is read, never written, outside training
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


def langevin_on(
    trainer: Trainer,
    steps: Optional[int] = None,
    step_size: Optional[float] = None,
    noise: Optional[float] = None,
    init: str = "data",
) -> LangevinSampler:
    """Langevin chains on a run's energy (read one image at a time), `steps` per call, from images
    (`init="data"`: a transition x -> x') or as the run trained them; settings the arguments leave
    out come from the run's config (langevin_steps, langevin_step_size, langevin_noise)."""
    cfg = trainer.cfg
    for value, what, check in ((steps, "--langevin-steps", positive), (step_size, "--langevin-step-size", positive)):
        require(value, optional(check), what, "leave it out for the run's own setting")
    require(noise, optional(non_negative), "--langevin-noise", "use 0 or more, or leave it out")
    settings = {**langevin_settings(cfg), "init": init}
    settings.update({k: v for k, v in dict(steps=steps, step_size=step_size, noise=noise).items() if v is not None})
    return LangevinSampler(trainer.energy.alone(), trainer.image_shape, **settings).eval()


def sample(
    run_dir: str | Path,
    n: int = 100,
    out: Optional[str | Path] = None,
    seed: int = 0,
    checkpoint: str = "last.pt",
    device: str = "cpu",
    *,
    langevin_steps: int = 0,
    langevin_step_size: Optional[float] = None,
    langevin_noise: Optional[float] = None,
) -> Path:
    """Write a grid of n samples from a run's checkpoint to `out` (default <run_dir>/sample.png):
    G(z), the chains of a CD run, or for a conditional run (VCD, CD-k) one transition of each of the
    first n validation images. `langevin_steps` > 0 refines them by that many Langevin steps on the
    run's energy (`langevin_on`)."""
    if n < 2:
        raise ConfigError(f"cannot sample n={n}; ask for at least 2 (the generator's batch norm uses batch statistics)")
    require(langevin_steps, non_negative, "--langevin-steps", "use 0 (no refinement) or more")
    trainer = load_run(run_dir, checkpoint, device)
    if len(trainer.image_shape) != 3:
        raise ConfigError(
            f"{run_dir} models 2-D points ({trainer.cfg.dataset}), not images; "
            f"`vgan evaluate {run_dir}` plots its samples over the energy landscape"
        )
    if trainer.sampler.conditional:
        val = load_dataset(trainer.cfg.dataset, "val", trainer.cfg.data_dir).images[:n]
        rng = torch.Generator(trainer.device).manual_seed(seed)
        with torch.no_grad():
            samples = trainer.eval_sampler(as_float(val).to(trainer.device), rng=rng)
    else:
        samples = trainer.samples(n, seed)
    if langevin_steps:
        refine = langevin_on(trainer, langevin_steps, langevin_step_size, langevin_noise)
        samples = refine(samples, rng=torch.Generator(trainer.device).manual_seed(seed + 1))
    if not torch.isfinite(samples).all():
        raise CheckpointError(
            f"the samples of {trainer.run_dir / checkpoint} are NaN or inf; pick an earlier "
            "checkpoint of the run (--checkpoint epoch_<n>.pt)"
        )
    grid = make_grid(samples)
    return save_image(grid, out or trainer.run_dir / "sample.png")
