import torch
from PIL import Image
from torch import nn

import vgan
from conftest import with_keys
from vgan.cli import main
from vgan.evaluation import accuracy, train_classifier, transition_metrics, transitions
from vgan.samplers import TransitionSampler


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


def test_classifier_learns(mnist):
    from vgan.data import load_dataset

    model = train_classifier(epochs=1, limit=2000)
    test = load_dataset("mnist", "test")
    assert accuracy(model, test.images[:1000], test.labels[:1000]) > 0.7


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


def test_vcd_transitions_come_from_the_averaged_sampler(tiny, tmp_path, monkeypatch, capsys):
    assert main(["train", *tiny, "name=vcd", "objective=vcd", "code_dim=8", "max_steps=2", "ema_decay=0.5"]) == 0
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


def test_augment_rows_end_to_end(tiny, tmp_path, capsys):
    assert (
        main(["train", *with_keys(tiny, "name=vcd", "objective=vcd", "code_dim=8", "train_limit=400", "epochs=1")]) == 0
    )
    args = ["--labels", "100", "--epochs", "2", "--eval-n", "200", "--seeds", "0,1"]
    assert main(["augment", str(tmp_path / "vcd"), *args]) == 0
    out = capsys.readouterr().out
    assert "VCD (" in out and "test_error_std" in out and "best_epoch" in out
    assert main(["augment", "--dataset", "mnist", *args]) == 0
    assert "No augmentation" in capsys.readouterr().out
    assert main(["train", *tiny, "name=v", "max_steps=1"]) == 0
    assert main(["augment", str(tmp_path / "v"), *args]) == 2
    assert "not a VCD run" in capsys.readouterr().err
