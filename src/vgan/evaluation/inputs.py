"""Checks of the evaluation commands' inputs, called first by each public function: a request
that cannot mean anything (a classifier trained on fewer labels than one batch, a probe on fewer
images than classes, zero seeds) is a one-line ConfigError before any work, not a number."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Optional

from .._utils.checks import Check, at_least, optional, positive, require
from .._utils.errors import ConfigError
from ..data import Toy2D, get


def check_augment(
    *,
    labels: int,
    epochs: int,
    seeds: Iterable[int],
    eval_n: Optional[int] = None,
    batch_size: int = 100,
    lr: float = 1.0,
    dataset: Optional[str] = None,
) -> None:
    """Table 2's classifier: at least one batch of labels and no more than the training split,
    at least one epoch and one seed."""
    require(batch_size, positive, "the classifier's batch_size", "use e.g. 100")
    require(
        labels,
        at_least(batch_size),
        "--labels",
        f"a gradient step takes {batch_size} labelled images; use --labels {batch_size} or more",
    )
    if dataset is not None:
        if isinstance(get(dataset), Toy2D):
            raise ConfigError(
                f"dataset {dataset} holds 2-D points, not images; Table 2's classifier needs an image dataset, "
                "e.g. --dataset mnist"
            )
        if get(dataset).classes != 10:
            raise ConfigError(
                f"dataset {dataset} has {get(dataset).classes} classes; Table 2's classifier has 10 "
                "(the authors' network): use mnist, fashion-mnist, cifar10 or svhn"
            )
        split = get(dataset).train_size
        require(
            labels,
            Check(lambda v: v <= split, f"<= {split}, the {dataset} training split"),
            "--labels",
            f"use --labels {split} or fewer",
        )
    require(epochs, positive, "--epochs", "train the classifier for 1 epoch or more")
    require(len(list(seeds)), positive, "the number of seeds", "name at least one, e.g. --seeds 0")
    require(eval_n, optional(positive), "--eval-n", "use 1 or more validation and test images, or leave it out")
    require(lr, Check(lambda v: 0 < v < float("inf"), "> 0 and finite"), "the classifier's lr", "use e.g. 1.0")


def check_probe(run_dir: str | Path, limit: Optional[int]) -> None:
    """Table 1's probe: `limit` must leave at least one image per class of the run's dataset."""
    from ..runs.load import load_run_config

    require(limit, optional(positive), "--limit", "use 1 or more images per split, or leave it out")
    if limit is not None and (Path(run_dir) / "config.yaml").is_file():  # no config.yaml: load_run says why
        dataset = load_run_config(run_dir).dataset
        classes = get(dataset).classes
        require(
            limit,
            at_least(classes),
            "--limit",
            f"a probe of {dataset} needs at least one image of each of "
            f"its {classes} classes: use --limit {classes} or more (a few thousand for a meaningful error)",
        )


def check_reproduce(*, seeds: int) -> None:
    require(seeds, positive, "--seeds", "use 1 or more")
