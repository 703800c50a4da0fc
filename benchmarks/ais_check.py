"""How far AIS's log Z is from the truth on an energy like the ones it measures: 784 dimensions,
several well-separated modes, on the box [0, 1]^784, where Z is known exactly.

    python benchmarks/ais_check.py [--modes 10] [--width 0.1] [--temperatures 500,2000,5000] [--record PATH]

The energy is E(x) = -log sum_m exp(-|x - mu_m|^2 / (2 s^2)) / M, its modes mu_m the first M MNIST
test images (so they are as far apart as digits are), s = --width. On the box,

    Z = (1/M) sum_m prod_d sqrt(2 pi) s [Phi((1 - mu_md) / s) - Phi(-mu_md / s)],

a sum of products of one-dimensional erf terms. For each number of temperatures it prints AIS's
log Z (vgan.evaluation.likelihood.ais_log_z, its other settings the defaults of `vgan evaluate`),
the error against the exact value and the spread of its runs.
"""

from __future__ import annotations

import math
import sys
import time

import torch
from torch import nn

from vgan._utils.checks import number, open_interval
from vgan.cli.script import RECORD, Parser, count, output, run
from vgan.data import as_float, load_dataset
from vgan.evaluation.likelihood import AIS, ais_log_z
from vgan.records import record_benchmark


class Mixture(nn.Module):
    """E(x) = -log mean_m exp(-|x - mu_m|^2 / (2 s^2)) for x (N, ...) flattened."""

    def __init__(self, means: torch.Tensor, width: float):
        super().__init__()
        self.register_buffer("means", means.flatten(1).double())
        self.width = width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        d2 = torch.cdist(x.flatten(1).double(), self.means).pow(2)
        return -(torch.logsumexp(-d2 / (2 * self.width**2), 1) - math.log(len(self.means))).float()

    def log_z(self) -> float:
        """The exact log Z over [0, 1]^d."""
        s = self.width
        mass = torch.special.ndtr((1 - self.means) / s) - torch.special.ndtr(-self.means / s)
        per_mode = (math.log(math.sqrt(2 * math.pi) * s) + mass.log()).sum(1)
        return (torch.logsumexp(per_mode, 0) - math.log(len(self.means))).item()


def check(modes: int, width: float, temperatures) -> dict:
    means = as_float(load_dataset("mnist", "test").images[:modes])
    energy = Mixture(means, width)
    exact = energy.log_z()
    values = {"modes": modes, "width": width, "exact_log_z": exact}
    for t in temperatures:
        start = time.perf_counter()
        result = ais_log_z(energy, (1, 28, 28), AIS(temperatures=t))
        values[f"t{t}.log_z"] = result.log_z
        values[f"t{t}.error"] = result.log_z - exact
        values[f"t{t}.runs_sd"] = result.log_z_std
        values[f"t{t}.seconds"] = round(time.perf_counter() - start, 1)
        print(
            f"{t:>6} temperatures: log Z {result.log_z:10.2f}  exact {exact:10.2f}  error {result.log_z - exact:+8.2f}"
        )
    return values


def main(argv=None) -> None:
    parser = Parser(prog="python benchmarks/ais_check.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--modes", type=count(1, 1000), default=10)
    parser.add_argument("--width", type=number(open_interval(0, 10), float), default=0.1, help="s of each mode")
    parser.add_argument("--temperatures", default="500,2000,5000", help="comma-separated counts of AIS temperatures")
    parser.add_argument("--record", metavar="PATH", type=output(".json"), help=RECORD)
    args = parser.parse_args(argv)
    temperatures = [count(1, 10**6)(t) for t in args.temperatures.split(",")]
    values = check(args.modes, args.width, temperatures)
    if args.record:
        scale = (
            f"{args.modes} modes of width {args.width} in 784 dimensions; AIS: 4 runs of 25 chains, 4 leapfrog steps"
        )
        record_benchmark(args.record, values, scale=scale, script="benchmarks/ais_check.py")


if __name__ == "__main__":
    sys.exit(run(main, prog="ais_check.py"))
