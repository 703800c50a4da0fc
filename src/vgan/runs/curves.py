"""Training curves as a picture: RUN_DIR/curves.png, drawn from RUN_DIR/metrics.jsonl.

    vgan.plot_curves("runs/mnist_vgan")   # or: vgan plot runs/mnist_vgan

Training redraws it at every epoch end. It reads only metrics.jsonl and config.yaml, so it works
on a finished, a running, an interrupted or a resumed run alike.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Dict, List, Optional

from .._utils.atomic import atomic_path
from .._utils.errors import CheckpointError, shown
from .lock import run_file
from .outputs import check_output

# (title, metrics.jsonl keys, whether the values lie in [0, K ln 2] for the multimodal energy of
# Eq. 8); a panel is drawn when the run logged any of its keys. A new metric: one more entry.
PANELS = [
    ("energy", ["energy_real", "energy_fake"], True),
    ("batch entropy (Eq. 9)", ["entropy_data", "entropy_gen"], True),
    ("losses", ["loss_e", "loss_g"], False),
    ("mean |expert logit| on generated samples", ["logit_abs_fake"], False),
    ("dead zones of Eq. 8: share of generated expert logits", ["dead_saturated", "dead_flat"], False),
    ("reconstruction (VCD)", ["recon"], False),
    ("remedies: penalties and sample-level entropies", ["logit_l2", "r1", "nn_entropy_gen", "mi_gen"], False),
    ("Langevin chains (CD): per-chain norms of a step", ["langevin_drift", "langevin_noise"], False),
    ("Langevin chains (CD): energy where they start", ["langevin_energy_start", "energy_l2"], False),
]
LABELS = {  # legend entries (matplotlib mathtext); a key without one is shown as itself
    "energy_real": "$E(x)$, data batch",
    "energy_fake": "$E(G(z))$, generated batch",
    "entropy_data": r"$\tilde H(p_\mathrm{data})$, energy step",
    "entropy_gen": r"$\tilde H(p_g)$, generator step",
    "loss_e": "energy step",
    "loss_g": "generator step",
    "logit_abs_fake": "$|$logit$|$ on $G(z)$",
    "recon": "reconstruction term of the generator loss",
    "dead_saturated": "past the clip (no gradient)",
    "dead_flat": "$|$logit$|$ < 0.1 (the $K \\ln 2$ plateau)",
    "logit_l2": "mean logit$^2$ (logit_penalty)",
    "r1": r"$\|\nabla_x E(x)\|^2$ (r1_penalty)",
    "nn_entropy_gen": r"$\hat H_{NN}(G(z))$ (nn_entropy_weight)",
    "mi_gen": r"$\hat I_{JSD}(z; G(z))$ (mi_entropy_weight)",
    "langevin_drift": r"$a \|\nabla_x E\|$, the drift",
    "langevin_noise": r"$s \sqrt{d}$, the noise",
    "langevin_energy_start": "$E$ at the chains' starts",
    "energy_l2": r"$E(x)^2 + E(x^-)^2$ (energy_l2)",
}
COLUMNS, PANEL_SIZE, DPI = 2, (6.0, 3.2), 100  # each panel 600 x 320 pixels


def _number(v: object) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def metric_record(line: str) -> Optional[Dict[str, float]]:
    """The metrics of one metrics.jsonl line, as `RunLogger.scalars` writes it (a JSON object of
    numbers with an integer step >= 1); None for anything else (a line cut short by a crash, or damaged)."""
    try:
        record = json.loads(line)
    except (ValueError, RecursionError):
        return None
    if not isinstance(record, dict) or not all(_number(v) for v in record.values()):
        return None
    step = record.get("step")
    return record if isinstance(step, int) and not isinstance(step, bool) and step >= 1 else None


def read_metrics(path: str | Path) -> List[Dict[str, float]]:
    """The records of a metrics.jsonl. Its last line may be cut short (a crash mid-write: the start of
    a JSON object, in ASCII) and is then skipped; any other line that is not a record
    (`metric_record`) is a one-line CheckpointError."""
    lines = Path(path).read_bytes().decode(errors="replace").splitlines()
    records = [metric_record(line) for line in lines]
    for number, (line, record) in enumerate(zip(lines, records), 1):
        cut_short = number == len(lines) and line.isascii() and (line.startswith("{") or not line.strip())
        if record is None and not cut_short:
            raise CheckpointError(
                f"{path} line {number} is not a metrics record (a JSON object of numbers with its step): "
                f"{shown(line)}; the file is damaged or edited: move it aside, or delete that line"
            )
    return [r for r in records if r is not None]


def plot_curves(run_dir: str | Path, out: Optional[str | Path] = None) -> Path:
    """Draw a run's curves against the iteration into `out` (default `RUN_DIR/curves.png`)."""
    from matplotlib.figure import Figure  # imported on use: no pyplot, no global backend

    run_dir = Path(run_dir)
    out = check_output(out or run_dir / "curves.png", suffix=".png", default="curves.png")  # before any work
    from .load import load_run_config  # on use: load imports the model, which curves need not

    cfg = load_run_config(run_dir)  # a broken config.yaml is a one-line ConfigError
    metrics = read_metrics(run_file(run_dir, "metrics.jsonl"))
    if not metrics:
        raise CheckpointError(
            f"{run_dir / 'metrics.jsonl'} holds no metrics yet; plot again after the run's first log_every iterations"
        )
    band = cfg.experts * math.log(2) if cfg.energy == "multimodal" else None
    panels = [(title, [k for k in keys if any(k in m for m in metrics)], bounded) for title, keys, bounded in PANELS]
    panels = [p for p in panels if p[1]]

    rows = math.ceil(len(panels) / COLUMNS)
    height = rows * PANEL_SIZE[1]
    fig = Figure(figsize=(COLUMNS * PANEL_SIZE[0], height), dpi=DPI)
    fig.subplots_adjust(left=0.06, right=0.98, bottom=0.5 / height, top=1 - 0.6 / height, wspace=0.18, hspace=0.4)
    axes = fig.subplots(rows, COLUMNS, squeeze=False).flatten()
    for ax, (title, keys, bounded) in zip(axes, panels):
        for key in keys:
            points = [(m["step"], m[key]) for m in metrics if key in m]
            ax.plot(*zip(*points), label=LABELS.get(key, key), linewidth=1)
        if bounded and band is not None:
            ax.axhspan(0, band, color="tab:gray", alpha=0.08)
            ax.axhline(band, color="tab:gray", linestyle="--", linewidth=0.8, label=f"$K \\ln 2$ = {band:.1f}")
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("iteration", fontsize=8)
        ax.tick_params(labelsize=8)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    for ax in axes[len(panels) :]:
        ax.set_visible(False)
    last = metrics[-1]
    experts = f", K = {cfg.experts}" if band is not None else ""
    fig.suptitle(
        f"{cfg.name}: {cfg.objective}, {cfg.energy} energy{experts}, "
        f"k = {cfg.k}; iteration {last['step']}, epoch {last.get('epoch', '?')}",
        fontsize=11,
    )
    with atomic_path(out) as tmp:
        fig.savefig(tmp, format="png", dpi=DPI)
    return out
