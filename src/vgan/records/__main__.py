"""`python -m vgan.records render [--check] [--repo DIR]`: write (or check) the docs' tables."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import List, Optional

from .._utils.checks import Parser
from .._utils.errors import run
from .record import ROOT
from .render import render_repo


def repository(text: str) -> Path:
    """An argparse type: a folder that holds README.md, results/ and docs/."""
    path = Path(text)
    if not (path / ROOT).is_dir():
        raise argparse.ArgumentTypeError(f"{text} holds no {ROOT}/ folder; name the repository's root")
    return path


def main(argv: Optional[List[str]] = None) -> int:
    """`python -m vgan.records render [--check] [--repo DIR]`: write (or check) the docs' tables;
    exit status 1 when --check finds a block that differs, 2 for an error (one line)."""

    def work() -> int:
        parser = Parser(prog="python -m vgan.records", description=main.__doc__.split("\n")[0])
        sub = parser.add_subparsers(dest="action", required=True)
        p = sub.add_parser("render", help="render the marked blocks of README.md and docs/ from results/")
        p.add_argument(
            "--check", action="store_true", help="change nothing; fail when a block differs from the records"
        )
        p.add_argument("--repo", type=repository, default=".", help="repository root (default: the current folder)")
        args = parser.parse_args(argv)
        stale = render_repo(args.repo, check=args.check)
        for path, names in stale.items():
            print(f"{'differs' if args.check else 'rendered'}: {path}: {', '.join(names)}")
        if args.check and stale:
            print("run `python -m vgan.records render` and commit the result", file=sys.stderr)
            return 1
        return 0

    return run(work, prog="vgan.records")


if __name__ == "__main__":
    sys.exit(main())
