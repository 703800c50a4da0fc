"""One writer per run directory, no new run over an old one, and no run file replaced by
anything but its run.

    check_run_dir(run_dir, resume)        # before any work; writes nothing
    with RunLock(run_dir, resume) as lock:  # before the first write, held until the run ends
        ...                               # lock.discard(): a new run that failed leaves nothing

The lock is an exclusive `flock` on RUN_DIR/.lock, which holds the holder's PID and host for
the message another process gets. The kernel drops a flock when its process dies, by kill -9
too, so a lock never goes stale and a resume after a crash is never blocked; the .lock file
itself stays (removing it would race with a process opening it).
"""

from __future__ import annotations

import fcntl
import os
import shutil
import socket
import stat
from pathlib import Path
from typing import List, Optional

from .._utils.atomic import MODE, remove_stale_temp_files
from .._utils.errors import CheckpointError, RunDirError, os_error

LOCK = ".lock"
RUN_FILES = ("config.yaml", "metrics.jsonl", "last.pt", "epoch_*.pt", "samples", "tb")  # a run is here if any is
FILES = ("config.yaml", "metrics.jsonl", "run.json", "last.pt", "epoch_*.pt", "curves.png", "samples/epoch_*.png")
FOLDERS = ("samples", "tb")  # FILES and FOLDERS: all that training writes, each a regular file or a folder
OWN_TEMP = (*(f".{name}." for name in ("config.yaml", "metrics.jsonl", "last.pt", "curves.png", "run.json")), ".epoch_")


def run_files(run_dir: Path) -> List[str]:
    """The names of the run files in `run_dir` (empty when it does not exist)."""
    if not run_dir.is_dir():
        return []
    return sorted({p.name for pattern in RUN_FILES for p in run_dir.glob(pattern)})


def kind(path: Path) -> Optional[str]:
    """What is at `path`: "link", "folder", "file" (a regular one), "special" (a device, pipe or
    socket), or None when nothing is (or it cannot be looked at: its reader says why)."""
    if path.is_symlink():
        return "link"
    try:
        mode = path.stat().st_mode
    except OSError:
        return None
    return "folder" if stat.S_ISDIR(mode) else "file" if stat.S_ISREG(mode) else "special"


def kind_problem(path: Path, folder: bool = False) -> Optional[str]:
    """What makes `path` unfit to be a run's file (`folder`: a run's folder); None when it is fit or absent."""
    found = kind(path)
    if found is None or found == ("folder" if folder else "file"):
        return None
    if found == "link":
        return f"{path} is a symbolic link; a run writes only its own files: move the link out of the run directory"
    if folder:
        return f"{path} is a file where the run keeps a folder; move it aside"
    what = "a folder" if found == "folder" else "not a regular file (a device, pipe or socket)"
    return f"{path} is {what} where the run keeps a file; move it aside"


def _wrong_kind(run_dir: Path) -> Optional[str]:
    for patterns, folder in ((FILES, False), (FOLDERS, True)):
        for pattern in patterns:
            for path in sorted(run_dir.glob(pattern)):
                problem = kind_problem(path, folder)
                if problem:
                    return problem
    return None


def run_file(run_dir: Path, name: str) -> Path:
    """RUN_DIR/name, a regular file that a reader may open, or a one-line CheckpointError that says why not."""
    path = Path(run_dir) / name
    problem = kind_problem(path)
    if problem:
        raise CheckpointError(problem)
    if not path.exists():
        raise CheckpointError(
            f"{run_dir} is not a run directory (no {name}); pass the directory that `vgan train` wrote, e.g. "
            "runs/mnist_vgan"
        )
    return path


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
    problem = _wrong_kind(run_dir) if run_dir.is_dir() else None
    if problem:
        raise RunDirError(problem)
    if found and not resume:
        raise RunDirError(
            f"{run_dir} already holds a run ({', '.join(found[:4])}); continue it with "
            f"`vgan train --resume {run_dir}` or pick another name="
        )


def check_run_dir(run_dir: Path, resume: bool) -> None:
    """Refuse, writing nothing, a run directory that another process trains in, a new run where
    a run's files already are, and run files that are symbolic links or of the wrong kind."""
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
        self.made, self.before = [], set()  # for discard(): the folders it made, what was there before

    def __enter__(self) -> RunLock:
        try:
            self.made = [p for p in (self.run_dir, *self.run_dir.parents) if not p.exists()]  # deepest first
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
            for folder, names in ((self.run_dir, OWN_TEMP), (self.run_dir / "samples", ("",))):
                remove_stale_temp_files(folder, names, age=0)  # a live writer (vgan plot) holds its lock
            self.before = set(os.listdir(self.run_dir))
        except BaseException:
            self.release()
            raise
        return self

    def discard(self) -> None:
        """Remove what this run added to its directory, and the folders it made for it (out_dir
        too), while the lock is still held: a new run that failed leaves nothing behind that would
        block its name, and no half run to resume."""
        for name in set(os.listdir(self.run_dir)) - self.before:
            path = self.run_dir / name
            shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink(missing_ok=True)
        if self.made:
            (self.run_dir / LOCK).unlink(missing_ok=True)  # still locked: no other process can be using it
        for folder in self.made:
            try:
                folder.rmdir()
            except OSError:  # something else appeared in it meanwhile: leave it
                break

    def release(self) -> None:
        if self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None

    def __exit__(self, *exc) -> None:
        self.release()
