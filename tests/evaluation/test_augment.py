"""Table 2's classifier protocol (vgan.evaluation.augment): the authors' initialisation, optimiser,
batch-norm statistics and the faster evaluation path."""

import math

import pytest
import torch
from torch import nn

from conftest import with_keys
from vgan.cli import main
from vgan.evaluation.augment import (
    Table2Classifier,
    classifier_optimizer,
    classifier_step,
    error_pct,
    frozen_bn_stats,
    recompute_bn_stats,
)


class Inverter(nn.Module):
    """A 'transition' x~ = 1 - x: images whose statistics differ from the real ones."""

    conditional = True

    def forward(self, x, *, noise=True, rng=None):
        return 1 - x


def test_glorot_uniform_weights_and_zero_biases():
    model = Table2Classifier()
    layers = [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    assert len(layers) == 7  # six 3x3 convs and the dense softmax layer
    for m in layers:
        fan_in = m.weight[0].numel()
        fan_out = m.weight.shape[0] * (m.weight[0, 0].numel() if m.weight.dim() == 4 else 1)
        bound = math.sqrt(6 / (fan_in + fan_out))
        assert m.weight.abs().max() <= bound and m.weight.abs().max() > 0.9 * bound
        assert m.weight.std().item() == pytest.approx(bound / math.sqrt(3), rel=0.15)  # uniform on [-b, b]
        assert torch.count_nonzero(m.bias) == 0
    assert all(m.eps == 1e-4 for m in model.modules() if isinstance(m, nn.BatchNorm2d))  # Lasagne's


@pytest.mark.slow
def test_adadelta_as_lasagne_and_the_learning_rate_drops():
    model = Table2Classifier()
    opt, sched = classifier_optimizer(model, epochs=10, lr=1.0)
    group = opt.param_groups[0]
    assert isinstance(opt, torch.optim.Adadelta) and (group["rho"], group["eps"], group["lr"]) == (0.95, 1e-6, 1.0)
    rates = []
    for _ in range(10):
        rates.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert rates == pytest.approx([1.0] * 6 + [0.1] * 3 + [0.01])  # x0.1 from 60% and from 90% of the epochs


def test_folded_network_computes_the_eval_function():
    torch.manual_seed(0)
    model = Table2Classifier()
    x = torch.rand(32, 1, 28, 28)
    for _ in range(3):  # give the batch norms non-trivial running statistics and affine parameters
        model.train()(x)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            nn.init.uniform_(m.weight, 0.5, 1.5), nn.init.uniform_(m.bias, -0.2, 0.2)
    net = model.folded()
    assert not any(isinstance(m, (nn.BatchNorm2d, nn.Dropout)) for m in net.modules())
    with torch.no_grad():
        assert torch.allclose(net(x), model.eval()(x), atol=1e-4)
    y = model.eval()(x).argmax(1)
    assert error_pct(net, x, y, batch_size=10) == 0.0


def _stats(model):
    return [
        t.clone()
        for m in model.modules()
        if isinstance(m, nn.BatchNorm2d)
        for t in (m.running_mean, m.running_var, m.num_batches_tracked)
    ]


def _step_from_same_state(bn_stats, sampler):
    torch.manual_seed(0)
    model = Table2Classifier()
    opt, _ = classifier_optimizer(model, epochs=10)
    x, y = torch.rand(20, 1, 28, 28), torch.randint(0, 10, (20,))
    torch.manual_seed(1)
    classifier_step(model.train(), opt, x, y, sampler, weighting="sum", bn_stats=bn_stats)
    return model, x


def test_transitions_leave_the_running_statistics_of_real_images_alone():
    real_only, x = _step_from_same_state("real", Inverter())
    torch.manual_seed(0)
    reference = Table2Classifier()
    torch.manual_seed(1)
    reference.train()(x)  # the real pass alone, with the same input noise and dropout
    assert all(torch.equal(a, b) for a, b in zip(_stats(real_only), _stats(reference)))
    both, _ = _step_from_same_state("both", Inverter())
    assert not all(torch.equal(a, b) for a, b in zip(_stats(both), _stats(reference)))


def test_frozen_bn_stats_still_normalises_with_batch_statistics():
    model = Table2Classifier().train()
    x = torch.rand(8, 1, 28, 28) * 5
    before = _stats(model)
    torch.manual_seed(2)
    free = model(x)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.reset_running_stats()
    with frozen_bn_stats(model):
        torch.manual_seed(2)
        frozen = model(x)
    assert torch.equal(free, frozen)
    assert all(torch.equal(a, b) for a, b in zip(_stats(model), before))


def test_recomputed_statistics_are_the_average_over_the_labelled_images():
    torch.manual_seed(0)
    model = Table2Classifier(noise=0.0)
    for m in model.modules():
        if isinstance(m, nn.Dropout):
            m.p = 0.0
    x = torch.rand(40, 1, 28, 28)
    recompute_bn_stats(model, x, batch_size=10)
    first = next(m for m in model.modules() if isinstance(m, nn.BatchNorm2d))
    conv = model.net[0]
    with torch.no_grad():
        means = torch.stack([conv(x[i : i + 10]).mean((0, 2, 3)) for i in range(0, 40, 10)])
    assert torch.allclose(first.running_mean, means.mean(0), atol=1e-5)
    assert first.momentum == 0.1 and int(first.num_batches_tracked) == 4


@pytest.mark.slow
@pytest.mark.parametrize("bn_stats", ["real", "both", "recompute"])
def test_augment_cli_records_the_protocol(tiny, tmp_path, capsys, bn_stats):
    assert (
        main(["train", *with_keys(tiny, "name=vcd", "objective=vcd", "code_dim=8", "train_limit=400", "epochs=1")]) == 0
    )
    capsys.readouterr()
    args = ["--labels", "100", "--epochs", "2", "--eval-n", "200", "--bn-stats", bn_stats, "--weighting", "half"]
    assert main(["augment", str(tmp_path / "vcd"), *args]) == 0
    out = capsys.readouterr().out
    assert f"bn_stats  {bn_stats}" in out and "weighting  half" in out and "test_passes" in out
