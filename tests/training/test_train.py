"""End to end: the real `vgan train` entry point on tiny networks and 200 real MNIST images."""

import json
import math

import pytest
import torch
from PIL import Image

import vgan
from conftest import with_keys
from vgan.cli import main
from vgan.model import objectives
from vgan.runs.checkpoint import load_checkpoint, restore


def metrics(run_dir):
    lines = [json.loads(ln) for ln in (run_dir / "metrics.jsonl").read_text().splitlines()]
    for line in lines:
        line.pop("images_per_s")  # wall-clock, not reproducible
    return lines


@pytest.mark.slow
def test_train_writes_the_run_directory(tiny, tmp_path):
    assert main(["train", *tiny, "name=a"]) == 0
    run = tmp_path / "a"
    lines = metrics(run)
    assert [m["step"] for m in lines] == list(range(1, 9))  # 200 images / 50 = 4 steps x 2 epochs
    assert {
        "loss_g",
        "loss_e",
        "energy_real",
        "energy_fake",
        "entropy_gen",
        "entropy_data",
        "logit_abs_fake",
        "epoch",
    } <= set(lines[0])
    bound = 8 * math.log(2) + 1e-4  # K ln 2, K = 8 experts
    assert all(0 <= m["energy_real"] <= bound and 0 <= m["energy_fake"] <= bound for m in lines)
    assert Image.open(run / "samples" / "epoch_002.png").size == (302, 302)  # 10x10 of 28 + 2 px
    assert Image.open(run / "curves.png").size == (1200, 960)  # energy, entropy, losses, |logit|, dead zones: 3 rows
    assert load_checkpoint(run / "last.pt")["step"] == 8
    assert (run / "epoch_002.pt").is_file() and list((run / "tb").glob("events.out.tfevents.*"))
    assert vgan.load_config(run / "config.yaml").experts == 8
    [session] = json.loads((run / "run.json").read_text())["sessions"]
    assert session["start_step"] == 0 and session["torch"] == torch.__version__ and session["cpu_capability"]


@pytest.mark.slow
def test_resume_reproduces_the_uninterrupted_run(tiny, tmp_path):
    assert main(["train", *tiny, "name=full"]) == 0
    assert main(["train", *tiny, "name=cut", "max_steps=5"]) == 0
    assert load_checkpoint(tmp_path / "cut" / "last.pt")["step"] == 5
    assert main(["train", "--resume", str(tmp_path / "cut"), "max_steps=null"]) == 0
    assert metrics(tmp_path / "cut") == metrics(tmp_path / "full")
    sessions = json.loads((tmp_path / "cut" / "run.json").read_text())["sessions"]
    assert [s["start_step"] for s in sessions] == [0, 5]  # the resumed session is appended
    full, cut = (load_checkpoint(tmp_path / n / "last.pt") for n in ("full", "cut"))
    assert all(torch.equal(full["energy"][k], cut["energy"][k]) for k in full["energy"])


