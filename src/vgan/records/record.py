"""Records: the small JSON files that hold every number the documentation shows.

A command that measures (`vgan evaluate`, `probe`, `augment`, `reproduce`, the scripts in
benchmarks/) writes one with `--record PATH`; the records behind the docs are committed under
`results/TOPIC/NAME.json`, and `python -m vgan.records render` writes the docs' tables from
them (vgan.records.render). A record says what was measured, how, where and at what scale:

    {"schema": 1, "kind": "evaluate", "command": "vgan evaluate runs/toy25_vgan",
     "date": "2026-11-30", "scale": "MLP networks, k = 3, 10 epochs; 2,500 samples",
     "machine": {"cpu": "AMD EPYC", "threads": 1, "torch": "2.13.0+cpu", "device": "cpu", ...},
     "config_hash": "bb007edc2efbd043", "config": {"name": "toy25_vgan", "dataset": "25gaussians", ...},
     "values": {"modes_covered": 24.0, "high_quality_pct": 27.08, ...}}

`config` lists the keys that say what the model is and those that differ from vgan.Config's
defaults; `config_hash` is the first 16 hex digits of the SHA-256 of the whole resolved config as
canonical JSON (less its name and paths), so two records of the same model share it. `values` is
flat: nested results are joined with dots (`per_seed` lists become `<key>.seed<N>`). Records
copied from an older measurement log carry `"source": "transcribed from the measurement log"`.

    rec = make_record("probe", {"test_error_pct": 58.9}, command="vgan probe runs/x", scale="cpu", run_dir="runs/x")
    write_record(rec, "results/table1/x.json")
    load_records()["table1/x"]["values"]["test_error_pct"]    # 58.9
"""

from __future__ import annotations

import datetime
import hashlib
import json
import math
import re
import shlex
import statistics
import sys
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional

from .._utils.atomic import write_atomic
from .._utils.errors import VGANError

SCHEMA = 1
ROOT = "results"
FIELDS = ("schema", "kind", "command", "date", "scale", "machine", "config_hash", "config", "values")
OPTIONAL = ("notes", "source")
DATE = re.compile(r"\d{4}-\d{2}-\d{2}$")


class RecordError(VGANError):
    """A record that is not valid: unreadable, a field missing or of the wrong type."""


WHERE = ("out_dir", "data_dir")  # where a run and its data lie, not what it is: left out of hash and summary
UNHASHED = ("name",)  # what a run is called: in the summary, not in the hash


def _config_dict(config: Any) -> Dict[str, Any]:
    values = config.to_dict() if hasattr(config, "to_dict") else dict(config)
    return {k: v for k, v in values.items() if k not in WHERE}


