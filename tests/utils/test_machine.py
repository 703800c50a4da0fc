"""run.json: the machine and software of every training session of a run."""

import json

import pytest
import torch

import vgan
from vgan._utils.errors import CheckpointError
from vgan._utils.machine import describe_machine, read_sessions, record_session


def test_the_machine_is_described():
    info = describe_machine(torch.device("cpu"))
    assert info["vgan"] == vgan.__version__ and info["torch"] == torch.__version__
    assert info["cpu"] and info["cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    assert info["threads"] == torch.get_num_threads() and info["device"] == "cpu" and "gpu" not in info


def test_a_resumed_session_is_appended_and_a_new_run_starts_over(tmp_path):
    record_session(tmp_path, read_sessions(tmp_path), {"start_step": 0})
    record_session(tmp_path, read_sessions(tmp_path), {"start_step": 5})
    assert json.loads((tmp_path / "run.json").read_text()) == {"sessions": [{"start_step": 0}, {"start_step": 5}]}
    record_session(tmp_path, [], {"start_step": 0})
    assert json.loads((tmp_path / "run.json").read_text()) == {"sessions": [{"start_step": 0}]}


@pytest.mark.parametrize("text", [b"", b"{", b"\xff", b"[]", b'{"sessions": 5}', b'{"sessions": [1]}', b"[" * 100000])
def test_a_damaged_run_json_is_refused_not_overwritten(tmp_path, text):
    (tmp_path / "run.json").write_bytes(text)
    with pytest.raises(CheckpointError, match=r"run.json is damaged .*; move it aside"):
        read_sessions(tmp_path)
