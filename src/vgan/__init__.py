"""vgan: Generative Adversarial Networks as Variational Training of Energy Based Models.

import vgan
trainer = vgan.train(vgan.Config(epochs=1))
x = trainer.eval_sampler(16)          # (16, 1, 28, 28) samples G(z) (averaged weights if ema_decay > 0)
e = trainer.energy(x).energy          # (16,) energies E(x), in [0, K ln 2] for Eq. 8
"""

from .config import Config, check_presets, load_config
from .curves import plot_curves
from .data import ImageDataset, fetch, load_dataset, verify
from .energy import (
    EnergyOutput,
    EnergyPenalty,
    GANEnergy,
    MultiModalEnergy,
    RBMFreeEnergy,
    ScalarEnergy,
    dead_zones,
    expert_rank,
)
from .entropy import (
    InfoMaxEntropy,
    NearestNeighbourEntropy,
    SampleEntropy,
    batch_entropy,
    binary_entropy,
    binary_entropy_from_logits,
    min_entropy_from_logits,
    nearest_neighbour_entropy,
    pairwise_batch_entropy,
)
from .errors import CheckpointError, ConfigError, DataError, RunDirError, TrainingError, VGANError
from .networks import EnergyModel, build_energy, build_generator
from .objectives import CDObjective, GANObjective, Objective, VCDObjective, VGANObjective
from .presets import list_presets
from .runs import load_run, resume_config, sample
from .samplers import (
    AveragedSampler,
    Draw,
    LangevinSampler,
    LatentSampler,
    NegativeSource,
    TransitionSampler,
    build_sampler,
    langevin,
    uniform_noise,
)
from .train import Trainer, train

__version__ = "0.1.0"
__all__ = [
    "Config",
    "check_presets",
    "list_presets",
    "load_config",
    "plot_curves",
    "ImageDataset",
    "fetch",
    "load_dataset",
    "verify",
    "EnergyOutput",
    "EnergyPenalty",
    "dead_zones",
    "expert_rank",
    "GANEnergy",
    "MultiModalEnergy",
    "RBMFreeEnergy",
    "ScalarEnergy",
    "batch_entropy",
    "pairwise_batch_entropy",
    "binary_entropy",
    "binary_entropy_from_logits",
    "min_entropy_from_logits",
    "nearest_neighbour_entropy",
    "InfoMaxEntropy",
    "NearestNeighbourEntropy",
    "SampleEntropy",
    "CheckpointError",
    "ConfigError",
    "DataError",
    "RunDirError",
    "TrainingError",
    "VGANError",
    "EnergyModel",
    "build_energy",
    "build_generator",
    "CDObjective",
    "GANObjective",
    "Objective",
    "VCDObjective",
    "VGANObjective",
    "Draw",
    "LangevinSampler",
    "NegativeSource",
    "langevin",
    "TransitionSampler",
    "build_sampler",
    "load_run",
    "resume_config",
    "sample",
    "LatentSampler",
    "uniform_noise",
    "AveragedSampler",
    "Trainer",
    "train",
]
