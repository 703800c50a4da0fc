"""Losses for the two players, as quantities to *minimise*.

VGAN (Algorithm 1, Eq. 6): the generator ascends -mean E(G(z)) + H~(p_g), i.e. descends
its negative; the energy descends mean E(x) - mean E(G(z)) - H~(p_data).
GAN (Eq. 1): D descends -log D(x) - log(1 - D(G(z))); G descends -log D(G(z)) (non-saturating)
or log(1 - D(G(z))) (saturating, the literal minimax).
VCD (Algorithm 2, Eq. 10): the generator descends `rho * E(x~) + (1 - rho) * reconstruction`, in
one of two readings (`VCDObjective`); the energy step is VGAN's with x~ as the samples.
CD (contrastive divergence, beyond the paper): the energy descends mean E(x) - mean E(x-), x- from
Langevin chains on E (`mcmc.LangevinSampler`); there is no generator step.
Generator losses take the sampler's `Draw` (samples, reconstruction, conditioning images).
Each loss returns (loss, stats) where stats are detached scalars for logging.

An objective is an `nn.Module`: it owns its auxiliary networks (e.g. a statistics network of a
`SampleEntropy`), whose parameters the trainer steps with the sampler's (`generator_parameters`)
and whose state it checkpoints (`state_dict`). `unsupported` says what it cannot run under.
Remedies beyond the paper, off by default: an `EnergyPenalty` added to the energy step, and
sample-level entropies (`entropy.SampleEntropy`) beside Eq. 9 in the generator step.
"""

from __future__ import annotations

import math
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from .energy import EnergyOutput, EnergyPenalty
from .entropy import BATCH_ENTROPIES, InfoMaxEntropy, NearestNeighbourEntropy, SampleEntropy, VERAEntropy
from .reads import ReadsConfig, When
from .samplers import Draw

Stats = Dict[str, torch.Tensor]
BatchMean = Callable[[torch.Tensor], torch.Tensor]


class Objective(ReadsConfig, nn.Module):
    """What the energy and the sampler descend. Subclasses implement `energy_loss` and, when the
    sampler is trained (`trains_sampler`), `generator_loss`; `config_keys` lists the config keys
    `from_config` reads (`reads.ReadsConfig`), so that a key no objective reads is refused."""

    needs_recon = False  # whether generator_loss reads draw.recon
    trains_sampler = True  # False: the negatives come from a sampler without weights (CD)

    def __init__(self, penalty: Optional[EnergyPenalty] = None):
        super().__init__()
        self.penalty = penalty or EnergyPenalty()

    @property
    def needs_input_grad(self) -> bool:
        """Whether energy_loss needs the gradient of the energies with respect to their inputs."""
        return self.penalty.needs_input_grad

    @property
    def couples_batch(self) -> List[str]:
        """The terms that torchrun cannot split over processes (empty: none)."""
        return []

    @property
    def batch_switches(self) -> List[str]:
        """How to turn each term of `couples_batch` off."""
        return []

    def unsupported(self, *, distributed: bool, compiled: bool) -> Optional[str]:
        """Why the objective cannot run data-parallel (`distributed`) or compiled, or None."""
        if distributed and self.couples_batch:
            return (
                f"{' and '.join(self.couples_batch)} cannot be split over torchrun's processes; run it in one "
                "process, or " + " and ".join(self.batch_switches)
            )
        return self.penalty.unsupported(distributed=distributed, compiled=compiled)

    def generator_parameters(self) -> List[nn.Parameter]:
        """The objective's own weights that the sampler's optimiser steps (e.g. a statistics network)."""
        return list(self.parameters())

    def load_checkpoint(self, state: dict) -> None:
        """Load the objective's part of a trainer checkpoint (strict: a mismatch raises)."""
        self.load_state_dict(state.get("objective", {}))

    def generator_loss(self, fake: EnergyOutput, draw: Optional[Draw] = None) -> Tuple[torch.Tensor, Stats]:
        raise NotImplementedError(f"{type(self).__name__} trains no sampler")

    def energy_loss(
        self, real: EnergyOutput, fake: EnergyOutput, inputs: Optional[torch.Tensor] = None
    ) -> Tuple[torch.Tensor, Stats]:
        raise NotImplementedError

    def _penalised(self, loss: torch.Tensor, stats: Stats, real, fake, inputs) -> Tuple[torch.Tensor, Stats]:
        penalty, extra = self.penalty(real, fake, inputs)
        return loss + penalty, {"loss_e": loss.detach(), **stats, **extra}


