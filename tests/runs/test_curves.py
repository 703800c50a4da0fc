"""curves.png from metrics.jsonl alone: finished, interrupted and VCD runs, and bad run directories."""

import json

import pytest
from PIL import Image

from vgan.cli import main
from vgan.config import Config, save_config
from vgan.runs.curves import PANELS, plot_curves, read_metrics

VGAN_KEYS = ["loss_g", "entropy_gen", "loss_e", "entropy_data", "energy_real", "energy_fake", "logit_abs_fake"]


def fake_run(run_dir, keys, steps=20, cut_short=False, **cfg):
    """A run directory as an interrupted `vgan train` leaves it: config.yaml and metrics.jsonl, no checkpoint."""
    run_dir.mkdir()
    save_config(Config(name=run_dir.name, **cfg), run_dir / "config.yaml")
    lines = [json.dumps({"step": 50 * i, **{k: 1.0 / i for k in keys}, "epoch": 1}) for i in range(1, steps + 1)]
    (run_dir / "metrics.jsonl").write_text("\n".join(lines) + ("\n" + lines[0][:20] if cut_short else "\n"))
    return run_dir


def test_an_interrupted_run_plots_from_the_command_line(tmp_path, capsys):
    run = fake_run(tmp_path / "cut", VGAN_KEYS, cut_short=True)  # the crash cut the last line short
    assert len(read_metrics(run / "metrics.jsonl")) == 20
    assert main(["plot", str(run)]) == 0
    assert capsys.readouterr().out == f"wrote {run / 'curves.png'}\n"
    assert Image.open(run / "curves.png").size == (1200, 640)  # 4 panels, 2 per row of 600 x 320 pixels


@pytest.mark.parametrize(
    "cfg, keys, panels",
    [
        ({"objective": "vcd"}, VGAN_KEYS + ["recon"], 5),
        ({"logit_penalty": 0.01}, VGAN_KEYS + ["dead_flat", "logit_l2"], 6),
        (
            {"objective": "gan", "energy": "gan"},
            ["loss_g", "loss_e", "energy_real", "energy_fake", "logit_abs_fake"],
            3,
        ),
    ],
)
def test_a_panel_per_logged_group(tmp_path, cfg, keys, panels):
    out = plot_curves(fake_run(tmp_path / "run", keys, **cfg), out=tmp_path / "elsewhere.png")
    assert out == tmp_path / "elsewhere.png" and not (tmp_path / "run" / "curves.png").exists()
    assert Image.open(out).size == (1200, 320 * -(-panels // 2))
    assert panels == sum(any(k in keys for k in group) for _, group, _ in PANELS)


def edit(path, old, new):
    path.write_bytes(path.read_bytes().replace(old, new))


def metrics_folder(run):
    (run / "metrics.jsonl").unlink()
    (run / "metrics.jsonl").mkdir()


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda d: d.mkdir(), "is not a run directory"),
        (lambda d: fake_run(d, VGAN_KEYS, steps=0), "holds no metrics yet"),
        (
            lambda d: edit(fake_run(d, VGAN_KEYS) / "config.yaml", b"experts: 128", b"experts: many"),
            "'experts' must be int",
        ),
        (lambda d: (fake_run(d, VGAN_KEYS) / "config.yaml").write_text(""), "config.yaml lacks name, dataset"),
        (
            lambda d: edit(fake_run(d, VGAN_KEYS) / "metrics.jsonl", b'"step": 100,', b'"step": 1\xff00,'),
            "line 2 is not",
        ),
        (lambda d: edit(fake_run(d, VGAN_KEYS) / "metrics.jsonl", b'"step": 100,', b'"step": "100",'), "line 2 is not"),
        (lambda d: metrics_folder(fake_run(d, VGAN_KEYS)), "metrics.jsonl is a folder where the run keeps a file"),
    ],
)
def test_nothing_to_plot_is_one_line(tmp_path, capsys, make, message):
    make(tmp_path / "run")
    assert main(["plot", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("vgan: error: ") and message in err and err.count("\n") == 1
