"""Samplers: the variational distribution q(x) that the generator defines (Section 4)."""
from __future__ import annotations

from typing import Optional

import torch
from torch import nn


def uniform_noise(n: int, dim: int, *, generator: Optional[torch.Generator] = None,
                  device: torch.device | str = "cpu") -> torch.Tensor:
    """z ~ U[-1, 1]^dim, shape (n, dim)."""
    return torch.rand(n, dim, generator=generator, device=device) * 2 - 1


class LatentSampler(nn.Module):
    """q(x) = p_g(x): x = G(z), z ~ U[-1, 1]^z_dim (Eq. 6)."""

    def __init__(self, generator: nn.Module, z_dim: int):
        super().__init__()
        self.generator = generator
        self.z_dim = z_dim

    def forward(self, n: int, *, z: Optional[torch.Tensor] = None,
                rng: Optional[torch.Generator] = None) -> torch.Tensor:
        """n samples (n, C, H, W); pass `z` for fixed noise, or `rng` for reproducible noise."""
        if z is None:
            device = next(self.generator.parameters()).device
            z = uniform_noise(n, self.z_dim, generator=rng, device=device)
        return self.generator(z)