class VGANObjective(Objective):
    """Algorithm 1 with the batch entropy terms of Eq. 9, each with its own weight (0 drops it).

    `sample_entropies`: (w, estimator) pairs, each adding w * estimator.estimate(draw, fake) to what
    the generator ascends (`entropy.SampleEntropy`: the nearest-neighbour estimate, MEG's mutual
    information, or your own). `penalty` is added to the energy step.
    `batch_entropy="pairwise"` replaces Eq. 9 on both sides by `entropy.pairwise_batch_entropy`.
    `batch_mean` replaces the mean over the batch in Eq. 9 (the global batch under torchrun).
    """

    config_keys = {
        "gen_entropy_weight": None,
        "data_entropy_weight": None,
        "prob_clip": None,
        "batch_entropy": None,
        "nn_entropy_weight": None,
        "nn_entropy_space": When("nn_entropy_weight > 0", lambda cfg: cfg.nn_entropy_weight > 0),
        "mi_entropy_weight": None,
        "vera_entropy_weight": None,
        "vera_baseline": When("vera_entropy_weight > 0", lambda cfg: cfg.vera_entropy_weight > 0),
        **EnergyPenalty.config_keys,
    }
    chosen_by = ("objective", ("vgan",))

    def __init__(
        self,
        *,
        gen_entropy_weight: float = 1.0,
        data_entropy_weight: float = 1.0,
        prob_clip: float = 1e-4,
        batch_mean: Optional[BatchMean] = None,
        penalty: Optional[EnergyPenalty] = None,
        batch_entropy: str = "eq9",
        sample_entropies: Sequence[Tuple[float, SampleEntropy]] = (),
    ):
        super().__init__(penalty)
        self.gen_entropy_weight = gen_entropy_weight
        self.data_entropy_weight = data_entropy_weight
        self.prob_clip = prob_clip
        self.batch_mean = batch_mean
        self.batch_entropy = BATCH_ENTROPIES[batch_entropy]
        self.sample_entropy_weights = [float(w) for w, _ in sample_entropies]
        self.sample_entropies = nn.ModuleList([e for _, e in sample_entropies])

    @classmethod
    def from_config(cls, cfg, image_shape: Sequence[int] = (), batch_mean: Optional[BatchMean] = None):
        """The objective `cfg` describes; `image_shape` sizes the statistics network of mi_entropy_weight."""
        return cls(
            gen_entropy_weight=cfg.gen_entropy_weight,
            data_entropy_weight=cfg.data_entropy_weight,
            prob_clip=cfg.prob_clip,
            batch_mean=batch_mean,
            penalty=penalty_from_config(cfg),
            batch_entropy=cfg.batch_entropy,
            sample_entropies=sample_entropies_from_config(cfg, image_shape),
        )

    @property
    def couples_batch(self) -> List[str]:
        return [f"{e.name} ({type(e).__name__})" for e in self.sample_entropies if e.couples_batch]

    @property
    def batch_switches(self) -> List[str]:
        return [e.switch for e in self.sample_entropies if e.couples_batch]

    def load_checkpoint(self, state: dict) -> None:
        if "infomax" in state:  # checkpoints written before objectives owned their networks
            index = next((i for i, e in enumerate(self.sample_entropies) if isinstance(e, InfoMaxEntropy)), None)
            if index is None:
                raise ValueError("it was trained with mi_entropy_weight's network")
            state = {"objective": {f"sample_entropies.{index}.{k}": v for k, v in state["infomax"].items()}}
        super().load_checkpoint(state)

    def entropy(self, out: EnergyOutput) -> torch.Tensor:
        """H~ of Eq. 9 (or its pairwise correction) over the batch of `out`."""
        return self.batch_entropy(out.logits, self.prob_clip, self.batch_mean)

    def generator_loss(self, fake: EnergyOutput, draw: Optional[Draw] = None) -> Tuple[torch.Tensor, Stats]:
        """`mean E(G(z)) - w_g H~(p_g) - sum_i w_i estimate_i`; H~ is left out at w_g = 0. The
        statistics of the draw (VERA's sigma and importance weights) are logged with the loss's."""
        loss, stats = fake.energy.mean(), dict((draw.stats or {}) if draw is not None else {})
        if self.gen_entropy_weight:
            entropy = self.entropy(fake)
            loss = loss - self.gen_entropy_weight * entropy
            stats["entropy_gen"] = entropy.detach()
        for weight, estimator in zip(self.sample_entropy_weights, self.sample_entropies):
            value = estimator.estimate(draw, fake)
            loss = loss - weight * value
            stats[estimator.name] = value.detach()
        return loss, {"loss_g": loss.detach(), **stats}

    def energy_loss(
        self, real: EnergyOutput, fake: EnergyOutput, inputs: Optional[torch.Tensor] = None
    ) -> Tuple[torch.Tensor, Stats]:
        """mean E(x) - mean E(G(z)) - w_d H~(p_data) [+ penalty]; `inputs` as `EnergyPenalty` takes it.
        H~ is left out at w_d = 0."""
        loss, stats = real.energy.mean() - fake.energy.mean(), {}
        if self.data_entropy_weight:
            entropy = self.entropy(real)
            loss = loss - self.data_entropy_weight * entropy
            stats["entropy_data"] = entropy.detach()
        return self._penalised(loss, stats, real, fake, inputs)


