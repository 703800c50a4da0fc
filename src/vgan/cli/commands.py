"""What each `vgan` command does, given its parsed arguments (vgan.cli parses them): each handler
calls one documented function of the library and prints its result."""

from __future__ import annotations

import argparse
from contextlib import nullcontext
from typing import Optional

from .. import data
from .._utils.errors import ConfigError, VGANError
from ..config import check_presets, describe_keys, load_config, parse_overrides
from ..config.files import list_presets
from ..model.mcmc import MALA, Langevin
from ..runs.curves import plot_curves
from ..runs.load import dry_run_folder, resume_config

AIS_FLAGS = ("chains", "runs", "temperatures", "leapfrog")  # --ais-<key> of `vgan evaluate`


def device(args: argparse.Namespace) -> str:
    """--device of a command that reads a run: cpu unless given."""
    return args.device or "cpu"


def print_result(result: dict) -> None:
    """One `key  value` line per entry, floats to 4 decimals."""
    width = max(map(len, result))
    for key, value in result.items():
        print(f"{key:>{width}}  {value:.4f}" if isinstance(value, float) else f"{key:>{width}}  {value}")


def keys_text() -> str:
    """Every config key, one line each: name, type, default and its help (vgan.config.keys.HELP)."""
    rows = describe_keys()
    width = max(len(r["key"]) for r in rows)
    lines = []
    for r in rows:
        default = "null" if r["default"] is None else r["default"]
        fixed = " [fixed on --resume]" if r["fixed_on_resume"] else ""
        lines.append(f"  {r['key']:<{width}}  {r['type']:<13} {str(default):<13} {r['help']}{fixed}")
    return "\n".join(lines)


def record(args: argparse.Namespace, kind: str, result: dict, run_dir=None, scale=None) -> None:
    """--record PATH: the command's result as a record (vgan.records)."""
    if args.record:
        from ..records import record_result

        path = record_result(args.record, kind, result, run_dir=run_dir, scale=scale, argv=args.argv)
        print(f"recorded {path}")


def train(args: argparse.Namespace) -> None:
    values = parse_overrides(args.overrides)
    for key in ("device", "data_dir"):
        if getattr(args, key):
            if key in values:
                flag = f"--{key.replace('_', '-')}"
                raise VGANError(f"{key} is given twice, as {flag} and as {key}=; keep one")
            values[key] = getattr(args, key)
    if args.resume and args.dry_run:
        raise VGANError("--dry-run trains a new run in a temporary folder and cannot --resume; drop one of them")
    if args.dry_run:
        values.update(max_steps=2, log_every=1)
    if args.resume:
        if args.config:
            raise VGANError("--resume takes the run's own config.yaml; drop --config (use key=value to change keys)")
        cfg = resume_config(args.resume, values)
    else:
        cfg = load_config(args.config, values=values)
    from ..training import train as train_run  # imported on use: keeps `vgan --help` fast

    with dry_run_folder(cfg) if args.dry_run else nullcontext():
        trainer = train_run(cfg, resume=bool(args.resume))
    print(f"done: {trainer.step} iterations; samples, checkpoints and logs in {cfg.run_dir}")


def configs(args: argparse.Namespace) -> None:
    if args.keys:
        print(keys_text())
        return
    presets = list_presets()
    width = max(map(len, presets), default=0)
    if not args.check:
        for name, description in presets.items():
            print(f"{name:<{width}}  {description}")
        return
    errors = check_presets()
    for name, error in errors.items():
        print(f"ok     {name}" if error is None else f"error  {name}: {error}")
    failed = [name for name, error in errors.items() if error is not None]
    if failed:
        raise ConfigError(f"{len(failed)} of {len(errors)} presets do not validate ({', '.join(failed)}); fix them")


def langevin(args: argparse.Namespace) -> Optional[Langevin]:
    """The --langevin-* flags as settings (None: no Langevin steps); a step size or noise without
    --langevin-steps is refused."""
    if not args.langevin_steps:
        if args.langevin_step_size is not None or args.langevin_noise is not None:
            raise VGANError(
                "--langevin-step-size and --langevin-noise shape the steps of --langevin-steps K; add it or drop them"
            )
        return None
    return Langevin(args.langevin_steps, args.langevin_step_size, args.langevin_noise)


