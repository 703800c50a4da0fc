"""Binary entropies: H(p) of Eq. 8, the batch entropy approximation H~ of Eq. 9, and estimators
beside Eq. 9 (pairwise, nearest-neighbour, MEG's mutual information, VERA's posterior score) that
see what it cannot.

A `SampleEntropy` estimates the generator's entropy from one generated batch; an objective adds
w * estimate to what the generator ascends (`VGANObjective(sample_entropies=[(w, estimator)])`).
Subclass it to plug in your own.
"""

from __future__ import annotations

import math
from typing import Callable, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import nn


def logit_bound(prob_clip: float) -> float:
    """The logit |a| at which sigmoid(a) reaches 1 - prob_clip."""
    return math.log((1.0 - prob_clip) / prob_clip)


def binary_entropy_from_logits(logits: torch.Tensor, prob_clip: float = 1e-4) -> torch.Tensor:
    """H(sigmoid(a)) = -p log p - (1-p) log(1-p), elementwise, in nats.

    Computed stably as `p * softplus(-a) + (1 - p) * softplus(a)`. Probabilities are clipped to
    [prob_clip, 1 - prob_clip] as in the authors' code, which bounds logits to +-logit_bound.
    """
    bound = logit_bound(prob_clip)
    a = logits.clamp(-bound, bound)
    p = torch.sigmoid(a)
    return p * F.softplus(-a) + (1 - p) * F.softplus(a)


def min_entropy_from_logits(logits: torch.Tensor, prob_clip: float = 1e-4) -> torch.Tensor:
    """The min-entropy -log max(p, 1-p) of sigmoid(a), elementwise, in nats: softplus(-|a|).

    Like H(sigmoid(a)) it is ln 2 at a = 0 and falls to 0 as |a| grows, with the same clip, but its
    slope at a = 0 is -1/2 * sign(a) instead of 0: the "strong gradients in the high energy area"
    that Section 5 attributes to Eq. 8 (`MultiModalEnergy(entropy="min")`).
    """
    bound = logit_bound(prob_clip)
    return F.softplus(-logits.clamp(-bound, bound).abs())