class GANObjective(Objective):
    """Eq. 1 with D(x) = sigmoid(logit); expects the single-unit `GANEnergy` head."""

    config_keys = {"gan_generator_loss": None}
    chosen_by = ("objective", ("gan",))

    def __init__(self, *, generator_loss: str = "nonsaturating"):
        super().__init__()
        self.saturating = generator_loss == "saturating"

    @classmethod
    def from_config(cls, cfg, image_shape: Sequence[int] = (), batch_mean: Optional[BatchMean] = None):
        return cls(generator_loss=cfg.gan_generator_loss)

    def generator_loss(self, fake: EnergyOutput, draw: Optional[Draw] = None) -> Tuple[torch.Tensor, Stats]:
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

    config_keys = {
        "rho": None,
        "vcd_loss": None,
        "data_entropy_weight": None,
        "prob_clip": None,
        "batch_entropy": None,
        **EnergyPenalty.config_keys,
    }
    chosen_by = ("objective", ("vcd",))

    def __init__(
        self,
        *,
        rho: float = 0.01,
        reading: str = "authors",
        data_entropy_weight: float = 1.0,
        prob_clip: float = 1e-4,
        batch_mean: Optional[BatchMean] = None,
        penalty: Optional[EnergyPenalty] = None,
        batch_entropy: str = "eq9",
    ):
        super().__init__(
            data_entropy_weight=data_entropy_weight,
            prob_clip=prob_clip,
            batch_mean=batch_mean,
            penalty=penalty,
            batch_entropy=batch_entropy,
        )
        self.rho, self.reading = rho, reading
        self.needs_recon = reading == "authors"

    @classmethod
    def from_config(cls, cfg, image_shape: Sequence[int] = (), batch_mean: Optional[BatchMean] = None):
        return cls(
            rho=cfg.rho,
            reading=cfg.vcd_loss,
            data_entropy_weight=cfg.data_entropy_weight,
            prob_clip=cfg.prob_clip,
            batch_mean=batch_mean,
            penalty=penalty_from_config(cfg),
            batch_entropy=cfg.batch_entropy,
        )

    def generator_loss(self, fake: EnergyOutput, draw: Optional[Draw] = None) -> Tuple[torch.Tensor, Stats]:
        energy = fake.energy.mean()
        if self.reading == "paper":
            recon = (draw.x - draw.cond).pow(2).flatten(1).sum(1).mean()
            loss = self.rho * energy + (1 - self.rho) * recon
            return loss, {"loss_g": loss.detach(), "recon": recon.detach()}
        entropy = self.entropy(fake)
        recon = F.binary_cross_entropy(draw.recon, draw.cond)
        loss = self.rho * (energy - entropy) + (1 - self.rho) * recon
        return loss, {"loss_g": loss.detach(), "recon": recon.detach(), "entropy_gen": entropy.detach()}


