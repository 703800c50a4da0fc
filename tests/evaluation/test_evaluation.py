import json

import pytest
import torch
from PIL import Image
from torch import nn

import vgan
from conftest import with_keys
from vgan.cli import main
from vgan.evaluation import accuracy, train_classifier, transition_metrics, transitions
from vgan.model.samplers import TransitionSampler


class ByMean(nn.Module):
    """A 'classifier' that says 1 for bright images and 0 for dark ones."""

    def forward(self, x):
        bright = (x.flatten(1).mean(1) > 0.5).float()
        return torch.stack([1 - bright, bright], 1)


def test_transition_metrics_by_hand():
    identity = TransitionSampler(nn.Flatten(), nn.Unflatten(1, (1, 2, 2)), code_dim=4)
    images = torch.tensor([[0, 0, 0, 0], [255, 255, 255, 255]], dtype=torch.uint8).view(2, 1, 2, 2)
    labels = torch.tensor([0, 1])
    m = transition_metrics(identity, images, labels, ByMean())
    assert m["recon_mse"] == 0 and m["recon_bce"] == 0  # Decode(Encode(x)) = x exactly
    assert m["distance"] > 0.1 and m["classifier_accuracy"] == 1.0
    assert 0 <= m["label_kept"] <= 1
    assert "label_kept" not in transition_metrics(identity, images, labels)


@pytest.mark.slow
def test_classifier_learns(mnist):
    from vgan.data import load_dataset

    model = train_classifier(epochs=1, limit=2000)
    test = load_dataset("mnist", "test")
    assert accuracy(model, test.images[:1000], test.labels[:1000]) > 0.7


@pytest.mark.slow
def test_vcd_end_to_end_reconstruct_and_chain(tiny, tmp_path, monkeypatch, capsys):
    assert main(["train", *with_keys(tiny, "name=vcd", "objective=vcd", "code_dim=8", "train_limit=400")]) == 0
    run = tmp_path / "vcd"
    assert Image.open(run / "samples" / "epoch_002.png").size == (3 * 302 + 2 * 8, 302)  # x | x_bar | x~
    monkeypatch.setattr(transitions, "load_classifier", lambda *a, **k: ByMean())
    assert main(["reconstruct", str(run), "--eval-n", "200"]) == 0
    printed = capsys.readouterr().out
    assert "label_kept" in printed and "recon_bce" in printed and "distance" in printed
    assert Image.open(run / "reconstruct.png").size == (3 * 302 + 2 * 8, 302)
    assert main(["chain", str(run), "--steps", "3", "--n", "5"]) == 0
    assert Image.open(run / "chain.png").size == (5 * 30 + 2, 4 * 30 + 2)


@pytest.mark.slow
def test_vcd_transitions_come_from_the_averaged_sampler(tiny, tmp_path, monkeypatch, capsys):
    assert (
        main(["train", *with_keys(tiny, "name=vcd", "objective=vcd", "code_dim=8", "max_steps=2", "ema_decay=0.5")])
        == 0
    )
    trainer = vgan.load_run(tmp_path / "vcd")
    assert isinstance(trainer.eval_sampler, TransitionSampler) and trainer.eval_sampler is not trainer.sampler
    x = torch.rand(4, 1, 28, 28)
    assert not torch.equal(trainer.eval_sampler(x, noise=False), trainer.sampler(x, noise=False))
    monkeypatch.setattr(transitions, "load_classifier", lambda *a, **k: ByMean())
    assert main(["reconstruct", str(tmp_path / "vcd"), "--eval-n", "50"]) == 0
    assert "label_kept" in capsys.readouterr().out


def test_reconstruct_refuses_a_vgan_run(tiny, tmp_path, capsys):
    assert main(["train", *tiny, "name=v", "max_steps=1"]) == 0
    assert main(["chain", str(tmp_path / "v")]) == 2
    assert "need a VCD run" in capsys.readouterr().err


def test_table2_classifier_shapes():
    from vgan.evaluation import Table2Classifier

    for shape in [(1, 28, 28), (3, 32, 32)]:
        model = Table2Classifier(shape[0], shape[1])
        assert model(torch.rand(4, *shape)).shape == (4, 10)
        model.eval()
        x = torch.rand(2, *shape)
        assert torch.equal(model(x), model(x))  # no input noise or dropout in eval mode


