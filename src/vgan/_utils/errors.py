"""User-facing errors. Each message is one line: the problem, then the fix."""

from __future__ import annotations

import errno
import reprlib
import signal
import sys
import traceback
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Optional

import torch

_REPR = reprlib.Repr()  # bounded: a value of any size or depth shows in a few dozen characters
_REPR.maxstring = _REPR.maxother = 60
_REPR.maxlist = _REPR.maxtuple = _REPR.maxdict = _REPR.maxset = 6
_REPR.maxlevel = 3
MAX_MESSAGE = 600  # characters of one error line


def shown(value: Any) -> str:
    """`repr(value)` for a message, bounded in length and in the work it takes: a YAML alias bomb or
    a value nested a thousand deep shows as a short prefix, never as its expansion."""
    return _REPR.repr(value)


def one_line(text: str, limit: int = MAX_MESSAGE) -> str:
    """`text` as one line of at most `limit` characters: whitespace runs (newlines too) become one
    space, and an overlong middle is cut, so that the problem (the start) and the fix (the end) stay."""
    text = " ".join(str(text).split())
    if len(text) <= limit:
        return text
    half = (limit - 5) // 2
    return f"{text[:half]} ... {text[-half:]}"


class VGANError(Exception):
    """Base class; the CLI prints these as one line and exits with status 2."""


class ConfigError(VGANError):
    """An unknown config key, a wrong value type or an invalid value."""


class DataError(VGANError):
    """A missing, corrupt or truncated dataset file."""


class CheckpointError(VGANError):
    """A missing, truncated or foreign checkpoint."""


class TrainingError(VGANError):
    """Training cannot go on, e.g. a loss became NaN or inf."""


class RunDirError(VGANError):
    """A run directory or output file that cannot be used: in use, not writable, a file, ..."""


_FIXES = {  # errno -> what to do about it
    errno.ENOSPC: "free some disk space and run again (a training run continues with `vgan train --resume RUN_DIR`)",
    errno.EDQUOT: "free some of your disk quota and run again",
    errno.EACCES: "make it writable or choose another path",
    errno.EPERM: "make it writable or choose another path",
    errno.EROFS: "the file system is read-only; choose another path",
    errno.EISDIR: "it is a folder; name a file",
    errno.ENOTDIR: "a part of the path is a file, not a folder; choose another path",
    errno.EEXIST: "a part of the path is a file, not a folder; choose another path",
    errno.ELOOP: "it is a symbolic link; vgan does not write through links: choose another path",
    errno.ENAMETOOLONG: "choose a shorter path",
}


def os_error(e: OSError, doing: str) -> RunDirError:
    """A one-line RunDirError for an OSError met while `doing` (e.g. "write runs/a/last.pt")."""
    fix = _FIXES.get(e.errno, "check the path and its permissions")
    reason = e.strerror or type(e).__name__
    return RunDirError(f"cannot {doing} ({reason}); {fix}")


OUT_OF_MEMORY = (MemoryError, getattr(torch, "OutOfMemoryError", torch.cuda.OutOfMemoryError))


def expected(e: Exception) -> Optional[str]:
    """The one-line message for an exception that bad input or the machine causes, not a bug;
    None for the rest. Most are converted into VGANErrors where they arise; these are the
    classes that can arise anywhere."""
    if isinstance(e, OUT_OF_MEMORY) or (isinstance(e, RuntimeError) and "can't allocate memory" in str(e)):
        first = str(e).strip().splitlines()[0][:160] if str(e).strip() else type(e).__name__
        return (
            f"out of memory ({first}); lower batch_size or the network sizes (hidden, channels, ...), "
            "or use a machine with more memory"
        )
    if isinstance(e, OSError) and e.filename is not None:  # a path the user gave: unreadable, a folder, ...
        return str(os_error(e, f"use {e.filename}"))
    return None


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the process is, so that every `finally` (temporary files, locks) runs."""


@contextmanager
def sigterm_raises() -> Iterator[None]:
    """Within the block, SIGTERM raises Terminated (as Ctrl-C raises KeyboardInterrupt)."""

    def handler(signum, frame):
        raise Terminated()

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run(work: Callable[[], Optional[int]], prog: str = "vgan") -> int:
    """Call `work` (argument parsing included, when it parses) and turn how it ended into an exit
    status: its own (None: 0); 2 for a usage error or a VGANError (one line on stderr); 130 for
    Ctrl-C and 143 for SIGTERM (every `finally` ran: no temporary file stays); 1 and the traceback
    for a bug."""
    try:
        with sigterm_raises():
            status = work()
    except SystemExit as e:  # argparse: --help (0, raised on), or a usage error already printed as one line
        if not e.code:
            raise
        return e.code if isinstance(e.code, int) else 2
    except VGANError as e:
        print(f"{prog}: error: {one_line(e)}", file=sys.stderr)
        return 2
    except NotImplementedError as e:
        print(f"{prog}: error: not implemented yet: {one_line(e)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as e:
        how = "terminated" if isinstance(e, Terminated) else "interrupted"
        hint = "; continue a training run with `vgan train --resume RUN_DIR`" if prog == "vgan" else ""
        print(f"{prog}: {how}{hint}", file=sys.stderr)
        return 128 + signal.SIGTERM if isinstance(e, Terminated) else 130
    except Exception as e:
        message = expected(e)
        if message:
            print(f"{prog}: error: {one_line(message)}", file=sys.stderr)
            return 2
        traceback.print_exc()
        print(
            f"{prog}: internal error: this is a bug in vgan, not a problem with your input; please report it with "
            "the command line and the traceback above",
            file=sys.stderr,
        )
        return 1
    return status or 0
