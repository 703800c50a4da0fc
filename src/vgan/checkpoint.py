"""Checkpoints: written atomically (temp file + rename), read with weights_only=True."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict

import torch

from .atomic import atomic_file
from .errors import CheckpointError

FORMAT = "vgan-checkpoint-v1"


def save_checkpoint(state: Dict[str, Any], path: str | Path) -> Path:
    """Save `state` (tensors, numbers, strings, dicts, lists) so a crash never leaves a partial file."""
    with atomic_file(path) as f:
        torch.save({"format": FORMAT, **state}, f)
    return Path(path)


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> Dict[str, Any]:
    """Load a vgan checkpoint, or raise a one-line CheckpointError naming the problem and the fix."""
    path = Path(path)
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
