"""The speed options keep results identical or within float tolerance of the plain path."""

import pytest
import torch

import vgan

pytestmark = pytest.mark.slow  # the fast tier (pytest -m "not slow") leaves this module out

TINY = dict(channels=4, hidden=16, feature_dim=16, gen_hidden=16, z_dim=8, code_dim=8, experts=8, batch_size=16)


def steps(n=2, diagnostics=True, **kw):
    cfg = vgan.Config(**vgan.config.fit_keys(TINY, kw))  # less the sizes this model does not read
    trainer = vgan.Trainer(cfg, (1, 28, 28), torch.device("cpu"))
    x = torch.rand(vgan.config.images_per_step(cfg), 1, 28, 28, generator=torch.Generator().manual_seed(1))
    return [{k: v.item() for k, v in trainer.train_step(x, diagnostics).items()} for _ in range(n)]


def close(a, b, rtol):
    return all(abs(x[k] - y[k]) <= rtol * max(1.0, abs(y[k])) for x, y in zip(a, b) for k in y)


@pytest.mark.parametrize("objective", ["vgan", "vcd"])
def test_channels_last_matches_contiguous(objective):
    a = steps(arch="conv", objective=objective, channels_last=True)
    b = steps(arch="conv", objective=objective, channels_last=False)
    assert close(a, b, 1e-4)


def test_bf16_autocast_is_close_to_fp32():
    a, b = steps(n=1, precision="bf16"), steps(n=1, precision="fp32")
    assert all(torch.isfinite(torch.tensor(list(s.values()))).all() for s in a)
    assert close(a, b, 0.05)


def test_skipping_the_diagnostics_changes_no_loss():
    quiet, full = steps(n=3, diagnostics=False), steps(n=3)
    assert {"dead_flat", "dead_saturated", "expert_rank"} <= set(full[-1]) - set(quiet[-1])
    assert all(q == {k: f[k] for k in q} for q, f in zip(quiet, full))  # the same run, bit for bit


def test_compile_matches_eager():
    assert close(steps(compile=True, objective="vcd"), steps(compile=False, objective="vcd"), 1e-4)