def mala(args: argparse.Namespace) -> Optional[MALA]:
    """--mala-steps and --mala-step-size as settings (None: off); a step size without steps is refused."""
    if not args.mala_steps:
        if args.mala_step_size is not None:
            raise VGANError("--mala-step-size shapes the steps of --mala-steps K; add it or drop it")
        return None
    return MALA(args.mala_steps, *([args.mala_step_size] if args.mala_step_size is not None else []))


def sample(args: argparse.Namespace) -> None:
    from ..evaluation.sample import sample

    path = sample(
        args.run_dir,
        n=args.n,
        out=args.out,
        seed=args.seed,
        checkpoint=args.checkpoint,
        device=device(args),
        langevin=langevin(args),
        mala=mala(args),
    )
    print(f"wrote {path}")
    record(args, "sample", {"image": str(path), "samples": args.n, "seed": args.seed}, run_dir=args.run_dir)


def plot(args: argparse.Namespace) -> None:
    print(f"wrote {plot_curves(args.run_dir, out=args.out)}")


def reconstruct(args: argparse.Namespace) -> None:
    from ..evaluation import reconstruct  # imported on use: keeps `vgan --help` fast

    result = reconstruct(
        args.run_dir,
        n=args.n,
        eval_n=args.eval_n,
        out=args.out,
        seed=args.seed,
        device=device(args),
        checkpoint=args.checkpoint,
        classify=not args.no_classifier,
    )
    print(f"wrote {result.pop('figure')}")
    print_result(result)


def chain(args: argparse.Namespace) -> None:
    from ..evaluation import chain

    path = chain(
        args.run_dir,
        steps=args.steps,
        n=args.n,
        out=args.out,
        seed=args.seed,
        device=device(args),
        checkpoint=args.checkpoint,
        langevin=langevin(args),
    )
    print(f"wrote {path}")


def evaluate(args: argparse.Namespace) -> None:
    from ..evaluation import evaluate
    from ..evaluation.likelihood import AIS

    given = {k: getattr(args, f"ais_{k}") for k in AIS_FLAGS}
    ais = AIS(**{k: v for k, v in given.items() if v is not None})
    result = evaluate(args.run_dir, args.metrics, args.n, device(args), ais, mala(args), checkpoint=args.checkpoint)
    print_result(result)
    record(args, "evaluate", result, run_dir=args.run_dir, scale=f"{result.get('samples')} samples")


def probe(args: argparse.Namespace) -> None:
    from ..evaluation import probe

    result = probe(args.run_dir, limit=args.limit, device=device(args), checkpoint=args.checkpoint)
    print_result(result)
    record(args, "probe", result, run_dir=args.run_dir, scale=f"probe on {args.limit or 'all'} images a split")


def augment(args: argparse.Namespace) -> None:
    from ..evaluation import augment

    result = augment(
        args.run_dir,
        dataset=args.dataset,
        labels=args.labels,
        epochs=args.epochs,
        seeds=args.seeds,
        eval_n=args.eval_n,
        no_augment=args.no_augment,
        bn_stats=args.bn_stats,
        weighting=args.weighting,
        device=device(args),
        checkpoint=args.checkpoint,
        langevin=langevin(args),
    )
    print_result(result)
    scale = f"classifier: {args.labels} labels, {args.epochs} epochs, {args.eval_n or 'all'} evaluation images"
    record(args, "augment", result, run_dir=None if args.no_augment else args.run_dir, scale=scale)


def reproduce(args: argparse.Namespace) -> None:
    from ..reproduce import reproduce

    record = (args.record, args.argv) if args.record else None
    print(f"wrote {reproduce(args.table, args.scale, args.seeds, args.out_dir, args.device, args.rows, record)}")


def fetch(args: argparse.Namespace) -> None:
    found = data.fetch(args.name, args.data_dir)
    for path in found.paths:
        print(f"ok  {path}")
    print(f"{args.name}: {', '.join(f'{k} {tuple(v.shape)}' for k, v in found.arrays.items())}")


def verify(args: argparse.Namespace) -> None:
    names = [args.name] if args.name else list(data.DATASETS)
    for name in names:
        if not args.name and data.get(name).find(args.data_dir) is None:
            print(f"--  {name}: no local copy")
            continue
        paths = data.verify(name, args.data_dir)
        print(f"ok  {name}: " + (", ".join(str(p) for p in paths) if paths else "generated, nothing to check"))
