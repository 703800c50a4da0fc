"""Losses for the two players, as quantities to *minimise*.

VGAN (Algorithm 1, Eq. 6): the generator ascends -mean E(G(z)) + H~(p_g), i.e. descends
its negative; the energy descends mean E(x) - mean E(G(z)) - H~(p_data).
GAN (Eq. 1): D descends -log D(x) - log(1 - D(G(z))); G descends -log D(G(z)) (non-saturating)
or log(1 - D(G(z))) (saturating, the literal minimax).
Each loss returns (loss, stats) where stats are detached scalars for logging.
"""
from __future__ import annotations

from typing import Dict, Tuple

import torch
import torch.nn.functional as F

from .energy import EnergyOutput
from .entropy import batch_entropy

Stats = Dict[str, torch.Tensor]


class VGANObjective:
    """Algorithm 1 with the batch entropy terms of Eq. 9, each with its own weight (0 drops it)."""

    def __init__(self, gen_entropy_weight: float = 1.0, data_entropy_weight: float = 1.0,
                 prob_clip: float = 1e-4):
        self.gen_entropy_weight = gen_entropy_weight
        self.data_entropy_weight = data_entropy_weight
        self.prob_clip = prob_clip

    def generator_loss(self, fake: EnergyOutput) -> Tuple[torch.Tensor, Stats]:
        """mean E(G(z)) - w_g H~(p_g)."""
        entropy = batch_entropy(fake.logits, self.prob_clip)
        loss = fake.energy.mean() - self.gen_entropy_weight * entropy
        return loss, {"loss_g": loss.detach(), "entropy_gen": entropy.detach()}

    def energy_loss(self, real: EnergyOutput, fake: EnergyOutput) -> Tuple[torch.Tensor, Stats]:
        """mean E(x) - mean E(G(z)) - w_d H~(p_data)."""
        entropy = batch_entropy(real.logits, self.prob_clip)
        loss = real.energy.mean() - fake.energy.mean() - self.data_entropy_weight * entropy
        return loss, {"loss_e": loss.detach(), "entropy_data": entropy.detach()}


class GANObjective:
    """Eq. 1 with D(x) = sigmoid(logit); expects the single-unit `GANEnergy` head."""

    def __init__(self, generator_loss: str = "nonsaturating"):
        self.saturating = generator_loss == "saturating"

    def generator_loss(self, fake: EnergyOutput) -> Tuple[torch.Tensor, Stats]:
        a = fake.logits.squeeze(1)
        # log(1 - D) = -softplus(a); -log D = softplus(-a)
        loss = (-F.softplus(a) if self.saturating else F.softplus(-a)).mean()
        return loss, {"loss_g": loss.detach()}

    def energy_loss(self, real: EnergyOutput, fake: EnergyOutput) -> Tuple[torch.Tensor, Stats]:
        # -log D(x) - log(1 - D(G(z)))
        loss = F.softplus(-real.logits).mean() + F.softplus(fake.logits).mean()
        return loss, {"loss_e": loss.detach()}


def build_objective(cfg) -> VGANObjective | GANObjective:
    if cfg.objective == "gan":
        return GANObjective(cfg.gan_generator_loss)
    return VGANObjective(cfg.gen_entropy_weight, cfg.data_entropy_weight, cfg.prob_clip)
