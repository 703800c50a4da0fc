import os

import pytest

from vgan import data
from vgan.errors import DataError

TINY = ["arch=mlp", "hidden=32", "feature_dim=32", "gen_hidden=32", "z_dim=8", "experts=8",
        "train_limit=200", "batch_size=50", "epochs=2", "log_every=1", "save_every=3", "progress=false"]


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