@pytest.mark.slow
def test_nan_stops_keeps_last_good_checkpoint_and_resume_recovers(tiny, tmp_path, monkeypatch, capsys):
    assert main(["train", *tiny, "name=full"]) == 0
    real_loss = objectives.VGANObjective.energy_loss
    calls = {"n": 0}

    def poisoned(self, real, fake, inputs=None):
        calls["n"] += 1
        loss, stats = real_loss(self, real, fake, inputs)
        if calls["n"] == 6:
            loss = loss * float("nan")
            stats["loss_e"] = loss.detach()
        return loss, stats

    monkeypatch.setattr(objectives.VGANObjective, "energy_loss", poisoned)
    assert main(["train", *tiny, "name=crash"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "a loss became NaN or inf at step 6 (epoch 2)" in err and "is at step 4" in err
    assert load_checkpoint(tmp_path / "crash" / "last.pt")["step"] == 4  # saved at the epoch end
    monkeypatch.undo()
    with open(tmp_path / "crash" / "metrics.jsonl", "a") as f:
        f.write('{"step": 7, "loss_g"')  # a line cut short by the crash
    assert main(["train", "--resume", str(tmp_path / "crash")]) == 0
    assert metrics(tmp_path / "crash") == metrics(tmp_path / "full")  # lines 5-6 were rewritten


@pytest.mark.slow
def test_gan_objective_trains_the_same_networks(tiny, tmp_path):
    assert main(["train", *with_keys(tiny, "name=gan", "objective=gan", "energy=gan", "epochs=1")]) == 0
    lines = metrics(tmp_path / "gan")
    assert len(lines) == 4 and "entropy_gen" not in lines[0]


def test_sample_from_a_run(tiny, tmp_path):
    assert main(["train", *tiny, "name=s", "max_steps=2"]) == 0
    out = tmp_path / "grid.png"
    assert main(["sample", str(tmp_path / "s"), "--n", "16", "--out", str(out)]) == 0
    assert Image.open(out).size == (4 * 30 + 2, 4 * 30 + 2)
    trainer = vgan.load_run(tmp_path / "s")
    x = trainer.sampler(5)
    assert x.shape == (5, 1, 28, 28) and 0 <= x.min() and x.max() <= 1
    assert trainer.eval_sampler is trainer.sampler and "sampler_ema" not in load_checkpoint(tmp_path / "s" / "last.pt")


@pytest.mark.slow
def test_ema_decay_samples_from_the_averaged_generator_and_resumes(tiny, tmp_path):
    assert main(["train", *tiny, "name=full", "ema_decay=0.5"]) == 0
    assert main(["train", *tiny, "name=cut", "ema_decay=0.5", "max_steps=5"]) == 0
    assert main(["train", "--resume", str(tmp_path / "cut"), "max_steps=null"]) == 0
    full, cut = (load_checkpoint(tmp_path / n / "last.pt") for n in ("full", "cut"))
    assert full["sampler_ema"]["n_averaged"] == 8  # one update per iteration, after the k generator steps
    assert all(torch.equal(full["sampler_ema"][k], cut["sampler_ema"][k]) for k in full["sampler_ema"])
    trainer = vgan.load_run(tmp_path / "full")
    raw, avg = trainer.sampler.state_dict(), trainer.eval_sampler.state_dict()
    assert all(torch.equal(avg[k], full["sampler_ema"]["module." + k]) for k in avg)
    assert not all(torch.equal(avg[k], raw[k]) for k in avg)  # the average is not the last iterate
    z = trainer.sampler.noise(4, torch.Generator().manual_seed(7))
    assert torch.equal(trainer.samples(4, seed=7), trainer.eval_sampler(4, z=z))  # what `vgan sample` draws
    assert not torch.equal(trainer.samples(4, seed=7), trainer.sampler(4, z=z))


@pytest.mark.slow
def test_ema_decay_turned_on_at_resume_averages_from_there(tiny, tmp_path):
    assert main(["train", *tiny, "name=late", "max_steps=5"]) == 0
    assert main(["train", "--resume", str(tmp_path / "late"), "max_steps=null", "ema_decay=0.5"]) == 0
    assert load_checkpoint(tmp_path / "late" / "last.pt")["sampler_ema"]["n_averaged"] == 3  # steps 6-8


@pytest.mark.slow
def test_mi_entropy_resumes_its_statistics_network_and_cannot_be_toggled(tiny, tmp_path, capsys):
    assert main(["train", *tiny, "name=full", "mi_entropy_weight=0.5"]) == 0
    assert main(["train", *tiny, "name=cut", "mi_entropy_weight=0.5", "max_steps=5"]) == 0
    assert main(["train", "--resume", str(tmp_path / "cut"), "max_steps=null"]) == 0
    assert metrics(tmp_path / "cut") == metrics(tmp_path / "full")  # T's weights and Adam state came back
    full, cut = (load_checkpoint(tmp_path / n / "last.pt") for n in ("full", "cut"))
    assert all(torch.equal(full["objective"][k], cut["objective"][k]) for k in full["objective"])
    assert 0 < metrics(tmp_path / "full")[-1]["mi_gen"] <= 2 * math.log(2)
    # a checkpoint written before objectives owned their networks kept T under "infomax"
    prefix = "sample_entropies.0."
    legacy = {**full, "infomax": {k[len(prefix) :]: v for k, v in full.pop("objective").items()}}
    trainer = vgan.Trainer(vgan.resume_config(tmp_path / "full"), full["image_shape"])
    restore(trainer.load_state_dict, tmp_path / "full" / "last.pt", legacy)
    assert all(torch.equal(v, cut["objective"][k]) for k, v in trainer.objective.state_dict().items())
    assert main(["train", "--resume", str(tmp_path / "cut"), "epochs=3", "mi_entropy_weight=0"]) == 2
    assert "--resume cannot turn mi_entropy_weight off" in capsys.readouterr().err


@pytest.mark.slow
def test_refuses_to_overwrite_a_run(tiny, tmp_path, capsys):
    assert main(["train", *tiny, "name=r", "max_steps=1"]) == 0
    assert main(["train", *tiny, "name=r", "max_steps=1"]) == 2
    assert "already holds a run" in capsys.readouterr().err


@pytest.mark.parametrize("arch", ["mlp", "conv"])
def test_networks_shapes(arch):
    cfg = vgan.Config(arch=arch, channels=4, hidden=16, feature_dim=16, gen_hidden=16, z_dim=8, experts=8)
    for shape in [(1, 28, 28), (3, 32, 32)]:
        energy, gen = vgan.build_energy(cfg, shape), vgan.build_generator(cfg, shape)
        x = gen(torch.rand(6, 8) * 2 - 1)
        assert x.shape == (6, *shape)
        out = energy(x)
        assert out.energy.shape == (6,) and out.logits.shape == (6, 8)


def test_dry_run_leaves_real_runs_alone(tiny, tmp_path, capsys):
    assert main(["train", "--dry-run", *tiny]) == 0
    assert "vgan-dry-run-" in capsys.readouterr().out
    assert not (tmp_path / "mnist_vgan").exists()


def test_a_nan_penalty_stops_training_though_the_logged_loss_is_finite(tiny, tmp_path, monkeypatch, capsys):
    from vgan.model.energy import EnergyPenalty

    real_penalty = EnergyPenalty.__call__

    def poisoned(self, real, fake, inputs=None):
        total, stats = real_penalty(self, real, fake, inputs)
        stats["logit_l2"] = stats["logit_l2"] * float("nan")  # loss_e stays finite
        return total * float("nan"), stats

    monkeypatch.setattr(EnergyPenalty, "__call__", poisoned)
    assert main(["train", *tiny, "name=pen", "logit_penalty=0.01"]) == 2
    assert "a loss became NaN or inf at step 1" in capsys.readouterr().err
    assert not (tmp_path / "pen" / "last.pt").exists()  # no NaN weights saved as the last good checkpoint


def test_every_remedy_reaches_the_training_step(tiny, tmp_path):
    keys = ["r1_penalty=1", "logit_penalty=0.01", "nn_entropy_weight=0.1", "expert_entropy=min"]
    keys += ["energy_activation=leaky_relu", "spectral_norm=true", "nn_entropy_space=features"]
    keys += ["expert_decorrelation=1", "batch_entropy=pairwise", "pack=2", "mi_entropy_weight=0.5"]
    assert main(["train", *with_keys(tiny, "name=all", "max_steps=2", *keys)]) == 0
    lines = metrics(tmp_path / "all")
    logged = {"logit_l2", "r1", "nn_entropy_gen", "expert_correlation", "mi_gen"}
    assert logged <= set(lines[-1])  # each penalty and estimator ran and was logged
    assert lines[-1]["logit_l2"] > 0 and lines[-1]["r1"] > 0 and 0 < lines[-1]["expert_correlation"] <= 1


@pytest.mark.slow
@pytest.mark.parametrize("preset", ["mnist_vgan_stable", "stackedmnist_vgan_stable"])
def test_the_stable_presets_end_to_end(preset, tiny, tmp_path):
    assert main(["train", "--config", preset, *tiny, "name=stable", "dataset=mnist"]) == 0  # tiny MNIST
    cfg = vgan.load_config(tmp_path / "stable" / "config.yaml")
    weights = load_checkpoint(tmp_path / "stable" / "last.pt")["energy"]
    normalised = any(k.startswith("features.") and k.endswith("parametrizations.weight.original") for k in weights)
    if preset == "mnist_vgan_stable":  # the remedy the MNIST ablation kept: the pairwise batch entropy
        assert cfg.batch_entropy == "pairwise" and cfg.ema_decay == 0.999 and not cfg.spectral_norm and not normalised
        assert load_checkpoint(tmp_path / "stable" / "last.pt")["sampler_ema"]["n_averaged"] == 8
    else:  # phi normalised, Eq. 8's expert layer a plain, free-scale Linear, experts kept apart, packs of two
        assert cfg.spectral_norm and not cfg.spectral_norm_head and cfg.expert_decorrelation > 0 and cfg.pack == 2
        assert normalised and "head.experts.weight" in weights
        assert weights["features.net.1.parametrizations.weight.original"].shape[1] == 2 * 784  # two images in
    lines = metrics(tmp_path / "stable")
    assert {"dead_saturated", "dead_flat"} <= set(lines[-1])
    assert 1.0 <= lines[-1]["expert_rank"] <= 8  # 8 experts in the tiny run
    assert 0 < lines[-1]["entropy_data"] <= 8 * math.log(2) + 1e-4  # H~, Eq. 9 or its pairwise correction
    assert (tmp_path / "stable" / "curves.png").is_file()


@pytest.mark.slow
@pytest.mark.parametrize("init", ["buffer", "data"])
def test_cd_with_langevin_chains_resumes_exactly(tiny, tmp_path, init):
    keys = ["objective=cd", "energy=scalar", "langevin_steps=3", "langevin_step_size=0.1", "energy_l2=0.1"]
    keys += [f"langevin_init={init}"] + (["buffer_size=120"] if init == "buffer" else ["train_limit=400"])
    assert main(["train", *with_keys(tiny, *keys, "name=full")]) == 0
    assert main(["train", *with_keys(tiny, *keys, "name=cut", "max_steps=5")]) == 0
    assert main(["train", "--resume", str(tmp_path / "cut"), "max_steps=null"]) == 0
    lines = metrics(tmp_path / "full")
    assert lines == metrics(tmp_path / "cut") and len(lines) == 8  # data init: 2 x 50 images an iteration
    assert {"langevin_grad_norm", "langevin_drift", "langevin_noise", "langevin_clamped", "energy_l2"} <= set(lines[0])
    full, cut = (load_checkpoint(tmp_path / n / "last.pt") for n in ("full", "cut"))
    assert "opt_g" not in full and set(full["sampler"]) == ({"buffer"} if init == "buffer" else set())
    assert all(torch.equal(full["sampler"][k], cut["sampler"][k]) for k in full["sampler"])
    if init == "buffer":
        assert full["sampler"]["buffer"].shape == (120, 1, 28, 28)
        assert main(["train", "--resume", str(tmp_path / "cut"), "epochs=3", "buffer_size=60"]) == 2
