"""What the `vgan` command, the scripts in benchmarks/ and the records renderer share: `run`, which
gives vgan's errors one line and exit status 2, an interrupt 130, a termination 143 and a bug its
traceback and status 1; and argparse types that check an argument before any work starts: counts
with bounds (`count`) and outputs (`output`, `output_dir`, through vgan.runs.outputs).

    def main(argv=None) -> int:
        parser = Parser(prog="python benchmarks/x.py")
        parser.add_argument("--iters", type=count(1, 10_000), default=20)
        parser.add_argument("--record", type=output(".json"))
        return run(lambda: work(parser.parse_args(argv)))
"""

from __future__ import annotations

import argparse
from typing import Callable, Optional

from .._utils.checks import Parser, closed_interval, number
from .._utils.errors import VGANError, run
from ..runs.outputs import check_output, check_output_dir

__all__ = ["RECORD", "Parser", "count", "output", "output_dir", "run"]

RECORD = "also write the figures as a record (vgan.records)"  # the help of a script's --record


def _type(check: Callable[[str], object]) -> Callable[[str], object]:
    def parse(text: str):
        try:
            return check(text)
        except VGANError as e:
            raise argparse.ArgumentTypeError(str(e)) from None

    return parse


def output(suffix: str, default: Optional[str] = None) -> Callable[[str], object]:
    """An argparse type: a file to write, checked (vgan.runs.outputs.check_output) when parsed;
    argparse names the option in its message."""
    return _type(lambda text: check_output(text, suffix=suffix, what="", default=default))


def output_dir() -> Callable[[str], object]:
    """An argparse type: a folder to write into, checked (vgan.runs.outputs.check_output_dir) when parsed."""
    return _type(lambda text: check_output_dir(text, what=""))


def count(lo: int, hi: int) -> Callable[[str], int]:
    """An argparse type: an integer in [lo, hi] (every count that drives a loop has a bound)."""
    return number(closed_interval(lo, hi))
