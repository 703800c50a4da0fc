"""Training configuration: one flat dataclass, read from YAML plus `key=value` overrides.

The defaults are the default CPU run (`vgan train` with no arguments); the presets in
vgan/config/presets/*.yaml (vgan.config.files) spell out other runs as data. A config is named by a path or
by a preset name: `load_config("mnist_gan")`.
"""

from __future__ import annotations

import dataclasses
import os
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional

from .._utils.checks import (
    Check,
    check_type,
    closed_interval,
    half_open,
    non_negative,
    open_interval,
    optional,
    pair,
    path_text,
    plain_name,
    positive,
    require,
)
from .._utils.errors import ConfigError, shown
from ..data import DATASETS
from ..model.energy import HEADS
from ..model.objectives import OBJECTIVES
from .rules import RULES


@dataclass
class Config:
    # run
    name: str = "mnist_vgan"  # run directory is OUT_DIR/NAME
    out_dir: str = "runs"
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda
    # data
    dataset: str = "mnist"
    data_dir: Optional[str] = None  # a user's own copy (also torchvision's <root>/MNIST/raw)
    train_limit: Optional[int] = None  # use only the first N training images
    batch_size: int = 100
    # networks
    arch: str = "mlp"  # mlp: CPU preset | conv: the paper's networks
    hidden: int = 1024  # mlp energy width
    channels: int = 64  # conv width of energy and generator
    feature_dim: int = 1024  # size of phi(x), the layer under the energy head
    z_dim: int = 100
    gen_hidden: int = 1024  # generator's first dense layer (and mlp width)
    gen_channels: Optional[int] = None  # conv width of generator / autoencoder; None: channels
    code_dim: int = 256  # VCD bottleneck h (256 for MNIST, 2048 for 32x32 colour)
    # energy and objective
    objective: str = "vgan"  # vgan: Algorithm 1 | gan: Eq. 1 | vcd: Algorithm 2 | cd: contrastive divergence
    energy: str = "multimodal"  # multimodal: Eq. 8 | gan: -log D(x) | rbm: free energy | scalar: w^T phi(x) + b
    experts: int = 128  # K in Eq. 8
    prob_clip: float = 1e-4  # expert probabilities are clipped to [c, 1 - c]
    k: int = 3  # generator steps per energy step
    gen_entropy_weight: float = 1.0  # weight of H~(p_g) in the generator step
    data_entropy_weight: float = 1.0  # weight of H~(p_data) in the energy step
    gan_generator_loss: str = "nonsaturating"  # nonsaturating: -log D(G(z)) | saturating
    rho: float = 0.01  # VCD: weight of the energy term in Eq. 10
    vcd_loss: str = "authors"  # authors: rho(E - H~) + (1-rho) BCE(x_bar, x) | paper: Eq. 10 as printed
    # contrastive divergence (objective cd): negatives by x <- clamp(x - a grad E(x) + s xi, [0, 1])
    langevin_init: str = "buffer"  # buffer: persistent chains | noise: short-run from uniform | data: CD-k
    langevin_steps: int = 20  # Langevin steps per energy step
    langevin_step_size: float = 1.0  # a, the step along -grad E
    langevin_noise: float = 0.01  # s, the noise's standard deviation per coordinate
    buffer_size: int = 10_000  # persistent chains kept in the replay buffer
    buffer_restart: float = 0.05  # share of chains restarted from uniform noise at each draw
    energy_l2: float = 0.0  # cd energy step: + w (mean E(x)^2 + mean E(x-)^2), IGEBM's regulariser
    # remedies for Eq. 8's dead zones and Eq. 9's blind spot (off in the paper's configs; docs/research/remedies.md)
    expert_entropy: str = "shannon"  # shannon: Eq. 8 | min: -log max(p, 1-p), slope 1/2 at p = 1/2
    batch_entropy: str = "eq9"  # eq9: H~ of Eq. 9 | pairwise: H~ less the experts' pairwise mutual information
    logit_penalty: float = 0.0  # energy step: + w (mean a^2 real + mean a^2 generated), a expert logits
    r1_penalty: float = 0.0  # energy step: + w/2 mean ||grad_x E(x)||^2 on real data
    expert_decorrelation: float = 0.0  # energy step: + w mean squared correlation of two experts' logits on real data
    spectral_norm: bool = False  # spectral normalisation of the energy network (which layers: spectral_norm_head)
    spectral_norm_head: bool = True  # with spectral_norm: the head too | false: phi only, the logits' scale stays free
    pack: int = 1  # PacGAN: the energy scores packs of this many images (1: one image, the paper's)
    energy_activation: str = "relu"  # relu: the paper's | leaky_relu: slope 0.2, never a dead unit
    nn_entropy_weight: float = 0.0  # generator step: + w * nearest-neighbour entropy of G(z)
    nn_entropy_space: str = "pixels"  # where its distances are taken: pixels (G(z)) | features (phi(G(z)))
    mi_entropy_weight: float = 0.0  # generator step: + w * MEG's estimate of I(z; G(z)) (a statistics network)
    # VERA's entropy (a successor's estimator): the noisy generator x = G(z) + sigma eps, z ~ N(0, I)
    vera_entropy_weight: float = 0.0  # generator step: + w * VERA's estimate of H(q) (0: off)
    vera_sigma_min: float = 0.01  # sigma starts here and is kept in [min, max]
    vera_sigma_max: float = 0.3
    vera_posterior_samples: int = 20  # K, importance samples of q(z | x) per sample
    vera_proposal_lr: float = 0.02  # Adam's step for the proposal's widths (0: fixed at 0.1)
    vera_baseline: bool = False  # a control variate: G's gradient without the noise's own score (not VERA's)
    ema_decay: float = 0.0  # figures and evaluation draw from an EMA of the sampler's weights (0: off, the paper's)
    # optimisation
    optimizer: str = "adadelta"  # adadelta (the paper's) | adam
    lr: float = 0.1
    betas: List[float] = field(default_factory=lambda: [0.5, 0.999])  # adam
    adadelta_rho: float = 0.95
    adadelta_eps: float = 1e-6
    epochs: int = 10
    max_steps: Optional[int] = None  # stop early after this many iterations
    # speed
    precision: str = "fp32"  # fp32 | bf16 (autocast the networks; losses stay fp32)
    compile: bool = False  # torch.compile the networks
    channels_last: bool = True  # conv networks in channels-last memory format
    keep_freed_memory: bool = True  # CPU on glibc: reuse freed memory, no page faults per step (allocator.py)
    # outputs
    log_every: int = 50  # iterations between metrics lines
    save_every: int = 500  # iterations between refreshes of last.pt
    ckpt_every: int = 10  # epochs between kept checkpoints epoch_<n>.pt
    tensorboard: bool = True
    progress: bool = True  # tqdm bar (shown on terminals only)

    def __post_init__(self) -> None:
        validate(self)

    def to_dict(self) -> Dict[str, Any]:
        return dataclasses.asdict(self)

    @property
    def run_dir(self) -> Path:
        return Path(self.out_dir) / self.name


