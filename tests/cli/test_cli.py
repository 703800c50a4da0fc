"""Bad input gets one line on stderr, exit status 2, and no traceback."""

import subprocess
import sys

import pytest

from vgan.cli import main


def run_cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "vgan.cli", *args], capture_output=True, text=True, env=env)


@pytest.mark.parametrize(
    "args, message",
    [
        (["train", "epoch=3"], "unknown config key(s) epoch (did you mean epochs?)"),
        (["train", "k=three"], "config key 'k' must be int"),
        (["train", "--config", "missing.yaml"], "config file missing.yaml does not exist"),
        (["sample", "nowhere"], "nowhere is not a run directory"),
    ],
)
def test_one_line_errors(args, message, capsys):
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and err.startswith("vgan: error: ")


@pytest.mark.slow
def test_truncated_checkpoint_from_the_shell(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.yaml").write_text("name: run\n")
    (run / "last.pt").write_bytes(b"PK\x03\x04 cut short")
    result = run_cli("sample", str(run))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and "truncated or not a checkpoint" in result.stderr
    assert result.stderr.count("\n") == 1


def test_configs_lists_and_checks_the_presets(capsys):
    assert main(["configs"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert any(ln.startswith("mnist_gan ") and "GAN baseline" in ln for ln in lines)
    assert any(ln.startswith("sweeps/mnist_vcd_rho0.01 ") for ln in lines)
    assert main(["configs", "--check"]) == 0
    assert all(ln.startswith("ok     ") for ln in capsys.readouterr().out.splitlines())


def test_configs_check_fails_on_a_bad_preset(monkeypatch, capsys):
    bad = {"good": None, "bad": "config key 'k' must be > 0, got 0"}
    monkeypatch.setattr("vgan.cli.commands.check_presets", lambda: bad)
    assert main(["configs", "--check"]) == 2
    out, err = capsys.readouterr()
    assert (
        "error  bad: config key 'k'" in out and err == "vgan: error: 1 of 2 presets do not validate (bad); fix them\n"
    )


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["train"],
        ["configs"],
        ["sample"],
        ["plot"],
        ["reconstruct"],
        ["chain"],
        ["evaluate"],
        ["probe"],
        ["augment"],
        ["reproduce"],
        ["data", "fetch"],
        ["data", "verify"],
    ],
)
def test_help_on_every_subcommand(args, capsys):
    with pytest.raises(SystemExit) as info:
        main([*args, "--help"])
    assert info.value.code == 0 and "usage: vgan" in capsys.readouterr().out


def test_configs_keys_and_train_help_list_every_key_with_type_default_and_help(capsys):
    from vgan.config import Config
    from vgan.config.keys import HELP

    assert main(["configs", "--keys"]) == 0
    keys = capsys.readouterr().out
    lines = {ln.split()[0]: ln for ln in keys.splitlines()}
    assert list(lines) == list(Config().to_dict())
    assert lines["k"].split()[1:3] == ["int", "3"] and HELP["k"] in lines["k"]
    assert "int or null" in lines["train_limit"] and "[fixed on --resume]" in lines["arch"]
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    assert keys.strip() in capsys.readouterr().out  # the same table, from the same source