def config_hash(config: Any) -> Optional[str]:
    """First 16 hex digits of the SHA-256 of a resolved config (a vgan.Config or its dict, less
    `name`, `out_dir` and `data_dir`) as canonical JSON (sorted keys, no spaces); None for no config.
    Two runs of the same model share it, whatever they are called and wherever they lie."""
    if config is None:
        return None
    values = {k: v for k, v in _config_dict(config).items() if k not in UNHASHED}
    text = json.dumps(values, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def config_summary(config: Any) -> Optional[Dict[str, Any]]:
    """The keys of a config that say what it is (name, dataset, objective, arch, k, epochs) and every
    other key that differs from vgan.Config's defaults."""
    if config is None:
        return None
    from ..config import Config

    values, defaults = _config_dict(config), Config().to_dict()
    keep = ("name", "dataset", "objective", "arch", "k", "epochs")
    return {k: v for k, v in values.items() if k in keep or defaults.get(k, object()) != v}


def _scalar(value: Any) -> Any:
    if isinstance(value, (list, tuple)) and all(isinstance(v, (int, float, str)) for v in value):
        return ",".join(map(str, value))
    if isinstance(value, Path):
        return str(value)
    return value


def flatten(values: Mapping[str, Any], prefix: str = "") -> Dict[str, Any]:
    """A flat dict of numbers and strings: nested dicts joined with dots, lists of numbers as
    comma-joined text, and a `per_seed` list beside `seeds` keyed by seed (`test_error_pct.seed2`)."""
    out: Dict[str, Any] = {}
    seeds = values.get("seeds")
    for key, value in values.items():
        name = f"{prefix}{key}"
        if key == "per_seed" and isinstance(value, list) and isinstance(seeds, list) and len(seeds) == len(value):
            for seed, row in zip(seeds, value):
                out.update({f"{prefix}{k}.seed{seed}": _scalar(v) for k, v in row.items()})
        elif isinstance(value, Mapping):
            out.update(flatten(value, f"{name}."))
        elif isinstance(value, (list, tuple)) and not all(isinstance(v, (int, float, str)) for v in value):
            for i, item in enumerate(value):
                out.update(flatten(item, f"{name}.{i}.") if isinstance(item, Mapping) else {f"{name}.{i}": item})
        else:
            out[name] = _scalar(value)
    return out


def machine_of(run_dir: str | Path) -> Dict[str, Any]:
    """The machine of a run's last training session (RUN_DIR/run.json); {} when it has none."""
    try:
        sessions = json.loads((Path(run_dir) / "run.json").read_text())["sessions"]
        return dict(sessions[-1])
    except (OSError, ValueError, KeyError, IndexError, TypeError):
        return {}


def this_machine(device: str = "cpu") -> Dict[str, Any]:
    """vgan._utils.machine.describe_machine for this process on `device`."""
    import torch

    from .._utils.machine import describe_machine

    return describe_machine(torch.device(device))


def command_line(argv: Optional[List[str]] = None, program: str = "vgan") -> str:
    """The command line as a user would type it: `vgan evaluate runs/x --record r.json`."""
    return " ".join([program, shlex.join(sys.argv[1:] if argv is None else argv)]).strip()


def make_record(
    kind: str,
    values: Mapping[str, Any],
    *,
    command: str,
    scale: str,
    config: Any = None,
    run_dir: Optional[str | Path] = None,
    machine: Optional[Dict[str, Any]] = None,
    date: Optional[str] = None,
    notes: Optional[str] = None,
    source: Optional[str] = None,
) -> Dict[str, Any]:
    """A validated record of one measurement. `machine` defaults to the last training session of
    `run_dir` (its run.json) when given, else this process's machine; `date` to today."""
    if machine is None:
        machine = (machine_of(run_dir) if run_dir is not None else {}) or this_machine()
    record = {
        "schema": SCHEMA,
        "kind": kind,
        "command": command,
        "date": date or datetime.date.today().isoformat(),
        "scale": scale,
        "machine": machine,
        "config_hash": config_hash(config),
        "config": config_summary(config),
        "values": flatten(values),
    }
    record.update({k: v for k, v in (("notes", notes), ("source", source)) if v is not None})
    return validate_record(record)


def validate_record(record: Any, where: str = "record") -> Dict[str, Any]:
    """`record` itself when it has every field with the right type, else a one-line RecordError."""

    def fail(problem: str):
        raise RecordError(f"{where} {problem}; write it with vgan.records.make_record")

    if not isinstance(record, dict):
        fail("is not a JSON object")
    missing = [f for f in FIELDS if f not in record]
    if missing:
        fail(f"lacks {', '.join(missing)}")
    unknown = sorted(set(record) - set(FIELDS) - set(OPTIONAL))
    if unknown:
        fail(f"has unknown field(s) {', '.join(unknown)}")
    if record["schema"] != SCHEMA:
        fail(f"has schema {record['schema']!r}, not {SCHEMA}")
    for name in ("kind", "command", "scale"):
        if not isinstance(record[name], str) or not record[name].strip():
            fail(f"has no {name} (a non-empty string)")
    if not isinstance(record["date"], str) or not DATE.match(record["date"]):
        fail(f"has date {record['date']!r}, not YYYY-MM-DD")
    if not isinstance(record["machine"], dict) or not record["machine"]:
        fail("has no machine (a non-empty object)")
    if not isinstance(record["values"], dict) or not record["values"]:
        fail("has no values (a non-empty object)")
    for key, value in record["values"].items():
        if value is not None and not isinstance(value, (int, float, str, bool)):
            fail(f"has value {key!r} of type {type(value).__name__}; values are flat numbers or strings")
        if isinstance(value, float) and not math.isfinite(value):
            fail(f"has value {key!r} = {value}; values must be finite")
    return record


def write_record(record: Dict[str, Any], path: str | Path) -> Path:
    """Validate `record` and write it to `path` as indented JSON, atomically."""
    validate_record(record, str(path))
    return write_atomic(path, json.dumps(record, indent=2, ensure_ascii=False) + "\n")


def load_records(root: str | Path = ROOT) -> Dict[str, Dict[str, Any]]:
    """Every record under `root`, keyed by its path without `.json` (`table2/gpu/no_augmentation`),
    sorted; an invalid one is a one-line RecordError naming the file."""
    root = Path(root)
    out = {}
    for path in sorted(root.rglob("*.json")):
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError) as e:
            raise RecordError(f"{path} is not readable JSON ({e}); fix or remove it") from None
        out[path.relative_to(root).with_suffix("").as_posix()] = validate_record(record, str(path))
    return out


