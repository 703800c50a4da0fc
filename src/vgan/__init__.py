"""vgan: Generative Adversarial Networks as Variational Training of Energy Based Models.

```python
import vgan

trainer = vgan.train(vgan.Config(epochs=1))  # Algorithm 1 on MNIST
x = trainer.eval_sampler(16)  # (16, 1, 28, 28) samples G(z) (averaged weights if ema_decay > 0)
e = trainer.energy(x).energy  # (16,) energies E(x), in [0, K ln 2] for Eq. 8
model = vgan.load_run(trainer.run_dir)  # the trained Model, back from its checkpoint: no trainer
```
"""

from ._utils.errors import CheckpointError, ConfigError, DataError, RunDirError, TrainingError, VGANError
from ._utils.machine import version
from .config import Config, check_presets, load_config
from .config.files import list_presets
from .data import ImageDataset, fetch, load_dataset, verify
from .evaluation.sample import sample
from .model.energy import (
    EnergyOutput,
    EnergyPenalty,
    GANEnergy,
    MultiModalEnergy,
    RBMFreeEnergy,
    ScalarEnergy,
    dead_zones,
    expert_rank,
)
from .model.entropy import (
    InfoMaxEntropy,
    NearestNeighbourEntropy,
    SampleEntropy,
    VERAEntropy,
    batch_entropy,
    binary_entropy,
    binary_entropy_from_logits,
    min_entropy_from_logits,
    nearest_neighbour_entropy,
    pairwise_batch_entropy,
)
from .model.mcmc import MALA, Langevin, LangevinSampler, langevin, latent_mala
from .model.model import Model, build_sampler
from .model.networks import EnergyModel, build_energy, build_generator
from .model.objectives import CDObjective, GANObjective, Objective, VCDObjective, VGANObjective
from .model.samplers import (
    AveragedSampler,
    Draw,
    LatentSampler,
    NegativeSource,
    TransitionSampler,
    VERASampler,
    uniform_noise,
)
from .runs import load_run, resume_config
from .runs.curves import plot_curves

__version__ = version()
_TRAINING = ("Trainer", "train")  # imported on first use: `import vgan` loads no training module


def __getattr__(name: str):
    if name in _TRAINING:
        from . import training

        return getattr(training, name)
    raise AttributeError(f"module 'vgan' has no attribute {name!r}")


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
    "VERAEntropy",
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
    "Langevin",
    "Model",
    "LangevinSampler",
    "MALA",
    "latent_mala",
    "VERASampler",
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
