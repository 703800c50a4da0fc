import importlib
import json
import math

import pytest
import torch
from torch import nn

from vgan import data
from vgan.cli import main
from vgan.evaluation import energy_auroc, fid_kid, stacked_modes, toy_modes
from vgan.model.energy import EnergyOutput

evaluate_module = importlib.import_module("vgan.evaluation.evaluate")  # the module, not the function


def test_toy_modes_by_hand():
    toy = data.get("25gaussians")
    centres = torch.tensor((toy.centres() + 2.5) / 5, dtype=torch.float32)
    on_three = centres[[0, 0, 5, 24]]  # exactly on modes 0, 5 and 24
    off = torch.tensor([[0.2, 0.2]])  # (-1.5, -1.5): between modes, within 3 sigma of none
    m = toy_modes(torch.cat([on_three, off]), toy)
    assert m["modes_covered"] == 3 and m["modes_total"] == 25 and math.isclose(m["high_quality_pct"], 80.0)
    assert toy_modes(data.load_dataset("25gaussians", "test").images, toy)["modes_covered"] == 25


class Brightness(nn.Module):
    """Classifies a channel by its mean: digit = round(9 * mean), with logit 10 (top probability
    e^10 / (e^10 + 9) > 0.999) when every pixel is the same, else 1 (top probability 0.23)."""

    def __init__(self):
        super().__init__()
        self.dummy = nn.Parameter(torch.zeros(1))
        self.features = nn.Flatten()

    def forward(self, x):
        digit = (x.flatten(1).mean(1) * 9).round().long()
        flat = x.flatten(1).amin(1) == x.flatten(1).amax(1)
        return nn.functional.one_hot(digit, 10).float() * (1 + 9 * flat.float()).unsqueeze(1)


def test_stacked_modes_by_hand():
    images = torch.zeros(4, 3, 2, 2)
    images[0] = torch.tensor([1.0, 0.0, 0.0]).view(3, 1, 1)  # mode 900
    images[1] = images[0]  # mode 900 again
    images[2, 2] = 1.0  # mode 9
    images[3, 1] = 1.0  # mode 90
    m = stacked_modes(images, Brightness())
    assert m["modes_covered"] == 3
    p = torch.tensor([0.5, 0.25, 0.25])
    assert math.isclose(m["kl_to_uniform"], (p * (p * 1000).log()).sum().item(), rel_tol=1e-6)
    # digits per channel: red 9, 9, 0, 0; green 0, 0, 0, 9; blue 0, 0, 9, 0
    half, quarter = (0.5 * math.log(5)) * 2, 0.75 * math.log(7.5) + 0.25 * math.log(2.5)
    assert math.isclose(m["kl_channels"], half + 2 * quarter, rel_tol=1e-6)
    assert m["low_confidence"] == 0.0
    images[3, 0, 0] = 1.0  # red channel half on: digit round(4.5) = 4, logit 1, top probability 0.23
    m = stacked_modes(images, Brightness())
    assert m["modes_covered"] == 3 and math.isclose(m["low_confidence"], 1 / 12)
    assert stacked_modes(images, Brightness(), confident=0.2)["low_confidence"] == 0.0


def test_fid_kid_is_small_for_the_same_distribution_and_large_otherwise():
    gen = torch.Generator().manual_seed(0)
    classifier = Brightness()
    classifier.features = nn.Sequential(nn.Flatten(), nn.Linear(16, 8))
    a, b = torch.rand(300, 1, 4, 4, generator=gen), torch.rand(300, 1, 4, 4, generator=gen)
    same, other = fid_kid(a, b, classifier), fid_kid(a, b * 0.2, classifier)
    assert same["fid"] < 0.1 * other["fid"] and same["kid"] < other["kid"]


def test_energy_auroc_by_hand():
    class Mean(nn.Module):
        def __init__(self):
            super().__init__()
            self.dummy = nn.Parameter(torch.zeros(1))

        def forward(self, x):
            e = x.flatten(1).mean(1)
            return EnergyOutput(e, e[:, None])

    dark, bright = torch.zeros(10, 1, 2, 2), torch.ones(10, 1, 2, 2)
    assert energy_auroc(Mean(), dark, bright) == 1.0
    assert energy_auroc(Mean(), bright, dark) == 0.0


@pytest.mark.slow
def test_evaluate_a_toy_run(tmp_path, capsys):
    args = [
        "train",
        f"out_dir={tmp_path}",
        "name=toy",
        "dataset=25gaussians",
        "hidden=32",
        "feature_dim=32",
        "gen_hidden=32",
        "z_dim=4",
        "experts=8",
        "train_limit=500",
        "batch_size=50",
        "epochs=1",
        "progress=false",
        "tensorboard=false",
    ]
    assert main(args) == 0
    assert main(["evaluate", str(tmp_path / "toy"), "--n", "300"]) == 0
    saved = json.loads((tmp_path / "toy" / "evaluate.json").read_text())
    assert saved["modes_total"] == 25 and 0 <= saved["modes_covered"] <= 25 and saved["samples"] == 300
    assert (tmp_path / "toy" / "energy_landscape.png").is_file()
    assert 1 <= saved["expert_rank_data"] <= 8 and 1 <= saved["expert_rank_samples"] <= 8  # 8 experts
    assert main(["evaluate", str(tmp_path / "toy"), "--metrics", "fid"]) == 2
    assert "do not apply to 25gaussians" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.parametrize("keys", [[], ["pack=2"]])  # a packed energy scores each image alone (OOD, ranks)
