"""`vgan reproduce table1|table2`: train every model a table needs (or reuse finished runs), run
its evaluation, and write a Markdown table with the paper's numbers beside ours.

Scales: `smoke` (tiny networks, a minute; for tests), `cpu` (the CPU presets; Table 2's
classifier at the authors' full protocol), `paper` (the paper's networks and protocol; for a
GPU). The scale is printed in every table; only `paper` trains the paper's models.

Every row is computed once and cached as JSON beside its run; `rows=` picks a subset, so that a
long table can be built over several invocations, and a final call without `rows` collects them.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from ._utils.atomic import write_atomic
from ._utils.errors import CheckpointError, ConfigError
from ._utils.machine import resolve_device
from .config import REMEDIES, Config, fit_keys, from_dict, images_per_step, load_yaml
from .data import DATASETS, load_dataset
from .records.paper import PAPER
from .runs.checkpoint import check_state, load_checkpoint
from .runs.load import load_run_config
from .training import train

PAPER_KEYS = {"svhn": dict(channels=128, gen_channels=128, code_dim=2048)}  # the authors' SVHN networks
TINY = dict(
    arch="mlp",
    hidden=32,
    feature_dim=32,
    gen_hidden=32,
    z_dim=8,
    code_dim=8,
    experts=8,
    train_limit=400,
    batch_size=50,
    epochs=1,
)
STABLE = {"table1": "cifar10_vgan_stable"}  # the preset whose remedies the stable rows use
FULL_PROTOCOL = {"labels": 1000, "epochs": 200, "eval_n": None}  # the authors' Table 2 classifier
SCALES = {  # config keys for every model of a table, and the evaluation's settings
    "table1": {
        "smoke": (dict(TINY, dataset="cifar10"), {"limit": 300}),
        "cpu": (dict(dataset="cifar10", arch="mlp", epochs=2), {"limit": 10_000}),
        "paper": (
            dict(dataset="cifar10", arch="conv", channels=128, optimizer="adadelta", lr=0.1, epochs=100),
            {"limit": None},
        ),
    },
    "table2": {
        "smoke": (dict(TINY, objective="vcd", k=1), {"labels": 100, "epochs": 2, "eval_n": 200}),
        # the authors' conv networks and k = 1 as the paper, 12 epochs (21 min a model here) instead of 100
        "cpu": (dict(objective="vcd", arch="conv", channels=64, code_dim=256, k=1, epochs=12), FULL_PROTOCOL),
        "paper": (dict(objective="vcd", arch="conv", channels=64, code_dim=256, k=1, epochs=100), FULL_PROTOCOL),
    },
}


@dataclass
class Row:
    label: str  # as in the paper's table, or a control's name
    keys: Dict = field(default_factory=dict)  # config keys of the model it trains
    kind: str = "model"  # model | baseline (Table 2, no model) | random (untrained energy) | pixels

    @property
    def slug(self) -> str:
        return re.sub(r"[^a-z0-9]+", "_", self.label.lower()).strip("_")  # "VCD (rho = 0.01)" -> "vcd_rho_0_01"


def remedies(preset: str) -> Dict:
    """The remedy keys (vgan.config.REMEDIES) that a preset sets."""
    return {k: v for k, v in load_yaml(preset).items() if k in REMEDIES}


def table_rows(table: str) -> List[Row]:
    """The rows of a table, in order: the paper's, the stable VGAN (Table 1), then the controls."""
    if table == "table1":
        gan = [
            Row(
                f"GAN k={k}{' (saturating)' if sat else ''}",
                dict(objective="gan", energy="gan", k=k, gan_generator_loss="saturating" if sat else "nonsaturating"),
            )
            for sat in (False, True)
            for k in (1, 3)
        ]
        vgan = [Row(f"VGAN k={k}", dict(objective="vgan", energy="multimodal", k=k)) for k in (1, 3)]
        stable = [Row(f"{row.label} (stable)", {**row.keys, **remedies(STABLE["table1"])}) for row in vgan]
        return (
            gan[:2]
            + vgan
            + stable
            + gan[2:]
            + [Row("Random-init energy network", dict(objective="vgan"), "random"), Row("Raw pixels", kind="pixels")]
        )
    return [Row("No augmentation", kind="baseline")] + [
        Row(f"VCD (rho = {rho})", dict(rho=rho)) for rho in (0, 0.001, 0.01, 0.1, 1)
    ]


