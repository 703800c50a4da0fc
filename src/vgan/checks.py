"""Value checks as data: a predicate and the words for a good value, shared by the config table
(`config.CHECKS`), the command line's argument types and the evaluation functions' inputs.

    require(labels, at_least(100), "--labels", "use 100 or more")   # or a ConfigError, one line
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any, Callable, Type

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
