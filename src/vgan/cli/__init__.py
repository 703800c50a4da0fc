"""The `vgan` command line: `parser` builds it, `commands` holds one handler a command, each a thin
layer over a documented function of the library; `main` runs one.
"""

from __future__ import annotations

import sys
from typing import List, Optional

from .._utils.errors import run
from .parser import build_parser

__all__ = ["build_parser", "main"]


def main(argv: Optional[List[str]] = None) -> int:
    """Run one command; bad input gives one line on stderr and status 2, a bug its traceback and 1.
    SIGTERM and Ctrl-C end it as cleanly as an error: no temporary file stays (`_utils.errors.run`)."""

    def work() -> None:
        args = build_parser().parse_args(argv)
        args.argv = sys.argv[1:] if argv is None else list(argv)  # for the command line of a --record
        args.func(args)

    return run(work)


if __name__ == "__main__":
    sys.exit(main())