# keys that say how a run was computed or logged, not what model it is: a run may differ in them
HOW = (
    *("device", "data_dir", "epochs", "max_steps", "precision", "compile", "channels_last", "keep_freed_memory"),
    *("log_every", "save_every", "ckpt_every", "tensorboard", "progress"),
)


def _same_model(cfg: Config) -> None:
    """Refuse to reuse a run directory whose config.yaml is not the model the table asks for."""
    saved = cfg.run_dir / "config.yaml"
    if not saved.is_file():
        return
    have, want = load_run_config(cfg.run_dir).__dict__, cfg.__dict__  # placed where it is now
    differ = [k for k in want if k not in HOW and have[k] != want[k]]
    if differ:
        k = differ[0]
        raise ConfigError(
            f"{cfg.run_dir} was trained with {k}={have[k]!r} but this table needs {k}={want[k]!r}; "
            "move that run aside or pass another --out-dir"
        )


def ensure_trained(cfg: Config) -> Path:
    """Train cfg's run, resume it if it stopped early, or reuse it if it is finished; a run
    directory that holds another model is refused."""
    _same_model(cfg)
    last = cfg.run_dir / "last.pt"
    if last.is_file():
        images = load_dataset(cfg.dataset, "train", cfg.data_dir).images
        n = min(len(images), cfg.train_limit or len(images))
        if check_state(load_checkpoint(last), last)["step"] >= cfg.epochs * (n // images_per_step(cfg)):
            return cfg.run_dir
    train(cfg, resume=(cfg.run_dir / "config.yaml").is_file())  # an interrupted run resumes, even before last.pt
    return cfg.run_dir


def _cached(path: Path, compute: Callable[[], Dict], keys: Sequence[str] = ("test_error_pct",)) -> Dict:
    """The JSON result at `path`, computed and saved once; a damaged one, or one that lacks any of
    `keys`, is a one-line error."""
    if path.exists():
        try:
            result = json.loads(path.read_bytes())
        except (OSError, ValueError, RecursionError):
            result = None
        if not isinstance(result, dict):
            raise CheckpointError(f"{path} is damaged (not a JSON result); move it aside to compute it again")
        missing = [k for k in keys if k not in result]
        if missing:
            raise CheckpointError(f"{path} lacks {', '.join(missing)}; move it aside to compute it again")
        return result
    result = compute()
    write_atomic(path, json.dumps(result, indent=2, default=str))
    return result


def datasets(table: str) -> List[str]:
    """Table 1 is CIFAR-10; Table 2 is MNIST, and SVHN too when its files are present locally."""
    if table == "table1":
        return ["cifar10"]
    return ["mnist"] + (["svhn"] if DATASETS["svhn"].find(None) is not None else [])


def _augment_row(folder: Path, run_dir: Optional[Path], dataset: str, seeds: int, settings: Dict, dev: str) -> Dict:
    """Table 2 for one row: every seed cached in its own file (seeds 0..seeds-1, plus any computed
    earlier), summarised into <folder>/augment.json."""
    from .evaluation.augment import augment, summarise

    found = (re.fullmatch(r"augment_seed_(\d+)\.json", p.name) for p in folder.glob("augment_seed_*.json"))
    wanted = set(range(seeds)) | {int(m.group(1)) for m in found if m}
    results = []
    for s in sorted(wanted):
        compute = partial(augment, run_dir, dataset=dataset, seeds=[s], device=dev, **settings)
        result = _cached(folder / f"augment_seed_{s}.json", compute, keys=("test_error_pct", "per_seed"))
        for key, value in settings.items():
            if result.get(key) != value:
                raise ConfigError(
                    f"{folder / f'augment_seed_{s}.json'} was computed with {key}={result.get(key)}, "
                    f"not {value}; move it aside or pass another --out-dir"
                )
        results.append(result)
    protocol = {k: v for k, v in results[0].items() if k not in ("test_error_pct", "test_error_std", "per_seed")}
    summary = summarise([r["per_seed"][0] for r in results], {**protocol, "seeds": sorted(wanted)})
    write_atomic(folder / "augment.json", json.dumps(summary, indent=2, default=str))
    return summary


def _transitions(run_dir: Path, dataset: str, dev: str) -> Dict:
    """label_kept and mean ||x~ - x|| of a VCD run over the whole validation split, cached."""
    from .evaluation import load_classifier, transition_metrics
    from .runs import load_run

    def compute():
        model = load_run(run_dir, device=dev)
        val = load_dataset(dataset, "val", model.cfg.data_dir)
        classifier = load_classifier(dataset, dev, model.cfg.data_dir)
        return transition_metrics(model.eval_sampler, val.images, val.labels, classifier)

    return _cached(run_dir / "transitions.json", compute, keys=("label_kept", "distance"))


def reproduce(
    table: str,
    scale: str = "smoke",
    seeds: int = 1,
    out_dir: str | Path = "runs/reproduce",
    device: str = "auto",
    rows: Optional[Sequence[str]] = None,
    record: Optional[str | Path | Tuple[str | Path, List[str]]] = None,
) -> Path:
    """Reproduce Table 1 or Table 2 at `scale` (only the rows whose slugs are in `rows`, if given);
    returns the Markdown file written (and prints it). With `record`, also writes the table's
    numbers there as a record (vgan.records; values `<row>.test_error_pct`, ...); a (path, argv)
    pair names the command line it records (default: this process's)."""
    from .evaluation import probe
    from .evaluation.inputs import check_reproduce
    from .evaluation.probe import protocol, random_features

    check_reproduce(seeds=seeds)

    if table not in SCALES or scale not in SCALES[table]:
        raise ConfigError(f"cannot reproduce {table} at scale {scale}; choose table1|table2 and smoke|cpu|paper")
    all_rows = table_rows(table)
    unknown = set(rows or ()) - {r.slug for r in all_rows}
    if unknown:
        raise ConfigError(
            f"unknown row(s) {', '.join(sorted(unknown))} of {table}; choose from {', '.join(r.slug for r in all_rows)}"
        )
    keys, settings = SCALES[table][scale]
    dev = resolve_device(device).type
    root = Path(out_dir) / f"{table}_{scale}"
    start, sections, commands = time.perf_counter(), [], []
    extra_args = " ".join(f"--{k.replace('_', '-')} {v}" for k, v in settings.items() if v is not None)
    for dataset in datasets(table):
        folder = root if dataset in ("mnist", "cifar10") else root / dataset
        data_keys = {**keys, "dataset": dataset, **(PAPER_KEYS.get(dataset, {}) if scale == "paper" else {})}
        results = []
        for row in all_rows:
            if rows and row.slug not in rows:
                results.append((row, None, None, None))
                continue
            values = {**fit_keys(data_keys, row.keys), "out_dir": str(folder), "name": row.slug}
            cfg = from_dict({**values, "device": device, "progress": False})
            quality = None
            if row.kind == "baseline":
                result = _augment_row(folder / row.slug, None, dataset, seeds, settings, dev)
                source = folder / row.slug / "augment.json"
                commands.append(f"vgan augment --dataset {dataset} {extra_args} --seeds {_seed_list(result)}")
            elif row.kind in ("random", "pixels"):
                source = folder / row.slug / "probe.json"
                compute = (
                    partial(random_features, cfg, limit=settings["limit"], device=dev)
                    if row.kind == "random"
                    else partial(_pixels, dataset, settings["limit"])
                )
                result = _cached(source, compute)
            else:
                run_dir = ensure_trained(cfg)
                commands.append("vgan train " + " ".join(f"{k}={v}" for k, v in values.items()))
                if table == "table1":
                    source = run_dir / "probe.json"
                    result = _cached(source, partial(probe, run_dir, limit=settings["limit"], device=dev))
                    commands.append(f"vgan probe {run_dir} {extra_args}".rstrip())
                else:
                    result = _augment_row(run_dir, run_dir, dataset, seeds, settings, dev)
                    source = run_dir / "augment.json"
                    quality = _transitions(run_dir, dataset, dev)
                    commands.append(f"vgan augment {run_dir} {extra_args} --seeds {_seed_list(result)}")
                    commands.append(f"vgan reconstruct {run_dir}")
            results.append((row, result, source, quality))
        sections.append((dataset, results))
    notes = (
        [f"Probe protocol: {protocol(settings['limit'])}."]
        if table == "table1"
        else [
            "Classifier protocol: "
            + ", ".join(f"{k} {v if v is not None else 'all'}" for k, v in settings.items())
            + ", the authors' (Glorot init, Adadelta rho 0.95 eps 1e-6, lr 1.0 x0.1 at 60% and 90%, batch 100, "
            "test error at the best validation epoch); Eq. 11 summed as in the authors' code; batch-norm statistics "
            "from the real images. label_kept and ||x~ - x||: `vgan reconstruct` over the validation split."
        ]
    )
    if record is not None:
        from .records import record_result

        path, argv = record if isinstance(record, tuple) else (record, None)
        record_result(path, "reproduce", table_values(sections), scale=f"{table} at scale {scale}", argv=argv)
    return _write_table(table, scale, sections, commands, notes, time.perf_counter() - start, root)


def table_values(sections) -> Dict[str, object]:
    """A table's numbers as a record's values: `<row>.test_error_pct` (and its std, seeds, C,
    label_kept, distance), prefixed `<dataset>.` past the table's first dataset."""
    values: Dict[str, object] = {}
    for i, (dataset, results) in enumerate(sections):
        prefix = f"{dataset}." if i else ""
        for row, result, _, quality in results:
            if result is None:
                continue
            keep = {k: result[k] for k in ("test_error_pct", "test_error_std", "val_error_pct", "C") if k in result}
            keep.update({"seeds": len(result["seeds"])} if "seeds" in result else {})
            keep.update({k: quality[k] for k in ("label_kept", "distance")} if quality else {})
            values.update({f"{prefix}{row.slug}.{k}": v for k, v in keep.items()})
    return values


def _pixels(dataset: str, limit: Optional[int]) -> Dict:
    from .evaluation.probe import probe_features

    return {"run": "raw pixels", **probe_features(None, dataset, limit=limit)}


def _seed_list(result: Dict) -> str:
    return ",".join(map(str, result["seeds"]))


def _cell(value: Optional[float], digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _write_table(
    table: str, scale: str, sections, commands: List[str], notes: List[str], seconds: float, root: Path
) -> Path:
    what = (
        "linear-probe test error (%) on phi(x)"
        if table == "table1"
        else "semi-supervised test error (%) with 1000 labels"
    )
    lines = [
        f"# {table.capitalize()}: {what}, scale: {scale}",
        "",
        "Scale `paper` trains the paper's models; `cpu` and `smoke` train REDUCED models and are not the "
        "paper's numbers."
        if scale != "paper"
        else "Scale `paper`: the paper's networks and protocol.",
        "",
    ]
    for dataset, results in sections:
        head = (
            "| model | ours | seeds | paper | label_kept | ‖x̃ − x‖ | from |"
            if table == "table2"
            else "| model | ours | paper | from |"
        )
        lines += [f"## {dataset}", "", head, "|" + "---|" * (head.count("|") - 1)]
        for row, result, source, quality in results:
            paper = PAPER[table][dataset].get(row.label, "—")
            if result is None:
                ours, src = f"not run (add `--rows {row.slug}`)", "—"
            else:
                ours, src = _cell(result["test_error_pct"]), f"`{source}`"
                if result.get("test_error_std"):
                    ours += f" ± {result['test_error_std']:.2f}"
            if table == "table1":
                lines.append(f"| {row.label} | {ours} | {paper} | {src} |")
                continue
            seeds = len(result["seeds"]) if result else "—"
            kept, moved = (quality["label_kept"], quality["distance"]) if quality else (None, None)
            lines.append(f"| {row.label} | {ours} | {seeds} | {paper} | {_cell(kept, 3)} | {_cell(moved)} | {src} |")
        lines.append("")
    lines += [
        *notes,
        "",
        f"Wall time of this command: {seconds:.0f} s (rows reused from an earlier call count as 0).",
        "",
        "Equivalent commands:",
        "",
        "```bash",
        *commands,
        "```",
        "",
    ]
    path = root / f"{table}_{scale}.md"
    write_atomic(path, "\n".join(lines))
    print("\n".join(lines))
    return path
