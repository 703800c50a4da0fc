"""The cost of MCMC against a generator: one Langevin step on E against one forward-and-backward
of the same energy on the same batch, and the sampling cost per image of each method.

    python benchmarks/langevin.py [--presets mnist_vgan,...] [--batch 100] [--rounds 5] [--json FILE]

Part 1, per preset's energy network: ms of one training forward-and-backward (E(x).sum().backward(),
weight gradients included) and of one `vgan.langevin` step (forward, the input's gradient, the
update), alternating for --rounds rounds of --iters calls; medians and their ratio (target: at
most 1.2). Part 2, per benchmark: ms per image of drawing a batch by each method as the presets
train it: G(z) (VGAN, GAN), one VCD transition, and the CD chains (short-run from noise and
persistent from a buffer, each `langevin_steps` steps). Networks are freshly initialised: the
cost does not depend on the weights.
"""

from __future__ import annotations

import json
import statistics
import sys
import time

import torch

import vgan
from vgan._utils.atomic import write_atomic
from vgan.cli.script import Parser, count, output, run
from vgan.model.mcmc import langevin
from vgan.model.model import build_sampler
from vgan.model.networks import build_energy
from vgan.records import record_benchmark
from vgan.training.allocator import keep_freed_memory

SHAPES = {"mnist": (1, 28, 28), "stackedmnist": (3, 28, 28), "25gaussians": (2,)}
STEP_PRESETS = ("mnist_vgan", "mnist_cd", "mnist_vgan_paper", "stackedmnist_vgan", "toy25_vgan")
SAMPLING = {  # benchmark: (VGAN preset, VCD preset, CD persistent preset, CD short-run preset)
    "toy25": ("toy25_vgan", None, "toy25_cd", "toy25_cd_shortrun"),
    "stackedmnist": ("stackedmnist_vgan", None, "stackedmnist_cd", "stackedmnist_cd_shortrun"),
    "mnist": ("mnist_vgan", "mnist_vcd", "mnist_cd", "mnist_cd_shortrun"),
}


def timed(fn, iters: int) -> float:
    start = time.perf_counter()
    for _ in range(iters):
        fn()
    return (time.perf_counter() - start) / iters * 1e3


def alternate(fns: dict, iters: int, rounds: int) -> dict:
    """Median ms of each function over rounds that alternate between them (a noisy neighbour slows all)."""
    for fn in fns.values():
        fn()  # warm up
    times = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            times[name].append(timed(fn, iters))
    return {name: statistics.median(t) for name, t in times.items()}


def step_costs(preset: str, batch: int, iters: int, rounds: int) -> dict:
    cfg = vgan.load_config(preset)
    energy = build_energy(cfg, SHAPES[cfg.dataset])
    if cfg.arch == "conv" and cfg.channels_last:
        energy = energy.to(memory_format=torch.channels_last)
    x = torch.rand(batch, *SHAPES[cfg.dataset])

    def train_step():
        energy.zero_grad(set_to_none=True)
        energy(x).energy.sum().backward()

    def langevin_step():
        langevin(energy, x, steps=1, step_size=cfg.langevin_step_size, noise=cfg.langevin_noise)

    ms = alternate({"forward_backward_ms": train_step, "langevin_step_ms": langevin_step}, iters, rounds)
    return {**ms, "ratio": ms["langevin_step_ms"] / ms["forward_backward_ms"]}


def sampling_costs(benchmark: str, batch: int, rounds: int) -> dict:
    vgan_preset, vcd_preset, cd_preset, short_preset = SAMPLING[benchmark]
    out = {}
    for method, preset in (
        ("vgan", vgan_preset),
        ("vcd", vcd_preset),
        ("cd", cd_preset),
        ("cd_shortrun", short_preset),
    ):
        if preset is None:
            continue
        cfg = vgan.load_config(preset)
        shape = SHAPES[cfg.dataset]
        energy = build_energy(cfg, shape)
        sampler = build_sampler(cfg, shape, energy).eval()
        rng = torch.Generator().manual_seed(0)
        cond = torch.rand(batch, *shape)
        arg = cond if sampler.conditional else batch
        draw = lambda s=sampler, a=arg, g=rng: s(a, rng=g)  # noqa: E731
        with torch.no_grad():
            ms = alternate({method: draw}, 1, rounds)[method]
        out[f"{method}_ms_per_image"] = ms / batch
        if method.startswith("cd"):
            out[f"{method}_steps"] = cfg.langevin_steps
    return out


def main(argv=None) -> None:
    parser = Parser(prog="python benchmarks/langevin.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--presets", default=",".join(STEP_PRESETS), help="energies of part 1")
    parser.add_argument("--benchmarks", default=",".join(SAMPLING), help="benchmarks of part 2")
    parser.add_argument("--batch", type=count(1, 100_000), default=100)
    parser.add_argument("--iters", type=count(1, 100_000), default=20)
    parser.add_argument("--rounds", type=count(1, 1_000), default=5)
    parser.add_argument("--json", type=output(".json"), help="also write the results to this JSON file")
    parser.add_argument(
        "--record", metavar="PATH", type=output(".json"), help="also write the figures as a record (vgan.records)"
    )
    args = parser.parse_args(argv)
    keep_freed_memory()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch {args.batch}")
    results = {"steps": {}, "sampling": {}}
    print(f"{'energy of':<20} {'fwd+bwd ms':>10} {'Langevin ms':>11} {'ratio':>6}")
    for preset in args.presets.split(","):
        r = results["steps"][preset] = step_costs(preset, args.batch, args.iters, args.rounds)
        print(f"{preset:<20} {r['forward_backward_ms']:>10.2f} {r['langevin_step_ms']:>11.2f} {r['ratio']:>6.2f}")
    for benchmark in args.benchmarks.split(","):
        r = results["sampling"][benchmark] = sampling_costs(benchmark, args.batch, args.rounds)
        print(f"{benchmark}: " + ", ".join(f"{k} {v:.4g}" for k, v in r.items()))
    if args.json:
        write_atomic(args.json, json.dumps(results, indent=2))
    if args.record:
        record_benchmark(
            args.record,
            results,
            scale=f"batch {args.batch}, {args.rounds} rounds of {args.iters} calls, {torch.get_num_threads()} threads",
            script="benchmarks/langevin.py",
        )


if __name__ == "__main__":
    sys.exit(run(main, prog="langevin.py"))
