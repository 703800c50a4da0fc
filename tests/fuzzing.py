"""Helpers of the fuzz harness (test_fuzz.py): hostile values derived from the config's declared
tables, generated YAML, and `run_cli`, which runs one command and checks the harness's properties."""

import io
import math
import os
import re
import resource
import shutil
import signal
import tempfile
import typing
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from pathlib import Path

import yaml
from hypothesis import strategies as st

from badinput import cache_listing, snapshot
from vgan._utils.checks import Check, check_type
from vgan._utils.errors import ConfigError
from vgan.cli import main
from vgan.config import Config
from vgan.config.keys import CHECKS, CHOICES

HINTS = typing.get_type_hints(Config)
SECONDS = 60  # a command that takes longer fails the harness (a hang, an unbounded loop)
MAX_RSS = 4 << 20  # KiB (ru_maxrss): 4 GiB, far above what any tiny command needs
MAX_LINE = 700  # characters of the one error line

# ---- values -------------------------------------------------------------------------------------
FLOAT_EDGES = [0.0, -0.0, 5e-324, 1e-310, 1e-45, 1.1754943508222875e-38, 1e-300, 0.5, 1.0, -1.0]
FLOAT_EDGES += [3.4028234663852886e38, 3.5e38, 1e300, 1.7976931348623157e308, math.inf, -math.inf, math.nan]
INT_EDGES = [0, 1, 2, 3, -1, 2**20 + 1, 2**31, 2**32, 2**63 - 1, 2**63, 2**64, -(2**63) - 1, 10**30]
WEIRD_TEXT = ["", " ", "~", "~/x", ".", "..", "../x", "/", "a/b", "a\nb", "\x00", "\t", "\u2028", "é", "\ud800"]
WEIRD_TEXT += ["x" * 300, "null", "yes", "1e-3", "[1]", "{a: 1}", "*a", "&a x", "!!python/object:os.system", "--x"]
TEXT = st.text(st.characters(exclude_categories=()), max_size=30)  # surrogates and control characters too
NOT_INTS = [st.sampled_from(FLOAT_EDGES), st.floats(allow_nan=True, allow_infinity=True), st.booleans(), st.none()]
NOT_INTS += [st.sampled_from(WEIRD_TEXT), TEXT]
SCALARS = st.one_of(*NOT_INTS, st.sampled_from(INT_EDGES), st.integers())
SMALL_SCALARS = st.one_of(*NOT_INTS, st.integers(-64, 64))  # an accepted value makes a tiny run
ANY = st.recursive(SCALARS, lambda v: st.lists(v, max_size=3) | st.dictionaries(TEXT, v, max_size=2), max_leaves=6)


