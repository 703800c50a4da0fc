"""Equal wall time for methods whose iterations cost differently: ms of one training iteration of
each preset (k generator steps and one energy step; for CD its Langevin chains and one energy
step), measured side by side, and the iterations each preset gets in the wall time that the
reference preset takes for its own run.

    python benchmarks/budget.py toy25 [--rounds 5] [--iters 20] [--reference-steps N] [--json FILE]

The presets of a benchmark alternate for --rounds rounds of --iters iterations on the training
data, one process, so a noisy neighbour slows all of them alike; medians are shown. The first
preset of the benchmark is the reference: its full run (epochs x iterations per epoch) sets the
budget (or --reference-steps of it, for a comparison at reduced scale), and each preset's
`max_steps` at equal wall time is budget / its ms per iteration.
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
from vgan.config import images_per_step
from vgan.data import batches, load_dataset
from vgan.records import record_benchmark
from vgan.training import Trainer

BENCHMARKS = {
    "toy25": [
        "toy25_vgan",
        "toy25_vgan_stable",
        "toy25_gan",
        "toy25_cd",
        "toy25_cd_shortrun",
        "toy25_cd_ml",
        "toy25_vera",
    ],
    "stackedmnist": [
        "stackedmnist_vgan",
        "stackedmnist_vgan_stable",
        "stackedmnist_gan",
        "stackedmnist_cd",
        "stackedmnist_cd_shortrun",
        "stackedmnist_vera",
    ],
    "mnist": [
        "mnist_vgan",
        "mnist_vgan_stable",
        "mnist_vcd",
        "mnist_gan",
        "mnist_cd",
        "mnist_cd_shortrun",
        "mnist_cd_ml",
        "mnist_vera",
    ],
}


def iteration_ms(trainers: dict, data: dict, iters: int, rounds: int) -> dict:
    """Median ms per training iteration of each trainer, alternating rounds."""
    times = {name: [] for name in trainers}
    streams = {name: iter(data[name]) for name in trainers}
    for name, trainer in trainers.items():  # warm up
        trainer.train_step(next(streams[name]), diagnostics=False)
    for _ in range(rounds):
        for name, trainer in trainers.items():
            start = time.perf_counter()
            for _ in range(iters):
                trainer.train_step(next(streams[name]), diagnostics=False)
            times[name].append((time.perf_counter() - start) / iters * 1e3)
    return {name: statistics.median(t) for name, t in times.items()}


def budget(benchmark: str, iters: int, rounds: int, reference_steps: int = 0) -> dict:
    presets = BENCHMARKS[benchmark]
    configs = {p: vgan.load_config(p, overrides=["device=cpu", "progress=false"]) for p in presets}
    dataset = load_dataset(configs[presets[0]].dataset, "train")
    trainers, data = {}, {}
    for name, cfg in configs.items():
        trainers[name] = Trainer(cfg, dataset.image_shape, torch.device("cpu"))
        per = images_per_step(cfg)
        data[name] = (b for epoch in range(10**6) for b in batches(dataset.images, per, seed=0, epoch=epoch))
    ms = iteration_ms(trainers, data, iters, rounds)
    ref = configs[presets[0]]
    ref_steps = reference_steps or ref.epochs * (len(dataset.images) // images_per_step(ref))
    seconds = ref_steps * ms[presets[0]] / 1e3
    return {
        "reference": presets[0],
        "reference_steps": ref_steps,
        "budget_seconds": round(seconds, 1),
        "presets": {
            name: {"ms_per_iteration": round(ms[name], 3), "max_steps": round(ref_steps * ms[presets[0]] / ms[name])}
            for name in presets
        },
    }


def main(argv=None) -> None:
    parser = Parser(prog="python benchmarks/budget.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("benchmark", choices=sorted(BENCHMARKS))
    parser.add_argument("--iters", type=count(1, 100_000), default=20)
    parser.add_argument("--rounds", type=count(1, 1_000), default=5)
    parser.add_argument(
        "--reference-steps", type=count(0, 10**9), default=0, help="the reference's iterations (default: its run)"
    )
    parser.add_argument("--json", type=output(".json"), help="also write the result to this JSON file")
    parser.add_argument(
        "--record", metavar="PATH", type=output(".json"), help="also write the figures as a record (vgan.records)"
    )
    args = parser.parse_args(argv)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    result = budget(args.benchmark, args.iters, args.rounds, args.reference_steps)
    print(
        f"reference {result['reference']}: {result['reference_steps']} iterations, "
        f"about {result['budget_seconds']:.0f} s at the measured rate"
    )
    for name, r in result["presets"].items():
        print(f"{name:<28} {r['ms_per_iteration']:>9.2f} ms/iteration  max_steps={r['max_steps']}")
    if args.json:
        write_atomic(args.json, json.dumps(result, indent=2))
    if args.record:
        record_benchmark(
            args.record,
            result,
            scale=f"{args.rounds} rounds of {args.iters} iterations a preset, {torch.get_num_threads()} threads"
            + (f"; a reference of {args.reference_steps} iterations (reduced scale)" if args.reference_steps else ""),
            script="benchmarks/budget.py",
        )


if __name__ == "__main__":
    sys.exit(run(main, prog="budget.py"))
