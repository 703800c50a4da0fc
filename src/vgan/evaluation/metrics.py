"""Metrics beyond the paper: mode coverage (2-D mixtures, StackedMNIST), FID and KID with an
in-domain feature network, and the energy as an out-of-distribution score."""

from __future__ import annotations

import math
from typing import Dict, Tuple

import numpy as np
import torch
from torch import nn

from ..data import Toy2D, chunks


def toy_modes(points: torch.Tensor, toy: Toy2D) -> Dict[str, float]:
    """Samples (N, 2) in the data's [0, 1]^2 coordinates against the mixture's modes.

    A sample is high quality when it lies within 3 sigma of its nearest mode; a mode is covered
    when at least one high-quality sample is nearest to it (the usual protocol of the mode
    collapse literature, e.g. VEEGAN and PacGAN, with 2,500 samples).
    """
    x = points.double() * 5 - 2.5
    centres = torch.as_tensor(toy.centres(), dtype=torch.float64)
    dist, nearest = torch.cdist(x, centres).min(1)
    good = dist < 3 * toy.sigma
    return {
        "modes_covered": float(len(nearest[good].unique())),
        "modes_total": float(toy.modes),
        "high_quality_pct": 100.0 * good.double().mean().item(),
    }


@torch.no_grad()
def stacked_modes(
    images: torch.Tensor, classifier: nn.Module, batch_size: int = 500, confident: float = 0.9
) -> Dict[str, float]:
    """StackedMNIST images (N, 3, 28, 28) in [0, 1]: each channel classified by an MNIST classifier
    gives a mode `100 r + 10 g + b`. Returns the number of modes covered (of 1000),
    KL(generated mode histogram || uniform over 1000), and `kl_channels`, the sum over the three
    channels of KL(that channel's digit histogram || uniform over 10): the part of the KL that
    each channel's digit balance alone accounts for; the rest, kl_to_uniform - kl_channels, is the
    channels' dependence (their total correlation). `low_confidence` is the share of the 3N channel
    images whose top class probability is below `confident`: labels that the classifier itself
    doubts (under 2% of real StackedMNIST channel images at 0.9)."""
    device = next(classifier.parameters()).device
    top, digits = torch.cat(
        [
            torch.stack([classifier(x[:, c : c + 1]).softmax(1) for c in range(3)], 1).cpu()
            for x in chunks(images, batch_size, device)
        ]
    ).max(2)  # (N, 3, 10) class probabilities -> (N, 3) top probability and digit
    counts = torch.bincount(digits @ torch.tensor([100, 10, 1]), minlength=1000)
    channels = sum(kl_to_uniform(torch.bincount(digits[:, c], minlength=10)) for c in range(3))
    return {
        "modes_covered": float((counts > 0).sum().item()),
        "modes_total": 1000.0,
        "kl_to_uniform": kl_to_uniform(counts),
        "kl_channels": channels,
        "low_confidence": (top < confident).double().mean().item(),
    }


def kl_to_uniform(counts: torch.Tensor) -> float:
    """KL(p || uniform) in nats for the histogram `counts` (its bins the support)."""
    p = counts.double() / counts.sum()
    return (p[p > 0] * (p[p > 0] * len(p)).log()).sum().item()


class Penultimate(nn.Module):
    """A classifier's penultimate layer as the feature network of FID and KID."""

    def __init__(self, classifier: nn.Module, image_shape: Tuple[int, ...]):
        super().__init__()
        self.features = classifier.features
        # torchmetrics reads num_features; without it, it probes the network with a CPU tensor,
        # which fails when the classifier is on a GPU
        probe = torch.zeros(1, *image_shape, device=next(classifier.parameters()).device)
        with torch.no_grad():
            training = self.features.training
            self.num_features = int(self.features.eval()(probe).shape[-1])
            self.features.train(training)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x).double()


@torch.no_grad()
def fid_kid(real: torch.Tensor, fake: torch.Tensor, classifier: nn.Module, batch_size: int = 500) -> Dict[str, float]:
    """FID and KID (torchmetrics) between two image sets (N, C, H, W), uint8 or in [0, 1], with
    the classifier's penultimate layer as features."""
    from torchmetrics.image.fid import FrechetInceptionDistance
    from torchmetrics.image.kid import KernelInceptionDistance

    shape = tuple(real.shape[1:])
    features = Penultimate(classifier, shape).eval()
    subset = min(1000, len(real), len(fake))
    fid = FrechetInceptionDistance(feature=features, normalize=True, input_img_size=shape)
    kid = KernelInceptionDistance(feature=features, normalize=True, subset_size=subset, subsets=50)
    device = next(classifier.parameters()).device
    fid, kid = fid.to(device), kid.to(device)
    for images, is_real in ((real, True), (fake, False)):
        for x in chunks(images, batch_size, device):
            fid.update(x, real=is_real)
            kid.update(x, real=is_real)
    kid_mean, kid_std = kid.compute()
    return {"fid": fid.compute().item(), "kid": kid_mean.item(), "kid_std": kid_std.item()}


@torch.no_grad()
def energy_auroc(energy: nn.Module, inliers: torch.Tensor, outliers: torch.Tensor, batch_size: int = 500) -> float:
    """AUROC of E(x) as an out-of-distribution score: outliers should get the higher energy."""
    from sklearn.metrics import roc_auc_score

    device = next(energy.parameters()).device

    def scores(images):
        return torch.cat([energy(x).energy.cpu() for x in chunks(images, batch_size, device)])

    s_in, s_out = scores(inliers), scores(outliers)
    labels = np.concatenate([np.zeros(len(s_in)), np.ones(len(s_out))])
    auroc = roc_auc_score(labels, torch.cat([s_in, s_out]).double().numpy())
    return float(auroc) if not math.isnan(auroc) else 0.5
