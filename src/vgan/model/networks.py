"""Networks: feature maps phi(x) for the energy, z -> x generators, and the presets.

`conv` follows the paper (Section 7.1) and the authors' code; `mlp` is the CPU preset.
Images are (N, C, H, W) in [0, 1]; H = W is 28 or 32.
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from .energy import EnergyOutput, GANEnergy, MultiModalEnergy, RBMFreeEnergy, ScalarEnergy
from .layers import Conv2d, ConvTranspose2d


def glorot_init(module: nn.Module) -> None:
    """Glorot/Xavier-uniform weights and zero biases, as in the authors' Lasagne code."""
    for m in module.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


def batch_norm(dim: int, kind: str = "1d") -> nn.Module:
    """Generator batch norm that always uses batch statistics, when sampling too (authors' choice)."""
    return (nn.BatchNorm1d if kind == "1d" else nn.BatchNorm2d)(dim, track_running_stats=False)


@contextmanager
def batch_statistics(module: nn.Module, frozen: Optional[List[Tuple[torch.Tensor, torch.Tensor]]] = None):
    """Within the block, every batch norm of `module` either records the statistics (mean, var) of
    the batches it sees into the list it yields (`frozen=None`), or normalises with `frozen`'s, in
    the same order, instead of its batch's: so that G(z) is one function of z across passes of other
    sizes (VERA's posterior samples, MALA's chains), as in the pass that recorded them."""
    norms = [m for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    recorded: List[Tuple[torch.Tensor, torch.Tensor]] = []
    handles, before = [], [bn.__dict__.get("forward") for bn in norms]  # an enclosing block's, if any
    for i, bn in enumerate(norms):
        if frozen is None:

            def record(mod, args, out, i=i):
                x = args[0]
                dims = [0] + list(range(2, x.dim()))
                recorded.append((x.detach().mean(dims), x.detach().var(dims, unbiased=False)))

            handles.append(bn.register_forward_hook(record))
        else:
            mean, var = frozen[i]
            bn.forward = lambda x, bn=bn, mean=mean, var=var: F.batch_norm(
                x, mean, var, bn.weight, bn.bias, training=False, momentum=0.0, eps=bn.eps
            )
    try:
        yield recorded
    finally:
        for h in handles:
            h.remove()
        for bn, forward in zip(norms, before):
            if forward is None:
                bn.__dict__.pop("forward", None)  # back to the class's forward
            else:
                bn.forward = forward


def activation(name: str = "relu") -> nn.Module:
    """The energy network's nonlinearity: ReLU (the paper's) or LeakyReLU with slope 0.2, a remedy:
    an energy network can map generated samples where every ReLU is off, so that E is K ln 2
    there and no gradient reaches the generator; a leaky unit always passes one."""
    return nn.ReLU() if name == "relu" else nn.LeakyReLU(0.2)


class MLPFeatures(nn.Module):
    """phi(x) = f(W2 f(W1 x)), f the activation: (N, C, H, W) -> (N, feature_dim)."""

    def __init__(self, image_shape: Sequence[int], hidden: int = 1024, feature_dim: int = 1024, act: str = "relu"):
        super().__init__()
        self.net = nn.Sequential(
            nn.Flatten(),
            nn.Linear(math.prod(image_shape), hidden),
            activation(act),
            nn.Linear(hidden, feature_dim),
            activation(act),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class ConvFeatures(nn.Module):
    """The paper's energy network under the head: conv5-pool-conv5-pool-dense, no batch norm.

    (N, C, S, S) -> conv -> (N, ch, S/2, S/2) -> conv -> (N, ch, S/4, S/4) -> (N, feature_dim).
    Each activation comes after its max-pool: the two commute exactly (both are monotone), and
    the activation (forward and backward) then touches a quarter of the values.
    """

    def __init__(self, image_shape: Sequence[int], channels: int = 64, feature_dim: int = 1024, act: str = "relu"):
        super().__init__()
        c, s = image_shape[0], image_shape[1]
        self.net = nn.Sequential(
            Conv2d(c, channels, 5, padding=2),
            nn.MaxPool2d(2),
            activation(act),
            Conv2d(channels, channels, 5, padding=2),
            nn.MaxPool2d(2),
            activation(act),
            nn.Flatten(),
            nn.Linear(channels * (s // 4) ** 2, feature_dim),
            activation(act),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class EnergyModel(nn.Module):
    """E(x): a feature network phi followed by an energy head (energy.py).

    `pack` = m > 1 (PacGAN, Lin et al. 2018; a remedy, not the paper's) scores m images at once:
    x (N, C, ...) is read as N/m packs (N/m, mC, ...) of consecutive images, so `features` takes m
    times the channels and the output has N/m rows. `alone()` reads one image at a time.
    """

    def __init__(self, features: nn.Module, head: nn.Module, pack: int = 1):
        super().__init__()
        self.features = features
        self.head = head
        self.pack = pack

    def forward(self, x: torch.Tensor) -> EnergyOutput:
        if self.pack > 1:
            if len(x) % self.pack:
                raise ValueError(f"this energy scores packs of {self.pack} images; got a batch of {len(x)}")
            x = x.reshape(len(x) // self.pack, self.pack * x.shape[1], *x.shape[2:])  # (N/m, mC, ...)
        phi = self.features(x)  # (N, D)
        out = self.head(phi, x)
        return EnergyOutput(out.energy, out.logits, phi)  # not _replace: torch.compile 2.11 fails on it

    def alone(self) -> EnergyModel:
        """The same weights reading one image at a time (N rows out for N images): with pack m,
        each image in a pack of m copies of itself. Evaluation (OOD scores, phi(x) for the probe,
        landscapes, expert ranks) reads a packed energy this way; with pack 1 it is the model."""
        if self.pack == 1:
            return self
        return EnergyModel(nn.Sequential(Copies(self.pack), self.features), self.head)


class Copies(nn.Module):
    """(N, C, ...) -> (N, mC, ...): each image packed with m - 1 copies of itself."""

    def __init__(self, m: int):
        super().__init__()
        self.m = m

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.repeat(1, self.m, *[1] * (x.dim() - 2))


class MLPGenerator(nn.Module):
    """G(z), or a VCD decoder: z -> dense-BN-ReLU -> dense-BN-ReLU -> dense -> sigmoid -> (N, C, H, W)."""

    def __init__(self, image_shape: Sequence[int], z_dim: int = 100, hidden: int = 1024):
        super().__init__()
        self.image_shape = tuple(image_shape)
        self.net = nn.Sequential(
            nn.Linear(z_dim, hidden),
            batch_norm(hidden),
            nn.ReLU(),
            nn.Linear(hidden, hidden),
            batch_norm(hidden),
            nn.ReLU(),
            nn.Linear(hidden, math.prod(image_shape)),
            nn.Sigmoid(),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z).view(-1, *self.image_shape)


class ConvGenerator(nn.Module):
    """G(z) of Section 7.1: two dense layers, reshape, two stride-2 deconvolutions, BN and ReLU.

    `z (N, z_dim) -> (N, hidden) -> (N, ch S/4 S/4) -> (N, ch, S/4, S/4) -> (N, ch, S/2, S/2)
    -> (N, C, S, S)` in [0, 1]. With hidden=None the first dense layer is left out: that is the
    authors' VCD decoder, code `h (N, d) -> (N, ch S/4 S/4) -> ...`
    """

    def __init__(self, image_shape: Sequence[int], z_dim: int = 100, hidden: Optional[int] = 1024, channels: int = 64):
        super().__init__()
        c, s = image_shape[0], image_shape[1]
        q = s // 4
        first = [nn.Linear(z_dim, hidden), batch_norm(hidden), nn.ReLU()] if hidden else []
        self.net = nn.Sequential(
            *first,
            nn.Linear(hidden or z_dim, channels * q * q),
            batch_norm(channels * q * q),
            nn.ReLU(),
            nn.Unflatten(1, (channels, q, q)),
            ConvTranspose2d(channels, channels, 5, stride=2, padding=2, output_padding=1),
            batch_norm(channels, "2d"),
            nn.ReLU(),
            ConvTranspose2d(channels, c, 5, stride=2, padding=2, output_padding=1),
            nn.Sigmoid(),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


class MLPEncoder(nn.Module):
    """VCD encoder, CPU preset: x -> dense-BN-ReLU -> dense-BN-tanh -> h in [-1, 1]^code_dim."""

    def __init__(self, image_shape: Sequence[int], code_dim: int = 256, hidden: int = 1024):
        super().__init__()
        self.net = nn.Sequential(
            nn.Flatten(),
            nn.Linear(math.prod(image_shape), hidden),
            batch_norm(hidden),
            nn.ReLU(),
            nn.Linear(hidden, code_dim),
            batch_norm(code_dim),
            nn.Tanh(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class ConvEncoder(nn.Module):
    """The authors' VCD encoder: [conv5-BN-ReLU-pool] x 2 -> dense -> BN -> tanh.

    (N, C, S, S) -> (N, ch, S/2, S/2) -> (N, ch, S/4, S/4) -> h (N, code_dim) in [-1, 1].
    As in `ConvFeatures`, each ReLU runs after its max-pool (exactly the same function).
    """

    def __init__(self, image_shape: Sequence[int], code_dim: int = 256, channels: int = 64):
        super().__init__()
        c, s = image_shape[0], image_shape[1]
        self.net = nn.Sequential(
            Conv2d(c, channels, 5, padding=2),
            batch_norm(channels, "2d"),
            nn.MaxPool2d(2),
            nn.ReLU(),
            Conv2d(channels, channels, 5, padding=2),
            batch_norm(channels, "2d"),
            nn.MaxPool2d(2),
            nn.ReLU(),
            nn.Flatten(),
            nn.Linear(channels * (s // 4) ** 2, code_dim),
            batch_norm(code_dim),
            nn.Tanh(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def build_energy(cfg, image_shape: Sequence[int]) -> EnergyModel:
    """The energy network the config names, Glorot-initialised."""
    image_shape = (cfg.pack * image_shape[0], *image_shape[1:])  # a pack of m images, channels stacked
    if cfg.arch == "conv":
        features = ConvFeatures(image_shape, cfg.channels, cfg.feature_dim, cfg.energy_activation)
    else:
        features = MLPFeatures(image_shape, cfg.hidden, cfg.feature_dim, cfg.energy_activation)
    if cfg.energy == "multimodal":
        head = MultiModalEnergy(cfg.feature_dim, cfg.experts, cfg.prob_clip, cfg.expert_entropy)
    elif cfg.energy == "gan":
        head = GANEnergy(cfg.feature_dim)
    elif cfg.energy == "scalar":
        head = ScalarEnergy(cfg.feature_dim)
    else:
        head = RBMFreeEnergy(cfg.feature_dim, math.prod(image_shape), cfg.experts)
    model = EnergyModel(features, head, cfg.pack)
    glorot_init(model)
    if cfg.spectral_norm:  # a remedy: each layer's weight divided by its largest singular value
        normalised = model if cfg.spectral_norm_head else model.features  # phi only: the logits keep a free scale
        for m in list(normalised.modules()):
            if isinstance(m, (nn.Linear, nn.Conv2d)):
                nn.utils.parametrizations.spectral_norm(m)
    return model


def build_generator(cfg, image_shape: Sequence[int]) -> nn.Module:
    """The z -> x generator the config names, Glorot-initialised."""
    if cfg.arch == "conv":
        gen = ConvGenerator(image_shape, cfg.z_dim, cfg.gen_hidden, cfg.gen_channels or cfg.channels)
    else:
        gen = MLPGenerator(image_shape, cfg.z_dim, cfg.gen_hidden)
    glorot_init(gen)
    return gen


def build_autoencoder(cfg, image_shape: Sequence[int]) -> Tuple[nn.Module, nn.Module]:
    """The VCD encoder and decoder (Section 6) the config names, Glorot-initialised."""
    if cfg.arch == "conv":
        channels = cfg.gen_channels or cfg.channels
        encoder = ConvEncoder(image_shape, cfg.code_dim, channels)
        decoder = ConvGenerator(image_shape, cfg.code_dim, None, channels)
    else:
        encoder = MLPEncoder(image_shape, cfg.code_dim, cfg.gen_hidden)
        decoder = MLPGenerator(image_shape, cfg.code_dim, cfg.gen_hidden)
    glorot_init(encoder)
    glorot_init(decoder)
    return encoder, decoder
