"""The `vgan` command line: `parser` builds it, `commands` holds one handler a command, each a thin
layer over a documented function of the library; `main` runs one.
"""

from __future__ import annotations

import signal
import sys
import traceback
from typing import List, Optional

from .._utils.errors import Terminated, VGANError, expected, one_line, sigterm_raises
from .parser import build_parser

__all__ = ["build_parser", "main"]


def main(argv: Optional[List[str]] = None) -> int:
    """Run one command; bad input gives one line on stderr and status 2, a bug its traceback and 1.
    SIGTERM and Ctrl-C end it as cleanly as an error: no temporary file stays."""
    try:
        args = build_parser().parse_args(argv)
        args.argv = sys.argv[1:] if argv is None else list(argv)  # for the command line of a --record
    except SystemExit as e:  # --help (0), or a usage error already printed as one line
        if not e.code:
            raise
        return e.code if isinstance(e.code, int) else 2
    try:
        with sigterm_raises():
            args.func(args)
    except VGANError as e:
        print(f"vgan: error: {one_line(e)}", file=sys.stderr)
        return 2
    except NotImplementedError as e:
        print(f"vgan: error: not implemented yet: {one_line(e)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as e:
        how = "terminated" if isinstance(e, Terminated) else "interrupted"
        print(f"vgan: {how}; continue a training run with `vgan train --resume RUN_DIR`", file=sys.stderr)
        return 128 + signal.SIGTERM if isinstance(e, Terminated) else 130
    except Exception as e:
        message = expected(e)
        if message:
            print(f"vgan: error: {one_line(message)}", file=sys.stderr)
            return 2
        traceback.print_exc()
        print(
            "vgan: internal error: this is a bug in vgan, not a problem with your input; please report it with "
            "the command line and the traceback above",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
