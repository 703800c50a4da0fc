"""VERA's entropy estimator (samplers.VERASampler, entropy.VERAEntropy) against exact answers."""

import math

import pytest
import torch
from torch import nn

from vgan.evaluation.likelihood import quadrature_log_z
from vgan.model.energy import ScalarEnergy
from vgan.model.entropy import VERAEntropy
from vgan.model.networks import EnergyModel
from vgan.model.objectives import VGANObjective
from vgan.model.samplers import VERASampler


def linear_sampler(d=3, dims=5, sigma=0.3, samples=20, seed=0):
    """VERA's sampler over G(z) = Az + b (no batch norm): q(x) = N(b, AA^T + sigma^2 I) exactly."""
    torch.manual_seed(seed)
    generator = nn.Linear(d, dims)
    sampler = VERASampler(generator, d, (dims,), sigma_range=(sigma, sigma), posterior_samples=samples)
    return sampler.train(), generator.weight.detach(), generator.bias.detach()


def exact_score(x, a, b, sigma):
    """-grad_x log q(x) = Sigma^-1 (x - b), Sigma = AA^T + sigma^2 I."""
    cov = a @ a.T + sigma**2 * torch.eye(len(b))
    return torch.linalg.solve(cov, (x - b).T).T


def posterior_widths(a, sigma):
    """The ELBO's optimum for a diagonal proposal around any centre: 1 / sqrt(diag(I + A^T A / sigma^2))."""
    return (1 + (a * a).sum(0) / sigma**2).rsqrt()


def relative_error(samples, widths=None, n=400, seed=1):
    sampler, a, b = linear_sampler(samples=samples)
    if widths is not None:
        sampler.log_eta.copy_(widths.log())
    draw = sampler.draw(n, rng=torch.Generator().manual_seed(seed))
    want = exact_score(draw.x.detach(), a, b, 0.3)
    return ((draw.score - want).norm(dim=1) / want.norm(dim=1)).mean().item()


def test_the_score_agrees_with_the_exact_one_and_improves_with_more_samples():
    _, a, _ = linear_sampler()
    widths = 1.5 * posterior_widths(a, 0.3)  # a proposal a little wider than the posterior
    errors = [relative_error(k, widths) for k in (2, 20, 200, 2000, 20_000)]
    assert errors[-1] < 0.05  # the stated tolerance: 5% at K = 20,000 (about 3% here; K = 20, VERA's, about 50%)
    assert all(a > b for a, b in zip(errors, errors[1:]))


def test_the_proposal_is_fitted_to_the_posterior_widths():
    sampler, a, _ = linear_sampler()
    rng = torch.Generator().manual_seed(2)
    for _ in range(400):
        sampler.draw(200, rng=rng)  # one ELBO step each
    want = posterior_widths(a, 0.3)
    assert torch.allclose(sampler.log_eta.exp(), want, rtol=0.1), (sampler.log_eta.exp(), want)
    assert sampler.eta_steps.item() == 400


def test_the_surrogate_gives_the_entropys_gradient_for_sigma():
    """For a linear generator H(q) = 1/2 log det(2 pi e Sigma): its derivative in log sigma is
    sigma^2 tr(Sigma^-1), which the surrogate's gradient estimates."""
    sampler, a, _ = linear_sampler(samples=2000)
    sampler.log_eta.copy_((1.5 * posterior_widths(a, 0.3)).log())
    draw = sampler.draw(2000, rng=torch.Generator().manual_seed(3))
    (grad,) = torch.autograd.grad(VERAEntropy().estimate(draw, None), sampler.log_sigma)
    cov = a @ a.T + 0.09 * torch.eye(5)
    want = 0.09 * torch.linalg.inv(cov).trace()
    assert abs(grad.item() - want.item()) < 0.05 * want.item()


def test_without_gradients_a_draw_has_no_score_and_moves_no_proposal():
    sampler, _, _ = linear_sampler()
    with torch.no_grad():
        draw = sampler.draw(10, rng=torch.Generator().manual_seed(0))
    assert draw.score is None and sampler.eta_steps.item() == 0
    assert sampler(10, rng=torch.Generator().manual_seed(0)).shape == (10, 5)


