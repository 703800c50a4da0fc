"""Value checks as data: a predicate and the words for a good value, shared by the config table
(`config.keys.CHECKS`), the command line's argument types and the evaluation functions' inputs.

    require(labels, at_least(100), "--labels", "use 100 or more")   # or a ConfigError, one line
"""

from __future__ import annotations

import argparse
import math
import os
import re
import typing
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, List, NoReturn, Type

from .errors import ConfigError, VGANError, shown


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


def at_most(n: int) -> Check:
    return Check(lambda v: v <= n, f"<= {n}")


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


def one_line_text(v: str) -> bool:
    """No control characters, line breaks or lone surrogates (undecodable bytes): text that prints
    as one line and names a file on every system."""
    return not any(unicodedata.category(c) in ("Cc", "Cs", "Zl", "Zp") for c in v)


def _plain_name(v: str) -> bool:
    seps = {os.sep, os.altsep or os.sep, "/", "\\", "\0"}
    plain = bool(v.strip()) and v not in (".", "..") and not any(s in v for s in seps)
    return plain and one_line_text(v) and len(v.encode(errors="surrogateescape")) <= 255


plain_name = Check(_plain_name, "a plain folder name (not empty, '.' or '..'; no '/'; at most 255 bytes)")
file_name = Check(_plain_name, "a file name inside the folder (no '/')")
path_text = Check(lambda v: bool(v.strip()) and one_line_text(v), "a non-empty path")


def require(value: Any, check: Check, what: str, fix: str, error: Type[VGANError] = ConfigError) -> Any:
    """`value` if it passes `check`, else a one-line `error`: "<what> must be <check>, got <value>; <fix>"."""
    if not check(value):
        raise error(f"{what} must be {check.text}, got {shown(value)}; {fix}")
    return value


INT64 = 2**63 - 1  # no int beyond what torch's sizes and counts hold


# ---- a config value's type (vgan.config.validate runs it on every key) ----------------------------------
NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+")  # 1e-3: YAML 1.1 reads it as text
FLOAT32_MAX = 3.4028234663852886e38  # floats reach the networks' float32 arithmetic (lr as a step's alpha)
FLOAT32_TINY = 1.1754943508222875e-38  # its smallest normal number: below it, eps and clips become 0


def _type_error(key: str, value: Any, hint: Any) -> ConfigError:
    scalar = not isinstance(value, (list, tuple, dict, set, bytes, type(None)))
    fix = (
        f"quote it, e.g. {key}='{str(value)[:40]}', if you mean the text (YAML reads it as {type(value).__name__})"
        if hint is str and scalar
        else "fix the value in the config or override"
    )
    return ConfigError(
        f"config key '{key}' must be {hint.__name__}, got {shown(value)} ({type(value).__name__}); {fix}"
    )


def check_type(key: str, value: Any, hint: Any) -> Any:
    """`value` of config key `key`, converted to the type `hint` (a config annotation), or a one-line
    ConfigError. Beyond the type: floats are finite and within float32's range, ints within int64's,
    text is one line."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Union:  # Optional[X]
        if value is None:
            return None
        return check_type(key, value, args[0])
    if origin in (list, List):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"config key '{key}' must be a list, got {shown(value)}; write e.g. {key}=[0.5,0.999]")
        return [check_type(key, v, args[0]) for v in value]
    if hint is float and isinstance(value, str) and NUMBER.fullmatch(value.strip()):
        value = float(value)
    ok = {
        bool: isinstance(value, bool),
        int: isinstance(value, int) and not isinstance(value, bool),
        float: isinstance(value, (int, float)) and not isinstance(value, bool),
        str: isinstance(value, str),
    }[hint]
    if not ok:
        raise _type_error(key, value, hint)
    fix = "fix the value in the config or override"
    if hint is float and not (finite(value) and (value == 0 or FLOAT32_TINY <= abs(value) <= FLOAT32_MAX)):
        raise ConfigError(
            f"config key '{key}' must be a finite number, 0 or of magnitude in [{FLOAT32_TINY:.4g}, "
            f"{FLOAT32_MAX:.4g}] (float32's normal range), got {shown(value)}; {fix}"
        )
    if hint is int and abs(value) > INT64:
        raise ConfigError(f"config key '{key}' must fit in 64 bits (at most {INT64}), got {shown(value)}; {fix}")
    if hint is str and not one_line_text(value):
        raise ConfigError(
            f"config key '{key}' must be one line of text, got {shown(value)} (a control character or line "
            f"break); {fix}"
        )
    return float(value) if hint is float else value


# the command line's argument types: a bad value is a one-line usage error, exit status 2
SEED = closed_interval(0, 2**32 - 1)
MAX_IMAGES = 10_000  # a figure's images: a validation split's worth
MAX_STEPS = 1_000  # rows of a chain
MAX_SAMPLES = 1_000_000  # what `evaluate --n` draws
MAX_SEEDS = 100  # seeds of a Table 2 row


def _given_once(action: argparse.Action, namespace: argparse.Namespace, values: Any, option: Any) -> None:
    """Refuse an option given twice (argparse keeps the last in silence) and an empty value (which
    would stand for the default in silence)."""
    given = namespace.__dict__.setdefault("_given", set())
    if option and action.dest in given:
        raise argparse.ArgumentError(action, "given twice; give it once")
    given.add(action.dest)
    if isinstance(values, str) and not values.strip():
        raise argparse.ArgumentError(action, "is empty; give a value or leave it out")


class _Store(argparse._StoreAction):
    def __call__(self, parser, namespace, values, option_string=None):
        _given_once(self, namespace, values, option_string)
        super().__call__(parser, namespace, values, option_string)


class _StoreTrue(argparse._StoreTrueAction):
    def __call__(self, parser, namespace, values, option_string=None):
        _given_once(self, namespace, values, option_string)
        super().__call__(parser, namespace, values, option_string)


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line, `vgan: error: ...`, exit status 2, as every error;
    an option given twice and an empty value are usage errors."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name, action in ((None, _Store), ("store", _Store), ("store_true", _StoreTrue)):
            self.register("action", name, action)

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"vgan: error: {' '.join(message.split())}; see `{self.prog} --help`\n")


def number(check: Check, kind: type = int) -> Callable[[str], int]:
    """An argparse type: a number of `kind` that passes `check`, else a one-line usage error."""

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            value = None
        if value is None or not finite(value) or abs(value) > INT64 or not check(value):
            word = "an integer" if kind is int else "a number"
            raise argparse.ArgumentTypeError(f"must be {word} {check.text}, got {shown(text)}")
        return value

    return parse


def names(text: str) -> List[str]:
    """An argparse type: comma-separated names, none empty, none twice, e.g. fid,ood."""
    items = [s.strip() for s in text.split(",")]
    if not all(items) or len(set(items)) != len(items):
        raise argparse.ArgumentTypeError(f"must be distinct comma-separated names, e.g. fid,ood; got {shown(text)}")
    return items


def seed_list(text: str) -> List[int]:
    """An argparse type: comma-separated seeds, e.g. 0,1,2."""
    try:
        seeds = [int(s) for s in text.split(",")]
    except ValueError:
        seeds = []
    if not seeds or not all(SEED(s) for s in seeds) or len(set(seeds)) != len(seeds):
        raise argparse.ArgumentTypeError(
            f"must be distinct comma-separated seeds {SEED.text}, e.g. 0,1,2; got {shown(text)}"
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