def test_evaluate_an_mnist_run(keys, tiny, tmp_path, monkeypatch):
    assert main(["train", *tiny, "name=m", "max_steps=2", *keys]) == 0
    classifier = Brightness()
    classifier.features = nn.Sequential(nn.Flatten(), nn.Linear(784, 8))
    monkeypatch.setattr(evaluate_module, "load_classifier", lambda *a, **k: classifier)
    results = evaluate_module.evaluate(tmp_path / "m", n=200)
    assert results["fid"] > 0 and results["fid_real_floor"] >= 0 and results["samples"] == 200
    assert 0 <= results["auroc_vs_uniform_noise"] <= 1
    assert 1 <= results["expert_rank_data"] <= 8 and 1 <= results["expert_rank_samples"] <= 8


def test_linear_probe_separates_separable_features():
    from vgan.evaluation import linear_probe

    gen = torch.Generator().manual_seed(0)
    y = torch.randint(0, 3, (300,), generator=gen)
    x = torch.randn(300, 5, generator=gen) * 0.1 + torch.nn.functional.one_hot(y, 5).float()
    split = lambda a, b: (x[a:b].numpy(), y[a:b].numpy())  # noqa: E731
    result = linear_probe(split(0, 200), split(200, 250), split(250, 300))
    assert result["test_error_pct"] == 0.0 and result["C"] in (0.01, 0.1, 1.0)
    noise = linear_probe(
        *[(torch.randn(100, 5, generator=gen).numpy(), y[:100].numpy())] * 1,
        (torch.randn(50, 5, generator=gen).numpy(), y[:50].numpy()),
        (torch.randn(50, 5, generator=gen).numpy(), y[:50].numpy()),
    )
    assert noise["test_error_pct"] > 30  # random features: near chance (66.7%)


@pytest.mark.slow
@pytest.mark.parametrize("keys", [[], ["pack=2"]])  # a packed energy's phi(x) of one image
def test_probe_a_run(keys, tiny, tmp_path, capsys):
    assert main(["train", *tiny, "name=p", "max_steps=2", *keys]) == 0
    assert main(["probe", str(tmp_path / "p"), "--limit", "300"]) == 0
    out = capsys.readouterr().out
    assert "test_error_pct" in out and "feature_dim  32" in out and "train_images  300" in out


def test_fid_features_on_another_device_than_the_cpu():
    """torchmetrics probes a feature network without `num_features` with a CPU tensor, which
    failed for a classifier on the GPU; the meta device stands in for one here."""
    from torchmetrics.image.fid import FrechetInceptionDistance

    from vgan.evaluation.classifier import DigitClassifier
    from vgan.evaluation.metrics import Penultimate

    features = Penultimate(DigitClassifier().to("meta"), (1, 28, 28))
    assert features.num_features == 128 and features.features.training  # probed in eval mode, mode restored
    FrechetInceptionDistance(feature=features, normalize=True, input_img_size=(1, 28, 28))  # no CPU probe


def test_the_fid_features_ship_with_vgan_and_give_the_same_fid_every_time(mnist, tmp_path, monkeypatch):
    """MNIST's classifier is the committed file, checked by its SHA-256, never trained or cached on a
    machine: two loads (the data cache emptied between them) give the same FID, to the bit."""
    import shutil

    from vgan.data import load_dataset
    from vgan.evaluation.classifier import SHIPPED, classifier_path, load_classifier

    monkeypatch.setenv("VGAN_DATA", str(tmp_path / "empty-cache"))  # no cached classifier to fall back on
    test = load_dataset("mnist", "test").images[:500]
    val = load_dataset("mnist", "val").images[:500]
    first = fid_kid(test, val, load_classifier("mnist"))["fid"]
    shutil.rmtree(tmp_path / "empty-cache", ignore_errors=True)
    second = fid_kid(test, val, load_classifier("mnist"))["fid"]
    assert first == second and classifier_path("mnist").is_file()
    assert SHIPPED["mnist"][2] >= 0.99  # its recorded test accuracy


def test_a_changed_classifier_file_is_refused(monkeypatch, tmp_path):
    import vgan.evaluation.classifier as classifier
    from vgan._utils.errors import CheckpointError

    fake = tmp_path / "weights"
    fake.mkdir()
    (fake / "mnist_classifier.pt").write_bytes(b"not the weights")
    monkeypatch.setattr(classifier, "WEIGHTS", fake)
    with pytest.raises(CheckpointError, match="missing or changed"):
        classifier.load_classifier("mnist")
