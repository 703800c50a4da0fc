"""Images/s of one full training iteration (k generator steps + one energy step), vgan against a
plain eager PyTorch loop of the same networks and losses written straight in this script.

    python benchmarks/train_step.py [--presets vgan_cpu,vcd_paper] [--iters N] [--rounds N] [key=value ...]

Prints, per preset: vgan images/s, reference images/s, their ratio (and its range over the
rounds), the GFLOP of one iteration (counted with torch.utils.flop_counter), achieved GFLOP/s and
its share of the measured fp32 matmul peak (best of 3), the peak resident memory of the vgan
side, and the minor page faults per iteration of both sides. Each side runs in a fresh process,
so the reference keeps PyTorch's defaults whatever vgan sets (e.g. the allocator); the two sides
alternate for --rounds rounds and the medians are shown, so a noisy neighbour slows both.
`key=value` arguments set vgan config keys for the vgan side, e.g. compile=true or precision=bf16.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from functools import partial

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

import vgan
from vgan.config import images_per_step
from vgan.records import record_benchmark

PRESETS = {
    "vgan_cpu": dict(objective="vgan", arch="mlp", k=3),
    "vgan_paper": dict(objective="vgan", arch="conv", k=1),
    "vcd_cpu": dict(objective="vcd", arch="mlp", k=1),
    "vcd_paper": dict(objective="vcd", arch="conv", k=1),
}


# ---- the reference: what a user would write without vgan -----------------------------------


def ref_energy(arch: str) -> nn.Module:
    if arch == "conv":
        phi = [
            nn.Conv2d(1, 64, 5, padding=2),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(64, 64, 5, padding=2),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(64 * 7 * 7, 1024),
            nn.ReLU(),
        ]
    else:
        phi = [nn.Flatten(), nn.Linear(784, 1024), nn.ReLU(), nn.Linear(1024, 1024), nn.ReLU()]
    return nn.Sequential(*phi, nn.Linear(1024, 128))  # expert logits


def ref_decoder(arch: str, in_dim: int, first_dense: bool) -> nn.Module:
    if arch == "conv":
        head = [nn.Linear(in_dim, 1024), nn.BatchNorm1d(1024), nn.ReLU()] if first_dense else []
        width = 1024 if first_dense else in_dim
        return nn.Sequential(
            *head,
            nn.Linear(width, 64 * 7 * 7),
            nn.BatchNorm1d(64 * 7 * 7),
            nn.ReLU(),
            nn.Unflatten(1, (64, 7, 7)),
            nn.ConvTranspose2d(64, 64, 5, 2, 2, output_padding=1),
            nn.BatchNorm2d(64),
            nn.ReLU(),
            nn.ConvTranspose2d(64, 1, 5, 2, 2, output_padding=1),
            nn.Sigmoid(),
        )
    return nn.Sequential(
        nn.Linear(in_dim, 1024),
        nn.BatchNorm1d(1024),
        nn.ReLU(),
        nn.Linear(1024, 1024),
        nn.BatchNorm1d(1024),
        nn.ReLU(),
        nn.Linear(1024, 784),
        nn.Sigmoid(),
        nn.Unflatten(1, (1, 28, 28)),
    )


def ref_encoder(arch: str) -> nn.Module:
    if arch == "conv":
        return nn.Sequential(
            nn.Conv2d(1, 64, 5, padding=2),
            nn.BatchNorm2d(64),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(64, 64, 5, padding=2),
            nn.BatchNorm2d(64),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(64 * 7 * 7, 256),
            nn.BatchNorm1d(256),
            nn.Tanh(),
        )
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(784, 1024),
        nn.BatchNorm1d(1024),
        nn.ReLU(),
        nn.Linear(1024, 256),
        nn.BatchNorm1d(256),
        nn.Tanh(),
    )


def entropy(p):
    p = p.clamp(1e-4, 1 - 1e-4)
    return -(p * p.log() + (1 - p) * (1 - p).log())


def reference_step(objective: str, arch: str, k: int):
    """Returns step(x) doing Algorithm 1 or 2 the straightforward way."""
    energy = ref_energy(arch)
    if objective == "vcd":
        enc, dec = ref_encoder(arch), ref_decoder(arch, 256, first_dense=False)
        gen_params = list(enc.parameters()) + list(dec.parameters())
    else:
        dec = ref_decoder(arch, 100, first_dense=True)
        gen_params = list(dec.parameters())
    opt_e = torch.optim.Adadelta(energy.parameters(), lr=0.1)
    opt_g = torch.optim.Adadelta(gen_params, lr=0.1)

    def sample(cond):
        if objective == "vgan":
            return dec(torch.rand(100, 100) * 2 - 1), None
        h = enc(cond)
        m = (torch.rand_like(h) < 0.5).float()
        return dec(m * (torch.rand_like(h) * 2 - 1) + (1 - m) * h), dec(h)

    def step(x):
        real, cond = (x[:100], x[100:]) if objective == "vcd" else (x, None)
        for _ in range(k):
            fake, recon = sample(cond)
            p = torch.sigmoid(energy(fake))
            e_fake = entropy(p).sum(1).mean()
            if objective == "vcd":
                loss_g = 0.01 * (e_fake - entropy(p.mean(0)).sum()) + 0.99 * F.binary_cross_entropy(recon, cond)
            else:
                loss_g = e_fake - entropy(p.mean(0)).sum()
            opt_g.zero_grad()
            opt_e.zero_grad()
            loss_g.backward()
            opt_g.step()
        fake, _ = sample(cond)
        p_real, p_fake = torch.sigmoid(energy(real)), torch.sigmoid(energy(fake.detach()))
        loss_e = entropy(p_real).sum(1).mean() - entropy(p_fake).sum(1).mean() - entropy(p_real.mean(0)).sum()
        opt_e.zero_grad()
        loss_e.backward()
        opt_e.step()

    return step


# ---- measurement ---------------------------------------------------------------------------


def timed(step, x, iters: int, warmup: int) -> dict:
    """Seconds and minor page faults per iteration, after `warmup` iterations."""
    for _ in range(warmup):
        step(x)
    faults, start = resource.getrusage(resource.RUSAGE_SELF).ru_minflt, time.perf_counter()
    for _ in range(iters):
        step(x)
    return {
        "seconds": (time.perf_counter() - start) / iters,
        "faults": (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults) / iters,
    }


def matmul_peak(n: int = 2048, reps: int = 10) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    start = time.perf_counter()
    for _ in range(reps):
        a @ b
    return 2 * n**3 * reps / (time.perf_counter() - start) / 1e9


def run_side(name: str, side: str, iters: int, warmup: int, overrides: list) -> dict:
    """Time one side, 'vgan' or 'ref', of a preset in this process."""
    values = {**PRESETS[name], "optimizer": "adadelta", "lr": 0.1, "tensorboard": False}
    cfg = vgan.config.from_dict({**values, **vgan.config.parse_overrides(overrides)})
    n_img = images_per_step(cfg)
    torch.manual_seed(0)
    x = torch.rand(n_img, 1, 28, 28)
    out = {"n_img": n_img}
    if side == "ref":
        out.update(timed(reference_step(cfg.objective, cfg.arch, cfg.k), x, iters, warmup))
    else:
        trainer = vgan.Trainer(cfg, (1, 28, 28), torch.device("cpu"))
        step = partial(trainer.train_step, diagnostics=False)  # as the loop runs it between logging steps
        with FlopCounterMode(display=False) as counter:
            step(x)
        out["flops"] = counter.get_total_flops()
        out.update(timed(step, x, iters, warmup))
    out["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def in_subprocess(name: str, side: str, args) -> dict:
    """run_side in a fresh process, so that neither side inherits the other's settings or memory."""
    out = subprocess.run(
        [
            sys.executable,
            __file__,
            "--one",
            name,
            "--side",
            side,
            "--iters",
            str(args.iters),
            "--warmup",
            str(args.warmup),
            *args.overrides,
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--presets", default=",".join(PRESETS), help=f"comma-separated, of {', '.join(PRESETS)}")
    parser.add_argument("--iters", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3, help="alternating vgan/ref process pairs; medians are shown")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--side", help=argparse.SUPPRESS)
    parser.add_argument("overrides", nargs="*", metavar="key=value", help="vgan config keys for the vgan side")
    parser.add_argument("--record", metavar="PATH", help="also write the figures as a record (vgan.records)")
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_side(args.one, args.side, args.iters, args.warmup, args.overrides)))
        return
    peak = max(matmul_peak() for _ in range(3))
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, fp32 matmul peak {peak:.1f} GFLOP/s"
        + (f"; vgan with {' '.join(args.overrides)}" if args.overrides else "")
    )
    print(
        f"{'preset':<11} {'vgan img/s':>10} {'ref img/s':>10} {'ratio':>6} {'range':>11} {'GFLOP/it':>9} "
        f"{'GFLOP/s':>8} {'% peak':>7} {'peak MiB':>9} {'faults/it':>9} {'ref':>8}"
    )
    values = {"matmul_peak_gflop_s": peak}
    for name in args.presets.split(","):
        rounds = [(in_subprocess(name, "vgan", args), in_subprocess(name, "ref", args)) for _ in range(args.rounds)]
        ours = min(rounds, key=lambda r: r[0]["seconds"])[0]  # for FLOPs and memory
        t_ours = statistics.median(r[0]["seconds"] for r in rounds)
        t_ref = statistics.median(r[1]["seconds"] for r in rounds)
        ratios = [r[1]["seconds"] / r[0]["seconds"] for r in rounds]
        gflop_s = ours["flops"] / t_ours / 1e9
        print(
            f"{name:<11} {ours['n_img'] / t_ours:>10.1f} {ours['n_img'] / t_ref:>10.1f} {t_ref / t_ours:>6.2f} "
            f"{min(ratios):>5.2f}-{max(ratios):<5.2f} {ours['flops'] / 1e9:>9.2f} {gflop_s:>8.1f} "
            f"{100 * gflop_s / peak:>6.1f}% {ours['peak_rss_mib']:>9.0f} "
            f"{statistics.median(r[0]['faults'] for r in rounds):>8.0f} "
            f"{statistics.median(r[1]['faults'] for r in rounds):>8.0f}"
        )
        values.update(
            {
                f"{name}.vgan_img_s": ours["n_img"] / t_ours,
                f"{name}.ref_img_s": ours["n_img"] / t_ref,
                f"{name}.ratio": t_ref / t_ours,
                f"{name}.ratio_min": min(ratios),
                f"{name}.ratio_max": max(ratios),
                f"{name}.gflop_it": ours["flops"] / 1e9,
                f"{name}.gflop_s": gflop_s,
                f"{name}.pct_peak": 100 * gflop_s / peak,
                f"{name}.peak_mib": ours["peak_rss_mib"],
                f"{name}.faults_it": statistics.median(r[0]["faults"] for r in rounds),
                f"{name}.ref_faults_it": statistics.median(r[1]["faults"] for r in rounds),
            }
        )
    if args.record:
        scale = f"{args.rounds} rounds of {args.iters} iterations, {torch.get_num_threads()} threads"
        record_benchmark(args.record, values, scale=scale, script="benchmarks/train_step.py")


if __name__ == "__main__":
    main()
