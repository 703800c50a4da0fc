"""Checkpoints: written atomically (temp file + rename), read with weights_only=True, and a
training state's fields checked before any of them is used (`check_state`)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Callable, Dict

import torch

from .._utils.atomic import atomic_file
from .._utils.errors import CheckpointError, RunDirError, shown

FORMAT = "vgan-checkpoint-v1"
MAX_SIDE = 1 << 12  # an image side or channel count beyond any dataset's


def save_checkpoint(state: Dict[str, Any], path: str | Path) -> Path:
    """Save `state` (tensors, numbers, strings, dicts, lists) so a crash never leaves a partial file.
    A write that fails part way (a full disk: torch raises a RuntimeError, not an OSError) is a
    one-line RunDirError; the file that was there stays."""
    try:
        with atomic_file(path) as f:
            torch.save({"format": FORMAT, **state}, f)
    except RuntimeError as e:
        if not torch_write_failed(e):
            raise
        raise RunDirError(
            f"cannot write {path}: the write stopped part way (is the disk full?); free space and run again"
        ) from None
    return Path(path)


def torch_write_failed(e: BaseException) -> bool:
    """Whether `e` is torch's own error for a file write that failed part way."""
    text = str(e)
    return isinstance(e, RuntimeError) and any(s in text for s in ("inline_container", "PytorchStreamWriter"))


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> Dict[str, Any]:
    """Load a vgan checkpoint, or raise a one-line CheckpointError naming the problem and the fix."""
    path = Path(path)
    if path.exists() and not path.is_file():
        raise CheckpointError(f"{path} is a folder or a device, not a checkpoint; move it aside")
    if not path.is_file():
        raise CheckpointError(
            f"no checkpoint at {path}; train first with `vgan train` or pass a run directory that holds last.pt"
        )
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # truncated zip, foreign pickle, ...
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        if "Weights only load failed" in first:  # torch's long advice would suggest weights_only=False
            first = "it holds objects other than tensors and numbers, which weights_only loading refuses"
        raise CheckpointError(
            f"{path} is truncated or not a checkpoint ({first[:120]}); move it aside and use "
            "an epoch_<n>.pt of the run instead (copy it to last.pt to resume)"
        ) from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(
            f"{path} is not a vgan checkpoint (no '{FORMAT}' marker); pass a file written by `vgan train`"
        )
    return state


def _rng_state(v: Any) -> bool:
    return isinstance(v, torch.Tensor) and v.dtype == torch.uint8 and v.dim() == 1


STATE = {  # field of a training state -> what it must be (Trainer.state_dict writes them)
    "config": (lambda v: isinstance(v, dict), "a mapping of config keys"),
    "image_shape": (
        lambda v: (
            isinstance(v, (list, tuple))
            and len(v) in (1, 3)
            and all(isinstance(d, int) and not isinstance(d, bool) and 1 <= d <= MAX_SIDE for d in v)
        ),
        f"1 or 3 sizes in [1, {MAX_SIDE}]",
    ),
    "step": (lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0, "an integer >= 0"),
    **{k: (lambda v: isinstance(v, dict), "a state dict") for k in ("energy", "sampler", "opt_e")},
    "noise_rng": (_rng_state, "a generator state (bytes)"),
    "torch_rng": (_rng_state, "a generator state (bytes)"),
}
OPTIONAL = {  # fields of some runs only: the sampler's optimiser (not for CD), its average, the objective's networks
    k: (lambda v: isinstance(v, dict), "a state dict") for k in ("opt_g", "sampler_ema", "objective")
}


def check_state(state: Dict[str, Any], path: Path) -> Dict[str, Any]:
    """`state` if each field that `vgan train` writes has its type and range, else a one-line
    CheckpointError: no field of a damaged or crafted checkpoint reaches the networks unchecked."""
    for key, (test, text) in [*STATE.items(), *((k, c) for k, c in OPTIONAL.items() if k in state)]:
        if key not in state or not test(state[key]):
            got = f"got {shown(state[key])}" if key in state else "it is missing"
            raise CheckpointError(
                f"{path} is damaged: its {key} must be {text}, {got}; move it aside and use an epoch_<n>.pt "
                "of the run instead (copy it to last.pt to resume)"
            )
    return state


def restore(load: Callable[[dict], None], path: Path, state: dict) -> None:
    """Give a checkpoint's `state`, read from `path` and checked, to `load` (a vgan.Trainer's
    load_state_dict, or a vgan.Model's load_parts), or raise a one-line CheckpointError when it does
    not fit the networks the config built."""
    try:
        load(state)
    except (RuntimeError, KeyError, ValueError, TypeError, IndexError, AttributeError) as e:
        reason = re.sub(r"^Error\(s\) in loading state_dict for \w+: ", "", " ".join(str(e).split()))
        reason = reason.split(". ")[0][:200] or type(e).__name__  # the first mismatch, with both shapes
        raise CheckpointError(
            f"{path} does not fit the networks of this config ({reason}); resume with the "
            "run's own network keys, or train a new run with another name="
        ) from None
