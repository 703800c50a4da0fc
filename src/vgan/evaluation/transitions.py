"""VCD evaluations: Figure 3 panels (x | x_bar | x~), Figure 5 Markov chains, and metrics that
show whether transitions keep the label while changing the image."""

from __future__ import annotations

from pathlib import Path
from typing import Dict, Optional

import torch
import torch.nn.functional as F
from torch import nn

from .._utils.checks import at_least, optional, positive, require
from .._utils.errors import ConfigError
from .._utils.images import make_grid, save_image, side_by_side
from ..data import as_float, load_dataset, spans
from ..model.mcmc import Langevin, LangevinSampler
from ..model.samplers import TransitionSampler
from ..runs import load_run
from ..runs.outputs import check_finite, check_output
from .classifier import load_classifier
from .sample import require_finite, require_images


def _transition_run(run_dir, device: str, command: str, checkpoint: str = "last.pt"):
    model = load_run(run_dir, checkpoint, device)
    require_images(model, command)
    if not isinstance(model.sampler, TransitionSampler):
        raise ConfigError(
            f"{run_dir} was trained with objective '{model.cfg.objective}'; reconstructions and "
            "chains need a VCD run (objective=vcd)"
        )
    return model


@torch.no_grad()
def transition_metrics(
    sampler: TransitionSampler,
    images: torch.Tensor,
    labels: torch.Tensor,
    classifier: Optional[nn.Module] = None,
    *,
    batch_size: int = 500,
    seed: int = 0,
) -> Dict[str, float]:
    """Over uint8 images (N, C, H, W) with their labels:

    - recon_bce, recon_mse: per-pixel error of the reconstruction x_bar = Decode(Encode(x));
    - distance: mean ||x~ - x||_2 per image, how far a transition moves;
    - label_kept: fraction of transitions x~ the classifier labels as x's true label;
    - classifier_accuracy: the same classifier on x itself, the ceiling for label_kept.
    """
    device = next(sampler.parameters(), images).device
    rng = torch.Generator(device).manual_seed(seed)
    totals = dict(recon_bce=0.0, recon_mse=0.0, distance=0.0, label_kept=0.0, classifier_accuracy=0.0)
    for piece in spans(len(images), batch_size):  # no batch of one: the sampler's batch norm needs two
        x, y = as_float(images[piece].to(device)), labels[piece].to(device)
        recon, moved = sampler(x, noise=False), sampler(x, rng=rng)
        totals["recon_bce"] += F.binary_cross_entropy(recon, x, reduction="sum").item() / x[0].numel()
        totals["recon_mse"] += F.mse_loss(recon, x, reduction="sum").item() / x[0].numel()
        totals["distance"] += (moved - x).flatten(1).norm(dim=1).sum().item()
        if classifier is not None:
            totals["label_kept"] += (classifier(moved).argmax(1) == y).sum().item()
            totals["classifier_accuracy"] += (classifier(x).argmax(1) == y).sum().item()
    out = {k: v / len(images) for k, v in totals.items()}
    if classifier is None:
        del out["label_kept"], out["classifier_accuracy"]
    return out


def reconstruct(
    run_dir: str | Path,
    *,
    n: int = 100,
    eval_n: Optional[int] = 10_000,
    out: Optional[str | Path] = None,
    seed: int = 0,
    device: str = "cpu",
    checkpoint: str = "last.pt",
    classify: bool = True,
) -> Dict[str, object]:
    """Figure 3 for a VCD run: validation inputs x | reconstructions x_bar | transitions x~, side by
    side in one PNG (default `RUN_DIR/reconstruct.png`), and `transition_metrics` over the first
    `eval_n` validation images (all 10,000 by default)."""
    require(n, at_least(2), "--n", "show 2 or more images (the sampler's batch norm needs 2)")
    require(eval_n, optional(at_least(2)), "--eval-n", "use 2 or more validation images, or leave it out for all")
    out = check_output(
        out or Path(run_dir) / "reconstruct.png", suffix=".png", default="reconstruct.png"
    )  # before any work
    model = _transition_run(run_dir, device, "reconstruct", checkpoint)
    val = load_dataset(model.cfg.dataset, "val", model.cfg.data_dir)
    x = as_float(val.images[:n].to(model.device))
    rng = torch.Generator(model.device).manual_seed(seed)
    sampler = model.eval_sampler
    with torch.no_grad():
        grids = [make_grid(g, nrow=10) for g in (x, sampler(x, noise=False), sampler(x, rng=rng))]
    path = save_image(side_by_side(grids), out)
    classifier = load_classifier(model.cfg.dataset, device, model.cfg.data_dir) if classify else None
    count = eval_n or len(val)
    metrics = transition_metrics(sampler, val.images[:count], val.labels[:count], classifier, seed=seed)
    return {"figure": path, "images": count, **check_finite(metrics, f"the transition metrics of {run_dir}")}


@torch.no_grad()
def chain(
    run_dir: str | Path,
    *,
    steps: int = 9,
    n: int = 30,
    out: Optional[str | Path] = None,
    seed: int = 0,
    device: str = "cpu",
    checkpoint: str = "last.pt",
    langevin: Optional[Langevin] = None,
) -> Path:
    """Figure 5: a Markov chain x -> x~1 -> x~2 ... from n validation images, one row per step
    (the first row is x). Written to `out` (default `RUN_DIR/chain.png`). A VCD run steps by its
    learned transition; with `langevin` (or for a CD run, with its own settings) each step is
    that many Langevin steps on the run's energy (`Model.langevin`), for any run."""
    if n < 2:
        raise ConfigError(f"cannot run a chain of n={n} images; use at least 2 (batch norm uses batch statistics)")
    require(steps, positive, "--steps", "take 1 or more transition steps")
    out = check_output(out or Path(run_dir) / "chain.png", suffix=".png", default="chain.png")  # before any work
    model = load_run(run_dir, checkpoint, device)
    require_images(model, "chain")
    if (langevin is not None and langevin.steps) or isinstance(model.sampler, LangevinSampler):
        transition = model.langevin(langevin)
    elif isinstance(model.sampler, TransitionSampler):
        transition = model.eval_sampler
    else:
        raise ConfigError(
            f"{run_dir} was trained with objective '{model.cfg.objective}'; learned chains need a VCD run "
            "(objective=vcd): pass --langevin-steps K to chain by Langevin dynamics on its energy instead"
        )
    x = as_float(load_dataset(model.cfg.dataset, "val", model.cfg.data_dir).images[:n].to(model.device))
    rng = torch.Generator(model.device).manual_seed(seed)
    rows = [x]
    for _ in range(steps):
        rows.append(transition(rows[-1], rng=rng))
    return save_image(make_grid(require_finite(torch.cat(rows), model), nrow=n), out)
