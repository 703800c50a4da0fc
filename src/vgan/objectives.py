"""Losses for the two players, as quantities to *minimise*.

VGAN (Algorithm 1, Eq. 6): the generator ascends -mean E(G(z)) + H~(p_g), i.e. descends
its negative; the energy descends mean E(x) - mean E(G(z)) - H~(p_data).
GAN (Eq. 1): D descends -log D(x) - log(1 - D(G(z))); G descends -log D(G(z)) (non-saturating)
or log(1 - D(G(z))) (saturating, the literal minimax).
VCD (Algorithm 2, Eq. 10): the generator descends rho*E(x~) + (1-rho)*reconstruction, in
one of two readings (`VCDObjective`); the energy step is VGAN's with x~ as the samples.
Generator losses take the sampler's `Draw` (samples, reconstruction, conditioning images).
Each loss returns (loss, stats) where stats are detached scalars for logging.

Remedies beyond the paper, off by default: an `EnergyPenalty` added to the energy step, and
sample-level entropies (the nearest-neighbour estimate, MEG's mutual information) beside Eq. 9
in the generator step.
"""

from __future__ import annotations

from typing import Callable, Dict, Optional, Tuple

import torch
import torch.nn.functional as F

from .energy import EnergyOutput, EnergyPenalty
from .entropy import BATCH_ENTROPIES, InfoMaxEntropy, nearest_neighbour_entropy
from .samplers import Draw

Stats = Dict[str, torch.Tensor]
BatchMean = Callable[[torch.Tensor], torch.Tensor]


class VGANObjective:
    """Algorithm 1 with the batch entropy terms of Eq. 9, each with its own weight (0 drops it).

    `nn_entropy_weight` > 0 adds w_nn * H_nn(G(z)) to what the generator ascends, H_nn the
    nearest-neighbour entropy estimate (vgan.entropy), which sees the diversity of single samples
    where Eq. 9 sees only each expert's batch-mean firing rate. `nn_entropy_space` says where the
    distances are taken: "pixels", on G(z), or "features", on the energy network's phi(G(z)),
    where distance follows what the energy tells apart. `penalty` is added to the energy step.
    `batch_entropy="pairwise"` replaces Eq. 9 on both sides by `entropy.pairwise_batch_entropy`.
    `mi_entropy_weight` > 0 adds w_mi * I_JSD(z; G(z)), MEG's estimate by the statistics network
    `infomax` (an `entropy.InfoMaxEntropy`, whose parameters the caller steps with the generator's).
    """

    needs_recon = False  # whether generator_loss reads draw.recon

    def __init__(
        self,
        gen_entropy_weight: float = 1.0,
        data_entropy_weight: float = 1.0,
        prob_clip: float = 1e-4,
        batch_mean: Optional[BatchMean] = None,
        nn_entropy_weight: float = 0.0,
        penalty: Optional[EnergyPenalty] = None,
        nn_entropy_space: str = "pixels",
        batch_entropy: str = "eq9",
        mi_entropy_weight: float = 0.0,
        infomax: Optional[InfoMaxEntropy] = None,
    ):
        if mi_entropy_weight and infomax is None:
            raise ValueError("mi_entropy_weight > 0 needs the statistics network `infomax`")
        self.gen_entropy_weight = gen_entropy_weight
        self.data_entropy_weight = data_entropy_weight
        self.prob_clip = prob_clip
        self.batch_mean = batch_mean  # the mean over the (global) batch in Eq. 9
        self.nn_entropy_weight = nn_entropy_weight
        self.nn_entropy_space = nn_entropy_space
        self.penalty = penalty or EnergyPenalty()
        self.batch_entropy = BATCH_ENTROPIES[batch_entropy]
        self.mi_entropy_weight, self.infomax = mi_entropy_weight, infomax

    @property
    def needs_input_grad(self) -> bool:
        """Whether energy_loss needs the gradient of the energies with respect to their inputs."""
        return self.penalty.needs_input_grad

    def entropy(self, out: EnergyOutput) -> torch.Tensor:
        """H~ of Eq. 9 (or its pairwise correction) over the batch of `out`."""
        return self.batch_entropy(out.logits, self.prob_clip, self.batch_mean)

    def generator_loss(self, fake: EnergyOutput, draw: Draw | None = None) -> Tuple[torch.Tensor, Stats]:
        """`mean E(G(z)) - w_g H~(p_g) [- w_nn H_nn(G(z))] [- w_mi I_JSD(z; G(z))]`."""
        entropy = self.entropy(fake)
        loss = fake.energy.mean() - self.gen_entropy_weight * entropy
        stats = {"entropy_gen": entropy.detach()}
        if self.nn_entropy_weight:
            nn_entropy = nearest_neighbour_entropy(draw.x if self.nn_entropy_space == "pixels" else fake.features)
            loss = loss - self.nn_entropy_weight * nn_entropy
            stats["nn_entropy_gen"] = nn_entropy.detach()
        if self.mi_entropy_weight:
            info = self.infomax(draw.x, draw.z)
            loss = loss - self.mi_entropy_weight * info
            stats["mi_gen"] = info.detach()
        return loss, {"loss_g": loss.detach(), **stats}

    def energy_loss(
        self, real: EnergyOutput, fake: EnergyOutput, inputs: Optional[torch.Tensor] = None
    ) -> Tuple[torch.Tensor, Stats]:
        """mean E(x) - mean E(G(z)) - w_d H~(p_data) [+ penalty]; `inputs` as `EnergyPenalty` takes it."""
        entropy = self.entropy(real)
        loss = real.energy.mean() - fake.energy.mean() - self.data_entropy_weight * entropy
        penalty, stats = self.penalty(real, fake, inputs)
        return loss + penalty, {"loss_e": loss.detach(), "entropy_data": entropy.detach(), **stats}


