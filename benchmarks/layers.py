"""Milliseconds of the thin-side convolutions of the paper's networks: torch.nn against
vgan.model.layers (matmul + col2im on the CPU), batch 100, channels-last, freed memory kept.

    python benchmarks/layers.py [--batch 100] [--iters 20]

Rows: the energy's first conv with its input gradient (what a generator step back-propagates
through), and the generator's last deconv forward (sampling) and forward + backward.
"""

from __future__ import annotations

import re
import sys
import time

import torch
from torch import nn

from vgan.cli.script import Parser, count, output, run
from vgan.model import layers
from vgan.records import record_benchmark
from vgan.training.allocator import keep_freed_memory

SHAPES = {  # name: (image channels, side, conv width)
    "mnist": (1, 28, 64),
    "cifar10": (3, 32, 128),
}


def ms(fn, iters: int) -> float:
    for _ in range(3):
        fn()
    start = time.perf_counter()
    for _ in range(iters):
        fn()
    return (time.perf_counter() - start) / iters * 1e3


def pair(nn_cls, vgan_cls, **kw):
    a = nn_cls(**kw).to(memory_format=torch.channels_last)
    b = vgan_cls(**kw).to(memory_format=torch.channels_last)
    b.load_state_dict(a.state_dict())
    return a, b


def cases(batch: int):
    for name, (c, s, w) in SHAPES.items():
        conv = pair(nn.Conv2d, layers.Conv2d, in_channels=c, out_channels=w, kernel_size=5, padding=2)
        x = torch.rand(batch, c, s, s).contiguous(memory_format=torch.channels_last).requires_grad_()
        g = torch.randn(batch, w, s, s).contiguous(memory_format=torch.channels_last)
        yield f"{name} conv {c}->{w} fwd+bwd", [lambda m=m, x=x, g=g: m(x).backward(g) for m in conv]
        deconv = pair(
            nn.ConvTranspose2d,
            layers.ConvTranspose2d,
            in_channels=w,
            out_channels=c,
            kernel_size=5,
            stride=2,
            padding=2,
            output_padding=1,
        )
        h = torch.randn(batch, w, s // 2, s // 2).contiguous(memory_format=torch.channels_last)
        hg = h.clone().requires_grad_()
        gy = torch.randn(batch, c, s, s)
        yield f"{name} deconv {w}->{c} fwd (no grad)", [lambda m=m, h=h: m(h) for m in deconv]
        yield f"{name} deconv {w}->{c} fwd+bwd", [lambda m=m, hg=hg, gy=gy: m(hg).backward(gy) for m in deconv]


def main(argv=None) -> None:
    parser = Parser(prog="python benchmarks/layers.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=count(1, 100_000), default=100)
    parser.add_argument("--iters", type=count(1, 100_000), default=20)
    parser.add_argument(
        "--record", metavar="PATH", type=output(".json"), help="also write the figures as a record (vgan.records)"
    )
    args = parser.parse_args(argv)
    keep_freed_memory()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch {args.batch}")
    print(f"{'case':<34} {'nn ms':>8} {'vgan ms':>8} {'speed-up':>9}")
    values = {}
    for name, (plain, ours) in cases(args.batch):
        a, b = ms(plain, args.iters), ms(ours, args.iters)
        print(f"{name:<34} {a:>8.2f} {b:>8.2f} {a / b:>8.2f}x")
        key = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")  # "mnist_deconv_64_1_fwd_no_grad"
        values.update({f"{key}.nn_ms": a, f"{key}.vgan_ms": b, f"{key}.speedup": a / b})
    if args.record:
        scale = f"batch {args.batch}, {args.iters} iterations, {torch.get_num_threads()} threads"
        record_benchmark(args.record, values, scale=scale, script="benchmarks/layers.py")


if __name__ == "__main__":
    sys.exit(run(main, prog="layers.py"))
