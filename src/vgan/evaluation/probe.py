"""Table 1: a linear probe on phi(x), the energy network's layer under its head.

Features are extracted for the train, validation and test splits and standardised with the
training features' mean and std; a multinomial logistic regression (scikit-learn, lbfgs) is
fitted on train for each regularisation strength C, the C with the lowest validation error is
kept, and its test error is reported. Two controls use the same protocol: raw pixels
(`phi=None`) and a randomly initialised energy network (`random_features`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, Optional, Sequence

import numpy as np
import torch
from torch import nn

from ..config import Config
from ..data import chunks, load_dataset
from ..model.networks import build_energy
from ..runs import load_run
from ..runs.outputs import check_finite
from .inputs import check_probe

C_GRID = (0.01, 0.1, 1.0)
MAX_ITER = 300


def protocol(limit: Optional[int], c_grid: Sequence[float] = C_GRID, max_iter: int = MAX_ITER) -> str:
    """The probe's protocol in one sentence, printed with Table 1."""
    images = f"the first {limit:,} images of each split" if limit else "every image of each split"
    return (
        f"features standardised with the training features' mean and std; multinomial logistic regression "
        f"(scikit-learn, lbfgs, at most {max_iter} iterations) for C in {{{', '.join(map(str, c_grid))}}}, "
        f"the C with the lowest validation error kept; {images}"
    )


@torch.no_grad()
def features(phi: Optional[nn.Module], images: torch.Tensor, batch_size: int = 500) -> np.ndarray:
    """phi(x) (N, D) for uint8 images (N, C, H, W); with phi None, the pixels in [0, 1], (N, C H W)."""
    device = next(phi.parameters()).device if phi is not None else "cpu"
    return torch.cat(
        [(phi(x) if phi is not None else x.flatten(1)).cpu() for x in chunks(images, batch_size, device)]
    ).numpy()


def linear_probe(
    train: tuple, val: tuple, test: tuple, c_grid: Sequence[float] = C_GRID, max_iter: int = MAX_ITER
) -> Dict[str, float]:
    """Fit on train (X, y) for each C, select on val, return errors in % and the chosen C."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(train[0])
    x_train, x_val, x_test = (scaler.transform(x) for x in (train[0], val[0], test[0]))
    best = None
    for c in c_grid:
        model = LogisticRegression(C=c, max_iter=max_iter).fit(x_train, train[1])
        val_error = 100.0 * (1 - model.score(x_val, val[1]))
        if best is None or val_error < best[0]:
            best = (val_error, c, model)
    val_error, c, model = best
    return {"test_error_pct": 100.0 * (1 - model.score(x_test, test[1])), "val_error_pct": val_error, "C": c}


def probe_features(
    phi: Optional[nn.Module],
    dataset: str,
    *,
    limit: Optional[int] = None,
    c_grid: Sequence[float] = C_GRID,
    data_dir: Optional[str] = None,
) -> Dict[str, object]:
    """Table 1's protocol on any feature map `phi` (None: raw pixels). `limit` caps every split."""
    splits = {s: load_dataset(dataset, s, data_dir) for s in ("train", "val", "test")}
    data = {s: (features(phi, d.images[:limit]), d.labels[:limit].numpy()) for s, d in splits.items()}
    result = linear_probe(data["train"], data["val"], data["test"], c_grid)
    return {"feature_dim": int(data["train"][0].shape[1]), "train_images": len(data["train"][1]), **result}


def probe(
    run_dir: str | Path,
    *,
    limit: Optional[int] = None,
    c_grid: Sequence[float] = C_GRID,
    device: str = "cpu",
    checkpoint: str = "last.pt",
) -> Dict[str, object]:
    """Table 1's protocol for one run: features phi(x) of its energy network."""
    check_probe(run_dir, limit)
    model = load_run(run_dir, checkpoint, device)
    cfg = model.cfg
    phi = model.energy.alone().features  # of one image (with pack m, in a pack of m copies of itself)
    result = probe_features(phi, cfg.dataset, limit=limit, c_grid=c_grid, data_dir=cfg.data_dir)
    return check_finite({"run": str(run_dir), "objective": cfg.objective, **result}, f"the probe of {run_dir}")


def random_features(
    cfg: Config, *, limit: Optional[int] = None, c_grid: Sequence[float] = C_GRID, device: str = "cpu"
) -> Dict[str, object]:
    """The control: the probe on phi(x) of an untrained energy network built from `cfg` (its seed)."""
    shape = load_dataset(cfg.dataset, "test", cfg.data_dir).image_shape
    with torch.random.fork_rng(devices=[]):  # the run's seed, and the caller's RNG left as it was
        torch.manual_seed(cfg.seed)
        phi = build_energy(cfg, shape).alone().features.to(device).eval()
    return {
        "run": "random initialisation",
        **probe_features(phi, cfg.dataset, limit=limit, c_grid=c_grid, data_dir=cfg.data_dir),
    }