class GANObjective:
    """Eq. 1 with D(x) = sigmoid(logit); expects the single-unit `GANEnergy` head."""

    needs_recon = False
    needs_input_grad = False

    def __init__(self, generator_loss: str = "nonsaturating"):
        self.saturating = generator_loss == "saturating"

    def generator_loss(self, fake: EnergyOutput, draw: Draw | None = None) -> Tuple[torch.Tensor, Stats]:
        a = fake.logits.squeeze(1)
        # log(1 - D) = -softplus(a); -log D = softplus(-a)
        loss = (-F.softplus(a) if self.saturating else F.softplus(-a)).mean()
        return loss, {"loss_g": loss.detach()}

    def energy_loss(
        self, real: EnergyOutput, fake: EnergyOutput, inputs: Optional[torch.Tensor] = None
    ) -> Tuple[torch.Tensor, Stats]:
        # -log D(x) - log(1 - D(G(z)))
        loss = F.softplus(-real.logits).mean() + F.softplus(fake.logits).mean()
        return loss, {"loss_e": loss.detach()}


class VCDObjective(VGANObjective):
    """Algorithm 2. The generator loss of Eq. 10 in one of two readings:

    - 'paper':   rho * mean E(x~) + (1 - rho) * mean_i ||x~_i - x_i||^2, as Eq. 10 is printed;
    - 'authors': rho * (mean E(x~) - H~(p_x~)) + (1 - rho) * BCE(x_bar, x), as the authors'
      code computes it: the batch entropy of the transitions inside the rho bracket, and the
      per-pixel mean binary cross-entropy of the clean reconstruction x_bar = Decode(h).
    The energy step is VGAN's: mean E(x) - mean E(x~) - w_d H~(p_data).
    """

    def __init__(
        self,
        rho: float = 0.01,
        reading: str = "authors",
        data_entropy_weight: float = 1.0,
        prob_clip: float = 1e-4,
        batch_mean: Optional[BatchMean] = None,
        penalty: Optional[EnergyPenalty] = None,
        batch_entropy: str = "eq9",
    ):
        super().__init__(1.0, data_entropy_weight, prob_clip, batch_mean, penalty=penalty, batch_entropy=batch_entropy)
        self.rho, self.reading = rho, reading
        self.needs_recon = reading == "authors"

    def generator_loss(self, fake: EnergyOutput, draw: Draw | None = None) -> Tuple[torch.Tensor, Stats]:
        energy = fake.energy.mean()
        if self.reading == "paper":
            recon = (draw.x - draw.cond).pow(2).flatten(1).sum(1).mean()
            loss = self.rho * energy + (1 - self.rho) * recon
            return loss, {"loss_g": loss.detach(), "recon": recon.detach()}
        entropy = self.entropy(fake)
        recon = F.binary_cross_entropy(draw.recon, draw.cond)
        loss = self.rho * (energy - entropy) + (1 - self.rho) * recon
        return loss, {"loss_g": loss.detach(), "recon": recon.detach(), "entropy_gen": entropy.detach()}


def build_objective(
    cfg, batch_mean: Optional[BatchMean] = None, infomax: Optional[InfoMaxEntropy] = None
) -> VGANObjective | GANObjective:
    """The objective `cfg` names; `infomax` is the statistics network that `mi_entropy_weight` needs."""
    if cfg.objective == "gan":
        return GANObjective(cfg.gan_generator_loss)
    penalty = EnergyPenalty(logit=cfg.logit_penalty, r1=cfg.r1_penalty, decorrelation=cfg.expert_decorrelation)
    if cfg.objective == "vcd":
        return VCDObjective(
            cfg.rho, cfg.vcd_loss, cfg.data_entropy_weight, cfg.prob_clip, batch_mean, penalty, cfg.batch_entropy
        )
    return VGANObjective(
        cfg.gen_entropy_weight,
        cfg.data_entropy_weight,
        cfg.prob_clip,
        batch_mean,
        cfg.nn_entropy_weight,
        penalty,
        cfg.nn_entropy_space,
        cfg.batch_entropy,
        cfg.mi_entropy_weight,
        infomax,
    )
