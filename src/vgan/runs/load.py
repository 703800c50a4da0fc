"""Reading a run directory back: its config, its `Model` (`load_run`) and the config to resume it with."""

from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Dict, Iterator, Optional

from .._utils.checks import file_name, require
from .._utils.errors import CheckpointError, ConfigError
from .._utils.machine import resolve_device
from ..config import Config, check_resume, from_dict, load_yaml
from ..model.model import Model
from .checkpoint import check_state, load_checkpoint, restore
from .lock import run_file

RUN_KEYS = ("name", "dataset", "arch", "objective", "energy")  # in every config.yaml that `vgan train` wrote


def load_run_config(run_dir: str | Path) -> Config:
    """The config of the run in `run_dir`, from the config.yaml that `vgan train` wrote there, with
    out_dir and name where the directory is now (a moved run keeps working). A config.yaml that lacks
    the keys every run's holds (emptied, or not vgan's) is refused, not read as the defaults."""
    run_dir = Path(run_dir)
    if run_dir.name in ("", ".", ".."):
        run_dir = Path(os.path.abspath(run_dir))
    path = run_file(run_dir, "config.yaml")
    data = load_yaml(path)
    missing = [k for k in RUN_KEYS if k not in data]
    if missing:
        raise ConfigError(
            f"{path} lacks {', '.join(missing)}, which every run's config.yaml holds: it is not the file that "
            "`vgan train` wrote (emptied or replaced); restore that file"
        )
    return from_dict({**data, "out_dir": str(run_dir.parent), "name": run_dir.name})


def load_run(run_dir: str | Path, checkpoint: str = "last.pt", device: str = "cpu") -> Model:
    """The `Model` of a run, from `RUN_DIR/CHECKPOINT`: its energy and sampler (and their average),
    with the checkpoint's `step`; no data is loaded, no trainer or optimiser built, and torch's
    global RNG is left as it was. A checkpoint with NaN or inf weights is refused. The model is in
    eval mode, so that with `spectral_norm` no evaluation runs a power iteration and changes it, and
    a replay buffer stays as saved."""
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
    model = Model.from_config(cfg, state["image_shape"], device)
    restore(model.load_parts, path, state)
    bad = model.nonfinite()
    if bad:
        raise CheckpointError(
            f"{path} holds NaN or inf weights ({bad}); it is not usable: pick an earlier "
            "checkpoint of the run (--checkpoint epoch_<n>.pt)"
        )
    model.run_dir, model.step = run_dir, state["step"]
    return model.eval()


def resume_config(run_dir: str | Path, overrides: Optional[Dict[str, Any]] = None) -> Config:
    """The config of an existing run, with `overrides` (e.g. more epochs) on top; keys that its
    checkpoint fixes (`config.keys.FIXED_ON_RESUME`: the networks, the optimiser, the run's place)
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
