"""Table 2: semi-supervised classification with the VCD transitions as data augmentation (Eq. 11).

The authors' protocol (their `train_clf`): a classifier is trained on the first N labelled
training images with
    w * CE(f(x), y) + w * CE(f(x~), y),   x~ ~ p_g(x~ | x) a fresh transition each minibatch,
from a frozen VCD generator, w = 1 (`weighting="sum"`, the authors' code) or 0.5 (`"half"`, Eq. 11
as printed); without a generator (the baseline row) the loss is CE(f(x), y). Glorot-uniform
weights, zero biases; Adadelta (rho 0.95, eps 1e-6), lr 1.0, multiplied by 0.1 at 60% and 90%
of the epochs; batch 100; 200 epochs. After every epoch the validation error is measured on the
whole validation split, and the reported number is the test error (whole test split) at the
epoch with the lowest validation error (the first such epoch).

Batch-norm running statistics, which evaluation uses, come from the real images only by default
(`bn_stats="real"`): the transitions pass through the classifier with batch statistics but leave
the running averages alone. `"both"` lets both passes update them (what `model.train()` does by
default), `"recompute"` re-estimates them on the N labelled images before every evaluation.

Evaluation computes the same function faster: batch norm folded into the convolutions, channels
last, large batches, and a test pass only at epochs whose validation error is a new best.
"""

from __future__ import annotations

import statistics
import time
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval
from tqdm import tqdm

from .._utils.errors import ConfigError
from .._utils.machine import resolve_device
from ..data import as_float, epoch_order, load_dataset, spans
from ..model.mcmc import Langevin
from ..model.networks import glorot_init
from ..model.samplers import TransitionSampler
from ..runs import load_run
from ..runs.outputs import check_finite
from .classifier import accuracy
from .inputs import check_augment
from .sample import require_images

BN_STATS = ("real", "both", "recompute")
WEIGHTING = {"sum": 1.0, "half": 0.5}  # the weight of each cross-entropy of Eq. 11
EVAL_BATCH = 100  # fastest here of 25-1000: the activations stay in cache


