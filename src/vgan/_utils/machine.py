"""The machine a run trained on, recorded in RUN_DIR/run.json.

Float kernels differ between CPU types (AVX-512 or AVX2, Intel or AMD) and torch versions, so
the same command and seed give different numbers on different machines; run.json says which
machine and software each training session had:

    {"sessions": [{"started": "...", "vgan": "0.1.0", "torch": "2.13.0+cpu", "cpu": "Intel(R) Xeon(R) ...",
                   "cpu_capability": "AVX512", "threads": 2, "device": "cpu", ..., "start_step": 0}]}

A resumed run appends its session, so a run continued elsewhere shows both machines.
"""

from __future__ import annotations

import datetime
import json
import platform
from importlib import metadata
from pathlib import Path
from typing import Any, Dict, List

import torch

from .atomic import write_atomic
from .errors import CheckpointError, ConfigError


def version() -> str:
    """vgan's version, as its installed metadata gives it (pyproject.toml is the one place it is written)."""
    try:
        return metadata.version("vgan")
    except metadata.PackageNotFoundError:  # imported from a source tree that was never installed
        return "0+unknown"


def cpu_model() -> str:
    """The CPU's model name (/proc/cpuinfo on Linux), else what `platform` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def describe_machine(device: torch.device, processes: int = 1) -> Dict[str, Any]:
    """Software, CPU and device of this process, with the time now."""
    info = {
        "started": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "vgan": version(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": cpu_model(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),  # the SIMD kernels torch uses: AVX512, AVX2...
        "threads": torch.get_num_threads(),
        "device": str(device),
        "processes": processes,
    }
    if device.type == "cuda":
        info.update(gpu=torch.cuda.get_device_name(device), cuda=torch.version.cuda)
    return info


def read_sessions(run_dir: str | Path) -> List[Dict[str, Any]]:
    """The sessions in `RUN_DIR/run.json` (none when there is no run.json), or a one-line
    CheckpointError when it is not what `record_session` writes: nothing overwrites it unread."""
    path = Path(run_dir) / "run.json"
    if not path.exists():
        return []
    try:
        sessions = json.loads(path.read_bytes())["sessions"]
        if isinstance(sessions, list) and all(isinstance(s, dict) for s in sessions):
            return sessions
    except (ValueError, KeyError, TypeError, RecursionError):  # not JSON (or not UTF-8), or not its layout
        pass
    raise CheckpointError(
        f"{path} is damaged (not the JSON of the run's sessions); move it aside (it records the machines the run "
        "trained on) and run again"
    )


def record_session(run_dir: str | Path, sessions: List[Dict[str, Any]], session: Dict[str, Any]) -> Path:
    """Write `RUN_DIR/run.json`: the earlier `sessions` (`read_sessions`; none for a new run), then `session`."""
    path = Path(run_dir) / "run.json"
    write_atomic(path, json.dumps({"sessions": [*sessions, session]}, indent=2) + "\n")
    return path


def resolve_device(name: str) -> torch.device:
    """The torch device `name` names (auto: CUDA when present); a one-line ConfigError for CUDA without it."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device 'cuda' was asked for but CUDA is not available; use device=cpu or auto")
    return torch.device(name)
