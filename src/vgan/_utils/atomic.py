"""Atomic file writes: write a temporary file beside the target, then rename it over the target,
so that a crash leaves the old file or the new one, never a partial one.

The temporary file is created exclusively (O_EXCL: never through an existing file or symlink)
under an unpredictable name `.<name>.<random>.tmp` in the target's folder and written through
its own descriptor; `os.replace` then swaps it in, which replaces a symlink at the target
instead of writing through it. Nothing planted in the folder can redirect a write elsewhere.

The writer holds an exclusive `flock` on its temporary file until the rename. A process killed
mid-write (kill -9; SIGTERM and Ctrl-C run the cleanup) leaves its temporary file unlocked, and
the next write of the same target removes it (`remove_stale_temp_files`), so none piles up.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Iterator, List, Sequence, Tuple

from .errors import RunDirError, os_error


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


MODE = 0o666 & ~_umask()  # what open() would give a new file; mkstemp alone gives 0o600


def temp_files(folder: str | Path) -> List[Path]:
    """The temporary files this module leaves in `folder` when a process dies mid-write."""
    folder = Path(folder)
    return sorted(p for p in folder.glob(".*.tmp") if p.is_file() or p.is_symlink()) if folder.is_dir() else []


STALE_AFTER = 2.0  # seconds: an unlocked temp file this old has no live writer (mkstemp, then flock)


def _unlocked(path: Path) -> bool:
    """Whether no process holds the flock of the temporary file `path` (its writer is dead)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:  # a planted symlink or fifo: no writer of ours holds it
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


def remove_stale_temp_files(folder: str | Path, prefixes: Sequence[str] = ("",), age: float = STALE_AFTER) -> None:
    """Remove the temporary files in `folder` whose names start with one of `prefixes`, that no live
    writer holds and that are older than `age` seconds: what writers killed mid-write left. (A writer
    locks its file just after creating it; `age` spares a file caught in between.)"""
    now = time.time()
    for path in temp_files(folder):
        if path.name.startswith(tuple(prefixes)) and _unlocked(path):
            try:
                if now - path.lstat().st_mtime >= age:
                    path.unlink()
            except OSError:
                pass


def _sync_dir(folder: Path) -> None:
    """Make the rename itself durable (where the file system allows)."""
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextmanager
def _atomic(path: str | Path) -> Iterator[Tuple[BinaryIO, Path]]:
    path = Path(path)
    if path.is_dir() and not path.is_symlink():
        raise RunDirError(f"cannot write {path}: it is a folder; name a file inside it instead")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as e:
        raise os_error(e, f"write {path}") from e
    tmp, done = Path(name), False
    try:
        with os.fdopen(fd, "wb") as f:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX)  # held until closed: no sweep removes a live write
            remove_stale_temp_files(path.parent, [f".{path.name}."])
            os.fchmod(f.fileno(), MODE)
            yield f, tmp
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        done = True
        _sync_dir(path.parent)
    except OSError as e:
        raise os_error(e, f"write {path}") from e
    finally:
        if not done:
            tmp.unlink(missing_ok=True)


@contextmanager
def atomic_file(path: str | Path) -> Iterator[BinaryIO]:
    """A binary file object to write `path`'s new contents to; synced and renamed over `path`
    when the block succeeds, removed when it raises."""
    with _atomic(path) as (f, _):
        yield f


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """For writers that need a file name: the path of the (already created) temporary file,
    renamed over `path` when the block succeeds, removed when it raises. Prefer `atomic_file`."""
    with _atomic(path) as (_, tmp):
        yield tmp


def write_atomic(path: str | Path, data: bytes | str) -> Path:
    """Write `data` (str as UTF-8) to `path` atomically, synced to disk first."""
    with atomic_file(path) as f:
        f.write(data.encode() if isinstance(data, str) else data)
    return Path(path)
