"""The configs that ship inside the package (vgan/configs/*.yaml), found by name.

    vgan.list_presets()              # {"mnist_gan": "The GAN baseline (Eq. 1) on MNIST: ...", ...}
    vgan.load_config("mnist_gan")    # a preset name works wherever a config file does

A preset's name is its path under vgan/configs/ without `.yaml`, e.g. `mnist_vgan` or
`sweeps/mnist_vcd_rho0.01`; its description is the first comment line of the file, so every
preset starts with a one-line `# ...` summary.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path
from typing import Dict, Optional

from .errors import ConfigError

ROOT = Path(str(files("vgan") / "configs"))  # package data, installed beside the modules


def _files() -> Dict[str, Path]:
    """Every preset name -> its file, sorted by name."""
    if not ROOT.is_dir():
        raise ConfigError(
            f"the presets folder {ROOT} is missing, so this installation of vgan lacks its package data; reinstall vgan"
        )
    return {p.relative_to(ROOT).with_suffix("").as_posix(): p for p in sorted(ROOT.rglob("*.yaml"))}


def preset_path(name: str) -> Optional[Path]:
    """The file of the preset `name` (`.yaml` optional), or None when no preset has that name."""
    name = str(name)
    return _files().get(name[: -len(".yaml")] if name.endswith(".yaml") else name)


def describe(path: Path) -> str:
    """The first comment line of a YAML file, without the `#`; empty when it has none."""
    for line in path.read_text().splitlines():
        if line.strip():
            return line.lstrip("#").strip() if line.startswith("#") else ""
    return ""


def list_presets() -> Dict[str, str]:
    """Every preset name -> its one-line description, sorted by name (sweeps/ included)."""
    return {name: describe(path) for name, path in _files().items()}
