"""vgan: train energy-based models by variational adversarial training, and evaluate them.

The parser of the `vgan` command line; each command's handler is in vgan.cli.commands.

vgan train [--config PRESET|FILE] [--resume RUN_DIR] [key=value ...]
vgan configs [--check | --keys]
vgan sample RUN_DIR [--n 100] [--out FILE.png]
vgan plot RUN_DIR [--out FILE.png]
vgan reconstruct RUN_DIR | vgan chain RUN_DIR [--steps 9] [--n 30]
vgan evaluate RUN_DIR [--metrics modes,fid,ood] | vgan probe RUN_DIR | vgan augment [RUN_DIR]
vgan reproduce table1|table2 [--scale smoke|cpu|paper]     (each with --record PATH: vgan.records)
vgan data fetch mnist | vgan data verify [mnist]
"""

from __future__ import annotations

import argparse
from typing import Optional

from .. import data
from .._utils import checks
from .._utils.checks import SEED, Parser, at_least, closed_interval, folder, names, number, positive, seed_list
from ..evaluation.likelihood import AIS
from . import commands
from .script import output, output_dir

RECORD = "also write the result as a record (JSON: command, config hash, machine, date, scale, values)"


def _reader(
    sub, name: str, func, run_dir_help: Optional[str] = None, record: bool = False, **kwargs
) -> argparse.ArgumentParser:
    """A subcommand that reads a run: RUN_DIR (optional where `run_dir_help` says so), --device
    and, for a measurement, --record PATH."""
    p = sub.add_parser(name, **kwargs)
    p.add_argument("run_dir", metavar="RUN_DIR", nargs="?" if run_dir_help else None, help=run_dir_help)
    p.add_argument("--device", choices=("cpu", "cuda"), help="device to run on (default cpu)")
    p.add_argument("--checkpoint", default="last.pt", help="checkpoint file in RUN_DIR (default last.pt)")
    if record:
        p.add_argument("--record", metavar="PATH", type=output(".json"), help=RECORD)
    p.set_defaults(func=func)
    return p


def _langevin_flags(p: argparse.ArgumentParser, what: str) -> None:
    """--langevin-steps, -step-size, -noise: Langevin x <- clamp(x - a grad E + s xi, [0, 1]) on a run's energy."""
    p.add_argument(
        "--langevin-steps",
        type=number(closed_interval(1, 10**5)),
        help=f"{what}: this many Langevin steps on E(x)",
    )
    p.add_argument(
        "--langevin-step-size",
        type=number(positive, float),
        help="a, the step along -grad E (default: the run's langevin_step_size)",
    )
    p.add_argument(
        "--langevin-noise",
        type=number(at_least(0), float),
        help="s, the noise's std per coordinate (default: the run's langevin_noise)",
    )


def _mala_flags(p: argparse.ArgumentParser) -> None:
    """--mala-steps, --mala-step-size: MALA in a generator's latent space on E(G(z)) (MEG's sampler)."""
    p.add_argument(
        "--mala-steps",
        type=number(closed_interval(1, 10**4)),
        help="draw G(z) after this many MALA steps on E(G(z)) - log p(z) in latent space (a generator run)",
    )
    p.add_argument("--mala-step-size", type=number(positive, float), help="MALA's step (default 0.01)")