def edges(check: Check) -> list:
    """The numbers a check's text names (e.g. "in [1, 1048576]"), each with its neighbours: its edges."""
    numbers = [float(x) for x in re.findall(r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?", check.text)]
    near = [v for x in numbers for v in (x, x - 1, x + 1, math.nextafter(x, -math.inf), math.nextafter(x, math.inf))]
    return near + [int(v) for v in near if math.isfinite(v)]


def values(key: str, small: bool = False) -> st.SearchStrategy:
    """Values for config key `key`, derived from its declared type, choices and check (so a key added
    later is fuzzed too): its edges, its type's edges, and values of every other type. `small`: ints
    in [-64, 64] only, so that an accepted value makes a tiny run."""
    hint = HINTS[key]
    args = typing.get_args(hint)
    base = args[0] if typing.get_origin(hint) is typing.Union else hint
    own = [st.none()] if type(None) in args else []
    if key in CHOICES:
        own.append(st.sampled_from(CHOICES[key]))
    if key in CHECKS and small:
        own.append(st.sampled_from([v for v in edges(CHECKS[key]) if abs(v) <= 64] or [0]))
    if base is float:
        own += [st.sampled_from(FLOAT_EDGES), st.floats(allow_nan=True, allow_infinity=True, allow_subnormal=True)]
    elif base is int:
        own.append(st.integers(-64, 64) if small else st.one_of(st.sampled_from(INT_EDGES), st.integers()))
    elif base is bool:
        own.append(st.booleans())
    elif base is str:
        own += [st.sampled_from(WEIRD_TEXT), TEXT]
    elif typing.get_origin(base) is list:
        own.append(st.lists(st.one_of(st.sampled_from(FLOAT_EDGES), st.floats(0, 1)), max_size=3))
    if key in CHECKS and not small:
        own.append(st.sampled_from(edges(CHECKS[key]) or [0]))
    return st.one_of(st.one_of(*own), SMALL_SCALARS if small else ANY)  # half of the draws of its own type


def accepted(key: str, value) -> bool:
    """Whether `value` passes key `key`'s own type, choice and check (not the rules between keys)."""
    try:
        value = check_type(key, value, HINTS[key])
    except ConfigError:
        return False
    return value in CHOICES.get(key, (value,)) and (key not in CHECKS or CHECKS[key](value))


PLAIN = [True, False, None, 1, 2, 3, 8, 16, 64, 0.0, 1e-3, 0.1, 0.5, 0.999, 1.0, 2.0, [0.5, 0.9], [0.0, 0.5], "x"]


def valid_values(key: str) -> st.SearchStrategy:
    """Values that key `key` accepts on its own, small ones (a tiny run): its default, its choices, its
    check's edges and plain values that pass. What makes a generated run train."""
    edge = edges(CHECKS[key]) if key in CHECKS else []
    pool = [getattr(Config(), key), *CHOICES.get(key, ()), *[v for v in edge if abs(v) <= 64], *PLAIN]
    return st.sampled_from([v for v in pool if accepted(key, v)])


def override(key: str, value) -> str:
    """`key=value` with the value as YAML flow text (as a user would type it)."""
    if isinstance(value, str):
        return f"{key}={value}"
    text = yaml.safe_dump(value, default_flow_style=True, allow_unicode=True).strip()
    return f"{key}={text.removesuffix('...').strip()}"


# ---- YAML -----------------------------------------------------------------------------------------
KEYS = st.one_of(st.sampled_from(sorted(HINTS) + ["base"]), st.sampled_from(WEIRD_TEXT), TEXT)
YAML_SCALARS = st.one_of(
    st.sampled_from(["~", "null", ".nan", "-.inf", "1e400", "0x1F", "0o17", "1_000", "yes", "2001-12-14", "''", '""']),
    st.sampled_from(["!!str 1", "!!binary aGk=", "!!float x", "!!set {a}", "!foo x", "!!python/name:os.system"]),
    st.sampled_from(["|\n  x", "'a\n\n  b'", '"\\x00"', '"\\ud800"', "&x 1", "*x", "? x", "- a"]),
    SCALARS.map(lambda v: yaml.safe_dump(v, default_flow_style=True).removesuffix("...\n").strip()),
)


@st.composite
def yaml_text(draw) -> str:
    """A YAML document as a user might write it, or break it: mappings and lists nested up to 12
    deep, flow and block style, anchors and aliases, tags, keys given twice, comments and noise."""

    def node(depth: int) -> str:
        kind = draw(st.sampled_from(["scalar", "list", "map", "alias"] if depth < 12 else ["scalar"]))
        anchor = f"&a{depth} " if draw(st.booleans()) and depth else ""
        if kind == "scalar":
            return anchor + draw(YAML_SCALARS)
        if kind == "alias":
            return f"*a{draw(st.integers(0, depth))}"
        items = [node(depth + 1) for _ in range(draw(st.integers(0, 3)))]
        if kind == "list":
            return anchor + "[" + ", ".join(items) + "]"
        return anchor + "{" + ", ".join(f"{yaml.safe_dump(draw(KEYS)).strip()}: {v}" for v in items) + "}"

    lines = [f"{yaml.safe_dump(draw(KEYS)).strip()}: {node(1)}" for _ in range(draw(st.integers(0, 5)))]
    noise = draw(st.sampled_from(["", "# comment", "---", "\t", "...", "%YAML 1.1", "? [a]", "- 1", "\ufeff"]))
    lines.insert(draw(st.integers(0, len(lines))), noise)
    return "\n".join(lines) + "\n"


# ---- one command, and the properties ---------------------------------------------------------------
class TookTooLong(BaseException):
    """Raised by the alarm: not an Exception, so that vgan's error handling cannot swallow it."""


@contextmanager
def time_limit(seconds: float):
    def alarm(signum, frame):
        raise TookTooLong(f"the command ran for more than {seconds} s")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _changed(before: dict, after: dict) -> set:
    return {k for k in before.keys() | after.keys() if before.get(k) != after.get(k) and Path(k).name != ".lock"}


def _related(path: str, allowed: list) -> bool:
    """Whether `path` is one of `allowed`, inside one, or a folder that holds one."""
    return any((a + os.sep).startswith(path + os.sep) or path.startswith(a + os.sep) for a in allowed)


def _temp_files(root: Path) -> list:
    return [str(p) for p in root.rglob("*") if p.name.startswith(".") and p.name.endswith(".tmp")]


def run_cli(root: Path, argv: list, may_change=()) -> tuple:
    """Run `vgan ARGV` in `root` (the working folder) and check the harness's properties: exit status 0,
    or 2 with one short line `vgan: error: ...` (after vgan's own notes, if any); no traceback; within
    SECONDS and MAX_RSS; on exit 2 no file changed, on exit 0 only the files under `may_change` (paths
    relative to `root`, or a callable of stdout that gives them; on exit 2 too when training ran and
    then failed past a checkpoint); no temporary file left anywhere in
    `root`, no dry-run folder left by a failure, the data cache unchanged. Returns (status, stdout, stderr)."""
    cwd, tmp = os.getcwd(), tempfile.tempdir
    scratch = tempfile.mkdtemp(prefix="vgan-fuzz-tmp-")  # the command's own temporary folders (--dry-run)
    os.chdir(root)
    tempfile.tempdir = scratch
    try:
        with time_limit(SECONDS):
            return _run_cli(root, argv, may_change, Path(scratch))
    finally:
        os.chdir(cwd)
        tempfile.tempdir = tmp
        shutil.rmtree(scratch)


def _run_cli(root: Path, argv: list, may_change, scratch: Path) -> tuple:
    before, cache = snapshot(root), cache_listing()
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main([str(a) for a in argv])
    if code in (130, 143):  # Ctrl-C or SIGTERM reached the command: the harness itself is being stopped
        raise KeyboardInterrupt
    text = err.getvalue()
    context = f"vgan {' '.join(map(repr, argv))}\n{text}"
    assert code in (0, 2) and "Traceback" not in text, context
    if code == 2:  # one line `vgan: error: ...`, after vgan's own notes, if any (e.g. "fetching it into ...")
        *notes, last = text.splitlines()
        assert last.startswith("vgan: error: ") and len(last) <= MAX_LINE and text.endswith("\n"), context
        assert all(n.startswith("vgan: ") and not n.startswith("vgan: error") for n in notes), context
    allowed = may_change(out.getvalue()) if callable(may_change) else may_change
    trained = "a loss became NaN or inf" in text and "the last good checkpoint" in text  # it ran, then failed
    allowed = [os.path.relpath(os.path.abspath(p), root) for p in allowed] if code == 0 or trained else []
    after = snapshot(root)
    changed = {c for c in _changed(before, after) if not (after.get(c) == "dir" and c not in before)}  # new folders
    assert all(any(c == a or c.startswith(a + os.sep) for a in allowed) for c in changed), (context, changed, allowed)
    made = [c for c in after if c not in before and after[c] == "dir" and not _related(c, allowed)]
    assert not made, (context, "folders made outside the command's purpose", made)
    assert not _temp_files(root), (context, _temp_files(root))
    assert cache_listing() == cache, (context, "the data cache changed")
    left = list(scratch.glob("vgan-*"))
    assert code == 0 or not left, (context, "a failed command left", left)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss < MAX_RSS, context
    return code, out.getvalue(), text
