import math

import torch

from vgan.model.energy import EnergyOutput, MultiModalEnergy
from vgan.model.entropy import NearestNeighbourEntropy, batch_entropy, pairwise_batch_entropy
from vgan.model.networks import EnergyModel, MLPFeatures
from vgan.model.objectives import GANObjective, VGANObjective


def out(energy, logits):
    return EnergyOutput(torch.tensor(energy), torch.tensor(logits))


def test_vgan_losses_match_algorithm_1():
    real = out([1.0, 3.0], [[0.0, 2.0], [1.0, -1.0]])
    fake = out([5.0, 7.0], [[3.0, 0.5], [-2.0, 0.0]])
    obj = VGANObjective(gen_entropy_weight=0.5, data_entropy_weight=2.0)
    loss_g, stats_g = obj.generator_loss(fake)
    assert math.isclose(loss_g.item(), 6.0 - 0.5 * batch_entropy(fake.logits).item(), rel_tol=1e-6)
    loss_e, stats_e = obj.energy_loss(real, fake)
    assert math.isclose(loss_e.item(), 2.0 - 6.0 - 2.0 * batch_entropy(real.logits).item(), rel_tol=1e-6)
    assert set(stats_g) == {"loss_g", "entropy_gen"} and set(stats_e) == {"loss_e", "entropy_data"}


def test_pairwise_batch_entropy_replaces_eq9_on_both_sides():
    from vgan.config import Config
    from vgan.model.objectives import build_objective

    real = out([1.0, 3.0, 2.0], [[0.0, 2.0], [1.0, -1.0], [4.0, 3.0]])
    fake = out([5.0, 7.0, 6.0], [[3.0, 0.5], [-2.0, 0.0], [1.0, 1.0]])
    for objective in ("vgan", "vcd"):
        obj = build_objective(Config(objective=objective, batch_entropy="pairwise"))
        mean = build_objective(Config(objective=objective, batch_entropy="pairwise"), batch_mean=lambda t: t.mean(0))
        loss_e = 2.0 - 6.0 - pairwise_batch_entropy(real.logits)
        assert math.isclose(obj.energy_loss(real, fake)[0].item(), loss_e.item(), rel_tol=1e-6)
        assert math.isclose(mean.energy_loss(real, fake)[0].item(), loss_e.item(), rel_tol=1e-6)  # the DDP path
    gen = build_objective(Config(batch_entropy="pairwise")).generator_loss(fake)[0]
    assert math.isclose(gen.item(), 6.0 - pairwise_batch_entropy(fake.logits).item(), rel_tol=1e-6)
    assert pairwise_batch_entropy(fake.logits).item() < batch_entropy(fake.logits).item()


def test_entropy_weight_zero_drops_the_term():
    fake = out([5.0, 7.0], [[3.0, 0.5], [-2.0, 0.0]])
    assert VGANObjective(gen_entropy_weight=0.0).generator_loss(fake)[0].item() == 6.0


def test_gan_losses_match_eq1():
    real, fake = out([0.0], [[1.0]]), out([0.0], [[-0.5]])
    sig = lambda a: 1 / (1 + math.exp(-a))  # noqa: E731
    d_loss = GANObjective().energy_loss(real, fake)[0].item()
    assert math.isclose(d_loss, -math.log(sig(1.0)) - math.log(1 - sig(-0.5)), rel_tol=1e-6)
    assert math.isclose(
        GANObjective(generator_loss="nonsaturating").generator_loss(fake)[0].item(), -math.log(sig(-0.5)), rel_tol=1e-6
    )
    assert math.isclose(
        GANObjective(generator_loss="saturating").generator_loss(fake)[0].item(), math.log(1 - sig(-0.5)), rel_tol=1e-6
    )