class CDObjective(Objective):
    """Contrastive divergence: the energy descends mean E(x) - mean E(x-), whose gradient is the
    maximum-likelihood gradient of p(x) ~ exp(-E(x)) when x- are exact samples of p (here: the end
    of Langevin chains on E, `mcmc.LangevinSampler`). `energy_l2` > 0 adds
    energy_l2 * (mean E(x)^2 + mean E(x-)^2), IGEBM's regulariser of the energies' magnitude.
    There is no generator step (`trains_sampler` is False)."""

    trains_sampler = False
    config_keys = {"energy_l2": None, **EnergyPenalty.config_keys}
    chosen_by = ("objective", ("cd",))

    def __init__(self, *, energy_l2: float = 0.0, penalty: Optional[EnergyPenalty] = None):
        super().__init__(penalty)
        self.energy_l2 = energy_l2

    @classmethod
    def from_config(cls, cfg, image_shape: Sequence[int] = (), batch_mean: Optional[BatchMean] = None):
        return cls(energy_l2=cfg.energy_l2, penalty=penalty_from_config(cfg))

    def energy_loss(
        self, real: EnergyOutput, fake: EnergyOutput, inputs: Optional[torch.Tensor] = None
    ) -> Tuple[torch.Tensor, Stats]:
        """mean E(x) - mean E(x-), plus energy_l2 * (mean E(x)^2 + mean E(x-)^2) when set, plus the penalty."""
        gap = real.energy.mean() - fake.energy.mean()
        loss, stats = gap, {}
        if self.energy_l2:
            magnitude = real.energy.pow(2).mean() + fake.energy.pow(2).mean()
            loss = loss + self.energy_l2 * magnitude
            stats["energy_l2"] = magnitude.detach()
        total, stats = self._penalised(loss, stats, real, fake, inputs)
        stats["loss_e"] = gap.detach()
        return total, stats


def penalty_from_config(cfg) -> EnergyPenalty:
    return EnergyPenalty(logit=cfg.logit_penalty, r1=cfg.r1_penalty, decorrelation=cfg.expert_decorrelation)


def sample_entropies_from_config(cfg, image_shape: Sequence[int]) -> List[Tuple[float, SampleEntropy]]:
    """The (weight, estimator) pairs that nn_entropy_weight, mi_entropy_weight and vera_entropy_weight turn on."""
    out: List[Tuple[float, SampleEntropy]] = []
    if cfg.nn_entropy_weight:
        out.append((cfg.nn_entropy_weight, NearestNeighbourEntropy(cfg.nn_entropy_space)))
    if cfg.mi_entropy_weight:
        out.append((cfg.mi_entropy_weight, InfoMaxEntropy(math.prod(image_shape), cfg.z_dim, cfg.hidden)))
    if cfg.vera_entropy_weight:
        out.append((cfg.vera_entropy_weight, VERAEntropy(baseline=cfg.vera_baseline)))
    return out


OBJECTIVES = {"vgan": VGANObjective, "gan": GANObjective, "vcd": VCDObjective, "cd": CDObjective}


def build_objective(cfg, image_shape: Sequence[int] = (), batch_mean: Optional[BatchMean] = None) -> Objective:
    """The objective `cfg` names; `image_shape` sizes the networks it owns, `batch_mean` (the
    global batch's mean under torchrun) replaces the batch mean of Eq. 9."""
    return OBJECTIVES[cfg.objective].from_config(cfg, image_shape, batch_mean)