def scale_of(config: Any) -> str:
    """A run's scale in a few words: "MLP networks, k = 3, 10 epochs" (and its image limit, if any)."""
    c = _config_dict(config)
    nets = "MLP networks" if c["arch"] == "mlp" else "conv networks"
    limit = f", first {c['train_limit']:,} images" if c.get("train_limit") else ""
    steps = f", at most {c['max_steps']:,} iterations" if c.get("max_steps") else ""
    if c.get("objective") == "cd":
        init = {"buffer": "persistent", "noise": "short-run", "data": "from data"}[c["langevin_init"]]
        a, s = c["langevin_step_size"], c["langevin_noise"]
        sampler = f"{c['langevin_steps']} Langevin steps ({init}, a = {a:g}, s = {s:g})"
        return f"{nets}, {sampler}, {c['epochs']} epochs{limit}{steps}"
    return f"{nets}, k = {c['k']}, {c['epochs']} epochs{limit}{steps}"


def record_result(
    path: str | Path,
    kind: str,
    result: Mapping[str, Any],
    *,
    run_dir: Optional[str | Path] = None,
    scale: Optional[str] = None,
    argv: Optional[List[str]] = None,
    program: str = "vgan",
) -> Path:
    """Write the record of a command's `result` to `path`: the command line (`program` and `argv`,
    default this process's arguments), the config, machine and scale of `run_dir` when given (else
    this machine and `scale`; the run's folder is written `runs/NAME`, as a user names it). What
    `--record PATH` does for vgan evaluate, probe, augment and reproduce."""
    config = None
    if run_dir is not None:
        from ..config import load_config

        config = load_config(Path(run_dir) / "config.yaml")
    where = scale_of(config) if config is not None else None
    scale = "; ".join(s for s in (where, scale) if s) or "unspecified"
    argv = list(sys.argv[1:] if argv is None else argv)
    if run_dir is not None:  # the run as a user names it, not this machine's path to it
        argv = [f"runs/{Path(run_dir).name}" if a == str(run_dir) else a for a in argv]
    command = command_line(argv, program)
    rec = make_record(kind, result, command=command, scale=scale, config=config, run_dir=run_dir)
    return write_record(rec, path)


def record_benchmark(path: str | Path, values: Mapping[str, Any], *, scale: str, script: str) -> Path:
    """Write a benchmark script's figures to `path` as a record of kind "benchmark", with this
    process's command line (`python <script> ...`) and machine. What their `--record PATH` does."""
    command = command_line(program=f"python {script}")
    return write_record(make_record("benchmark", values, command=command, scale=scale), path)


def over_seeds(seeds: List[int], rows: List[Mapping[str, Any]], skip: tuple = ()) -> Dict[str, Any]:
    """One set of values over seeds from each seed's values (`rows`, in the order of `seeds`): the
    seeds, and for every number of the first row (not in `skip`) `key.seedN` for each row that has
    it, with `key.mean` and `key.sd` (sample sd; 0 for one seed) where every row has it."""
    values: Dict[str, Any] = {"seeds": ",".join(map(str, seeds))}
    keys = [k for k, v in rows[0].items() if isinstance(v, (int, float)) and not isinstance(v, bool) and k not in skip]
    for key in keys:
        numbers = [r.get(key) for r in rows]
        values.update({f"{key}.seed{s}": n for s, n in zip(seeds, numbers) if isinstance(n, (int, float))})
        if all(isinstance(n, (int, float)) for n in numbers):
            values[f"{key}.mean"] = statistics.mean(numbers)
            values[f"{key}.sd"] = statistics.stdev(numbers) if len(numbers) > 1 else 0.0
    return values
