"""Training: the loop of Algorithm 1 (VGAN), Eq. 1 (GAN), Algorithm 2 (VCD) and contrastive
divergence, with checkpoints, resume, logging and data parallelism.

    trainer = vgan.train(vgan.load_config("toy25_vgan"))
"""

from .loop import train
from .trainer import Trainer

__all__ = ["Trainer", "train"]