@pytest.mark.slow
def test_augment_rows_end_to_end(tiny, tmp_path, capsys):
    assert (
        main(["train", *with_keys(tiny, "name=vcd", "objective=vcd", "code_dim=8", "train_limit=400", "epochs=1")]) == 0
    )
    args = ["--labels", "100", "--epochs", "2", "--eval-n", "200", "--seeds", "0,1"]
    assert main(["augment", str(tmp_path / "vcd"), *args]) == 0
    out = capsys.readouterr().out
    assert "VCD (vcd)" in out and "test_error_std" in out and "best_epoch" in out  # the run by name, no path
    assert main(["augment", "--dataset", "mnist", *args]) == 0
    assert "No augmentation" in capsys.readouterr().out
    assert main(["train", *tiny, "name=v", "max_steps=1"]) == 0
    assert main(["augment", str(tmp_path / "v"), *args]) == 2
    assert "not a VCD run" in capsys.readouterr().err


@pytest.mark.slow
def test_langevin_on_any_energy_refines_samples_chains_and_augments(trained_run, tmp_path, capsys):
    import shutil

    from vgan.model.mcmc import Langevin, langevin

    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    trainer = vgan.load_run(run)
    refine = trainer.langevin(Langevin(3, 0.05, 0.01))
    assert (refine.steps, refine.step_size, refine.noise_scale, refine.init) == (3, 0.05, 0.01, "data")
    x = trainer.samples(4, 0)
    want, _ = langevin(trainer.energy, x, steps=3, step_size=0.05, noise=0.01, rng=torch.Generator().manual_seed(1))
    assert torch.equal(refine(x, rng=torch.Generator().manual_seed(1)), want)  # G(z), then 3 steps on E
    assert main(["sample", str(run), "--n", "4", "--langevin-steps", "3", "--langevin-step-size", "0.05"]) == 0
    assert main(["chain", str(run), "--langevin-steps", "2", "--steps", "2", "--n", "3"]) == 0
    assert Image.open(run / "chain.png").size == (3 * 30 + 2, 3 * 30 + 2)
    assert main(["chain", str(run)]) == 2 and "--langevin-steps K" in capsys.readouterr().err
    assert main(["sample", str(run), "--langevin-noise", "0.1"]) == 2  # a noise for no Langevin steps
    assert "add it or drop them" in capsys.readouterr().err
    argv = ["augment", str(run), "--langevin-steps", "2", "--epochs", "1", "--labels", "100", "--eval-n", "100"]
    assert main(argv) == 0
    assert "Langevin (run)" in capsys.readouterr().out
    assert main(["evaluate", str(run), "--metrics", "loglik", "--ais-temperatures", "20", "--ais-runs", "2"]) == 0
    result = json.loads((run / "evaluate.json").read_text())
    assert result["ais_runs"] == 2 and result["ais_temperatures"] == 20 and result["ais_chains"] == 50
    # Eq. 8 bounds E in [0, K ln 2], so log p(x) on the unit box lies within K ln 2 of 0 (K = 8)
    assert abs(result["loglik_nats"]) <= 8 * 0.6932 and result["log_z"] <= 0.0
    assert abs(result["loglik_nats_raise"]) <= 8 * 0.6932 and result["raise_inputs"] == 100
    assert abs(result["loglik_nats_on_raise_inputs"]) <= 8 * 0.6932  # AIS's estimate on RAISE's 100 inputs


@pytest.mark.slow
def test_cd_run_samples_by_its_own_chains_and_leaves_its_buffer(tiny, tmp_path):
    keys = ["objective=cd", "langevin_steps=2", "buffer_size=100", "name=cd"]
    assert main(["train", *with_keys(tiny, *keys)]) == 0
    checkpoint = (tmp_path / "cd" / "last.pt").read_bytes()
    trainer = vgan.load_run(tmp_path / "cd")
    before = trainer.sampler.buffer.clone()
    assert trainer.samples(9, 0).shape == (9, 1, 28, 28) and torch.equal(trainer.sampler.buffer, before)
    assert main(["sample", str(tmp_path / "cd"), "--n", "9"]) == 0
    assert main(["chain", str(tmp_path / "cd"), "--n", "2", "--steps", "1"]) == 0  # its own Langevin settings
    assert (tmp_path / "cd" / "last.pt").read_bytes() == checkpoint


@pytest.mark.slow
def test_loglik_of_a_toy_run_has_the_quadrature_truth_beside_ais(tiny, tmp_path):
    keys = with_keys(tiny, "name=toy", "dataset=8gaussians", "max_steps=20", "optimizer=adam", "lr=0.01")
    assert main(["train", *keys]) == 0
    assert main(["evaluate", str(tmp_path / "toy"), "--metrics", "loglik", "--ais-temperatures", "200"]) == 0
    result = json.loads((tmp_path / "toy" / "evaluate.json").read_text())
    assert abs(result["log_z"] - result["log_z_quadrature"]) < 0.1  # AIS against the exact value
    assert result["loglik_nats_quadrature"] == pytest.approx(
        result["loglik_nats"] + result["log_z"] - result["log_z_quadrature"], abs=1e-6
    )