def _image_writer(sub, name: str, func, *, n: int, out: str, noise: str, **kwargs) -> argparse.ArgumentParser:
    """A subcommand that reads a run and writes one PNG."""
    p = _reader(sub, name, func, **kwargs)
    p.add_argument(
        "--n",
        type=number(closed_interval(2, checks.MAX_IMAGES)),
        default=n,
        help=f"number of images, 2 to {checks.MAX_IMAGES} (default {n})",
    )
    p.add_argument("--out", type=output(".png", default=out), help=f"PNG file to write (default RUN_DIR/{out})")
    p.add_argument("--seed", type=number(SEED), default=0, help=f"seed of {noise}")
    return p


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="vgan", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser(
        "train",
        help="train a VGAN or GAN (Algorithm 1 / Eq. 1)",
        description="Train from the defaults, a YAML config and key=value overrides.",
        epilog="config keys (key=value; type, default, what it does):\n" + commands.keys_text(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--config",
        metavar="PRESET|FILE",
        help="a preset name (`vgan configs` lists them), e.g. mnist_gan, or a YAML file of config keys",
    )
    p.add_argument("--resume", metavar="RUN_DIR", help="continue the run in RUN_DIR from its last.pt")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), help="override the config's device")
    p.add_argument("--data-dir", type=folder, help="your own copy of the dataset (torchvision's layout works)")
    p.add_argument("--dry-run", action="store_true", help="smoke test: two iterations into a temporary directory")
    p.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides, e.g. k=3 epochs=1")
    p.set_defaults(func=commands.train)

    p = sub.add_parser(
        "configs",
        help="list the presets that `train --config NAME` takes",
        description="Prints each preset shipped in the package (vgan/config/presets/) with its one-line "
        "description; --check validates every preset's config instead, --keys lists every config key.",
    )
    p.add_argument("--check", action="store_true", help="validate every preset (config only: no data, no training)")
    p.add_argument("--keys", action="store_true", help="every config key with its type, default and help")
    p.set_defaults(func=commands.configs)

    p = _image_writer(
        sub,
        "sample",
        commands.sample,
        n=100,
        out="sample.png",
        noise="the noise z",
        record=True,
        help="a grid of samples from a run's checkpoint: G(z), CD chains, or transitions of validation images",
    )
    _langevin_flags(p, "refine the samples")
    _mala_flags(p)

    p = sub.add_parser(
        "plot",
        help="the training curves of a run as a picture, RUN_DIR/curves.png",
        description="Draws the energies of data and generated batches (with the band [0, K ln 2] "
        "of Eq. 8), both batch entropies, the losses, the mean |expert logit| on generated "
        "samples, the two dead zones of Eq. 8, for VCD the reconstruction error and, when on, "
        "the remedies' penalties against the iteration, from "
        "RUN_DIR/metrics.jsonl; works on finished, running and interrupted runs.",
    )
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.add_argument(
        "--out",
        type=output(".png", default="curves.png"),
        help="PNG file to write (default RUN_DIR/curves.png)",
    )
    p.set_defaults(func=commands.plot)

    p = _image_writer(
        sub,
        "reconstruct",
        commands.reconstruct,
        n=100,
        out="reconstruct.png",
        noise="the transition noise",
        help="VCD: Figure 3 panels x | x_bar | x~ and transition metrics",
        description="Writes validation inputs, reconstructions and transitions side by side, and "
        "prints reconstruction error, mean ||x~ - x|| and the fraction of transitions "
        "that a fixed classifier (trained and cached on first use) labels as x.",
    )
    p.add_argument(
        "--eval-n", type=number(at_least(2)), default=10_000, help="validation images for the metrics (default 10000)"
    )
    p.add_argument("--no-classifier", action="store_true", help="skip the label-preservation measure")

    p = _image_writer(
        sub,
        "chain",
        commands.chain,
        n=30,
        out="chain.png",
        noise="the transition noise",
        help="a Markov chain x -> x~1 -> x~2 ... (Figure 5), one column per chain: VCD's learned transitions, "
        "or Langevin steps on any run's energy",
    )
    p.add_argument(
        "--steps",
        type=number(closed_interval(1, checks.MAX_STEPS)),
        default=9,
        help="transition steps after x (default 9)",
    )
    _langevin_flags(p, "each transition")

    p = _reader(
        sub,
        "evaluate",
        commands.evaluate,
        record=True,
        help="mode coverage, FID/KID and energy OOD AUROC of a run",
        description="2-D mixtures and StackedMNIST: modes covered and sample quality; image datasets: "
        "FID and KID against the test split (with the real-vs-real floor) and the AUROC of "
        "E(x) against other datasets and uniform noise; every dataset: the test split's log-likelihood "
        "under p(x) ~ exp(-E(x)) on [0, 1]^d, log Z by annealed importance sampling. Saves RUN_DIR/evaluate.json.",
    )
    p.add_argument(
        "--metrics", type=names, help="comma-separated subset of modes, fid, ood, loglik (default: all that apply)"
    )
    p.add_argument(
        "--n",
        type=number(closed_interval(2, checks.MAX_SAMPLES)),
        help="samples to generate (default 2500 for modes, 10000 for fid)",
    )
    _mala_flags(p)
    defaults = AIS()
    for key in commands.AIS_FLAGS:
        p.add_argument(
            f"--ais-{key}",
            type=number(closed_interval(1, 10**6)),
            help=f"loglik: AIS {key} (default {getattr(defaults, key)})",
        )

    p = _reader(
        sub,
        "probe",
        commands.probe,
        record=True,
        help="Table 1: linear probe on phi(x), test error in %%",
        description="Extracts phi(x) (the layer under the energy head) for the train, validation and "
        "test splits, fits a multinomial logistic regression (scikit-learn) for each C in "
        "0.01, 0.1, 1, keeps the C with the lowest validation error and prints its test error.",
    )
    p.add_argument("--limit", type=number(positive), help="use at most this many images of each split (quick checks)")

    p = _reader(
        sub,
        "augment",
        commands.augment,
        record=True,
        run_dir_help="a VCD run (omit for the baseline row)",
        help="Table 2: a classifier on N labels, with VCD transitions as augmentation",
        description="Trains the authors' classifier (Glorot init, Adadelta rho 0.95, lr 1.0 x0.1 at 60% and "
        "90% of the epochs, batch 100) on the first N training images with loss "
        "CE(x, y) + CE(x~, y), x~ a fresh transition from the frozen VCD generator of RUN_DIR "
        "(Eq. 11 as the authors' code sums it); with --no-augment or no RUN_DIR, the baseline. "
        "Prints the test error (whole test split) at the epoch of the best validation error "
        "(whole validation split), mean and std over seeds.",
    )
    p.add_argument("--labels", type=number(positive), default=1000, help="labelled training images (default 1000)")
    p.add_argument("--no-augment", action="store_true", help="the baseline row: no transitions")
    _langevin_flags(p, "transitions from each labelled image, for any run")
    p.add_argument("--dataset", help="dataset of the baseline row when no RUN_DIR is given")
    p.add_argument("--epochs", type=number(positive), default=200, help="default 200, as the authors")
    p.add_argument("--seeds", type=seed_list, default=[0], help="comma-separated seeds, e.g. 0,1,2")
    p.add_argument(
        "--eval-n", type=number(positive), help="use at most this many validation and test images (default all)"
    )
    p.add_argument(
        "--bn-stats",
        choices=("real", "both", "recompute"),
        default="real",
        help="batch-norm running statistics: from the real images only (default), from both passes, "
        "or re-estimated on the labelled images before each evaluation",
    )
    p.add_argument(
        "--weighting",
        choices=("sum", "half"),
        default="sum",
        help="Eq. 11's two cross-entropies: summed as the authors' code (default) or 0.5/0.5 as printed",
    )

    p = sub.add_parser(
        "reproduce",
        help="train, evaluate and tabulate Table 1 or 2 beside the paper's numbers",
        description="Trains every model the table needs (finished runs under OUT_DIR are reused, "
        "interrupted ones resumed), evaluates them and writes a Markdown table with the "
        "paper's numbers, the scale, the wall time and the equivalent commands.",
    )
    p.add_argument("table", choices=("table1", "table2"))
    p.add_argument(
        "--scale",
        choices=("smoke", "cpu", "paper"),
        default="smoke",
        help="smoke: a minute; cpu: CPU-sized models (Table 2: the classifier at the full protocol, "
        "about half an hour per row and seed on 2 cores); paper: the paper's models (GPU)",
    )
    p.add_argument(
        "--seeds",
        type=number(closed_interval(1, checks.MAX_SEEDS)),
        default=1,
        help="seeds 0..N-1 of the Table 2 classifier per row (seeds computed earlier are kept too)",
    )
    p.add_argument(
        "--rows", type=names, help="comma-separated row names to compute (default all), e.g. no_augmentation,vcd_rho_1"
    )
    p.add_argument("--out-dir", type=output_dir(), default="runs/reproduce", help="where runs and tables go")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    p.add_argument("--record", metavar="PATH", type=output(".json"), help=RECORD)
    p.set_defaults(func=commands.reproduce)

    p = sub.add_parser("data", help="fetch and verify datasets")
    dsub = p.add_subparsers(dest="action", required=True)
    f = dsub.add_parser("fetch", help="download a dataset into the cache ($VGAN_DATA or ~/.cache/vgan) and verify it")
    f.add_argument("name", choices=sorted(data.DATASETS))
    f.add_argument("--data-dir", type=folder, help="look for an existing copy here first")
    f.set_defaults(func=commands.fetch)
    v = dsub.add_parser("verify", help="check a dataset's files against their SHA-256")
    v.add_argument("name", nargs="?", choices=sorted(data.DATASETS))
    v.add_argument("--data-dir", type=folder, help="check the copy here instead of the cache")
    v.set_defaults(func=commands.verify)
    return parser
