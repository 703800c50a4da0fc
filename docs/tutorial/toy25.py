"""Tutorial: VGAN on the 25-Gaussian grid, end to end, in a minute or two on one CPU core.

    python docs/tutorial/toy25.py [--epochs 10] [--out DIR] [--figure PNG] [--record JSON]

Trains the preset `toy25_vgan` (Algorithm 1 with Eq. 8's energy and Eq. 9's entropies, MLP
networks, K = 64 experts, k = 3, Adam), then draws 2,500 samples over the learned energy
E(x), counts the modes they cover and scores the test points under p(x) ~ exp(-E(x)), exactly (by
quadrature over the square). The CI runs it; the docs show what it drew.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import torch

import vgan
from vgan.evaluation import evaluate
from vgan.records import record_result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=10, help="passes over the 50,000 points (the preset's 10)")
    parser.add_argument("--out", help="folder for the run (default: a temporary one)")
    parser.add_argument("--figure", help="also copy the energy landscape here (a PNG)")
    parser.add_argument("--record", help="also write the result as a record (vgan.records)")
    args = parser.parse_args()
    out = args.out or tempfile.mkdtemp(prefix="vgan-tutorial-")
    torch.set_num_threads(1)  # networks this small run fastest on one thread, and leave the other core free

    # 1. Train: a preset by name, with two keys changed. Everything lands in <out>/toy25_vgan/.
    keys = [f"epochs={args.epochs}", f"out_dir={out}", "progress=false", "tensorboard=false"]
    cfg = vgan.load_config("toy25_vgan", overrides=keys)
    start = time.perf_counter()
    trainer = vgan.train(cfg)
    seconds = time.perf_counter() - start
    print(f"trained {trainer.step} iterations in {seconds:.0f} s")

    # 2. The energy and the samples: E(x) is bounded in [0, K ln 2]; a density model puts the data in its wells.
    x = trainer.eval_sampler(5)  # five samples G(z), points in [0, 1]^2
    print("five samples:", [tuple(round(v, 2) for v in p) for p in x.tolist()])
    print("their energies:", [round(e, 1) for e in trainer.energy(x).energy.tolist()], "of at most 44.4")

    # 3. Evaluate: 2,500 samples against the 25 modes, energy_landscape.png with the samples on top,
    #    and the test points' log-likelihood (the uniform density on the square scores 0 nats; the data's own 3.15).
    result = evaluate(cfg.run_dir)
    print(f"modes covered: {result['modes_covered']:.0f} of {result['modes_total']:.0f}")
    print(f"high-quality samples (within 3 sigma of a mode): {result['high_quality_pct']:.1f}%")
    print(f"test log-likelihood, exact: {result['loglik_nats_quadrature']:.2f} nats")
    print(f"energy landscape: {result['figure']}")

    if args.figure:
        shutil.copyfile(result["figure"], args.figure)
        result["image"] = str(Path(args.figure))
    if args.record:
        result = {k: v for k, v in result.items() if k not in ("run", "figure")}
        record_result(
            args.record,
            "evaluate",
            {**result, "train_wall_s": round(seconds)},
            run_dir=cfg.run_dir,
            scale="2,500 samples",
            program="python docs/tutorial/toy25.py",
        )


if __name__ == "__main__":
    main()