class Table2Classifier(nn.Module):
    """The authors' classifier: Gaussian input noise (sigma 0.1, training only), conv-BN-ReLU
    blocks, max pooling and dropout 0.5 between stages, global average pooling, and a dense
    softmax layer. Glorot-uniform weights and zero biases; batch norm with Lasagne's eps 1e-4.

    MNIST stages: [64, 64] | [64, 64] | [64, 64], all 3x3. 32x32 colour: [96]x3 | [192]x3 |
    [192 3x3, 192 1x1, 192 1x1]. At the end of a stage the max-pool runs before the ReLU (they
    commute exactly, and the ReLU then touches a quarter of the values).
    (N, C, S, S) -> (N, ch, S, S) -> pool (N, ch, S/2, S/2) -> pool (N, ch, S/4, S/4) -> (N, classes)
    """

    def __init__(
        self, in_channels: int = 1, size: int = 28, classes: int = 10, noise: float = 0.1, bn_eps: float = 1e-4
    ):
        super().__init__()
        self.noise = noise
        if size == 28:
            stages = [[(64, 3), (64, 3)], [(64, 3), (64, 3)], [(64, 3), (64, 3)]]
        else:
            stages = [[(96, 3)] * 3, [(192, 3)] * 3, [(192, 3), (192, 1), (192, 1)]]
        layers, cin = [], in_channels
        for i, stage in enumerate(stages):
            for j, (cout, k) in enumerate(stage):
                layers += [nn.Conv2d(cin, cout, k, padding=k // 2), nn.BatchNorm2d(cout, eps=bn_eps)]
                if j == len(stage) - 1 and i < len(stages) - 1:
                    layers.append(nn.MaxPool2d(2))
                layers.append(nn.ReLU(inplace=True))
                cin = cout
            if i < len(stages) - 1:
                layers.append(nn.Dropout(0.5))
        self.net = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, classes))
        glorot_init(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training and self.noise:
            x = x + self.noise * torch.randn_like(x)
        return self.net(x)

    @torch.no_grad()
    def folded(self) -> nn.Sequential:
        """The eval-mode function as a new network: each batch norm folded into the conv before
        it (the same affine map, to float rounding), no dropout, no input noise."""
        self.eval()
        layers, modules = [], list(self.net)
        for i, m in enumerate(modules):
            if isinstance(m, nn.BatchNorm2d) or isinstance(m, nn.Dropout):
                continue
            if isinstance(m, nn.Conv2d):
                m = fuse_conv_bn_eval(m, modules[i + 1])
            layers.append(m)
        return nn.Sequential(*layers).eval().to(memory_format=torch.channels_last)


def _batch_norms(model: nn.Module) -> List[nn.modules.batchnorm._BatchNorm]:
    return [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]


@contextmanager
def frozen_bn_stats(model: nn.Module) -> Iterator[None]:
    """Batch norm in train mode normalises with batch statistics but leaves its running
    statistics (and its batch counter) untouched."""
    norms = _batch_norms(model)
    for m in norms:
        m.track_running_stats = False
    try:
        yield
    finally:
        for m in norms:
            m.track_running_stats = True


@torch.no_grad()
def recompute_bn_stats(model: Table2Classifier, images: torch.Tensor, batch_size: int = 100) -> None:
    """Re-estimate the running statistics as the exact average over `images` (float, in the
    training passes' conditions: input noise and dropout on)."""
    norms = _batch_norms(model)
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # a cumulative average
    model.train()
    for piece in spans(len(images), batch_size):  # no batch of one: batch norm needs two
        model(images[piece])
    for m in norms:
        m.momentum = 0.1


def error_pct(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, batch_size: int = EVAL_BATCH) -> float:
    """Test or validation error in %, in eval mode."""
    return 100.0 * (1 - accuracy(model, images, labels, batch_size))


def _float_images(images: torch.Tensor, device: str) -> torch.Tensor:
    """uint8 (N, C, H, W) -> float in [0, 1], channels last, on `device`, once."""
    return as_float(images.to(device)).contiguous(memory_format=torch.channels_last)


def _check_protocol(bn_stats: str, weighting: str) -> None:
    if bn_stats not in BN_STATS:
        raise ConfigError(f"bn_stats {bn_stats!r} is not one of {', '.join(BN_STATS)}")
    if weighting not in WEIGHTING:
        raise ConfigError(f"weighting {weighting!r} is not one of {', '.join(WEIGHTING)}")


def classifier_optimizer(model: nn.Module, epochs: int, lr: float = 1.0):
    """The authors' optimiser: Adadelta (rho 0.95, eps 1e-6, Lasagne's defaults) at `lr`, multiplied
    by 0.1 after 60% and 90% of the epochs (step the scheduler once per epoch)."""
    opt = torch.optim.Adadelta(model.parameters(), lr=lr, rho=0.95, eps=1e-6)
    return opt, torch.optim.lr_scheduler.MultiStepLR(opt, [int(0.6 * epochs), int(0.9 * epochs)], gamma=0.1)


def classifier_step(
    model: Table2Classifier,
    opt: torch.optim.Optimizer,
    x: torch.Tensor,
    y: torch.Tensor,
    sampler: Optional[nn.Module] = None,
    rng: Optional[torch.Generator] = None,
    weighting: str = "sum",
    bn_stats: str = "real",
) -> torch.Tensor:
    """One minibatch: CE(f(x), y), plus CE(f(x~), y) for a fresh transition x~ of x (Eq. 11)."""
    if sampler is None:
        loss = F.cross_entropy(model(x), y)
    else:
        with torch.no_grad():
            moved = sampler(x, rng=rng).contiguous(memory_format=torch.channels_last)
        w = WEIGHTING[weighting]
        loss = w * F.cross_entropy(model(x), y)
        with frozen_bn_stats(model) if bn_stats == "real" else nullcontext():
            loss = loss + w * F.cross_entropy(model(moved), y)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return loss.detach()


def train_augmented(
    dataset: str,
    sampler: Optional[nn.Module],
    *,
    labels: int = 1000,
    epochs: int = 200,
    seed: int = 0,
    batch_size: int = 100,
    lr: float = 1.0,
    eval_n: Optional[int] = None,
    bn_stats: str = "real",
    weighting: str = "sum",
    data_dir: Optional[str] = None,
    device: str = "cpu",
) -> Dict[str, float]:
    """One row of Table 2 for one seed: the test error (%) at the best validation epoch, with the
    number of test passes that took and the seconds of the epochs."""
    check_augment(
        labels=labels, epochs=epochs, seeds=[seed], eval_n=eval_n, batch_size=batch_size, lr=lr, dataset=dataset
    )
    _check_protocol(bn_stats, weighting)
    train, val, test = (load_dataset(dataset, s, data_dir) for s in ("train", "val", "test"))
    x_lab, y_lab = _float_images(train.images[:labels], device), train.labels[:labels].to(device)
    x_val, y_val = _float_images(val.images[:eval_n], device), val.labels[:eval_n]
    x_test, y_test = _float_images(test.images[:eval_n], device), test.labels[:eval_n]
    torch.manual_seed(seed)
    model = Table2Classifier(train.image_shape[0], train.image_shape[1]).to(device, memory_format=torch.channels_last)
    opt, sched = classifier_optimizer(model, epochs, lr)
    rng = torch.Generator(device).manual_seed(seed)
    best = {"val_error_pct": float("inf")}
    start, test_passes = time.perf_counter(), 0
    for epoch in tqdm(range(epochs), desc=f"table 2 classifier, seed {seed}", disable=None):
        model.train()
        order = epoch_order(labels, seed=seed, epoch=epoch).to(device)
        for i in range(0, labels - batch_size + 1, batch_size):
            idx = order[i : i + batch_size]
            classifier_step(model, opt, x_lab[idx], y_lab[idx], sampler, rng, weighting, bn_stats)
        sched.step()
        if bn_stats == "recompute":
            recompute_bn_stats(model, x_lab, batch_size)
        net = model.folded()
        val_error = error_pct(net, x_val, y_val)
        if val_error < best["val_error_pct"]:  # the first best epoch, as np.argmin in the authors' code
            test_passes += 1
            best = {
                "val_error_pct": val_error,
                "test_error_pct": error_pct(net, x_test, y_test),
                "best_epoch": epoch + 1,
            }
    return {**best, "test_passes": test_passes, "seconds": round(time.perf_counter() - start, 1)}


def augment(
    run_dir: Optional[str | Path] = None,
    *,
    dataset: Optional[str] = None,
    labels: int = 1000,
    epochs: int = 200,
    seeds: Sequence[int] = (0,),
    eval_n: Optional[int] = None,
    no_augment: bool = False,
    bn_stats: str = "real",
    weighting: str = "sum",
    device: str = "cpu",
    checkpoint: str = "last.pt",
    langevin: Optional[Langevin] = None,
) -> Dict[str, object]:
    """Table 2 for one row: with a VCD run's transitions (run_dir), with `langevin.steps` Langevin
    steps on a run's energy from each labelled image as the transition (any run; `Model.langevin`),
    or the no-augmentation baseline (`no_augment`, or no run_dir and `dataset` named). Mean and std
    of the test error over seeds, each seed's result, and the protocol."""
    check_augment(labels=labels, epochs=epochs, seeds=seeds, eval_n=eval_n, dataset=dataset)
    if no_augment and langevin is not None:
        raise ConfigError("--langevin-steps sets the transitions that --no-augment leaves out; drop one of them")
    _check_protocol(bn_stats, weighting)
    device = resolve_device(device).type  # "cuda" without CUDA is a one-line error, here as for a run
    sampler, data_dir = None, None
    langevin_steps = langevin is not None and bool(langevin.steps)
    if run_dir is not None:
        model = load_run(run_dir, checkpoint, device)
        require_images(model, "augment")
        if dataset not in (None, model.cfg.dataset):
            raise ConfigError(
                f"{run_dir} was trained on {model.cfg.dataset}, not {dataset}; drop --dataset (it names the "
                "baseline's dataset when there is no RUN_DIR)"
            )
        dataset, data_dir = model.cfg.dataset, model.cfg.data_dir
        if no_augment:  # the baseline row on this run's data
            run_dir = None
        elif langevin_steps:  # Langevin transitions on the run's energy, for any run
            sampler = model.langevin(langevin)
        elif not isinstance(model.sampler, TransitionSampler):
            raise ConfigError(
                f"{run_dir} is not a VCD run; augmentation needs transitions (objective=vcd), or pass "
                "--langevin-steps K for Langevin transitions on its energy"
            )
        else:
            sampler = model.eval_sampler.requires_grad_(False)
    if dataset is None:
        raise ConfigError("without RUN_DIR, name the dataset of the baseline row: --dataset mnist")
    rows = [
        train_augmented(
            dataset,
            sampler,
            labels=labels,
            epochs=epochs,
            seed=s,
            eval_n=eval_n,
            bn_stats=bn_stats,
            weighting=weighting,
            data_dir=data_dir,
            device=device,
        )
        for s in seeds
    ]
    return check_finite(
        summarise(
            rows,
            {
                "row": f"{'Langevin' if langevin_steps else 'VCD'} ({Path(run_dir).name})"
                if run_dir
                else "No augmentation",
                "langevin": _langevin_protocol(sampler) if langevin_steps and sampler is not None else None,
                "dataset": dataset,
                "labels": labels,
                "epochs": epochs,
                "eval_n": eval_n,
                "bn_stats": bn_stats,
                "weighting": weighting if sampler is not None else None,
                "seeds": list(seeds),
            },
        ),
        "Table 2's test error",
    )


def _langevin_protocol(sampler) -> Dict[str, float]:
    return {"steps": sampler.steps, "step_size": sampler.step_size, "noise": sampler.noise_scale}


def summarise(rows: List[Dict[str, float]], protocol: Dict[str, object]) -> Dict[str, object]:
    """Mean and sample std of the per-seed test errors, beside the protocol and the rows."""
    errors = [r["test_error_pct"] for r in rows]
    return {
        **protocol,
        "test_error_pct": statistics.mean(errors),
        "test_error_std": statistics.stdev(errors) if len(errors) > 1 else 0.0,
        "per_seed": rows,
    }
