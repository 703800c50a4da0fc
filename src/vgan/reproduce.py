"""`vgan reproduce table1|table2`: train every model a table needs (or reuse finished runs), run
its evaluation, and write a Markdown table with the paper's numbers beside ours.

Scales: `smoke` (tiny networks, a minute; for tests), `cpu` (the CPU presets, about an hour per
table on 2 cores), `paper` (the paper's networks and protocol; for a GPU). The scale is printed
in every table; only `paper` follows the paper's protocol.
"""
from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Dict, List, Tuple

from .atomic import write_atomic
from .checkpoint import load_checkpoint
from .config import Config, from_dict, images_per_step
from .data import DATASETS, load_dataset
from .errors import ConfigError
from .train import resolve_device, train

PAPER = {  # per table, per dataset: the paper's test errors (%)
    "table1": {"cifar10": {"GAN k=1": 84.7, "GAN k=3": 86.6, "VGAN k=1": 36.5, "VGAN k=3": 32.5}},
    "table2": {
        "mnist": {"No augmentation": 2.2, "VCD (rho = 0)": 2.9, "VCD (rho = 0.001)": 2.0, "VCD (rho = 0.01)": 1.7,
                  "VCD (rho = 0.1)": 1.9, "VCD (rho = 1)": 21.0},
        "svhn": {"No augmentation": 19.0, "VCD (rho = 0)": 26.0, "VCD (rho = 0.001)": 20.0, "VCD (rho = 0.01)": 18.0,
                 "VCD (rho = 0.1)": 17.0, "VCD (rho = 1)": 37.0},
    },
}
PAPER_KEYS = {"svhn": dict(channels=128, gen_channels=128, code_dim=2048)}  # the authors' SVHN networks
TINY = dict(arch="mlp", hidden=32, feature_dim=32, gen_hidden=32, z_dim=8, code_dim=8, experts=8, train_limit=400,
            batch_size=50, epochs=1)
SCALES = {  # config keys for every model of a table, and the evaluation's settings
    "table1": {
        "smoke": (dict(TINY, dataset="cifar10"), {"limit": 300}),
        "cpu": (dict(dataset="cifar10", arch="mlp", epochs=2), {"limit": 10_000}),
        "paper": (dict(dataset="cifar10", arch="conv", channels=128, optimizer="adadelta", lr=0.1, epochs=100),
                  {"limit": None}),
    },
    "table2": {
        "smoke": (dict(TINY, objective="vcd", k=1), {"labels": 100, "epochs": 2, "eval_n": 200}),
        "cpu": (dict(objective="vcd", arch="mlp", k=3, epochs=10), {"labels": 1000, "epochs": 20, "eval_n": 5000}),
        "paper": (dict(objective="vcd", arch="conv", channels=64, code_dim=256, k=1, epochs=100),
                  {"labels": 1000, "epochs": 200, "eval_n": None}),
    },
}


def models(table: str) -> List[Tuple[str, Dict]]:
    """(row, config keys) of the models a table trains; Table 2's first row trains none."""
    if table == "table1":
        return [(f"{name} k={k}", dict(objective=obj, energy=energy, k=k))
                for name, obj, energy in (("GAN", "gan", "gan"), ("VGAN", "vgan", "multimodal")) for k in (1, 3)]
    return [(f"VCD (rho = {rho})", dict(rho=rho)) for rho in (0, 0.001, 0.01, 0.1, 1)]


