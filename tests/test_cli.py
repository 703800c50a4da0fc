"""Bad input gets one line on stderr, exit status 2, and no traceback."""
import subprocess
import sys

import pytest

from vgan.cli import main


def run_cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "vgan.cli", *args], capture_output=True, text=True, env=env)


@pytest.mark.parametrize("args, message", [
    (["train", "epoch=3"], "unknown config key(s) epoch; valid keys are"),
    (["train", "k=three"], "config key 'k' must be int"),
    (["train", "--config", "missing.yaml"], "config file missing.yaml does not exist"),
    (["sample", "nowhere"], "nowhere is not a run directory"),
])
def test_one_line_errors(args, message, capsys):
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and err.startswith("vgan: error: ")


def test_truncated_checkpoint_from_the_shell(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.yaml").write_text("name: run\n")
    (run / "last.pt").write_bytes(b"PK\x03\x04 cut short")
    result = run_cli("sample", str(run))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and "truncated or not a checkpoint" in result.stderr
    assert result.stderr.count("\n") == 1


@pytest.mark.parametrize("args", [[], ["train"], ["sample"], ["reconstruct"], ["chain"], ["evaluate"], ["probe"],
                                  ["augment"], ["reproduce"], ["data", "fetch"], ["data", "verify"]])
def test_help_on_every_subcommand(args, capsys):
    with pytest.raises(SystemExit) as info:
        main([*args, "--help"])
    assert info.value.code == 0 and "usage: vgan" in capsys.readouterr().out
