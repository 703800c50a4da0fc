"""Table 2's classifier protocol: vgan's `train_augmented` against a plain eager PyTorch loop of the
same network and protocol, written the way the authors' `train_clf` runs it.

    python benchmarks/classifier.py [--epochs 3] [--rounds 3] [--rows baseline,augmented]

Both sides train the authors' MNIST classifier (Glorot init, Adadelta rho 0.95 / eps 1e-6, lr 1.0,
batch 100) on the first 1000 training images for --epochs epochs, and after every epoch measure
the error on the whole validation split (10,000) and the test split (10,000). The reference does
that as written: NCHW, batch norm as separate layers in eval mode, evaluation in batches of 200,
a test pass every epoch. vgan folds batch norm into the convolutions for evaluation, runs
channels-last, evaluates in larger batches and takes the test pass only at a new best validation
error (in the first epochs that is nearly every epoch, so this short run understates what a
200-epoch row saves; docs/engineering/performance.md gives both). `augmented` adds a fresh transition of
every batch from an (untrained) MLP VCD generator, the same module on both sides. One
difference in what is computed: the plain loop lets both passes update the batch-norm running
statistics, as such a loop does; vgan's default (`bn_stats="real"`) lets only the real pass
update them. The cost is the same (the transition pass runs either way; only the few running
averages are kept or not), so the speed comparison holds.

Images/s counts the images the authors' loop processes per epoch: the training images (twice
when augmented), 10,000 validation and 10,000 test images. Each side runs in a fresh process;
the sides alternate for --rounds rounds, medians shown with the range of the per-round ratio.
faults/epoch is the whole process's minor page faults (start-up and data loading included)
divided by the epochs.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time

import torch
import torch.nn.functional as F
from torch import nn

import vgan
from vgan.cli.script import Parser, count, output, run
from vgan.data import as_float, epoch_order, load_dataset
from vgan.evaluation.augment import train_augmented
from vgan.model.networks import glorot_init
from vgan.records import record_benchmark

LABELS, EPOCH_IMAGES = 1000, 20_000  # labelled images; validation + test images per epoch


def ref_classifier() -> nn.Module:
    """The authors' MNIST classifier, written plainly."""
    layers, cin = [], 1
    for stage in range(3):
        for _ in range(2):
            layers += [nn.Conv2d(cin, 64, 3, padding=1), nn.BatchNorm2d(64, eps=1e-4), nn.ReLU()]
            cin = 64
        if stage < 2:
            layers += [nn.MaxPool2d(2), nn.Dropout(0.5)]
    model = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10))
    glorot_init(model)
    return model


