"""Energy heads on top of a feature network phi(x) (Sections 4-5).

Each head maps features phi (N, D) to an `EnergyOutput`: the per-sample energy (N,) and the
unit logits (N, K) that the batch entropy of Eq. 9 needs.
"""
from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from .entropy import binary_entropy_from_logits


class EnergyOutput(NamedTuple):
    energy: torch.Tensor  # (N,)
    logits: torch.Tensor  # (N, K) pre-sigmoid unit activations


class MultiModalEnergy(nn.Module):
    """Eq. 8: E(x) = sum_j H(sigmoid(W_j^T phi(x) + b_j)), a product of K experts, bounded in [0, K]."""

    def __init__(self, in_features: int, experts: int = 128, prob_clip: float = 1e-4):
        super().__init__()
        self.experts = nn.Linear(in_features, experts)
        self.prob_clip = prob_clip

    def forward(self, phi: torch.Tensor, x: torch.Tensor | None = None) -> EnergyOutput:
        logits = self.experts(phi)  # (N, K)
        return EnergyOutput(binary_entropy_from_logits(logits, self.prob_clip).sum(dim=1), logits)


class GANEnergy(nn.Module):
    """E(x) = -log D(x), D(x) = sigmoid(w^T phi(x) + b): the uni-modal GAN energy (Eq. 7)."""

    def __init__(self, in_features: int):
        super().__init__()
        self.unit = nn.Linear(in_features, 1)

    def forward(self, phi: torch.Tensor, x: torch.Tensor | None = None) -> EnergyOutput:
        logits = self.unit(phi)  # (N, 1)
        return EnergyOutput(F.softplus(-logits).squeeze(1), logits)


class RBMFreeEnergy(nn.Module):
    """E(x) = -b^T x - sum_j softplus(W_j^T phi(x) + c_j): an RBM-style free energy, unbounded below.

    Section 4 argues this form makes energies run to -inf under VGAN training; it is here for
    that comparison. With phi the identity it is the binary RBM's free energy.
    """

    def __init__(self, in_features: int, input_dim: int, hidden: int = 128):
        super().__init__()
        self.hidden = nn.Linear(in_features, hidden)
        self.visible = nn.Linear(input_dim, 1, bias=False)

    def forward(self, phi: torch.Tensor, x: torch.Tensor | None = None) -> EnergyOutput:
        if x is None:
            raise ValueError("RBMFreeEnergy needs the input x for its visible bias term b^T x")
        logits = self.hidden(phi)  # (N, K)
        energy = -self.visible(x.flatten(1)).squeeze(1) - F.softplus(logits).sum(dim=1)
        return EnergyOutput(energy, logits)