def test_energy_step_lowers_data_energy_relative_to_generated():
    torch.manual_seed(0)
    energy = EnergyModel(MLPFeatures((1, 4, 4), 16, 16), MultiModalEnergy(16, 8))
    x = torch.rand(32, 1, 4, 4) * 0.3  # "data": dark images
    fake = 0.7 + torch.rand(32, 1, 4, 4) * 0.3  # "samples": bright images
    obj = VGANObjective(data_entropy_weight=0.0)
    opt = torch.optim.SGD(energy.parameters(), lr=0.5)

    def gap():
        return (energy(x).energy.mean() - energy(fake).energy.mean()).item()

    before = gap()
    for _ in range(20):
        loss, _ = obj.energy_loss(energy(x), energy(fake))
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert gap() < before - 0.1


def test_generator_step_lowers_energy_of_samples():
    torch.manual_seed(0)
    energy = EnergyModel(MLPFeatures((1, 4, 4), 16, 16), MultiModalEnergy(16, 8)).requires_grad_(False)
    gen = torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.Sigmoid(), torch.nn.Unflatten(1, (1, 4, 4)))
    z = torch.rand(64, 4)
    obj = VGANObjective(gen_entropy_weight=0.0)
    opt = torch.optim.SGD(gen.parameters(), lr=1.0)
    before = energy(gen(z)).energy.mean().item()
    for _ in range(20):
        loss, _ = obj.generator_loss(energy(gen(z)))
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert energy(gen(z)).energy.mean().item() < before


def test_vcd_paper_reading_of_eq10():
    from vgan.model.objectives import VCDObjective
    from vgan.model.samplers import Draw

    x = torch.tensor([[[[0.0, 1.0]]], [[[0.5, 0.5]]]])  # (2, 1, 1, 2)
    moved = torch.tensor([[[[0.5, 1.0]]], [[[0.5, 0.0]]]])
    fake = out([4.0, 6.0], [[0.0], [1.0]])
    loss, stats = VCDObjective(rho=0.1, reading="paper").generator_loss(fake, Draw(moved, None, x))
    recon = (0.25 + 0.25) / 2  # mean over the batch of the per-image squared distance
    assert math.isclose(stats["recon"].item(), recon, rel_tol=1e-6)
    assert math.isclose(loss.item(), 0.1 * 5.0 + 0.9 * recon, rel_tol=1e-6)


def test_vcd_authors_reading():
    from vgan.model.objectives import VCDObjective
    from vgan.model.samplers import Draw

    x = torch.tensor([[[[0.0, 1.0]]]])
    recon = torch.tensor([[[[0.2, 0.6]]]])
    fake = out([3.0], [[0.0, 2.0]])
    obj = VCDObjective(rho=0.25, reading="authors")
    assert obj.needs_recon
    loss, stats = obj.generator_loss(fake, Draw(torch.zeros_like(x), recon, x))
    bce = (-math.log(0.8) - math.log(0.6)) / 2  # per-pixel mean
    entropy = batch_entropy(fake.logits).item()
    assert math.isclose(stats["recon"].item(), bce, rel_tol=1e-5)
    assert math.isclose(loss.item(), 0.25 * (3.0 - entropy) + 0.75 * bce, rel_tol=1e-5)


def test_nn_entropy_space_picks_pixels_or_the_energy_features():
    from vgan.model.samplers import Draw

    # two samples 3 apart in pixels, 0.5 apart in phi: H_nn = d/2 mean log(rho^2 + 1e-8), d the space's dimension
    x = torch.tensor([[0.0, 0.0], [3.0, 0.0]])
    phi = torch.tensor([[0.0, 0.0, 0.0], [0.5, 0.0, 0.0]], requires_grad=True)
    fake = EnergyOutput(torch.tensor([1.0, 1.0]), torch.zeros(2, 1), phi)
    draw = Draw(x=x, recon=None, cond=None)
    by_space = {}
    for space, d, rho in (("pixels", 2, 3.0), ("features", 3, 0.5)):
        obj = VGANObjective(gen_entropy_weight=0.0, sample_entropies=[(2.0, NearestNeighbourEntropy(space))])
        loss, stats = obj.generator_loss(fake, draw)
        h_nn = d / 2 * math.log(rho**2 + 1e-8)
        assert math.isclose(stats["nn_entropy_gen"].item(), h_nn, rel_tol=1e-5)
        assert math.isclose(loss.item(), 1.0 - 2.0 * h_nn, rel_tol=1e-5)
        by_space[space] = loss
    (grad,) = torch.autograd.grad(by_space["features"], phi)
    # each is the other's neighbour, so mean_i log rho_i^2 = log |phi_0 - phi_1|^2, and
    # d loss / d phi_0 = -w * d/2 * 2 (phi_0 - phi_1) / rho^2 = -2 * 1.5 * 2 * (-0.5) / 0.25 = 12
    assert torch.allclose(grad[:, 0], torch.tensor([12.0, -12.0]), atol=1e-3)
    assert torch.all(grad[:, 1:] == 0)