def ref_protocol(sampler, epochs: int) -> float:
    """The authors' train_clf loop; returns the seconds of its epochs (data loading excluded)."""
    train, val, test = (load_dataset("mnist", s) for s in ("train", "val", "test"))
    x_lab, y_lab = train.images[:LABELS], train.labels[:LABELS]
    torch.manual_seed(0)
    model = ref_classifier()
    opt = torch.optim.Adadelta(model.parameters(), lr=1.0, rho=0.95, eps=1e-6)

    def error(split):
        model.eval()
        wrong = 0
        with torch.no_grad():
            for i in range(0, len(split.images), 200):
                x = as_float(split.images[i : i + 200])
                wrong += (model(x).argmax(1) != split.labels[i : i + 200]).sum().item()
        return wrong / len(split.images)

    start = time.perf_counter()
    for epoch in range(epochs):
        model.train()
        order = epoch_order(LABELS, seed=0, epoch=epoch)
        for i in range(0, LABELS, 100):
            x, y = as_float(x_lab[order[i : i + 100]]), y_lab[order[i : i + 100]]
            noisy = x + 0.1 * torch.randn_like(x)
            loss = F.cross_entropy(model(noisy), y)
            if sampler is not None:
                with torch.no_grad():
                    moved = sampler(x)
                loss = loss + F.cross_entropy(model(moved + 0.1 * torch.randn_like(moved)), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
        error(val), error(test)
    return time.perf_counter() - start


def run_side(row: str, side: str, epochs: int) -> dict:
    out = _run_side(row, side, epochs)
    out["faults"] = resource.getrusage(resource.RUSAGE_SELF).ru_minflt / epochs  # minor page faults per epoch
    return out


def _run_side(row: str, side: str, epochs: int) -> dict:
    torch.manual_seed(0)
    sampler = None
    if row == "augmented":
        cfg = vgan.Config(objective="vcd")
        sampler = vgan.build_sampler(cfg, (1, 28, 28)).requires_grad_(False)
    if side == "ref":
        return {"seconds": ref_protocol(sampler, epochs)}
    result = train_augmented("mnist", sampler, labels=LABELS, epochs=epochs, seed=0)
    return {"seconds": result["seconds"], "test_passes": result["test_passes"]}


def in_subprocess(row: str, side: str, epochs: int) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--one", row, "--side", side, "--epochs", str(epochs)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> None:
    parser = Parser(prog="python benchmarks/classifier.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", default="baseline,augmented")
    parser.add_argument("--epochs", type=count(1, 1_000), default=3)
    parser.add_argument("--rounds", type=count(1, 1_000), default=3)
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--side", help=argparse.SUPPRESS)
    parser.add_argument(
        "--record", metavar="PATH", type=output(".json"), help="also write the figures as a record (vgan.records)"
    )
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(run_side(args.one, args.side, args.epochs)))
        return
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, {args.epochs} epochs per side, "
        f"{args.rounds} rounds"
    )
    print(
        f"{'row':<10} {'vgan img/s':>10} {'ref img/s':>10} {'ratio':>6} {'range':>11} {'vgan s/epoch':>12} "
        f"{'ref s/epoch':>11} {'test passes':>11} {'faults/epoch':>12} {'ref':>9}"
    )
    values = {}
    for row in args.rows.split(","):
        rounds = [
            (in_subprocess(row, "vgan", args.epochs), in_subprocess(row, "ref", args.epochs))
            for _ in range(args.rounds)
        ]
        images = args.epochs * (LABELS * (2 if row == "augmented" else 1) + EPOCH_IMAGES)
        t_ours = statistics.median(r[0]["seconds"] for r in rounds)
        t_ref = statistics.median(r[1]["seconds"] for r in rounds)
        ratios = [r[1]["seconds"] / r[0]["seconds"] for r in rounds]
        print(
            f"{row:<10} {images / t_ours:>10.1f} {images / t_ref:>10.1f} {t_ref / t_ours:>6.2f} "
            f"{min(ratios):>5.2f}-{max(ratios):<5.2f} {t_ours / args.epochs:>12.2f} {t_ref / args.epochs:>11.2f} "
            f"{rounds[0][0]['test_passes']:>5}/{args.epochs} "
            f"{statistics.median(r[0]['faults'] for r in rounds):>12.0f} "
            f"{statistics.median(r[1]['faults'] for r in rounds):>9.0f}"
        )
        values.update(
            {
                f"{row}.vgan_img_s": images / t_ours,
                f"{row}.ref_img_s": images / t_ref,
                f"{row}.ratio": t_ref / t_ours,
                f"{row}.ratio_min": min(ratios),
                f"{row}.ratio_max": max(ratios),
                f"{row}.vgan_s_epoch": t_ours / args.epochs,
                f"{row}.ref_s_epoch": t_ref / args.epochs,
                f"{row}.test_passes": rounds[0][0]["test_passes"],
                f"{row}.faults_epoch": statistics.median(r[0]["faults"] for r in rounds),
                f"{row}.ref_faults_epoch": statistics.median(r[1]["faults"] for r in rounds),
            }
        )
    if args.record:
        scale = f"{args.epochs} epochs a side, {args.rounds} rounds, {torch.get_num_threads()} threads"
        record_benchmark(args.record, values, scale=scale, script="benchmarks/classifier.py")


if __name__ == "__main__":
    sys.exit(run(main, prog="classifier.py"))
