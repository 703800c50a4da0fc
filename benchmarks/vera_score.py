"""How far VERA's score estimate is from the exact one, as the importance samples grow.

    python benchmarks/vera_score.py [--record PATH]

A linear generator G(z) = Az + b (z of 3 dimensions, x of 5, sigma 0.3) makes q(x) Gaussian, so
-grad_x log q(x) = Sigma^-1 (x - b) is exact. For K importance samples of q(z | x), with the
proposal's widths 1.5 times the posterior's (what the ELBO fit gives, a little widened), it
prints the mean relative error |c - c_exact| / |c_exact| over 400 samples (the setting of
tests/model/test_vera.py).
"""

from __future__ import annotations

import sys

import torch
from torch import nn

from vgan.cli.script import RECORD, Parser, output, run
from vgan.model.samplers import VERASampler
from vgan.records import record_benchmark

SAMPLES = (2, 20, 200, 2000, 20_000)


def relative_error(samples: int, n: int = 400) -> float:
    torch.manual_seed(0)
    generator = nn.Linear(3, 5)
    sampler = VERASampler(generator, 3, (5,), sigma_range=(0.3, 0.3), posterior_samples=samples).train()
    a, b = generator.weight.detach(), generator.bias.detach()
    widths = (1 + (a * a).sum(0) / 0.09).rsqrt()
    sampler.log_eta.copy_((1.5 * widths).log())
    draw = sampler.draw(n, rng=torch.Generator().manual_seed(1))
    x = draw.x.detach()
    exact = torch.linalg.solve(a @ a.T + 0.09 * torch.eye(5), (x - b).T).T
    return ((draw.score - exact).norm(dim=1) / exact.norm(dim=1)).mean().item()


def main(argv=None) -> None:
    parser = Parser(prog="python benchmarks/vera_score.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--record", metavar="PATH", type=output(".json"), help=RECORD)
    args = parser.parse_args(argv)
    values = {}
    for k in SAMPLES:
        values[f"k{k}.relative_error"] = relative_error(k)
        print(f"K = {k:>6}: relative error of the score {values[f'k{k}.relative_error']:.3f}")
    if args.record:
        scale = "a linear generator (z of 3 dimensions, x of 5, sigma 0.3); 400 samples"
        record_benchmark(args.record, values, scale=scale, script="benchmarks/vera_score.py")


if __name__ == "__main__":
    sys.exit(run(main, prog="vera_score.py"))
