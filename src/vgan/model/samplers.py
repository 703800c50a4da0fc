"""Samplers: where the energy step's negatives come from.

Every sampler is a `NegativeSource`. `LatentSampler` is q(x) = p_g(x), x = G(z) (Section 4,
Algorithm 1); `VERASampler` is VERA's noisy generator x = G(z) + sigma eps, whose draws carry the
posterior score that its entropy estimator needs. `TransitionSampler` is the transition
distribution p_g(x~ | x) of variational contrastive divergence (Section 6, Algorithm 2).
Langevin chains on the energy itself (contrastive divergence, beyond the paper) are in vgan.model.mcmc.
Each gives a `Draw` through `draw()`, which is what the training loop uses. `AveragedSampler`
keeps a moving average of a trained sampler's weights for evaluation (`ema_decay`).
"""

from __future__ import annotations

import math
from contextlib import nullcontext
from itertools import chain
from typing import Dict, NamedTuple, Optional, Sequence, Tuple

import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel

from .networks import batch_statistics
from .reads import ReadsConfig, When


class Draw(NamedTuple):
    x: torch.Tensor  # the samples that E sees: G(z), x~ or the chains' ends (N, C, H, W)
    recon: Optional[torch.Tensor] = None  # VCD: the clean reconstruction x_bar = Decode(h)
    cond: Optional[torch.Tensor] = None  # VCD: the images x conditioned on
    z: Optional[torch.Tensor] = None  # VGAN: the noise behind x = G(z) (N, z_dim)
    stats: Optional[Dict[str, torch.Tensor]] = None  # scalars to log (Langevin: the chains' statistics)
    score: Optional[torch.Tensor] = None  # VERA: an estimate of -grad_x log q(x), detached, like x
    mean: Optional[torch.Tensor] = None  # VERA: G(z), x without its noise (with its graph)


# what a trained sampler's networks and the trainer's generator steps read
GENERATOR_KEYS = {
    "gen_hidden": None,
    "gen_channels": When("arch=conv", lambda cfg: cfg.arch == "conv"),
    "k": None,
    "ema_decay": None,
}


def uniform_noise(
    n: int, dim: int, *, generator: Optional[torch.Generator] = None, device: torch.device | str = "cpu"
) -> torch.Tensor:
    """z ~ U[-1, 1]^dim, shape (n, dim)."""
    return torch.rand(n, dim, generator=generator, device=device) * 2 - 1


def _device(module: nn.Module) -> torch.device:
    return next(chain(module.parameters(), module.buffers()), torch.empty(0)).device


class NegativeSource(ReadsConfig, nn.Module):
    """Where the energy step's negatives come from; subclass it to plug in your own.

    - `draw(n, cond, *, rng=None, noise=None, recon=False) -> Draw`: n negatives (conditioned on the
      images `cond` when `conditional`); `noise` is what `noise(n, rng)` returned, so that a draw is
      reproducible and, under torchrun, each process keeps its slice of the global batch's noise.
    - `forward(n)` (or `forward(x)` when conditional) with `rng=`: samples for figures and evaluation.
    - `conditional`: each iteration takes 2 x batch_size images, the second half the draws' `cond`.
    - `trainable`: its weights descend the objective's generator loss, k steps per energy step.
    - `distributable`: torchrun can shard its draws over processes; `compilable`: torch.compile can
      wrap them (the trainer refuses compile=true otherwise).
    - `after_step()`: called after each optimiser step of a trained sampler's weights.
    - `config_keys`: the config keys its builder reads (`reads.ReadsConfig`).
    """

    conditional = False
    trainable = True
    distributable = True
    compilable = True  # torch.compile can wrap its draws

    def noise(self, n: int, rng: Optional[torch.Generator] = None) -> torch.Tensor:
        raise NotImplementedError

    def after_step(self) -> None:
        """Called after each optimiser step of its weights (a trained sampler): keep them in range."""

    def draw(
        self,
        n: int,
        cond: Optional[torch.Tensor] = None,
        *,
        rng: Optional[torch.Generator] = None,
        noise: Optional[torch.Tensor] = None,
        recon: bool = False,
    ) -> Draw:
        raise NotImplementedError


class LatentSampler(NegativeSource):
    """q(x) = p_g(x): x = G(z), z ~ U[-1, 1]^z_dim (Eq. 6)."""

    conditional = False
    config_keys = {**GENERATOR_KEYS, "z_dim": None}
    chosen_by = ("objective", ("vgan", "gan"))

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


