import os

import pytest
from hypothesis import HealthCheck, settings

from vgan import data
from vgan._utils.errors import ConfigError, DataError

# The fuzz harness (test_fuzz.py): "ci", the default, is small and the same examples every run;
# "long" (`pytest --hypothesis-profile long tests/test_fuzz.py`, or VGAN_FUZZ=long) runs twenty
# times as many, new ones each run, and keeps the failing ones in .hypothesis/ to replay.
QUIET = [HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.filter_too_much]
settings.register_profile(
    "ci", max_examples=10, deadline=None, derandomize=True, database=None, suppress_health_check=QUIET
)
settings.register_profile("long", max_examples=200, deadline=None, suppress_health_check=QUIET)
settings.load_profile(os.environ.get("VGAN_FUZZ", "ci"))

TINY = [
    "arch=mlp",
    "hidden=32",
    "feature_dim=32",
    "gen_hidden=32",
    "z_dim=8",
    "experts=8",
    "train_limit=200",
    "batch_size=50",
    "epochs=2",
    "log_every=1",
    "save_every=3",
    "progress=false",
]


def with_keys(base, *extra) -> list:
    """The key=value arguments `base`, each key that `extra` gives again replaced by `extra`'s (vgan
    refuses a key given twice), less the sizes of `base` that the model `extra` chooses does not read
    (z_dim for VCD, experts for the GAN: vgan.config.fit_keys), then `extra`."""
    from vgan.config import fit_keys, parse_overrides

    given = {str(e).partition("=")[0] for e in extra}
    kept = [k for k in base if k.partition("=")[0] not in given]
    try:
        own = parse_overrides([e for e in map(str, extra) if "=" in e and not e.startswith("-")])
        fitted = fit_keys(parse_overrides(kept), own)
    except ConfigError:  # arguments a test means vgan to refuse: left for the command to refuse
        return kept + list(extra)
    return [k for k in kept if k.partition("=")[0] in fitted] + list(extra)


@pytest.fixture(scope="session")
def mnist():
    """Real MNIST, fetched by the project itself (CI runs `vgan data fetch mnist` first)."""
    try:
        data.fetch("mnist")
    except DataError as e:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"MNIST unavailable: {e}")
    return "mnist"


@pytest.fixture
def tiny(tmp_path, mnist):
    """key=value overrides for a tiny run (seconds on a CPU) writing into tmp_path."""
    return TINY + [f"out_dir={tmp_path}"]


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory, mnist):
    """A finished tiny run (2 epochs of 4 steps), trained once per session; copy it, never change it."""
    from vgan.cli import main

    root = tmp_path_factory.mktemp("trained")
    assert main(["train", *TINY, f"out_dir={root}", "name=run"]) == 0
    return root / "run"


@pytest.fixture
def world(tmp_path, trained_run, monkeypatch):
    """The bad-input suites' world (tests/badinput.py), in tmp_path, which is also the working directory."""
    from badinput import World

    monkeypatch.chdir(tmp_path)
    return World(tmp_path, trained_run, monkeypatch)