def test_mi_entropy_is_subtracted_and_steps_the_statistics_network_too():
    import pytest

    from vgan.model.entropy import InfoMaxEntropy
    from vgan.model.samplers import Draw

    torch.manual_seed(0)
    infomax = InfoMaxEntropy(2, 3, hidden=8)
    z = torch.rand(4, 3) * 2 - 1
    x = torch.randn(4, 2, requires_grad=True)
    fake = out([1.0, 2.0, 3.0, 4.0], [[0.0], [1.0], [2.0], [3.0]])
    obj = VGANObjective(gen_entropy_weight=0.0, sample_entropies=[(1.5, infomax)])
    loss, stats = obj.generator_loss(fake, Draw(x, z=z))
    assert math.isclose(stats["mi_gen"].item(), infomax(x, z).item(), rel_tol=1e-6)
    assert math.isclose(loss.item(), 2.5 - 1.5 * stats["mi_gen"].item(), rel_tol=1e-6)
    loss.backward()  # G (through x) and T descend the same loss, as in MEG's code
    assert x.grad.abs().sum() > 0 and all(p.grad is not None for p in infomax.parameters())
    assert obj.generator_parameters() == list(infomax.parameters())  # stepped with the generator
    assert obj.couples_batch == ["mi_gen (InfoMaxEntropy)"] and "torchrun" in obj.unsupported(
        distributed=True, compiled=False
    )
    with pytest.raises(ValueError, match="needs the noise z"):
        obj.generator_loss(fake, Draw(x))


def test_cd_loss_and_its_gradient_sign():
    from vgan.model.objectives import CDObjective

    real = EnergyOutput(torch.tensor([1.0, 3.0], requires_grad=True), torch.zeros(2, 1))
    fake = EnergyOutput(torch.tensor([-2.0, 4.0], requires_grad=True), torch.zeros(2, 1))
    loss, stats = CDObjective(energy_l2=0.5).energy_loss(real, fake)
    assert math.isclose(stats["loss_e"].item(), 2.0 - 1.0)  # mean E(x) - mean E(x-)
    assert math.isclose(stats["energy_l2"].item(), 5.0 + 10.0)
    assert math.isclose(loss.item(), 1.0 + 0.5 * 15.0)
    loss.backward()
    # descending lowers the data's energies and raises the negatives' (plus the L2 pull towards 0)
    assert torch.allclose(real.energy.grad, torch.tensor([0.5 + 0.5, 0.5 + 1.5]))
    assert torch.allclose(fake.energy.grad, torch.tensor([-0.5 - 1.0, -0.5 + 2.0]))
    assert not CDObjective().trains_sampler and CDObjective().generator_parameters() == []


def test_cd_step_lowers_data_energy_against_the_negatives():
    from vgan.model.energy import ScalarEnergy
    from vgan.model.objectives import CDObjective

    torch.manual_seed(0)
    energy = EnergyModel(MLPFeatures((1, 4, 4), 16, 16), ScalarEnergy(16))
    x, neg = torch.rand(32, 1, 4, 4) * 0.3, 0.7 + torch.rand(32, 1, 4, 4) * 0.3
    opt = torch.optim.SGD(energy.parameters(), lr=0.05)
    gap = lambda: (energy(x).energy.mean() - energy(neg).energy.mean()).item()  # noqa: E731
    before = gap()
    for _ in range(10):
        loss, _ = CDObjective().energy_loss(energy(x), energy(neg))
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert gap() < before - 0.05  # from +0.013 to -0.077 in ten steps
