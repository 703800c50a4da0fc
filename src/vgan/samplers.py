"""Samplers: the variational distribution q(x) that the generator defines.

`LatentSampler` is q(x) = p_g(x), x = G(z) (Section 4, Algorithm 1). `TransitionSampler` is
the transition distribution p_g(x~ | x) of variational contrastive divergence (Section 6,
Algorithm 2). Both give a `Draw` through `draw()`, which is what the training loop uses.
`AveragedSampler` keeps a moving average of either's weights for evaluation (`ema_decay`).
"""

from __future__ import annotations

from itertools import chain
from typing import NamedTuple, Optional, Sequence

import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel

from .config import Config
from .networks import build_autoencoder, build_generator


class Draw(NamedTuple):
    x: torch.Tensor  # the samples that E sees: G(z), or x~ (N, C, H, W)
    recon: Optional[torch.Tensor] = None  # VCD: the clean reconstruction x_bar = Decode(h)
    cond: Optional[torch.Tensor] = None  # VCD: the images x conditioned on
    z: Optional[torch.Tensor] = None  # VGAN: the noise behind x = G(z) (N, z_dim)


def uniform_noise(
    n: int, dim: int, *, generator: Optional[torch.Generator] = None, device: torch.device | str = "cpu"
) -> torch.Tensor:
    """z ~ U[-1, 1]^dim, shape (n, dim)."""
    return torch.rand(n, dim, generator=generator, device=device) * 2 - 1


def _device(module: nn.Module) -> torch.device:
    return next(module.parameters(), torch.empty(0)).device


class LatentSampler(nn.Module):
    """q(x) = p_g(x): x = G(z), z ~ U[-1, 1]^z_dim (Eq. 6)."""

    conditional = False

    def __init__(self, generator: nn.Module, z_dim: int):
        super().__init__()
        self.generator = generator
        self.z_dim = z_dim

    def noise(self, n: int, rng: Optional[torch.Generator] = None) -> torch.Tensor:
        """The noise of n samples: z (n, z_dim)."""
        return uniform_noise(n, self.z_dim, generator=rng, device=_device(self))

    def forward(
        self, n: int, *, z: Optional[torch.Tensor] = None, rng: Optional[torch.Generator] = None
    ) -> torch.Tensor:
        """n samples (n, C, H, W); pass `z` for fixed noise, or `rng` for reproducible noise."""
        return self.generator(self.noise(n, rng) if z is None else z)

    def draw(
        self,
        n: int,
        cond: Optional[torch.Tensor] = None,
        *,
        rng: Optional[torch.Generator] = None,
        noise: Optional[torch.Tensor] = None,
        recon: bool = False,
    ) -> Draw:
        """n samples as a Draw, with their noise; `noise` (from `noise()`) overrides `rng`."""
        z = self.noise(n, rng) if noise is None else noise
        return Draw(self.generator(z), z=z)


class TransitionSampler(nn.Module):
    """p_g(x~ | x) of Section 6: h = Encode(x), h~ = m*z + (1-m)*h, x~ = Decode(h~).

    m ~ Bernoulli(0.5) and z ~ U[-1, 1]^d, fresh for every sample. Whether noise is mixed in is
    the explicit `noise` argument, independent of train()/eval().
    """

    conditional = True

    def __init__(self, encoder: nn.Module, decoder: nn.Module, code_dim: int, mask_prob: float = 0.5):
        super().__init__()
        self.encoder, self.decoder = encoder, decoder
        self.code_dim, self.mask_prob = code_dim, mask_prob

    def noise(self, n: int, rng: Optional[torch.Generator] = None) -> torch.Tensor:
        """The noise of n transitions, (n, 2, d): the mask m (0/1) and z ~ U[-1, 1]^d."""
        device = _device(self)
        m = (torch.rand(n, self.code_dim, generator=rng, device=device) < self.mask_prob).float()
        return torch.stack([m, uniform_noise(n, self.code_dim, generator=rng, device=device)], 1)

    def mix(
        self, h: torch.Tensor, rng: Optional[torch.Generator] = None, noise: Optional[torch.Tensor] = None
    ) -> torch.Tensor:
        """h~ = m*z + (1-m)*h for codes h (N, d); `noise` (from `noise()`) overrides `rng`."""
        m, z = (self.noise(h.shape[0], rng) if noise is None else noise).to(h.dtype).unbind(1)
        return m * z + (1 - m) * h

    def forward(self, x: torch.Tensor, *, noise: bool = True, rng: Optional[torch.Generator] = None) -> torch.Tensor:
        """x~ (N, C, H, W) given x; with noise=False the reconstruction x_bar."""
        h = self.encoder(x)
        return self.decoder(self.mix(h, rng) if noise else h)

    def draw(
        self,
        n: int,
        cond: Optional[torch.Tensor] = None,
        *,
        rng: Optional[torch.Generator] = None,
        noise: Optional[torch.Tensor] = None,
        recon: bool = False,
    ) -> Draw:
        """A transition of each row of `cond` (n of them), and its clean reconstruction if `recon`."""
        h = self.encoder(cond)
        return Draw(self.decoder(self.mix(h, rng, noise)), self.decoder(h) if recon else None, cond)


def build_sampler(cfg: Config, image_shape: Sequence[int]) -> LatentSampler | TransitionSampler:
    """Algorithm 2's transition sampler for objective 'vcd', else Algorithm 1's G(z)."""
    if cfg.objective == "vcd":
        return TransitionSampler(*build_autoencoder(cfg, image_shape), cfg.code_dim)
    return LatentSampler(build_generator(cfg, image_shape), cfg.z_dim)


class AveragedSampler(AveragedModel):
    """An exponential moving average of a sampler's weights, for `ema_decay` (not the paper's).
    The adversarial game moves G's weights around the equilibrium rather than onto it, and the
    average of those iterates draws cleaner samples than the last one (Yazici et al. 2019); it
    never feeds back into training. `.module` is a sampler like the one averaged."""

    def __init__(self, sampler: nn.Module, decay: float):
        super().__init__(sampler, use_buffers=True)  # its step count n_averaged stays on the CPU
        self.decay = decay

    @torch.no_grad()
    def update_parameters(self, model: nn.Module) -> None:
        """w_avg <- decay * w_avg + (1 - decay) * w, the first update a copy. Unlike
        AveragedModel's, it never moves the step count to the device, which would make every
        CUDA iteration wait for the GPU."""
        first = self.n_averaged.item() == 0
        averaged = chain(self.module.parameters(), self.module.buffers())
        for avg, new in zip(averaged, chain(model.parameters(), model.buffers()), strict=True):
            if first or not avg.is_floating_point():
                avg.copy_(new)
            else:
                avg.lerp_(new, 1 - self.decay)
        self.n_averaged += 1
