"""Configuration: one flat dataclass of keys with their checks and help (`keys`), the rules between
them (`rules`), configs made from YAML, presets and key=value pairs (`load`, `files`, `presets/*.yaml`).

    cfg = vgan.load_config("mnist_gan", overrides=["epochs=2"])   # a preset, then key=value
"""

from .files import find_config, list_presets, load_yaml, parse_overrides, preset_path
from .keys import REMEDIES, Config, validate
from .load import check_presets, check_resume, describe_keys, fit_keys, from_dict, load_config, save_config
from .rules import images_per_step, is_conditional

__all__ = [
    "Config",
    "REMEDIES",
    "check_presets",
    "check_resume",
    "describe_keys",
    "find_config",
    "fit_keys",
    "from_dict",
    "images_per_step",
    "is_conditional",
    "list_presets",
    "load_config",
    "load_yaml",
    "parse_overrides",
    "preset_path",
    "save_config",
    "validate",
]
