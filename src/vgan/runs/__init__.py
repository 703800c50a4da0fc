"""The run directory: what training writes there (config.yaml, checkpoints, metrics.jsonl,
curves.png, run.json) and how it is read back (`load_run`), locked and checked.

    model = vgan.load_run("runs/mnist_vgan")      # the trained model, without a trainer
"""

from .load import load_run, resume_config

__all__ = ["load_run", "resume_config"]
