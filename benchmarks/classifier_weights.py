"""Train the MNIST classifier that ships in the package, once, and print what `SHIPPED` records.

    python benchmarks/classifier_weights.py [--record results/evaluation/mnist_classifier.json]

It is FID's and KID's feature network and StackedMNIST's mode counter (vgan.evaluation.classifier):
trained here with seed 0 (3 epochs of Adam on the 50,000 training images), its test accuracy
measured on the 10,000 test images, written to src/vgan/evaluation/weights/mnist_classifier.pt.
Copy the printed SHA-256 and accuracy into `SHIPPED` and commit both. No user runs this: every
machine loads the committed file, so that FIDs compare across machines.
"""

from __future__ import annotations

import sys

from vgan.cli.script import RECORD, Parser, output, run
from vgan.data import sha256
from vgan.evaluation.classifier import WEIGHTS, train_and_save
from vgan.records import record_benchmark


def main(argv=None) -> None:
    parser = Parser(prog="python benchmarks/classifier_weights.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--record", metavar="PATH", type=output(".json"), help=RECORD)
    args = parser.parse_args(argv)
    path = WEIGHTS / "mnist_classifier.pt"
    _, acc = train_and_save("mnist", path)
    digest = sha256(path.read_bytes())
    print(f'"mnist": ("mnist_classifier.pt", "{digest}", {acc:.4f}),')
    if args.record:
        values = {"test_accuracy": acc, "sha256": digest, "bytes": path.stat().st_size}
        scale = "3 epochs of Adam on MNIST's 50,000 training images, seed 0; 10,000 test images"
        record_benchmark(args.record, values, scale=scale, script="benchmarks/classifier_weights.py")


if __name__ == "__main__":
    sys.exit(run(main, prog="classifier_weights.py"))
