"""What a training run records as it goes: metrics.jsonl and TensorBoard (RunLogger), and the
first step whose losses turned NaN or inf (FiniteGuard), both safe to resume."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Dict

import torch

from .._utils.atomic import write_atomic
from .._utils.errors import TrainingError
from ..runs.curves import metric_record


def _logged_step(line: str) -> float:
    """The step of a metrics.jsonl line; infinity for a line that is not a record (dropped on resume)."""
    record = metric_record(line)
    return math.inf if record is None else record["step"]


class RunLogger:
    """metrics.jsonl (one JSON object per logging step) and TensorBoard, both resumable."""

    def __init__(self, run_dir: Path, start_step: int, tensorboard: bool = True):
        self.path = run_dir / "metrics.jsonl"
        keep = []
        if self.path.exists():  # drop lines a crashed run wrote past its last checkpoint, or half wrote
            lines = self.path.read_text(errors="replace").splitlines()
            keep = [ln for ln in lines if _logged_step(ln) <= start_step]
            write_atomic(self.path, "".join(ln + "\n" for ln in keep))
        self.lines = len(keep)  # metrics lines in the file: curves.png needs at least one
        self.file = open(self.path, "a")
        self.tb = None
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            purge = start_step + 1 if (run_dir / "tb").is_dir() else None  # drop events past the resumed step
            self.tb = SummaryWriter(str(run_dir / "tb"), purge_step=purge)

    def scalars(self, step: int, values: Dict[str, float]) -> None:
        self.file.write(json.dumps({"step": step, **values}) + "\n")
        self.file.flush()
        self.lines += 1
        if self.tb:
            for k, v in values.items():
                self.tb.add_scalar(f"train/{k}", v, step)

    def image(self, tag: str, grid: torch.Tensor, step: int) -> None:
        if self.tb:
            self.tb.add_image(tag, grid, step)

    def close(self) -> None:
        self.file.close()
        if self.tb:
            self.tb.close()


class FiniteGuard:
    """Remembers on the device, with no host sync per step, the first step whose losses or logged
    statistics (the penalties among them) were NaN or inf."""

    def __init__(self, device: torch.device):
        self.first_bad = torch.zeros((), dtype=torch.long, device=device)  # 0: none yet

    def update(self, stats: Dict[str, torch.Tensor], step: int) -> None:
        finite = torch.isfinite(torch.stack(list(stats.values()))).all()  # every stat is a scalar: 3 ops a step
        self.first_bad = torch.where((self.first_bad == 0) & ~finite, step, self.first_bad)

    def check(self, run_dir: Path, last_good: int, steps_per_epoch: int) -> None:
        """Raise a one-line TrainingError if a bad step was seen (syncs with the device)."""
        step = int(self.first_bad.item())
        if step:
            where = (
                (
                    f"the last good checkpoint {run_dir / 'last.pt'} is at step {last_good}; resume with "
                    f"`vgan train --resume {run_dir}` after lowering lr (or a loss weight you raised)"
                )
                if last_good or (run_dir / "last.pt").exists()  # a resumed run's checkpoint may be at step 0
                else "no checkpoint was written yet: lower lr (or a loss weight you raised) and train it again"
            )
            raise TrainingError(
                f"a loss became NaN or inf at step {step} (epoch {(step - 1) // steps_per_epoch + 1}); {where}"
            )
