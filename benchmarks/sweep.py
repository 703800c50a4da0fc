"""A grid sweep of config keys around a preset: train each setting (a finished run is reused), evaluate
it, and print one row per setting (best first, with --score).

    python benchmarks/sweep.py toy25_cd --grid langevin_step_size=0.001,0.01,0.1 langevin_noise=0.001,0.01 \
        --set max_steps=5000 --metrics modes [--score high_quality_pct] [--seeds 0] [--out-dir runs/sweeps]

Each setting trains `vgan train --config PRESET <set> <grid point> seed=S name=...` into --out-dir, then
runs `vgan evaluate RUN --metrics ...`; the rows (the grid point, the seed, every metric) are written
to OUT_DIR/PRESET.json as they finish, so an interrupted sweep continues where it stopped. A run's
name holds the preset, the grid's values and the seed, not --set: give each --set its own --out-dir. With
--records DIR each point's evaluation is also a record DIR/<run name>.json (vgan.records), whose
command is the train and evaluate command lines, with the run's last logged metrics line as
`train.<key>` (its energies, the chains' statistics, Eq. 8's dead-zone fractions).
"""

from __future__ import annotations

import itertools
import json
import sys
import time
from pathlib import Path

from vgan._utils.atomic import write_atomic
from vgan._utils.checks import names, seed_list
from vgan._utils.errors import Terminated, VGANError
from vgan.cli import main as vgan
from vgan.cli.script import Parser, count, output_dir, run
from vgan.config import load_config
from vgan.records import make_record, over_seeds, scale_of, write_record
from vgan.runs.curves import read_metrics


def points(grid: list) -> list:
    """key=v1,v2 ... -> every combination, as lists of key=value strings."""
    axes = [[f"{key}={v}" for v in values.split(",")] for key, _, values in (g.partition("=") for g in grid)]
    return [list(p) for p in itertools.product(*axes)]


def name_of(preset: str, point: list, seed: int) -> str:
    short = "_".join(p.split("=")[1] for p in point)
    return f"{preset.replace('/', '_')}_{short}_s{seed}"


def evaluation(args, run: Path) -> list:
    return ["evaluate", str(run), "--metrics", args.metrics, *(["--n", args.n] if args.n else [])]


def checked(rc: int, what: str) -> int:
    """A command's exit status; an interrupt (130) or termination (143) stops the sweep as one."""
    if rc == 130:
        raise KeyboardInterrupt
    if rc == 143:
        raise Terminated
    return rc


def evaluated(args, run: Path) -> dict:
    """`vgan evaluate` on run, and what it saved; a failed evaluation stops the sweep."""
    if checked(vgan(evaluation(args, run)), f"evaluating {run}") != 0:
        raise VGANError(
            f"sweep stopped: evaluating {run} failed (its message is above); fix it and run the sweep again"
        )
    return json.loads((run / "evaluate.json").read_text())


ROW = {"name": str, "point": list, "seed": int, "train_rc": int, "train_seconds": (int, float)}


def read_table(table: Path) -> list:
    """The rows an earlier run of the sweep saved, or a one-line error when the file is not one."""
    if not table.exists():
        return []
    try:
        rows = json.loads(table.read_text())
    except (OSError, ValueError) as e:
        raise VGANError(f"{table} is not the sweep's JSON ({e}); move it aside to start the sweep afresh") from None
    if not isinstance(rows, list) or not all(
        isinstance(r, dict) and all(isinstance(r.get(k), kind) for k, kind in ROW.items()) for r in rows
    ):
        raise VGANError(f"{table} does not hold the sweep's rows; move it aside to start the sweep afresh")
    return rows


def check_points(args) -> None:
    """Every point's config validates before anything trains (a bad --grid or --set is one line)."""
    for item in [*args.grid, *args.set]:
        key, sep, values = item.partition("=")
        if not sep or not key or not values or "" in values.split(","):
            raise VGANError(f"{item!r} is not KEY=V1,V2 (or KEY=VALUE for --set); write e.g. lr=0.1,0.01")
    for point in points(args.grid):
        load_config(args.preset, overrides=[*args.set, *point, "seed=0"])


def record(args, run: Path, row: dict, folder: Path) -> None:
    """The record of one point: its evaluation, with the commands that trained and evaluated it."""
    keys = " ".join([*args.set, *row["point"], f"seed={row['seed']}", f"name={row['name']}"])
    train = f"vgan train --config {args.preset} {keys}"
    evaluate = " ".join(["vgan", *evaluation(args, Path("runs") / row["name"])])  # the one the sweep ran
    config = load_config(run / "config.yaml")
    values = {k: v for k, v in json.loads((run / "evaluate.json").read_text()).items() if k not in ("run", "figure")}
    values["train_seconds"] = row["train_seconds"]
    logged = read_metrics(run / "metrics.jsonl")  # the last logged line: energies, chains, dead zones
    if logged:
        values.update({f"train.{k}": v for k, v in logged[-1].items() if isinstance(v, (int, float))})
    samples = f"; {values['samples']:,} samples" if "samples" in values else ""
    rec = make_record(
        "evaluate",
        values,
        command=f"{train} && {evaluate}",
        scale=scale_of(config) + samples,
        config=config,
        run_dir=run,
    )
    write_record(rec, folder / f"{row['name']}.json")