def nearest_neighbour_entropy(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """The Kozachenko-Leonenko estimate of the entropy of the distribution behind a batch x (N, ...),
    up to its additive constant: d * mean_i log rho_i, rho_i the distance from x_i to its nearest
    neighbour in the batch and d the dimension. Unlike Eq. 9 it sees every sample: a batch that
    collapses onto a few points has rho_i -> 0. Distances from direct differences, not the
    |a|^2 + |b|^2 - 2ab expansion, which cancels to 0 for near-duplicates in high dimension;
    differentiable everywhere (through rho_i^2 + eps). In nats, so it grows with d: weigh it
    with that in mind (d = 784 for MNIST against Eq. 9's K ln 2). A scalar."""
    flat = x.flatten(1).float()
    dist2 = torch.cdist(flat, flat, compute_mode="donot_use_mm_for_euclid_dist").pow(2)  # (N, N)
    dist2 = dist2 + torch.diag(torch.full_like(dist2[0], float("inf")))  # not its own neighbour
    return flat.shape[1] / 2 * (dist2.min(1).values + eps).log().mean()


class SampleEntropy(nn.Module):
    """An estimate of the generator's entropy H(p_g) from one generated batch, which the generator
    ascends beside Eq. 9 (a remedy, not the paper's). Implement `estimate(draw, fake)`: `draw` is the
    sampler's `Draw` (samples `.x`, noise `.z`), `fake` the energy's `EnergyOutput` on them (`.features`
    is phi(x)); return a scalar. Parameters of the estimator are stepped by the generator's optimiser
    and saved in the checkpoint with the objective. `name` is its key in metrics.jsonl; `couples_batch`
    says that it cannot be split over torchrun's processes (it reads the whole batch, or holds state
    that torchrun does not synchronise), so the trainer refuses it there, telling the user to `switch`
    it off."""

    name = "sample_entropy"
    couples_batch = True
    switch = "turn it off"  # how a user turns it off, for messages: e.g. "set nn_entropy_weight=0"

    def estimate(self, draw, fake) -> torch.Tensor:
        raise NotImplementedError


class NearestNeighbourEntropy(SampleEntropy):
    """`nearest_neighbour_entropy` of the generated batch, in pixels (G(z)) or in the energy
    network's features phi(G(z)) (`space="features"`), where distance follows what E tells apart."""

    name = "nn_entropy_gen"
    switch = "set nn_entropy_weight=0"

    def __init__(self, space: str = "pixels"):
        super().__init__()
        if space not in ("pixels", "features"):
            raise ValueError(f"space must be 'pixels' or 'features', got {space!r}")
        self.space = space

    def estimate(self, draw, fake) -> torch.Tensor:
        return nearest_neighbour_entropy(draw.x if self.space == "pixels" else fake.features)


class InfoMaxEntropy(SampleEntropy):
    """MEG's stand-in for the generator's entropy (Kumar et al. 2019; a remedy, not the paper's):
    a Deep InfoMax estimate of the mutual information between z and x = G(z), which for a
    deterministic G rises with H(G(z)) (I(z; x + e) = H(x + e) - H(e) for small noise e). A scalar:

        I_JSD = 2 ln 2 - mean_i softplus(-T(x_i, z_i)) - mean_i softplus(T(x_i, z_{i-1}))

    the Jensen-Shannon bound of Hjelm et al. (2019), shifted to be 0 when the statistics network T
    cannot tell a sample's own noise from another's; at most 2 ln 2. Pairs (x_i, z_{i-1}), the noise
    rolled by one, are draws from the product of the marginals, with no random numbers used. T is an
    MLP over [x, z] (two hidden layers, leaky ReLU) that ascends the same estimate, so it belongs in
    the generator's optimiser, as in MEG's code; it sees each sample on its own, where Eq. 9 sees
    only the experts' batch-mean firing rates. Ascending it with weight 1/2 is MEG's BCE loss."""

    name = "mi_gen"
    switch = "set mi_entropy_weight=0"

    def __init__(self, x_dim: int, z_dim: int, hidden: int):
        super().__init__()
        self.statistics = nn.Sequential(
            nn.Linear(x_dim + z_dim, hidden),
            nn.LeakyReLU(0.2),
            nn.Linear(hidden, hidden),
            nn.LeakyReLU(0.2),
            nn.Linear(hidden, 1),
        )

    def score(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """T(x, z) for samples x (N, ...) and their noise z (N, z_dim): (N,)."""
        return self.statistics(torch.cat([x.flatten(1), z.flatten(1)], 1)).squeeze(1)

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        own, other = self.score(x, z), self.score(x, z.roll(1, 0))
        return 2 * math.log(2) - F.softplus(-own).mean() - F.softplus(other).mean()

    def estimate(self, draw, fake) -> torch.Tensor:
        if draw.z is None:
            raise ValueError("InfoMaxEntropy needs the noise z behind each sample (a Draw from a LatentSampler)")
        return self(draw.x, draw.z)


class VERAEntropy(SampleEntropy):
    """VERA's entropy (Grathwohl et al. 2021; a successor's, not the paper's) for the noisy generator
    x = G(z) + sigma eps of `samplers.VERASampler`:

        grad_theta H(q) = -E[ grad_x log q(x) . dx/dtheta ],

    with -grad_x log q(x) estimated for each sample by importance sampling of the posterior q(z | x)
    (`Draw.score`, detached). It returns the surrogate mean_i c(x_i) . x_i, whose gradient with
    respect to the generator's weights (through x, sigma included) is that estimate; its value is
    not the entropy. Unlike Eq. 9 it reads each sample, and any energy head works with it.

    `baseline=True` (a control variate, not VERA's own estimator) removes from the gradient of
    G's weights the part of c that is the noise's own score: with x = G(z) + sigma eps,
    c = eps / sigma + sum_k w_k (G(z) - G(z_k)) / sigma^2, and eps / sigma . dG/dtheta has mean
    zero (eps is independent of z) but, in many dimensions, a variance that drowns the rest
    (|eps / sigma| ~ sqrt(D) / sigma). Sigma's gradient keeps the whole of c."""

    name = "vera_surrogate"
    couples_batch = False  # per sample; the sampler's proposal is what keeps VERA in one process
    switch = "set vera_entropy_weight=0"

    def __init__(self, baseline: bool = False):
        super().__init__()
        self.baseline = baseline

    def estimate(self, draw, fake) -> torch.Tensor:
        if draw.score is None:
            raise ValueError("VERAEntropy reads the posterior score of a VERASampler's draw in a generator step")
        score = draw.score.detach()
        if not self.baseline:
            return (score * draw.x).flatten(1).sum(1).mean()
        noise = draw.x - draw.mean  # sigma eps: sigma's graph only
        own = noise.detach() / draw.stats["vera_sigma"] ** 2  # eps / sigma, the noise's own score
        return ((score * noise).flatten(1).sum(1) + ((score - own) * draw.mean).flatten(1).sum(1)).mean()


def binary_entropy(p: torch.Tensor, prob_clip: float = 1e-4) -> torch.Tensor:
    """H(p) for probabilities p, clipped to [prob_clip, 1 - prob_clip]."""
    p = p.clamp(prob_clip, 1 - prob_clip)
    return -(p * p.log() + (1 - p) * (1 - p).log())


def batch_entropy(
    logits: torch.Tensor, prob_clip: float = 1e-4, batch_mean: Optional[Callable[[torch.Tensor], torch.Tensor]] = None
) -> torch.Tensor:
    """Eq. 9: H~ = sum_j H(mean_i sigmoid(a_ij)) for expert logits a of shape (N, K); a scalar.

    On a generated batch this is H~(p_g), on a data batch H~(p_data). It is largest (K ln 2)
    when every expert fires on half the batch, and 0 when the batch collapses to one point
    that saturates every expert. `batch_mean` replaces the mean over dim 0, e.g. by a mean over
    the global batch of all processes (vgan.training.distributed).
    """
    _, mean_p = firing(logits, prob_clip, batch_mean)
    return binary_entropy(mean_p, prob_clip).sum()


def firing(
    logits: torch.Tensor, prob_clip: float = 1e-4, batch_mean: Optional[Callable[[torch.Tensor], torch.Tensor]] = None
) -> Tuple[torch.Tensor, torch.Tensor]:
    """The experts' firing probabilities sigmoid(a) (N, K), clipped as in H, and their batch means (K,)."""
    bound = logit_bound(prob_clip)
    p = torch.sigmoid(logits.clamp(-bound, bound))
    return p, batch_mean(p) if batch_mean else p.mean(dim=0)


def pairwise_batch_entropy(
    logits: torch.Tensor, prob_clip: float = 1e-4, batch_mean: Optional[Callable[[torch.Tensor], torch.Tensor]] = None
) -> torch.Tensor:
    """Eq. 9 less the experts' dependence (a remedy, not the paper's): H~ - sum_{i != j} I_ij / (K - 1),
    I_ij the mutual information between experts i and j firing, b_i ~ Bernoulli(sigmoid(a_i)) given
    x, over the batch: their joint firing rate is mean_n p_ni p_nj. A scalar.

    Eq. 9 sums each expert's entropy as if the experts were independent, so K copies of one
    balanced expert score K ln 2. Here they score 0 (their joint entropy is ln 2), independent
    experts still K ln 2. Near the K ln 2 plateau (p ~ 1/2) each I_ij is of fourth order in the
    logits, so unlike a correlation penalty it does not hold the experts there.
    """
    k = logits.shape[1]
    p, m = firing(logits, prob_clip, batch_mean)  # (N, K), (K,)
    both = batch_mean(p[:, :, None] * p[:, None, :]) if batch_mean else p.T @ p / len(p)  # (K, K) joint rates
    m_i, m_j = m[:, None], m[None, :]
    joint = torch.stack([both, m_i - both, m_j - both, 1 - m_i - m_j + both])  # q11, q10, q01, q00
    apart = torch.stack([m_i * m_j, m_i * (1 - m_j), (1 - m_i) * m_j, (1 - m_i) * (1 - m_j)])
    tiny = prob_clip**2
    info = (joint * (joint.clamp_min(tiny).log() - apart.clamp_min(tiny).log())).sum(0)  # (K, K)
    dependence = (info.sum() - info.diagonal().sum()) / max(k - 1, 1)
    return binary_entropy(m, prob_clip).sum() - dependence


BATCH_ENTROPIES = {"eq9": batch_entropy, "pairwise": pairwise_batch_entropy}
