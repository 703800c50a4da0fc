"""Two processes on the CPU (gloo) must train like one process on the same global batch."""

import json
import os
import socket
import subprocess
import sys

import pytest
import torch

from conftest import with_keys
from vgan.training.distributed import Dist, GlobalBatchNorm, globalise_batch_norm

pytestmark = pytest.mark.slow  # the fast tier (pytest -m "not slow") leaves this module out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def losses(run_dir):
    keep = ("loss_g", "loss_e", "energy_real", "energy_fake", "entropy_gen", "entropy_data")
    return [
        [json.loads(ln)[k] for k in keep if k in json.loads(ln)]
        for ln in (run_dir / "metrics.jsonl").read_text().splitlines()
    ]


@pytest.mark.parametrize("objective,arch", [("vgan", "mlp"), ("vcd", "mlp"), ("vcd", "conv")])
def test_two_processes_match_one(tiny, tmp_path, objective, arch):
    args = with_keys(
        tiny,
        f"objective={objective}",
        f"arch={arch}",
        "channels=4",
        *(["code_dim=8"] if objective == "vcd" else []),
        "train_limit=400",
        "epochs=1",
        "tensorboard=false",
        "device=cpu",
    )
    single = subprocess.run(
        [sys.executable, "-m", "vgan.cli", "train", *args, "name=one"], capture_output=True, text=True
    )
    assert single.returncode == 0, single.stderr
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    double = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nproc_per_node=2",
            f"--master_port={free_port()}",
            "-m",
            "vgan.cli",
            "train",
            *args,
            "name=two",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert double.returncode == 0, double.stderr[-2000:]
    one, two = losses(tmp_path / "one"), losses(tmp_path / "two")
    assert len(one) == len(two) > 0
    assert torch.allclose(torch.tensor(one), torch.tensor(two), rtol=1e-4, atol=1e-4)
    assert (tmp_path / "two" / "last.pt").is_file()


def test_single_process_helpers_are_identities():
    d = Dist()
    t = torch.arange(6.0).view(3, 2)
    assert torch.equal(d.shard(t), t) and torch.equal(d.batch_mean(t), t.mean(0))
    bn = torch.nn.Sequential(torch.nn.BatchNorm1d(2))
    assert globalise_batch_norm(bn, d) is bn and isinstance(bn[0], torch.nn.BatchNorm1d)


def test_global_batch_norm_matches_batch_norm_in_one_process(monkeypatch):
    from vgan.training import distributed

    monkeypatch.setattr(distributed, "differentiable_all_reduce", lambda t: t)  # a world of one
    bn = torch.nn.BatchNorm2d(3, track_running_stats=False)
    torch.nn.init.uniform_(bn.weight)
    x = torch.randn(8, 3, 4, 4)
    ours = GlobalBatchNorm(bn, Dist(0, 1, 0))(x)
    assert torch.allclose(ours, bn(x), atol=1e-5)


@pytest.mark.parametrize("key", ["nn_entropy_weight", "mi_entropy_weight"])
def test_batch_coupled_entropies_are_refused_under_torchrun(key):
    from vgan._utils.errors import ConfigError
    from vgan.config import Config
    from vgan.training import Trainer

    cfg = Config(hidden=8, feature_dim=8, gen_hidden=8, z_dim=4, experts=4, device="cpu", **{key: 1.0})
    with pytest.raises(ConfigError, match=f"cannot be split over torchrun.*; run it in one process, or set {key}=0"):
        Trainer(cfg, (1, 4, 4), group=Dist(rank=0, world=2))