class VERASampler(LatentSampler):
    """VERA's noisy generator (Grathwohl et al. 2021, "No MCMC for me"): x = G(z) + sigma eps, with
    z ~ N(0, I), eps ~ N(0, I) and sigma one learned scalar, kept in [sigma_min, sigma_max].

    In a generator step (training mode, gradients on) a draw also carries `score`, VERA's estimate

        c(x) = sum_k w_k (x - G(z_k)) / sigma^2   of   -grad_x log q(x)

    by self-normalised importance sampling of the posterior q(z | x): K = `posterior_samples`
    latents z_k ~ N(z0, diag(eta^2)) around the z0 that made x, weighted by w_k, the softmax over k
    of log p(z_k) + log N(x; G(z_k), sigma^2) - log N(z_k; z0, eta^2). `entropy.VERAEntropy` turns
    it into the gradient of H(q). The proposal's widths eta (one per latent dimension, from 0.1) are
    fitted as it trains: one Adam step (`proposal_lr`) per generator step on the single-sample
    ELBO of log q(x), E_{N(z0, eta^2)}[log q(x, z)] + H(N(z0, eta^2)), which pulls the proposal
    onto the posterior. Its state is in buffers, so checkpoints keep it. The posterior's passes
    through G normalise with the draw's own batch statistics (`networks.batch_statistics`), so that
    G(z_k) is the function that made x, and run in float32 (a bf16 G(z_k) is off by more than
    sigma^2). Figures and evaluation draw x = G(z) + sigma eps clamped to the data box [0, 1].
    """

    distributable = False  # the proposal's fit is one process's
    compilable = False  # its draw takes a gradient of its own (the proposal's fit)
    config_keys = {
        **LatentSampler.config_keys,
        "vera_sigma_min": None,
        "vera_sigma_max": None,
        "vera_posterior_samples": None,
        "vera_proposal_lr": None,
    }
    chosen_by = ("objective=vgan and vera_entropy_weight", ("> 0",))

    def __init__(
        self,
        generator: nn.Module,
        z_dim: int,
        image_shape: Sequence[int],
        *,
        sigma_range: Tuple[float, float] = (0.01, 0.3),
        posterior_samples: int = 20,
        proposal_lr: float = 0.02,
    ):
        super().__init__(generator, z_dim)
        self.image_shape = tuple(image_shape)
        self.sigma_range, self.posterior_samples, self.proposal_lr = sigma_range, posterior_samples, proposal_lr
        self.log_sigma = nn.Parameter(torch.tensor(math.log(sigma_range[0])))  # stepped with the generator
        self.register_buffer("log_eta", torch.full((z_dim,), math.log(0.1)))  # the proposal's widths
        self.register_buffer("eta_moments", torch.zeros(2, z_dim))  # Adam's first and second moments
        self.register_buffer("eta_steps", torch.zeros((), dtype=torch.long))

    def sigma(self) -> torch.Tensor:
        return self.log_sigma.exp()

    @torch.no_grad()
    def after_step(self) -> None:
        """Sigma back into its range after every optimiser step, as VERA clamps it."""
        self.log_sigma.clamp_(*(math.log(s) for s in self.sigma_range))

    def noise(self, n: int, rng: Optional[torch.Generator] = None) -> torch.Tensor:
        """All the noise of n draws, (n, z_dim + D + K z_dim + z_dim): z0, eps, the K proposal
        offsets and the ELBO's offset, each N(0, 1)."""
        dims = self.z_dim * (self.posterior_samples + 2) + math.prod(self.image_shape)
        return torch.randn(n, dims, generator=rng, device=_device(self))

    def _split(self, noise: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        d, k = self.z_dim, self.posterior_samples
        return noise.split([d, math.prod(self.image_shape), k * d, d], dim=1)

    def forward(self, n: int, *, z: Optional[torch.Tensor] = None, rng: Optional[torch.Generator] = None):
        """n samples x = G(z) + sigma eps in the box [0, 1] (`z`: fixed latents, their eps from `rng`)."""
        noise = self.noise(n, rng)
        if z is not None:
            noise = torch.cat([z, noise[:, self.z_dim :]], 1)
        return self.draw(n, noise=noise).x.clamp(0, 1)

    def draw(
        self,
        n: int,
        cond: Optional[torch.Tensor] = None,
        *,
        rng: Optional[torch.Generator] = None,
        noise: Optional[torch.Tensor] = None,
        recon: bool = False,
    ) -> Draw:
        """n noisy samples with their latents; in a generator step also the posterior score and its
        statistics. The whole draw runs in float32, autocast or not: x - G(z_k) is read against
        sigma^2, far below bf16's rounding of G."""
        z, eps, offsets, elbo_offset = self._split(self.noise(n, rng) if noise is None else noise)
        scoring = self.training and torch.is_grad_enabled()  # a generator step: the posterior's passes too
        with torch.autocast(z.device.type, enabled=False):
            with batch_statistics(self.generator) if scoring else nullcontext() as norms:  # the draw's own
                mean = self.generator(z.float())
            sigma = self.sigma()
            x = mean + sigma * eps.view_as(mean)
            if not scoring:
                return Draw(x, z=z)
            with batch_statistics(self.generator, norms):  # so G(z_k) is the function that made x
                score, stats = self.posterior_score(x.detach(), z.detach(), offsets, sigma.detach())
                stats["vera_eta"] = self.fit_proposal(x.detach(), z.detach(), elbo_offset, sigma.detach())
        return Draw(x, z=z, stats=stats, score=score, mean=mean)

    @torch.no_grad()
    def posterior_score(
        self, x: torch.Tensor, z0: torch.Tensor, offsets: torch.Tensor, sigma: torch.Tensor
    ) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
        """c(x) ~ -grad_x log q(x) (like x) by importance sampling of q(z | x) around z0 (`offsets`:
        (n, K z_dim) of N(0, 1)), and its statistics: sigma, the effective sample size as a share of
        K, and the mean norm of c."""
        n, d, k = len(x), self.z_dim, self.posterior_samples
        eps = offsets.view(n, k, d)
        z = z0[:, None] + self.log_eta.exp() * eps  # (n, K, d)
        diff = x.flatten(1)[:, None] - self.generator(z.reshape(n * k, d)).reshape(n, k, -1)  # (n, K, D)
        log_w = -0.5 * diff.pow(2).sum(-1) / sigma**2 - 0.5 * z.pow(2).sum(-1) + 0.5 * eps.pow(2).sum(-1)
        w = torch.softmax(log_w, dim=1)  # the constants (log sigma, log eta) are the same for every k
        score = (w[..., None] * diff).sum(1) / sigma**2
        stats = {
            "vera_sigma": sigma,
            "vera_ess": (1 / w.pow(2).sum(1)).mean() / k,
            "vera_score_norm": score.norm(dim=1).mean(),
        }
        return score.view_as(x), stats

    def fit_proposal(
        self, x: torch.Tensor, z0: torch.Tensor, offset: torch.Tensor, sigma: torch.Tensor
    ) -> torch.Tensor:
        """One Adam step of the proposal's log widths on the single-sample ELBO of log q(x) (`offset`:
        (n, z_dim) of N(0, 1)); only log eta moves, the generator's weights get no gradient. Returns
        the mean width after the step."""
        if self.proposal_lr == 0:
            return self.log_eta.exp().mean()
        log_eta = self.log_eta.detach().requires_grad_(True)
        z = z0 + log_eta.exp() * offset
        recon = (x - self.generator(z)).flatten(1).pow(2).sum(1) / sigma**2
        elbo = (-0.5 * z.pow(2).sum(1) - 0.5 * recon).mean() + log_eta.sum()  # + H(N(z0, eta^2)), up to a constant
        (grad,) = torch.autograd.grad(-elbo, log_eta)
        with torch.no_grad():
            m, v = self.eta_moments
            m.lerp_(grad, 0.1)
            v.lerp_(grad * grad, 0.001)
            self.eta_steps += 1
            t = self.eta_steps.to(m.dtype)  # no host sync
            step = (m / (1 - 0.9**t)) / ((v / (1 - 0.999**t)).sqrt() + 1e-8)
            self.log_eta -= self.proposal_lr * step
        return self.log_eta.exp().mean()


class TransitionSampler(NegativeSource):
    """p_g(x~ | x) of Section 6: `h = Encode(x)`, `h~ = m z + (1 - m) h`, `x~ = Decode(h~)`.

    m ~ Bernoulli(0.5) and z ~ U[-1, 1]^d, fresh for every sample. Whether noise is mixed in is
    the explicit `noise` argument, independent of train()/eval().
    """

    conditional = True
    config_keys = {**GENERATOR_KEYS, "code_dim": None, "gen_hidden": When("arch=mlp", lambda cfg: cfg.arch == "mlp")}
    chosen_by = ("objective", ("vcd",))

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
        """`h~ = m z + (1 - m) h` for codes h (N, d); `noise` (from `noise()`) overrides `rng`."""
        m, z = (self.noise(h.shape[0], rng) if noise is None else noise).to(h.dtype).unbind(1)
        return m * z + (1 - m) * h

    def forward(self, x: torch.Tensor, *, noise: bool = True, rng: Optional[torch.Generator] = None) -> torch.Tensor:
        """x~ (N, C, H, W) given x; with noise=False the reconstruction x_bar."""
        h = self.encoder(x)
        return self.decoder(self.mix(h, rng) if noise else h)

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """x_bar = Decode(Encode(x)), the transition without noise."""
        return self(x, noise=False)

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
