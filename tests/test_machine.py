"""run.json: the machine and software of every training session of a run."""

import json

import torch

import vgan
from vgan.machine import describe_machine, record_session


def test_the_machine_is_described():
    info = describe_machine(torch.device("cpu"))
    assert info["vgan"] == vgan.__version__ and info["torch"] == torch.__version__
    assert info["cpu"] and info["cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    assert info["threads"] == torch.get_num_threads() and info["device"] == "cpu" and "gpu" not in info


def test_a_resumed_session_is_appended_and_a_new_run_starts_over(tmp_path):
    record_session(tmp_path, {"start_step": 0}, resume=False)
    record_session(tmp_path, {"start_step": 5}, resume=True)
    assert json.loads((tmp_path / "run.json").read_text()) == {"sessions": [{"start_step": 0}, {"start_step": 5}]}
    record_session(tmp_path, {"start_step": 0}, resume=False)
    assert json.loads((tmp_path / "run.json").read_text()) == {"sessions": [{"start_step": 0}]}
