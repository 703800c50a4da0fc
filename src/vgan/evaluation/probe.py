"""Table 1: a linear probe on phi(x), the energy network's layer under its head.

Features are extracted for the train, validation and test splits; a multinomial logistic
regression (scikit-learn) is fitted on train for each regularisation strength C, the C with the
lowest validation error is kept, and its test error is reported.
"""
from __future__ import annotations

from pathlib import Path
from typing import Dict, Optional, Sequence

import numpy as np
import torch
from torch import nn

from ..data import chunks, load_dataset
from ..runs import load_run
from .inputs import check_probe

C_GRID = (0.01, 0.1, 1.0)


@torch.no_grad()
def features(phi: nn.Module, images: torch.Tensor, batch_size: int = 500) -> np.ndarray:
    """phi(x) (N, D) for uint8 images (N, C, H, W)."""
    device = next(phi.parameters()).device
    return torch.cat([phi(x).cpu() for x in chunks(images, batch_size, device)]).numpy()


def linear_probe(train: tuple, val: tuple, test: tuple, c_grid: Sequence[float] = C_GRID,
                 max_iter: int = 300) -> Dict[str, float]:
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


def probe(run_dir: str | Path, *, limit: Optional[int] = None, c_grid: Sequence[float] = C_GRID,
          device: str = "cpu") -> Dict[str, object]:
    """Table 1's protocol for one run: features phi(x) of its energy network, a logistic
    regression chosen on validation, and the test error. `limit` caps every split (for quick runs)."""
    check_probe(run_dir, limit)
    trainer = load_run(run_dir, device=device)
    cfg = trainer.cfg
    splits = {s: load_dataset(cfg.dataset, s, cfg.data_dir) for s in ("train", "val", "test")}
    data = {s: (features(trainer.energy.features, d.images[:limit]), d.labels[:limit].numpy())
            for s, d in splits.items()}
    result = linear_probe(data["train"], data["val"], data["test"], c_grid)
    return {"run": str(run_dir), "objective": cfg.objective, "k": cfg.k, "feature_dim": int(data["train"][0].shape[1]),
            "train_images": len(data["train"][1]), **result}
