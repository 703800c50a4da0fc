"""Value checks as data: a predicate and the words for a good value, shared by the config table
(`config.CHECKS`), the command line's argument types and the evaluation functions' inputs.

    require(labels, at_least(100), "--labels", "use 100 or more")   # or a ConfigError, one line
"""

from __future__ import annotations

import argparse
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, List, NoReturn, Type

from .errors import ConfigError, VGANError


@dataclass(frozen=True)
class Check:
    test: Callable[[Any], bool]
    text: str  # completes "must be ...", e.g. "> 0"

    def __call__(self, value: Any) -> bool:
        try:
            return bool(self.test(value))
        except (TypeError, ValueError):
            return False


def finite(value: Any) -> bool:
    return not isinstance(value, float) or math.isfinite(value)


positive = Check(lambda v: v > 0, "> 0")
non_negative = Check(lambda v: v >= 0, ">= 0")


def at_least(n: int) -> Check:
    return Check(lambda v: v >= n, f">= {n}")


def open_interval(lo: float, hi: float) -> Check:
    return Check(lambda v: lo < v < hi, f"in ({lo}, {hi})")


def closed_interval(lo: float, hi: float) -> Check:
    return Check(lambda v: lo <= v <= hi, f"in [{lo}, {hi}]")


def half_open(lo: float, hi: float) -> Check:
    return Check(lambda v: lo <= v < hi, f"in [{lo}, {hi})")


def optional(check: Check) -> Check:
    return Check(lambda v: v is None or check(v), f"{check.text} or null")


def pair(check: Check) -> Check:
    return Check(lambda v: len(v) == 2 and all(check(x) for x in v), f"two numbers {check.text}")


def _plain_name(v: str) -> bool:
    seps = {os.sep, os.altsep or os.sep, "/", "\\", "\0"}
    return bool(v.strip()) and v not in (".", "..") and not any(s in v for s in seps)


plain_name = Check(_plain_name, "a plain folder name (not empty, '.' or '..'; no '/')")
path_text = Check(lambda v: bool(v) and "\0" not in v, "a non-empty path")


def require(value: Any, check: Check, what: str, fix: str, error: Type[VGANError] = ConfigError) -> Any:
    """`value` if it passes `check`, else a one-line `error`: "<what> must be <check>, got <value>; <fix>"."""
    if not check(value):
        raise error(f"{what} must be {check.text}, got {value!r}; {fix}")
    return value


# the command line's argument types: a bad value is a one-line usage error, exit status 2
SEED = closed_interval(0, 2**32 - 1)


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line, `vgan: error: ...`, exit status 2, as every error."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"vgan: error: {message}; see `{self.prog} --help`\n")


def number(check: Check, kind: type = int) -> Callable[[str], int]:
    """An argparse type: a number of `kind` that passes `check`, else a one-line usage error."""

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            value = None
        if value is None or not finite(value) or not check(value):
            word = "an integer" if kind is int else "a number"
            raise argparse.ArgumentTypeError(f"must be {word} {check.text}, got {text!r}")
        return value

    return parse


def seed_list(text: str) -> List[int]:
    """An argparse type: comma-separated seeds, e.g. 0,1,2."""
    try:
        seeds = [int(s) for s in text.split(",")]
    except ValueError:
        seeds = []
    if not seeds or not all(SEED(s) for s in seeds) or len(set(seeds)) != len(seeds):
        raise argparse.ArgumentTypeError(
            f"must be distinct comma-separated seeds {SEED.text}, e.g. 0,1,2; got {text!r}"
        )
    return seeds


def folder(text: str) -> str:
    """An argparse type: an existing folder (a mistyped --data-dir must not fall back to the cache)."""
    if not Path(text).is_dir():
        raise argparse.ArgumentTypeError(
            f"{text} is not a folder; pass the folder that holds your copy of the "
            "dataset, or leave --data-dir out to use the cache"
        )
    return text