def _slug(row: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", row.lower()).strip("_")  # "VCD (rho = 0.01)" -> "vcd_rho_0_01"


def ensure_trained(cfg: Config) -> Path:
    """Train cfg's run, resume it if it stopped early, or reuse it if it is finished."""
    last = cfg.run_dir / "last.pt"
    if last.is_file():
        images = load_dataset(cfg.dataset, "train", cfg.data_dir).images
        n = min(len(images), cfg.train_limit or len(images))
        if load_checkpoint(last)["step"] >= cfg.epochs * (n // images_per_step(cfg)):
            return cfg.run_dir
    train(cfg, resume=last.is_file())
    return cfg.run_dir


def _cached(path: Path, compute) -> Dict:
    """The JSON result at `path`, computed and saved once."""
    if path.is_file():
        return json.loads(path.read_text())
    result = compute()
    write_atomic(path, json.dumps(result, indent=2, default=str))
    return result


def datasets(table: str) -> List[str]:
    """Table 1 is CIFAR-10; Table 2 is MNIST, and SVHN too when its files are present locally."""
    if table == "table1":
        return ["cifar10"]
    return ["mnist"] + (["svhn"] if DATASETS["svhn"].find(None) is not None else [])


def reproduce(table: str, scale: str = "smoke", seeds: int = 1, out_dir: str | Path = "runs/reproduce",
              device: str = "auto") -> Path:
    """Reproduce Table 1 or Table 2 at `scale`; returns the Markdown file written (and prints it)."""
    from .evaluation import augment, probe
    from .evaluation.inputs import check_reproduce

    check_reproduce(seeds=seeds)

    if table not in SCALES or scale not in SCALES[table]:
        raise ConfigError(f"cannot reproduce {table} at scale {scale}; choose table1|table2 and smoke|cpu|paper")
    keys, settings = SCALES[table][scale]
    dev = resolve_device(device).type
    root = Path(out_dir) / f"{table}_{scale}"
    start, sections, commands = time.perf_counter(), [], []
    seeds_arg = f"--seeds {','.join(map(str, range(seeds)))}"
    extra_args = " ".join(f"--{k.replace('_', '-')} {v}" for k, v in settings.items() if v is not None)
    for dataset in datasets(table):
        folder = root if dataset in ("mnist", "cifar10") else root / dataset
        data_keys = {**keys, "dataset": dataset, **(PAPER_KEYS.get(dataset, {}) if scale == "paper" else {})}
        rows = []
        if table == "table2":
            source = folder / "no_augmentation" / "augment.json"
            rows.append(("No augmentation", _cached(source, lambda: augment(
                dataset=dataset, seeds=range(seeds), device=dev, **settings)), source))
            commands.append(f"vgan augment --dataset {dataset} {extra_args} {seeds_arg}")
        for row, extra in models(table):
            values = {**data_keys, **extra, "out_dir": str(folder), "name": _slug(row)}
            run_dir = ensure_trained(from_dict({**values, "device": device, "progress": False}))
            commands.append("vgan train " + " ".join(f"{k}={v}" for k, v in values.items()))
            if table == "table1":
                source = run_dir / "probe.json"
                result = _cached(source, lambda: probe(run_dir, limit=settings["limit"], device=dev))
                commands.append(f"vgan probe {run_dir} {extra_args}".rstrip())
            else:
                source = run_dir / "augment.json"
                result = _cached(source, lambda: augment(run_dir, seeds=range(seeds), device=dev, **settings))
                commands.append(f"vgan augment {run_dir} {extra_args} {seeds_arg}")
            rows.append((row, result, source))
        sections.append((dataset, rows))
    return _write_table(table, scale, sections, commands, time.perf_counter() - start, root, seeds)


def _write_table(table: str, scale: str, sections, commands: List[str], seconds: float, root: Path,
                 seeds: int) -> Path:
    what = "linear-probe test error (%) on phi(x)" if table == "table1" else \
        "semi-supervised test error (%) with 1000 labels"
    lines = [f"# {table.capitalize()}: {what}, scale: {scale}", "",
             "Scale `paper` follows the paper's protocol; `cpu` and `smoke` are REDUCED and are not the paper's "
             "numbers." if scale != "paper" else "Scale `paper`: the paper's networks and protocol.", ""]
    for dataset, rows in sections:
        lines += [f"## {dataset}", "", "| model | ours | paper | from |", "|---|---|---|---|"]
        for row, result, source in rows:
            ours = f"{result['test_error_pct']:.2f}"
            if result.get("test_error_std"):
                ours += f" ± {result['test_error_std']:.2f}"
            lines.append(f"| {row} | {ours} | {PAPER[table][dataset][row]} | `{source}` |")
        lines.append("")
    lines += [f"Seeds: {seeds}. Wall time of this command: {seconds:.0f} s (runs reused from an earlier call "
              "count as 0).", "", "Equivalent commands:", "", "```bash", *commands, "```", ""]
    path = root / f"{table}_{scale}.md"
    write_atomic(path, "\n".join(lines))
    print("\n".join(lines))
    return path
