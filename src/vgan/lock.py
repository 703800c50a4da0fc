"""One writer per run directory, and no new run over an old one.

    check_run_dir(run_dir, resume)        # before any work; writes nothing
    with RunLock(run_dir, resume):        # before the first write, held until the run ends
        ...

The lock is an exclusive `flock` on RUN_DIR/.lock, which holds the holder's PID and host for
the message another process gets. The kernel drops a flock when its process dies, by kill -9
too, so a lock never goes stale and a resume after a crash is never blocked; the .lock file
itself stays (removing it would race with a process opening it).
"""

from __future__ import annotations

import fcntl
import os
import socket
from pathlib import Path
from typing import List, Optional

from .atomic import MODE, temp_files
from .errors import RunDirError, os_error

LOCK = ".lock"
RUN_FILES = ("config.yaml", "metrics.jsonl", "last.pt", "epoch_*.pt", "samples", "tb")  # what a run writes
OWN_TEMP = (*(f".{name}." for name in ("config.yaml", "metrics.jsonl", "last.pt", "curves.png", "run.json")), ".epoch_")


def run_files(run_dir: Path) -> List[str]:
    """The names of the run files in `run_dir` (empty when it does not exist)."""
    if not run_dir.is_dir():
        return []
    return sorted({p.name for pattern in RUN_FILES for p in run_dir.glob(pattern)})


def _describe(fd: int) -> str:
    text = os.pread(fd, 200, 0).decode(errors="replace").strip()
    return text or "another process"


def holder(run_dir: Path) -> Optional[str]:
    """ "pid N on HOST" of the process that holds run_dir's lock, or None when it is free."""
    try:
        fd = os.open(run_dir / LOCK, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:  # no lock file, or one that RunLock will report
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return _describe(fd)
    except OSError:
        return None
    finally:
        os.close(fd)  # also drops the shared lock just taken
    return None


def _busy(run_dir: Path, who: str) -> RunDirError:
    return RunDirError(
        f"{run_dir} is in use by another vgan train ({who}); wait for it to end, or train a new run with another name="
    )


def _check_files(run_dir: Path, resume: bool) -> None:
    if run_dir.exists() and not run_dir.is_dir():
        raise RunDirError(f"{run_dir} is a file, not a run directory; choose another out_dir= or name=")
    found = run_files(run_dir)
    links = [name for name in found if (run_dir / name).is_symlink()]
    if links:
        raise RunDirError(
            f"{run_dir / links[0]} is a symbolic link; a run writes only its own files: move the "
            "link out of the run directory"
        )
    if found and not resume:
        raise RunDirError(
            f"{run_dir} already holds a run ({', '.join(found[:4])}); continue it with "
            f"`vgan train --resume {run_dir}` or pick another name="
        )


def check_run_dir(run_dir: Path, resume: bool) -> None:
    """Refuse, writing nothing, a run directory that another process trains in, a new run where
    a run's files already are, and run files that are symbolic links."""
    who = holder(run_dir)
    if who:
        raise _busy(run_dir, who)
    _check_files(run_dir, resume)


class RunLock:
    """The exclusive lock on a run directory, as a context manager; checks the directory again
    once it is held (two new runs started together) and removes temporary files that a killed
    writer left."""

    def __init__(self, run_dir: Path, resume: bool):
        self.run_dir, self.resume, self.fd = Path(run_dir), resume, None

    def __enter__(self) -> RunLock:
        try:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.run_dir / LOCK, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, MODE)
        except OSError as e:
            raise os_error(e, f"use {self.run_dir} as a run directory") from e
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            who = _describe(fd)
            os.close(fd)
            raise _busy(self.run_dir, who) from None
        except OSError as e:
            os.close(fd)
            raise os_error(e, f"lock {self.run_dir / LOCK}") from e
        self.fd = fd
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()}\n".encode(), 0)
            _check_files(self.run_dir, self.resume)
            stale = [p for p in temp_files(self.run_dir) if p.name.startswith(OWN_TEMP)]
            for path in stale + temp_files(self.run_dir / "samples"):
                path.unlink(missing_ok=True)
        except BaseException:
            self.release()
            raise
        return self

    def release(self) -> None:
        if self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None

    def __exit__(self, *exc) -> None:
        self.release()
