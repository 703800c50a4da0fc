"""Config files and `key=value` overrides, read as YAML: the text side of vgan.config; and the
presets, the configs that ship inside the package (vgan/config/presets/*.yaml), found by name.

    vgan.list_presets()              # {"mnist_gan": "The GAN baseline (Eq. 1) on MNIST: ...", ...}
    vgan.load_config("mnist_gan")    # a preset name works wherever a config file does

A preset's name is its path under vgan/config/presets/ without `.yaml`, e.g. `mnist_vgan` or
`sweeps/mnist_vcd_rho0.01`; its description is the first comment line of the file, so every
preset starts with a one-line `# ...` summary.

A config is a flat mapping of keys to scalars (and the odd short list, e.g. betas), so the reader
is `yaml.SafeLoader` made strict where YAML's generality only hides mistakes or costs resources:
a key given twice is an error (YAML keeps the last), and so are aliases (`*name`, whose expansion
a 400-byte file can make gigabytes of) and values nested deeper than MAX_DEPTH.
"""

from __future__ import annotations

import os
from importlib.resources import files
from pathlib import Path
from typing import Any, Dict, List, Optional

import yaml

from .._utils.errors import ConfigError, shown

MAX_DEPTH = 8  # a config value is a scalar or a list of scalars; nothing nests deeper than this
MAX_BASES = 8  # the longest chain of `base:` files
MAX_BYTES = 1 << 20  # a config is a few kB; a larger file is not one


ROOT = Path(str(files("vgan") / "config" / "presets"))  # package data, installed beside the modules


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


class YAMLRefused(yaml.YAMLError):
    """YAML that parses but that a config never needs: a key given twice, an alias, deep nesting."""


class _StrictLoader(yaml.SafeLoader):
    """yaml.safe_load, but refusing a key given twice in one mapping, aliases and deep nesting."""

    def __init__(self, stream):
        super().__init__(stream)
        self.depth = 0

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise YAMLRefused(
                f"uses the alias *{event.anchor} (line {event.start_mark.line + 1}); a config holds no aliases: "
                "write the value out"
            )
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                line = self.peek_event().start_mark.line + 1
                raise YAMLRefused(f"nests values more than {MAX_DEPTH} deep (line {line}); a config value is flat")
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1

    def construct_mapping(self, node, deep=False):
        seen: Dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: {...}` may be overridden on purpose
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                if key in seen:
                    raise YAMLRefused(
                        f"gives the key {shown(key)} twice (lines {seen[key]} and {key_node.start_mark.line + 1}); "
                        "keep one"
                    )
            except TypeError:  # an unhashable key: SafeLoader reports it
                continue
            seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep)


def load_text(text: str) -> Any:
    """`text` read by the strict loader; a yaml.YAMLError (YAMLRefused too) when it is not a config's YAML."""
    try:
        return yaml.load(text, Loader=_StrictLoader)
    except RecursionError:  # deep nesting inside one scalar's parsing; MAX_DEPTH catches the rest
        raise YAMLRefused("nests values too deep; a config value is flat") from None


def _reason(e: yaml.YAMLError) -> str:
    return str(e) if isinstance(e, YAMLRefused) else f"is not valid YAML ({str(e).splitlines()[0]}); fix its syntax"


def parse_overrides(items: List[str]) -> Dict[str, Any]:
    """Parse `key=value` strings; values are read as YAML (`k=3`, `data_dir=null`, `betas=[0.5,0.9]`).
    An empty value and a key given twice are errors: neither would do what it seems to."""
    out: Dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"override {shown(item)} is not key=value; write e.g. k=3")
        if not raw.strip():
            raise ConfigError(
                f"override {shown(item)} has no value; write {key}=null for none, or leave the key out for its default"
            )
        if key in out:
            raise ConfigError(f"the key {shown(key)} is given twice among the overrides; keep one")
        try:
            out[key] = load_text(raw)
        except yaml.YAMLError as e:
            problem = str(e) if isinstance(e, YAMLRefused) else f"is not valid YAML ({str(e).splitlines()[0]})"
            raise ConfigError(f"override {shown(item)}: its value {problem}; quote it or fix it") from None
    return out


def find_config(path_or_name: str | Path) -> Path:
    """The file a config is named by: an existing file, else the preset of that name."""
    path = Path(os.path.expanduser(path_or_name))
    found = path if path.is_file() else preset_path(str(path_or_name))
    if found is None:
        raise ConfigError(
            f"config file {path} does not exist or is not a file, and is not a preset name; pass a YAML "
            "file or a preset that `vgan configs` lists, e.g. mnist_gan"
        )
    return found


def read_mapping(path: Path) -> Dict[str, Any]:
    """The mapping in the YAML file `path` (empty for an empty file), or a one-line ConfigError."""
    try:
        if path.stat().st_size > MAX_BYTES:
            raise ConfigError(
                f"config file {path} holds {path.stat().st_size:,} bytes, more than a config ever does "
                f"({MAX_BYTES:,} at most); pass the config's YAML file"
            )
        data = load_text(path.read_bytes().decode("utf-8-sig"))
    except UnicodeDecodeError as e:
        raise ConfigError(
            f"config file {path} is not UTF-8 text (byte {e.object[e.start]:#04x} at offset "
            f"{e.start}); save it as UTF-8"
        ) from None
    except OSError as e:
        raise ConfigError(f"cannot read config file {path} ({e.strerror}); check its permissions") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"config file {path} {_reason(e)}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping of key: value; fix its contents")
    return data


def load_yaml(path: str | Path, _depth: int = 0) -> Dict[str, Any]:
    """The keys of a config file or preset, its `base:` chain merged in (the base first)."""
    path = find_config(path)
    if _depth > MAX_BASES:
        raise ConfigError(f"config file {path} is part of a `base:` cycle; make the chain of bases end")
    data = read_mapping(path)
    base = data.pop("base", None)  # `base: other.yaml` (relative to this file, else a preset) is read first
    if base is None:
        return data
    if not (isinstance(base, str) and base.strip() and "\0" not in base):
        raise ConfigError(
            f"config file {path} has base: {shown(base)}; it must name another YAML file or a preset, e.g. "
            "base: mnist_vgan.yaml"
        )
    beside = path.parent / os.path.expanduser(base)
    if not beside.is_file() and preset_path(base) is None:
        raise ConfigError(
            f"config file {path} has `base: {base}`, which is neither a file beside it nor a preset; "
            "fix the base (`vgan configs` lists the presets)"
        )
    return {**load_yaml(beside if beside.is_file() else base, _depth + 1), **data}
