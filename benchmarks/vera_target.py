"""VERA's generator against a fixed, exact energy: does its entropy estimate keep q on every mode?

    python benchmarks/vera_target.py [--steps 4000] [--record PATH]

The energy is the 25-Gaussian grid's own E(x) = -log p_data(x) (exact, not learned), so the only
thing that can go wrong is the generator's side: VERA's noisy generator (`samplers.VERASampler`)
descends E(x) - H(q) with H's gradient from `entropy.VERAEntropy`, as in `toy25_vera`, for each
latent size and number of importance samples K. At the optimum q = p_data: 25 modes, ~99% of
samples within 3 sigma of a mode, mean E(x) = H(p_data) = -3.15 nats. Prints and records modes,
% high quality and mean E(x) every 1,000 steps.
"""

from __future__ import annotations

import math
import sys

import torch

import vgan
from vgan.cli.script import RECORD, Parser, count, output, run
from vgan.data import DATASETS
from vgan.evaluation.metrics import toy_modes
from vgan.model.entropy import VERAEntropy
from vgan.model.model import build_sampler
from vgan.records import record_benchmark

SETTINGS = [(16, 20), (2, 20), (2, 500)]  # (z_dim, K): the preset's latent, VERA's toy latent, more samples


def exact_energy(x: torch.Tensor) -> torch.Tensor:
    toy = DATASETS["25gaussians"]
    centres = (torch.tensor(toy.centres(), dtype=torch.float32) + 2.5) / 5
    s = toy.sigma / 5  # in the data's [0, 1]^2 coordinates
    d2 = (x[:, None, :] - centres[None]).pow(2).sum(-1)
    return -(torch.logsumexp(-d2 / (2 * s * s), 1) - math.log(25 * 2 * math.pi * s * s))


def fit(z_dim: int, samples: int, steps: int, seed: int = 0) -> dict:
    cfg = vgan.load_config("toy25_vera", overrides=[f"z_dim={z_dim}", f"vera_posterior_samples={samples}"])
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        sampler = build_sampler(cfg, (2,)).train()  # the preset's VERASampler
    rng = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(sampler.parameters(), lr=cfg.lr, betas=tuple(cfg.betas))
    entropy, out = VERAEntropy(baseline=cfg.vera_baseline), {}
    for step in range(1, steps + 1):
        draw = sampler.draw(cfg.batch_size, rng=rng)
        loss = exact_energy(draw.x).mean() - entropy.estimate(draw, None)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 1000 == 0:
            with torch.no_grad():
                x = sampler.eval()(2500, rng=torch.Generator().manual_seed(1))
                sampler.train()
            q = toy_modes(x, DATASETS["25gaussians"])
            row = {"modes": q["modes_covered"], "high_quality_pct": q["high_quality_pct"]}
            row["mean_energy"] = exact_energy(x).mean().item()
            out.update({f"z{z_dim}_k{samples}.step{step}.{k}": v for k, v in row.items()})
            print(
                f"z_dim {z_dim:>2} K {samples:>4} step {step:>5}: {row['modes']:.0f} modes, "
                f"{row['high_quality_pct']:.1f}% high quality, mean E {row['mean_energy']:.2f}",
                flush=True,
            )
    return out


def main(argv=None) -> None:
    parser = Parser(prog="python benchmarks/vera_target.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=count(1000, 10**6), default=4000)
    parser.add_argument("--record", metavar="PATH", type=output(".json"), help=RECORD)
    args = parser.parse_args(argv)
    values = {}
    for z_dim, samples in SETTINGS:
        values.update(fit(z_dim, samples, args.steps))
    if args.record:
        scale = f"{args.steps} generator steps of toy25_vera's generator, batch 100, 1 seed"
        record_benchmark(args.record, values, scale=scale, script="benchmarks/vera_target.py")


if __name__ == "__main__":
    sys.exit(run(main, prog="vera_target.py"))
