"""Energy heads on top of a feature network phi(x) (Sections 4-5), and remedies for Eq. 8's
dead zones.

Each head maps features phi (N, D) to an `EnergyOutput`: the per-sample energy (N,) and the
unit logits (N, K) that the batch entropy of Eq. 9 needs; `EnergyModel` adds phi itself.

Eq. 8's experts have two dead zones, where a player gets no gradient (`dead_zones` measures
both): at logit 0, the energy's maximum, dH/da = -a sigmoid(a)(1 - sigmoid(a)) vanishes; past
the probability clip (|a| > 9.21 for 1e-4) it is exactly 0. The remedies, each off by default:
`MultiModalEnergy(entropy="min")` gives every expert a slope of 1/2 at logit 0, and
`EnergyPenalty` keeps the energy network's logits and input gradients bounded and its experts
apart (`expert_rank` measures how far they collapse onto one).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, NamedTuple, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from .entropy import binary_entropy_from_logits, logit_bound, min_entropy_from_logits
from .reads import ReadsConfig, When

EXPERT_ENTROPIES = {"shannon": binary_entropy_from_logits, "min": min_entropy_from_logits}
BOX = (0.0, 1.0)  # the support of p(x) ~ exp(-E(x)): vgan.data scales every dataset into [0, 1]^d
FLAT = 0.1  # |logit| below which an expert counts as parked at the K ln 2 plateau


class EnergyOutput(NamedTuple):
    energy: torch.Tensor  # (N,)
    logits: torch.Tensor  # (N, K) pre-sigmoid unit activations
    features: Optional[torch.Tensor] = None  # (N, D) phi(x), which `EnergyModel` fills in


def energies(energy: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """E(x) (N,) from any energy module: one that returns an `EnergyOutput` (or anything with
    `.energy`), or one that returns the energies themselves."""
    out = energy(x)
    return out.energy if hasattr(out, "energy") else out


class MultiModalEnergy(ReadsConfig, nn.Module):
    """Eq. 8: E(x) = sum_j H(sigmoid(W_j^T phi(x) + b_j)), a product of K experts, bounded in
    [0, K ln 2] (nats).

    `entropy="min"` (a remedy, not the paper's) uses the min-entropy -log max(p, 1-p) for H: the
    same bounds and the same 2^K minima, but a slope of 1/2 at p = 1/2, where Shannon's is 0.
    """

    config_keys = {"experts": None, "prob_clip": None, "expert_entropy": None}
    chosen_by = ("energy", ("multimodal",))

    def __init__(self, in_features: int, experts: int = 128, prob_clip: float = 1e-4, entropy: str = "shannon"):
        super().__init__()
        self.experts = nn.Linear(in_features, experts)
        self.prob_clip = prob_clip
        self.entropy = EXPERT_ENTROPIES[entropy]

    def forward(self, phi: torch.Tensor, x: torch.Tensor | None = None) -> EnergyOutput:
        logits = self.experts(phi)  # (N, K)
        return EnergyOutput(self.entropy(logits, self.prob_clip).sum(dim=1), logits)


@torch.no_grad()
def dead_zones(logits: torch.Tensor, prob_clip: float = 1e-4) -> Dict[str, torch.Tensor]:
    """The fractions of expert logits (N, K) in Eq. 8's two dead zones: `dead_saturated`, past the
    probability clip (no gradient for either player), and `dead_flat`, within 0.1 of the K ln 2
    plateau at logit 0 (almost none)."""
    a = logits.abs().float()
    return {"dead_saturated": (a > logit_bound(prob_clip)).float().mean(), "dead_flat": (a < FLAT).float().mean()}


@torch.no_grad()
def expert_rank(logits: torch.Tensor) -> torch.Tensor:
    """How many independent directions K experts' logits (N, K) span over a batch: the
    participation ratio (sum l)^2 / sum l^2 of the eigenvalues l of their covariance, computed as
    ||A||_F^4 / ||A^T A||_F^2 for the centred logits A. It runs from 1 (every expert a rescaled
    copy of one, so Eq. 8's 2^K minima reduce to two) to min(N - 1, K). Eq. 9 cannot see it: it
    constrains each expert's batch mean alone. 0 for a batch with constant logits."""
    a = logits.float() - logits.float().mean(0)
    return a.pow(2).sum().pow(2) / (a.T @ a).pow(2).sum().clamp_min(1e-30)


@dataclass
class EnergyPenalty(ReadsConfig):
    """Terms added to the energy step that keep the energy network bounded, or its experts
    distinct (remedies; the paper has none). Each is off at weight 0.

    - `logit`: logit * (mean a^2 over the real batch + mean a^2 over the generated batch), a the
      expert logits: an L2 penalty on the head's outputs, as IGEBM and VERA penalise energy
      magnitudes. It pulls saturated experts back inside the clip, where Eq. 8 has a gradient.
    - `r1`: r1 / 2 * mean ||grad_x E(x)||^2 over the real batch, the zero-centred gradient penalty
      (Mescheder et al. 2018; MEG uses 10). It needs the inputs' gradient: `needs_input_grad`.
    - `decorrelation`: decorrelation * the mean squared correlation between two experts' logits
      over the real batch (`expert_correlation`): 1 when every expert is a copy of one, about
      1/N when they are independent. Eq. 9 cannot tell these apart (`expert_rank`).
    """

    logit: float = 0.0
    r1: float = 0.0
    decorrelation: float = 0.0

    config_keys = {  # class attributes (no annotation): not dataclass fields
        "logit_penalty": None,
        "r1_penalty": None,
        "expert_decorrelation": When("energy=multimodal", lambda cfg: cfg.energy == "multimodal"),
    }

    @property
    def needs_input_grad(self) -> bool:
        return self.r1 > 0

    def unsupported(self, *, distributed: bool, compiled: bool) -> Optional[str]:
        """Why these terms cannot run data-parallel or compiled, or None."""
        if self.r1 and (distributed or compiled):
            return (
                "r1_penalty differentiates through the energy's input gradient, which DistributedDataParallel and "
                "torch.compile do not support; run it in one process without compile=true, or set r1_penalty=0"
            )
        return None

    def __call__(
        self, real: EnergyOutput, fake: EnergyOutput, inputs: Optional[torch.Tensor] = None
    ) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
        """The penalty and its parts for logging; `inputs` is the tensor the real and generated
        energies were computed from, real rows first, with requires_grad, when r1 > 0 (with a
        packed energy, m rows per energy; r1 is the mean over real images)."""
        total, stats = real.energy.new_zeros(()), {}
        if self.logit:
            magnitude = real.logits.pow(2).mean() + fake.logits.pow(2).mean()
            total = total + self.logit * magnitude
            stats["logit_l2"] = magnitude.detach()
        if self.r1:
            (grad,) = torch.autograd.grad(real.energy.sum(), inputs, create_graph=True)
            rows = len(inputs) * len(real.energy) // (len(real.energy) + len(fake.energy))  # the real images
            r1 = grad[:rows].flatten(1).pow(2).sum(1).mean()
            total = total + self.r1 / 2 * r1
            stats["r1"] = r1.detach()
        if self.decorrelation:
            corr = expert_correlation(real.logits)
            total = total + self.decorrelation * corr
            stats["expert_correlation"] = corr.detach()
        return total, stats


def expert_correlation(logits: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """The mean squared Pearson correlation over the K(K-1) pairs of distinct experts, from
    their logits (N, K) over a batch; differentiable. 1 for K copies of one expert. It does not
    change when the logits shrink (eps only keeps a constant expert finite): with a larger eps,
    shrinking every logit towards 0 was a way to lower it, which the 25-Gaussian run took."""
    a = logits - logits.mean(0)
    z = a / (a.pow(2).mean(0) + eps).sqrt()
    corr = z.T @ z / len(z)  # (K, K), ones on the diagonal (up to eps)
    k = corr.shape[0]
    return (corr.pow(2).sum() - corr.diagonal().pow(2).sum()) / (k * (k - 1))


class GANEnergy(ReadsConfig, nn.Module):
    """E(x) = -log D(x), D(x) = sigmoid(w^T phi(x) + b): the uni-modal GAN energy (Eq. 7)."""

    chosen_by = ("energy", ("gan",))

    def __init__(self, in_features: int):
        super().__init__()
        self.unit = nn.Linear(in_features, 1)

    def forward(self, phi: torch.Tensor, x: torch.Tensor | None = None) -> EnergyOutput:
        logits = self.unit(phi)  # (N, 1)
        return EnergyOutput(F.softplus(-logits).squeeze(1), logits)


class ScalarEnergy(ReadsConfig, nn.Module):
    """E(x) = w^T phi(x) + b: one unbounded linear unit, the energy of IGEBM and of most EBMs trained
    by MCMC. Its logits (N, 1) are E itself. Unbounded below, so VGAN and CD need something to
    hold it (CD: `energy_l2`, IGEBM's regulariser)."""

    chosen_by = ("energy", ("scalar",))

    def __init__(self, in_features: int):
        super().__init__()
        self.unit = nn.Linear(in_features, 1)

    def forward(self, phi: torch.Tensor, x: torch.Tensor | None = None) -> EnergyOutput:
        logits = self.unit(phi)  # (N, 1)
        return EnergyOutput(logits.squeeze(1), logits)


class RBMFreeEnergy(ReadsConfig, nn.Module):
    """E(x) = -b^T x - sum_j softplus(W_j^T phi(x) + c_j): an RBM-style free energy, unbounded below.

    Section 4 argues this form makes energies run to -inf under VGAN training; it is here for
    that comparison. With phi the identity it is the binary RBM's free energy.
    """

    config_keys = {"experts": None}  # its hidden units
    chosen_by = ("energy", ("rbm",))

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


HEADS = {"multimodal": MultiModalEnergy, "gan": GANEnergy, "rbm": RBMFreeEnergy, "scalar": ScalarEnergy}