# ---- what a valid config is: data, one line per key ------------------------------------------
# Types come from the annotations above (every float finite and within float32's range, every int
# within int64's, text one line); values must lie in CHOICES or pass CHECKS; RULES tie keys
# together. A new key gets its line here (test_config checks that every key has one).
SIZE = closed_interval(1, 1 << 20)  # network sizes: products of three fit in int64
BATCH = Check(lambda v: v >= 2, ">= 2 (the generator's batch norm needs two images)")
CHOICES = {
    "device": ("auto", "cpu", "cuda"),
    "dataset": tuple(DATASETS),
    "arch": ("mlp", "conv"),
    "objective": tuple(OBJECTIVES),
    "langevin_init": ("buffer", "noise", "data"),
    "vcd_loss": ("authors", "paper"),
    "expert_entropy": ("shannon", "min"),
    "batch_entropy": ("eq9", "pairwise"),
    "energy_activation": ("relu", "leaky_relu"),
    "nn_entropy_space": ("pixels", "features"),
    "energy": tuple(HEADS),
    "gan_generator_loss": ("nonsaturating", "saturating"),
    "optimizer": ("adam", "adadelta"),
    "precision": ("fp32", "bf16"),
}
CHECKS = {
    "name": plain_name,
    "out_dir": path_text,
    "seed": closed_interval(0, 2**32 - 1),
    "data_dir": optional(path_text),
    "train_limit": optional(positive),
    "batch_size": BATCH,
    "hidden": SIZE,
    "channels": SIZE,
    "feature_dim": SIZE,
    "z_dim": SIZE,
    "gen_hidden": SIZE,
    "gen_channels": optional(SIZE),
    "code_dim": SIZE,
    "experts": SIZE,
    "pack": SIZE,
    "prob_clip": open_interval(0, 0.5),
    "k": closed_interval(1, 1_000),
    "gen_entropy_weight": non_negative,
    "data_entropy_weight": non_negative,
    "rho": closed_interval(0, 1),
    "logit_penalty": non_negative,
    "expert_decorrelation": non_negative,
    "r1_penalty": non_negative,
    "nn_entropy_weight": non_negative,
    "mi_entropy_weight": non_negative,
    "vera_entropy_weight": non_negative,
    "vera_sigma_min": open_interval(0, 10),
    "vera_sigma_max": open_interval(0, 10),
    "vera_posterior_samples": closed_interval(1, 10_000),
    "vera_proposal_lr": closed_interval(0, 1),
    "ema_decay": half_open(0, 1),
    "langevin_steps": closed_interval(1, 10_000),
    "langevin_step_size": positive,
    "langevin_noise": non_negative,
    "buffer_size": SIZE,
    "buffer_restart": closed_interval(0, 1),
    "energy_l2": non_negative,
    "lr": positive,
    "betas": pair(half_open(0, 1)),
    "adadelta_rho": closed_interval(0, 1),
    "adadelta_eps": positive,
    "epochs": closed_interval(1, 1_000_000),
    "max_steps": optional(closed_interval(1, 10**10)),
    "log_every": closed_interval(1, 10**10),
    "save_every": closed_interval(1, 10**10),
    "ckpt_every": closed_interval(1, 1_000_000),
}
# one line of help per key: `vgan train --help`, `vgan configs --keys` and the docs' key reference
# (docs/guides/configuration.md) all print it; test_config checks that every key has one
HELP = {
    "name": "run name; the run directory is OUT_DIR/NAME",
    "out_dir": "folder that holds the run directories",
    "seed": "seed of the weights, the noise and the data order",
    "device": "where to train: auto (CUDA when present), cpu or cuda",
    "dataset": "training data (`vgan data fetch NAME` fetches and verifies it)",
    "data_dir": "your own copy of the dataset, looked in first (torchvision's layouts work)",
    "train_limit": "train on the first N training images only (null: all)",
    "batch_size": "images per batch; under torchrun the global batch",
    "arch": "networks: mlp (CPU size) or conv (the paper's Section 7.1 networks)",
    "hidden": "width of the mlp energy's hidden layers",
    "channels": "conv width of the energy and generator",
    "feature_dim": "size of phi(x), the layer under the energy's head (Table 1 probes it)",
    "z_dim": "size of the generator's noise z ~ U[-1, 1]",
    "gen_hidden": "generator's first dense layer (and the mlp generator's width)",
    "gen_channels": "conv width of the generator or VCD autoencoder (null: channels)",
    "code_dim": "VCD: size of the code h in [-1, 1]^d (256 for MNIST, 2048 for 32x32 colour)",
    "objective": "vgan: Algorithm 1 | gan: Eq. 1 | vcd: Algorithm 2 (transitions) | cd: contrastive divergence",
    "energy": "multimodal: Eq. 8 (K experts) | gan: -log D(x) | rbm: free energy | scalar: w^T phi(x) + b",
    "experts": "K, the number of experts in Eq. 8",
    "prob_clip": "expert probabilities are clipped to [c, 1 - c], as in the authors' code",
    "k": "generator steps per energy step",
    "gen_entropy_weight": "weight of H~(p_g) (Eq. 9) in the generator step; 0 drops it",
    "data_entropy_weight": "weight of H~(p_data) (Eq. 9) in the energy step; 0 drops it",
    "gan_generator_loss": "GAN generator loss: nonsaturating -log D(G(z)) or saturating (Eq. 1 as printed)",
    "rho": "VCD: weight of the energy term in Eq. 10 (1 - rho weighs the reconstruction)",
    "vcd_loss": "VCD: Eq. 10 as the authors' code computes it, or as the paper prints it",
    "langevin_init": "CD: chains start from a replay buffer (persistent), uniform noise (short-run) or data (CD-k)",
    "langevin_steps": "CD: Langevin steps x <- clamp(x - a grad E(x) + s xi, [0, 1]) per energy step",
    "langevin_step_size": "CD: a, the step along -grad E(x)",
    "langevin_noise": "CD: s, the standard deviation of the noise xi per coordinate",
    "buffer_size": "CD, persistent: chains kept in the replay buffer (at least batch_size)",
    "buffer_restart": "CD, persistent: share of chains restarted from uniform noise at each draw",
    "energy_l2": "CD: energy step adds w (mean E(x)^2 + mean E(x-)^2), IGEBM's regulariser",
    "expert_entropy": "H of each expert in Eq. 8: shannon (the paper's) or min, slope 1/2 at p = 1/2",
    "batch_entropy": "eq9: the paper's H~ | pairwise: H~ less the experts' pairwise mutual information",
    "logit_penalty": "energy step adds w (mean a^2 real + mean a^2 generated) on the expert logits a",
    "r1_penalty": "energy step adds w/2 mean ||grad_x E(x)||^2 on real data (R1)",
    "expert_decorrelation": "energy step adds w x mean squared correlation of two experts' logits on real data",
    "spectral_norm": "spectral normalisation of the energy network's weights",
    "spectral_norm_head": "with spectral_norm: normalise the expert layer too (false: phi only)",
    "pack": "PacGAN: the energy scores packs of this many images (1: the paper's)",
    "energy_activation": "energy nonlinearity: relu (the paper's) or leaky_relu (slope 0.2)",
    "nn_entropy_weight": "generator step adds w x the nearest-neighbour entropy estimate of G(z)",
    "nn_entropy_space": "where that estimate measures distances: pixels or features (phi(G(z)))",
    "mi_entropy_weight": "generator step adds w x MEG's estimate of I(z; G(z)) from a statistics network",
    "vera_entropy_weight": "generator step adds w x VERA's entropy of the noisy generator G(z) + sigma eps (0: off)",
    "vera_sigma_min": "VERA: the generator's noise sigma starts here and stays at or above it",
    "vera_sigma_max": "VERA: the largest sigma",
    "vera_posterior_samples": "VERA: K, importance samples of the posterior q(z | x) per sample",
    "vera_proposal_lr": "VERA: Adam's step for the proposal's widths around z (0: fixed at 0.1)",
    "vera_baseline": "VERA: drop the noise's own score (mean zero, large variance) from G's gradient (not VERA's)",
    "ema_decay": "figures and evaluation draw from an EMA of the generator's weights (0: off)",
    "optimizer": "optimiser of both players: adadelta (the paper's) or adam",
    "lr": "learning rate of both players",
    "betas": "Adam's betas",
    "adadelta_rho": "Adadelta's rho",
    "adadelta_eps": "Adadelta's eps",
    "epochs": "passes over the training images",
    "max_steps": "stop after this many iterations (null: epochs decide)",
    "precision": "fp32, or bf16 autocast of the networks (losses stay fp32)",
    "compile": "wrap the networks in torch.compile",
    "channels_last": "keep conv networks in channels-last memory format",
    "keep_freed_memory": "CPU on glibc: keep freed memory for reuse (no page faults per step)",
    "log_every": "iterations between metrics lines (metrics.jsonl, TensorBoard)",
    "save_every": "iterations between refreshes of last.pt",
    "ckpt_every": "epochs between kept checkpoints epoch_NNN.pt",
    "tensorboard": "write TensorBoard events under RUN_DIR/tb",
    "progress": "show a progress bar (terminals only)",
}
# the remedies beyond the paper (docs/research/remedies.md); the `*_stable` presets set them
REMEDIES = (
    "expert_entropy",
    "batch_entropy",
    "logit_penalty",
    "r1_penalty",
    "expert_decorrelation",
    "spectral_norm",
    "spectral_norm_head",
    "pack",
    "nn_entropy_weight",
    "nn_entropy_space",
    "mi_entropy_weight",
    "energy_activation",
    "ema_decay",
)
# the successors' estimators (VERA): another method than the paper's; the `*_vera` presets set them
SUCCESSORS = (
    "vera_entropy_weight",
    "vera_sigma_min",
    "vera_sigma_max",
    "vera_posterior_samples",
    "vera_proposal_lr",
    "vera_baseline",
)
# keys a checkpoint fixes: `--resume` refuses to change them (the networks and optimisers were built with them)
FIXED_ON_RESUME = (
    "name",
    "out_dir",
    "dataset",
    "arch",
    "hidden",
    "channels",
    "feature_dim",
    "z_dim",
    "gen_hidden",
    "gen_channels",
    "code_dim",
    "objective",
    "energy",
    "experts",
    "optimizer",
    "spectral_norm",
    "spectral_norm_head",
    "energy_activation",
    "expert_entropy",
    "pack",
    "langevin_init",
    "buffer_size",
)
# keys whose on/off a checkpoint fixes: turned on, they add a network that the checkpoint has or lacks
ON_OFF_FIXED_ON_RESUME = ("mi_entropy_weight", "vera_entropy_weight")


PATHS = ("out_dir", "data_dir")  # `~` stands for the home folder in these, as in a shell


def validate(cfg: Config) -> None:
    """Check every key's type and range, then the rules between keys; a one-line ConfigError.
    Runs whenever a Config is made, so an invalid one never exists. `~` in the paths is expanded."""
    for key, hint in typing.get_type_hints(Config).items():
        setattr(cfg, key, check_type(key, getattr(cfg, key), hint))
    for key in PATHS:
        if getattr(cfg, key) is not None:
            setattr(cfg, key, os.path.expanduser(getattr(cfg, key)))
    for key, allowed in CHOICES.items():
        if getattr(cfg, key) not in allowed:
            raise ConfigError(f"config key '{key}' is {shown(getattr(cfg, key))}; choose one of {', '.join(allowed)}")
    for key, check in CHECKS.items():
        require(getattr(cfg, key), check, f"config key '{key}'", f"fix it in the config or override {key}=")
    for rule in RULES:
        problem = rule(cfg)
        if problem:
            raise ConfigError(problem)
