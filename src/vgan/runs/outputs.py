"""The one boundary every output passes. A path that a command, a script in benchmarks/ or the
renderer will write is checked here before any work starts (`check_output`, `check_output_dir`),
then written atomically (`vgan._utils.atomic`: a temporary file beside it, renamed over it, never
through a link). What is refused, each with one line that names the fix:

- a link, a folder, a device, pipe or socket where a file goes (or a file where a folder goes);
- a name the temporary file cannot be made beside (too long), or the wrong kind of file (`suffix`);
- a file of a run: what training keeps in a run directory (config.yaml, last.pt, epoch_*.pt,
  metrics.jsonl, run.json, curves.png, samples/, tb/) and what the commands write there
  (evaluate.json, energy_landscape.png, sample.png, reconstruct.png, chain.png), except the
  command's own default;
- a place that cannot be written: the nearest existing folder above it is not a writable folder.
"""

from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

from .._utils.errors import CheckpointError, RunDirError
from .lock import FILES, FOLDERS, kind

NAME_MAX = 255  # bytes in a file name on Linux and macOS file systems
TEMP_ROOM = len(".") + len(".") + 8 + len(".tmp")  # what atomic writes add: .<name>.<8 random>.tmp
COMMAND_FILES = ("evaluate.json", "energy_landscape.png", "sample.png", "reconstruct.png", "chain.png")


def run_dir_of(path: Path) -> Optional[Path]:
    """The run directory `path` lies in (its folder or the one above holds a config.yaml), or None."""
    return next((d for d in (path.parent, path.parent.parent) if (d / "config.yaml").is_file()), None)


def _writable_place(path: Path, label: str) -> None:
    """The nearest existing folder above `path` is a folder this process can write into."""
    above = path.parent
    while not above.exists() and above != above.parent:
        if above.is_symlink():  # a dangling link: nothing to create folders under
            raise RunDirError(f"{label}: {above} is a broken symbolic link; name another place")
        above = above.parent
    if not above.is_dir():
        raise RunDirError(f"{label}: {above} is not a folder; name a path inside a folder")
    try:  # a real probe: permissions alone do not tell (root, read-only mounts, /proc)
        fd, probe = tempfile.mkstemp(dir=above, prefix=".vgan-probe-", suffix=".tmp")
    except OSError as e:
        reason = e.strerror or type(e).__name__
        raise RunDirError(
            f"{label}: cannot write into {above} ({reason}); name a path in a folder you can write"
        ) from None
    os.close(fd)
    os.unlink(probe)


def check_output(
    path: str | Path,
    *,
    suffix: str | Sequence[str] = (),
    what: str = "--out",
    default: Optional[str] = None,
) -> Path:
    """`path` fit to be written as a file (see the module's docstring), or a one-line RunDirError.
    `suffix`: the endings allowed (".png", ".json"); `what`: the option or role, for messages;
    `default`: the file name the command itself writes into a run directory, which is allowed."""
    text = str(path)
    if not text.strip():
        raise RunDirError(f"{what} is empty; give a file name or leave it out".strip())
    if text.endswith(("/", os.sep)) or Path(text).name in ("", ".", ".."):
        raise RunDirError(f"{what} {text!r} names no file; give a file name".strip())
    path = Path(text)
    label = f"{what} {path}".strip()
    if len(os.fsencode(path.name)) > NAME_MAX - TEMP_ROOM:
        raise RunDirError(f"{label}: the file name is longer than {NAME_MAX - TEMP_ROOM} bytes; name a shorter file")
    found = kind(path)
    if found == "link":
        raise RunDirError(f"{label} is a symbolic link; vgan does not write through links: name another file")
    if found == "folder":
        raise RunDirError(f"cannot write {label}: it is a folder; name a file inside it instead")
    if found == "special":
        raise RunDirError(f"{label} is not a regular file (a device, pipe or socket); name a regular file")
    endings = (suffix,) if isinstance(suffix, str) else tuple(suffix)
    if endings and not path.name.lower().endswith(endings):
        raise RunDirError(f"{label} does not end in {' or '.join(endings)}; name a {endings[0]} file")
    run_dir = run_dir_of(path)
    if run_dir is not None and path.name != default:
        inside = Path(path.relative_to(run_dir).as_posix())
        patterns = (*FILES, *(f"{f}/*" for f in FOLDERS), *COMMAND_FILES)
        if any(inside.match(p) for p in patterns):
            raise RunDirError(
                f"{label} is a file that training keeps in the run {run_dir}, or that a command writes there; "
                "name another file"
            )
    _writable_place(path, label)
    return path


def check_output_dir(path: str | Path, *, what: str = "--out-dir") -> Path:
    """`path` fit to hold a command's outputs as a folder: a folder or nothing yet (never a file,
    link or device), under a folder this process can write into; a one-line RunDirError otherwise."""
    text = str(path)
    if not text.strip():
        raise RunDirError(f"{what} names no folder; give one".strip())
    path = Path(text)
    label = f"{what} {path}".strip()
    found = kind(path)
    if found == "link":
        raise RunDirError(f"{label} is a symbolic link; name a real folder")
    if found in ("file", "special"):
        raise RunDirError(f"{label} is a file, not a folder; name a folder")
    _writable_place(path / "x", label)
    return path


def check_finite(values: Mapping[str, Any], what: str) -> Mapping[str, Any]:
    """`values` (a command's result), or a one-line VGANError naming those that are NaN or inf: a
    measurement of a diverged model is refused, not printed or saved."""
    bad = [k for k, v in values.items() if isinstance(v, float) and not math.isfinite(v)]
    if bad:
        raise CheckpointError(
            f"{what} came out NaN or inf ({', '.join(bad[:4])}); the model diverged: measure an earlier "
            "checkpoint of the run (epoch_<n>.pt), or train it again with a lower lr"
        )
    return values