@pytest.mark.slow
def test_vera_learns_a_one_dimensional_mixture_better_than_the_uniform_density():
    torch.manual_seed(0)
    features = nn.Sequential(nn.Linear(1, 64), nn.LeakyReLU(0.2), nn.Linear(64, 64), nn.LeakyReLU(0.2))
    energy = EnergyModel(features, ScalarEnergy(64))
    generator = nn.Sequential(nn.Linear(4, 64), nn.LeakyReLU(0.2), nn.Linear(64, 1))
    sampler = VERASampler(generator, 4, (1,), sigma_range=(0.01, 0.1)).train()
    objective = VGANObjective(gen_entropy_weight=0, data_entropy_weight=0, sample_entropies=[(1.0, VERAEntropy())])
    opt_e = torch.optim.Adam(energy.parameters(), lr=1e-3, betas=(0.0, 0.9))
    opt_g = torch.optim.Adam(sampler.parameters(), lr=1e-3, betas=(0.0, 0.9))
    rng = torch.Generator().manual_seed(0)

    def data(n):
        centre = torch.where(torch.rand(n, 1, generator=rng) < 0.5, 0.3, 0.7)
        return centre + 0.05 * torch.randn(n, 1, generator=rng)

    for _ in range(1500):
        draw = sampler.draw(100, rng=rng)
        loss_g, _ = objective.generator_loss(energy(draw.x), draw)
        opt_g.zero_grad()
        loss_g.backward()
        opt_g.step()
        x = data(100)
        fake = sampler.draw(100, rng=rng).x.detach()
        real_out, fake_out = energy(x), energy(fake)
        loss_e = (
            real_out.energy.mean() - fake_out.energy.mean() + 0.1 * (real_out.energy**2 + fake_out.energy**2).mean()
        )
        opt_e.zero_grad()
        loss_e.backward()
        opt_e.step()
    with torch.no_grad():
        log_z = quadrature_log_z(energy, 1)
        test = data(2000)
        loglik = (-energy(test).energy - log_z).mean().item()
    exact = torch.logsumexp(  # the mixture's own density on the test points
        torch.stack([-(test - c).pow(2) / (2 * 0.05**2) for c in (0.3, 0.7)]), 0
    ) - math.log(2 * 0.05 * math.sqrt(2 * math.pi))
    assert loglik > 0.0, loglik  # above the uniform density on [0, 1]
    assert loglik < exact.mean().item() + 0.1  # and, as a density, not above the data's own


def test_the_baseline_keeps_the_gradients_mean_and_cuts_its_variance():
    """vera_baseline drops eps / sigma . dG/dtheta, which has mean zero: G's gradient keeps its mean
    and loses most of its spread; sigma's gradient is the same either way."""
    sampler, a, _ = linear_sampler(d=3, dims=200, sigma=0.05)
    sampler.log_eta.copy_((1.5 * posterior_widths(a, 0.05)).log())
    grads = {False: [], True: []}
    for seed in range(40):
        draw = sampler.draw(50, rng=torch.Generator().manual_seed(seed))
        for baseline in (False, True):
            value = VERAEntropy(baseline=baseline).estimate(draw, None)
            weight, log_sigma = torch.autograd.grad(
                value, [sampler.generator.weight, sampler.log_sigma], retain_graph=True
            )
            grads[baseline].append(torch.cat([weight.flatten(), log_sigma.reshape(1)]))
    plain, based = torch.stack(grads[False]), torch.stack(grads[True])
    assert torch.allclose(plain[:, -1], based[:, -1])  # sigma's gradient: the whole score either way
    assert (plain[:, :-1].mean(0) - based[:, :-1].mean(0)).norm() < 3 * plain[:, :-1].std(0).norm() / 40**0.5
    assert based[:, :-1].std(0).norm() < 0.2 * plain[:, :-1].std(0).norm()


def test_the_posterior_passes_see_the_generator_the_draw_saw():
    """With batch norm, G(z) depends on the batch around z; VERA's posterior samples and MALA's
    chains normalise with the draw's own statistics, so G is one function of z across passes."""
    from vgan.model.networks import MLPGenerator, batch_statistics

    torch.manual_seed(0)
    g = MLPGenerator((2,), z_dim=4, hidden=16).train()
    z = torch.randn(10, 4)
    with batch_statistics(g) as norms:
        alone = g(z)
    bigger = torch.cat([z, 3 * torch.randn(90, 4)])  # other latents change the batch's statistics
    assert not torch.allclose(g(bigger)[:10], alone, atol=1e-4)
    with batch_statistics(g, norms):
        assert torch.allclose(g(bigger)[:10], alone, atol=1e-6)
    assert torch.allclose(g(bigger)[:10], g(bigger)[:10]) and not torch.allclose(g(bigger)[:10], alone, atol=1e-4)
    with batch_statistics(g, norms):  # a block inside another leaves the outer one's statistics in place
        with batch_statistics(g) as inner:
            g(bigger)
        assert len(inner) == len(norms) and torch.allclose(g(bigger)[:10], alone, atol=1e-6)


def test_vera_entropy_without_a_vera_sampler_is_refused_in_one_line(tmp_path):
    import vgan
    from vgan.config import load_config
    from vgan.model.networks import MLPGenerator
    from vgan.model.samplers import LatentSampler

    cfg = load_config("toy25_vera", overrides=[f"out_dir={tmp_path}", "device=cpu"])
    sampler = LatentSampler(MLPGenerator((2,), z_dim=cfg.z_dim, hidden=8), cfg.z_dim)
    with pytest.raises(vgan.ConfigError, match="pass a VERASampler or set vera_entropy_weight=0"):
        vgan.Trainer(cfg, (2,), sampler=sampler)


def test_compile_is_refused_for_vera_and_sigma_is_clamped_after_each_step(tmp_path):
    import vgan
    from vgan.config import load_config

    cfg = load_config("toy25_vera", overrides=[f"out_dir={tmp_path}", "compile=true", "device=cpu"])
    with pytest.raises(vgan.ConfigError, match="torch.compile cannot wrap"):
        vgan.Trainer(cfg, (2,))
    sampler, _, _ = linear_sampler()
    sampler.sigma_range = (0.01, 0.3)
    with torch.no_grad():
        sampler.log_sigma.fill_(5.0)  # as an optimiser step could leave it
    sampler.after_step()
    assert abs(sampler.sigma().item() - 0.3) < 1e-6
