"""`python -m vgan.records render [--check] [--repo DIR]`: write (or check) the docs' tables."""

from __future__ import annotations

import sys
from typing import List, Optional

from .._utils.errors import VGANError
from .render import render_repo


def main(argv: Optional[List[str]] = None) -> int:
    """`python -m vgan.records render [--check] [--repo DIR]`: write (or check) the docs' tables."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m vgan.records", description=main.__doc__)
    sub = parser.add_subparsers(dest="action", required=True)
    p = sub.add_parser("render", help="render the marked blocks of README.md and docs/ from results/")
    p.add_argument("--check", action="store_true", help="change nothing; fail when a block differs from the records")
    p.add_argument("--repo", default=".", help="repository root (default: the current folder)")
    args = parser.parse_args(argv)
    try:
        stale = render_repo(args.repo, check=args.check)
    except VGANError as e:
        print(f"vgan: error: {e}", file=sys.stderr)
        return 2
    for path, names in stale.items():
        print(f"{'differs' if args.check else 'rendered'}: {path}: {', '.join(names)}")
    if args.check and stale:
        print("run `python -m vgan.records render` and commit the result", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
