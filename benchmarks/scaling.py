"""Training time and peak memory as the dataset and the number of epochs grow 1x, 2x, 4x.

    python benchmarks/scaling.py [--images 5000] [--epochs 1] [--config mnist_vgan]

Each point is a fresh process running `vgan.train` (no TensorBoard, no progress bar) into a
temporary directory; it prints wall time (start-up and the data check included), time per
image seen, and the process's peak resident memory. Linear time and flat memory are what to
look for.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile

CHILD = """
import json, resource, sys, time
import vgan
cfg = vgan.load_config(sys.argv[1], sys.argv[2:])
start = time.perf_counter()
vgan.train(cfg)
print(json.dumps({"seconds": time.perf_counter() - start,
                  "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def point(config: str, images: int, epochs: int, out_dir: str) -> dict:
    overrides = [
        f"train_limit={images}",
        f"epochs={epochs}",
        f"out_dir={out_dir}",
        "name=point",
        "tensorboard=false",
        "progress=false",
        "log_every=1000000",
        "device=cpu",
    ]
    run = subprocess.run([sys.executable, "-c", CHILD, config, *overrides], capture_output=True, text=True, check=True)
    return json.loads(run.stdout.strip().splitlines()[-1])


def main(argv=None) -> None:
    from vgan.cli.script import RECORD, Parser, count, output

    parser = Parser(prog="python benchmarks/scaling.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default="mnist_vgan")
    parser.add_argument("--images", type=count(1, 10_000_000), default=5000, help="training images at 1x")
    parser.add_argument("--epochs", type=count(1, 1_000), default=1, help="epochs at 1x")
    parser.add_argument("--record", metavar="PATH", type=output(".json"), help=RECORD)
    args = parser.parse_args(argv)
    print(f"config {args.config}; 1x = {args.images} images, {args.epochs} epoch(s)")
    print(f"{'varied':<8} {'x':>2} {'images':>7} {'epochs':>6} {'seconds':>8} {'ms/image':>9} {'peak MiB':>9}")
    values = {}
    for varied in ("data", "epochs"):
        for mult in (1, 2, 4):
            with tempfile.TemporaryDirectory() as tmp:
                images = args.images * (mult if varied == "data" else 1)
                epochs = args.epochs * (mult if varied == "epochs" else 1)
                r = point(args.config, images, epochs, tmp)
            per_image = 1000 * r["seconds"] / (images * epochs)
            print(
                f"{varied:<8} {mult:>2} {images:>7} {epochs:>6} {r['seconds']:>8.1f} {per_image:>9.3f} "
                f"{r['peak_mib']:>9.0f}"
            )
            point_values = {"seconds": r["seconds"], "ms_per_image": per_image, "peak_mib": r["peak_mib"]}
            values.update({f"{varied}_x{mult}.{k}": v for k, v in point_values.items()})
    if args.record:
        from vgan.records import record_benchmark

        scale = f"{args.config}, 1x = {args.images} images and {args.epochs} epoch(s)"
        record_benchmark(args.record, values, scale=scale, script="benchmarks/scaling.py")


if __name__ == "__main__":
    from vgan.cli.script import run

    sys.exit(run(main, prog="scaling.py"))
