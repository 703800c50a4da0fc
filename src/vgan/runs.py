"""Working with finished or interrupted run directories: reload, resume, sample."""

from __future__ import annotations

import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Dict, Iterator, Optional

import torch

from .checkpoint import check_state, load_checkpoint, restore
from .checks import file_name, non_negative, optional, positive, require
from .config import Config, check_resume, from_dict, load_run_config
from .data import as_float, load_dataset
from .errors import CheckpointError, ConfigError
from .images import make_grid, save_image
from .lock import check_output, run_file
from .samplers import LangevinSampler, langevin_settings
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
    checkpoint with NaN or inf weights is refused. The energy and the sampler are in eval mode, so
    that with `spectral_norm` no evaluation runs a power iteration and changes it, and a replay
    buffer stays as saved."""
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
    trainer.sampler.eval()  # a replay buffer is read, never written, outside training
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
    check_resume(saved, overrides)
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
    out = check_output(out or Path(run_dir) / "sample.png", default="sample.png")  # before any work
    trainer = load_run(run_dir, checkpoint, device)
    require_images(trainer, "sample")
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
    return save_image(grid, out)
