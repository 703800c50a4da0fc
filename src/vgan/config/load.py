"""Making configs: from key=value pairs and YAML (`from_dict`, `load_config`), for a resumed run
(`check_resume`), written back (`save_config`), and described key by key (`describe_keys`)."""

from __future__ import annotations

import difflib
import typing
from pathlib import Path
from typing import Any, Dict, List, Optional

import yaml

from .._utils.atomic import write_atomic
from .._utils.errors import ConfigError
from .files import list_presets, load_yaml, parse_overrides
from .keys import CHECKS, CHOICES, FIXED_ON_RESUME, HELP, ON_OFF_FIXED_ON_RESUME, Config
from .rules import DECLARED, keys_read


def _type_name(hint: Any) -> str:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Union:  # Optional[X]
        return f"{_type_name(args[0])} or null"
    if origin in (list, List):
        return f"list of {_type_name(args[0])}"
    return hint.__name__


def describe_keys() -> List[Dict[str, Any]]:
    """Every config key in order: its `key`, `type`, `default`, `allowed` values (from CHOICES or
    CHECKS), one line of `help` (HELP) and whether `--resume` can change it (`fixed_on_resume`).
    `vgan train --help`, `vgan configs --keys` and the docs' key reference are printed from this."""
    defaults = Config().to_dict()
    rows = []
    for key, hint in typing.get_type_hints(Config).items():
        allowed = " | ".join(CHOICES[key]) if key in CHOICES else CHECKS[key].text if key in CHECKS else ""
        rows.append(
            dict(
                key=key,
                type=_type_name(hint),
                default=defaults[key],
                allowed=allowed,
                help=HELP.get(key, "(no help yet: add a line to vgan.config.keys.HELP)"),
                fixed_on_resume=key in FIXED_ON_RESUME,
            )
        )
    return rows


def _unknown(keys: List[str], valid: List[str]) -> str:
    """The unknown keys (a few), each with the valid keys it may be a typo of."""
    named = []
    for key in keys[:5]:
        close = difflib.get_close_matches(key, valid, n=2)
        named.append(key + (f" (did you mean {' or '.join(close)}?)" if close else ""))
    more = f" and {len(keys) - 5} more" if len(keys) > 5 else ""
    return f"unknown config key(s) {', '.join(named)}{more}; `vgan train --help` lists the valid keys"


def from_dict(values: Dict[str, Any], base: Optional[Config] = None) -> Config:
    """Build a validated Config from `base` (default: the defaults) updated with `values`."""
    hints = typing.get_type_hints(Config)
    unknown = sorted(str(k)[:60] for k in set(values) - set(hints))
    if unknown:
        raise ConfigError(_unknown(unknown, list(hints)))
    return Config(**{**(base or Config()).to_dict(), **values})


def fit_keys(shared: Dict[str, Any], own: Dict[str, Any]) -> Dict[str, Any]:
    """A model's config keys: its `own` on top of `shared` keys meant for several models (a table's
    scale, a test's tiny sizes), less the shared keys that some part of the method reads but this
    model's parts do not (experts for a GAN's one unit, code_dim for G(z)), which a config refuses."""
    probe = from_dict({**{k: v for k, v in shared.items() if k not in DECLARED}, **own})
    read = keys_read(probe)
    return {**{k: v for k, v in shared.items() if k not in DECLARED or k in read}, **own}


def load_config(
    path: Optional[str | Path] = None, overrides: Optional[List[str]] = None, values: Optional[Dict[str, Any]] = None
) -> Config:
    """The defaults, then the YAML file or preset `path` (e.g. "mnist_gan"), then the `key=value`
    overrides, then `values` (keys already parsed, e.g. from command-line flags)."""
    merged = load_yaml(path) if path else {}
    merged.update(parse_overrides(overrides or []))
    merged.update(values or {})
    return from_dict(merged)


def check_resume(saved: Config, overrides: Dict[str, Any]) -> None:
    """Refuse `overrides` that a run's checkpoint cannot follow: a key of FIXED_ON_RESUME changed,
    or one of ON_OFF_FIXED_ON_RESUME turned on or off."""
    for key in FIXED_ON_RESUME:
        if key in overrides and overrides[key] != getattr(saved, key):
            raise ConfigError(
                f"--resume cannot change '{key}' ({getattr(saved, key)!r} -> {overrides[key]!r}): the "
                f"run's checkpoint was built with it; drop {key}=, or train a new run with another name="
            )
    batch = overrides.get("batch_size", saved.batch_size)
    if (
        saved.objective == "cd"
        and saved.langevin_init == "buffer"
        and isinstance(batch, int)
        and batch > saved.buffer_size
    ):
        raise ConfigError(
            f"--resume cannot raise batch_size to {batch}: the run's replay buffer holds {saved.buffer_size} chains, "
            f"which its checkpoint fixes; keep batch_size at or below {saved.buffer_size}, or train a new run with "
            "another name="
        )
    for key in ON_OFF_FIXED_ON_RESUME:
        was_on = bool(getattr(saved, key))
        if bool(overrides.get(key, getattr(saved, key))) != was_on:
            raise ConfigError(
                f"--resume cannot turn {key} {'off' if was_on else 'on'}: the run's checkpoint "
                f"{'holds' if was_on else 'has no'} network for it; keep it {'> 0' if was_on else '0'}, "
                "or train a new run with another name="
            )


def save_config(cfg: Config, path: str | Path) -> None:
    write_atomic(path, yaml.safe_dump(cfg.to_dict(), sort_keys=False))


def check_presets() -> Dict[str, Optional[str]]:
    """Validate every preset (its Config only: no data, no networks): name -> None when it is
    valid, else the error message."""
    errors: Dict[str, Optional[str]] = {}
    for name in list_presets():
        try:
            load_config(name)
            errors[name] = None
        except ConfigError as e:
            errors[name] = str(e)
    return errors
