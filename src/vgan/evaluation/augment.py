"""Table 2: semi-supervised classification with the VCD transitions as data augmentation (Eq. 11).

A classifier is trained on the first N labelled training images with
    0.5 * CE(f(x), y) + 0.5 * CE(f(x~), y),   x~ ~ p_g(x~ | x) a fresh transition each minibatch,
from a frozen VCD generator; without a generator (the baseline row) the loss is CE(f(x), y).
Adadelta, lr 1.0, multiplied by 0.1 at 60% and 90% of the epochs; the reported number is the
test error at the epoch with the best validation error.
"""
from __future__ import annotations

import statistics
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from ..data import as_float, epoch_order, load_dataset
from ..errors import ConfigError
from ..runs import load_run
from ..samplers import TransitionSampler
from .classifier import accuracy
from .inputs import check_augment


def _block(cin: int, cout: int, k: int) -> List[nn.Module]:
    return [nn.Conv2d(cin, cout, k, padding=k // 2), nn.BatchNorm2d(cout), nn.ReLU()]


class Table2Classifier(nn.Module):
    """The authors' classifier: Gaussian input noise (sigma 0.1, training only), conv-BN-ReLU
    blocks with max pooling and dropout 0.5 between stages, global average pooling, and a dense
    layer to the classes (the text leaves the last step implicit).

    MNIST stages: [64, 64] | [64, 64] | [64, 64], all 3x3. 32x32 colour: [96]x3 | [192]x3 |
    [192 3x3, 192 1x1, 192 1x1].
    """

    def __init__(self, in_channels: int = 1, size: int = 28, classes: int = 10, noise: float = 0.1):
        super().__init__()
        self.noise = noise
        if size == 28:
            stages = [[(64, 3), (64, 3)], [(64, 3), (64, 3)], [(64, 3), (64, 3)]]
        else:
            stages = [[(96, 3)] * 3, [(192, 3)] * 3, [(192, 3), (192, 1), (192, 1)]]
        layers, cin = [], in_channels
        for i, stage in enumerate(stages):
            for cout, k in stage:
                layers += _block(cin, cout, k)
                cin = cout
            if i < len(stages) - 1:
                layers += [nn.MaxPool2d(2), nn.Dropout(0.5)]
        self.net = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training and self.noise:
            x = x + self.noise * torch.randn_like(x)
        return self.net(x)


def error_pct(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    """Test or validation error in %, in eval mode."""
    return 100.0 * (1 - accuracy(model, images, labels))


def train_augmented(dataset: str, sampler: Optional[TransitionSampler], *, labels: int = 1000, epochs: int = 200,
                    seed: int = 0, batch_size: int = 100, lr: float = 1.0, eval_n: Optional[int] = None,
                    data_dir: Optional[str] = None, device: str = "cpu") -> Dict[str, float]:
    """One row of Table 2 for one seed: the test error (%) at the best validation epoch."""
    check_augment(labels=labels, epochs=epochs, seeds=[seed], eval_n=eval_n, batch_size=batch_size, lr=lr,
                  dataset=dataset)
    train, val, test = (load_dataset(dataset, s, data_dir) for s in ("train", "val", "test"))
    x_lab, y_lab = train.images[:labels], train.labels[:labels]
    x_val, y_val = val.images[:eval_n], val.labels[:eval_n]
    x_test, y_test = test.images[:eval_n], test.labels[:eval_n]
    torch.manual_seed(seed)
    model = Table2Classifier(train.image_shape[0], train.image_shape[1]).to(device)
    opt = torch.optim.Adadelta(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, [int(0.6 * epochs), int(0.9 * epochs)], gamma=0.1)
    rng = torch.Generator(device).manual_seed(seed)
    best = {"val_error_pct": float("inf")}
    for epoch in tqdm(range(epochs), desc=f"table 2 classifier, seed {seed}", disable=None):
        model.train()
        order = epoch_order(len(x_lab), seed=seed, epoch=epoch)
        for i in range(0, len(order) - batch_size + 1, batch_size):
            idx = order[i:i + batch_size]
            x, y = as_float(x_lab[idx]).to(device), y_lab[idx].to(device)
            if sampler is None:
                loss = F.cross_entropy(model(x), y)
            else:
                with torch.no_grad():
                    moved = sampler(x, rng=rng)  # a fresh transition of each x (Eq. 11)
                loss = 0.5 * F.cross_entropy(model(x), y) + 0.5 * F.cross_entropy(model(moved), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        sched.step()
        val_error = error_pct(model, x_val, y_val)
        if val_error < best["val_error_pct"]:
            best = {"val_error_pct": val_error, "test_error_pct": error_pct(model, x_test, y_test),
                    "best_epoch": float(epoch + 1)}
    return best


def augment(run_dir: Optional[str | Path] = None, *, dataset: Optional[str] = None, labels: int = 1000,
            epochs: int = 200, seeds: Sequence[int] = (0,), eval_n: Optional[int] = None, no_augment: bool = False,
            device: str = "cpu") -> Dict[str, object]:
    """Table 2 for one row: with a VCD run's transitions (run_dir), or the no-augmentation
    baseline (`no_augment`, or no run_dir and `dataset` named). Mean and std of the test error
    over seeds."""
    check_augment(labels=labels, epochs=epochs, seeds=seeds, eval_n=eval_n, dataset=dataset)
    sampler, data_dir = None, None
    if run_dir is not None:
        trainer = load_run(run_dir, device=device)
        dataset, data_dir = trainer.cfg.dataset, trainer.cfg.data_dir
        if no_augment:  # the baseline row on this run's data
            run_dir = None
        elif not isinstance(trainer.sampler, TransitionSampler):
            raise ConfigError(f"{run_dir} is not a VCD run; augmentation needs transitions (objective=vcd)")
        else:
            sampler = trainer.sampler.requires_grad_(False)
    if dataset is None:
        raise ConfigError("without RUN_DIR, name the dataset of the baseline row: --dataset mnist")
    rows = [train_augmented(dataset, sampler, labels=labels, epochs=epochs, seed=s, eval_n=eval_n,
                            data_dir=data_dir, device=device) for s in seeds]
    errors = [r["test_error_pct"] for r in rows]
    return {"row": f"VCD ({run_dir})" if run_dir else "No augmentation", "dataset": dataset, "labels": labels,
            "epochs": epochs, "seeds": list(seeds), "test_error_pct": statistics.mean(errors),
            "test_error_std": statistics.stdev(errors) if len(errors) > 1 else 0.0, "per_seed": rows}