def summary(args, point: list, rows: list, out: Path) -> None:
    """One record over the seeds of a point: each number per seed (`key.seedN`), its mean and its
    sample standard deviation (`key.mean`, `key.sd`); written when a point has two seeds or more."""
    if len(rows) < 2:
        return
    values = over_seeds([r["seed"] for r in rows], rows, skip=("seed", "train_rc", "step"))
    config = load_config(out / rows[0]["name"] / "config.yaml")
    command = f"python benchmarks/sweep.py {args.preset} --grid {' '.join(point)} --seeds {values['seeds']}"
    command += f" --metrics {args.metrics}" + (f" --n {args.n}" if args.n else "")
    command += f" --set {' '.join(args.set)}" if args.set else ""
    samples = f"; {rows[0]['samples']:,} samples" if "samples" in rows[0] else ""
    scale = f"{scale_of(config)}{samples}, seeds {values['seeds']}"
    rec = make_record("evaluate", values, command=command, scale=scale, config=config, run_dir=out / rows[0]["name"])
    short = "_".join(p.split("=")[1] for p in point)
    write_record(rec, Path(args.records) / f"{args.preset.replace('/', '_')}_{short}.json")


def main(argv=None) -> int:
    parser = Parser(prog="python benchmarks/sweep.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("preset")
    parser.add_argument("--grid", nargs="+", required=True, metavar="KEY=V1,V2")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="keys fixed for every point")
    parser.add_argument("--metrics", type=names, required=True, help="vgan evaluate --metrics")
    parser.add_argument("--n", type=count(2, 1_000_000), help="vgan evaluate --n")
    parser.add_argument("--score", help="the metric that ranks the printed rows (default: printed as they ran)")
    parser.add_argument("--lower", action="store_true", help="a lower score is better (e.g. fid)")
    parser.add_argument("--seeds", type=seed_list, default=[0])
    parser.add_argument("--out-dir", type=output_dir(), default="runs/sweeps")
    parser.add_argument("--records", type=output_dir(), help="also write one record per point into this folder")
    parser.add_argument("--reevaluate", action="store_true", help="evaluate the finished points again")
    args = parser.parse_args(argv)
    args.metrics, args.n = ",".join(args.metrics), (str(args.n) if args.n else None)
    check_points(args)
    out = Path(args.out_dir)
    table = out / f"{args.preset.replace('/', '_')}.json"
    rows = read_table(table)
    done = {r["name"] for r in rows if r["train_rc"] == 0}  # a failed or interrupted point runs again
    rows = [r for r in rows if r["name"] in done]
    for row in rows if args.reevaluate else ():
        row.update(evaluated(args, out / row["name"]))
        write_atomic(table, json.dumps(rows, indent=1))
    failed = []
    for point in points(args.grid):
        for seed in args.seeds:
            name = name_of(args.preset, point, seed)
            if name in done:
                continue
            start = time.perf_counter()
            keys = [*args.set, *point, f"seed={seed}", f"out_dir={out}", f"name={name}", "progress=false"]
            rc = checked(vgan(["train", "--config", args.preset, *keys]), f"training {name}")
            seconds = round(time.perf_counter() - start, 1)
            row = {"name": name, "point": point, "seed": seed, "train_rc": rc, "train_seconds": seconds}
            if rc == 0:
                row.update(evaluated(args, out / name))
            else:
                failed.append(name)
            rows.append(row)
            write_atomic(table, json.dumps(rows, indent=1))
    if args.records:
        for row in rows:
            if row["train_rc"] == 0:
                record(args, out / row["name"], row, Path(args.records))
        for point in points(args.grid):
            summary(args, point, [r for r in rows if r["point"] == point and r["train_rc"] == 0], out)
    shown = rows
    if args.score:
        shown = sorted(rows, key=lambda r: r.get(args.score, float("inf") if args.lower else float("-inf")))
        shown = shown if args.lower else shown[::-1]
    for r in shown:
        score = f"  {args.score} {r.get(args.score)}" if args.score else ""
        print(f"{' '.join(r['point']):<60} seed {r['seed']}{score}")
    if failed:
        print(f"sweep.py: {len(failed)} point(s) failed to train ({', '.join(failed)}); they run again next time")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(run(main, prog="sweep.py"))
