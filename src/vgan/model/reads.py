"""How a part of the method declares the config keys it reads, so that vgan.config refuses a key
that no part of the chosen run reads (vgan.config.rules), instead of ignoring it.

A part (an objective, a sampler, an energy head, the energy penalty) lists its keys in
`config_keys`: each maps to None when the part always reads it, or to `When(switch, test)` when it
reads it only if `test(cfg)` holds (`switch` says how a user turns that on). `chosen_by` says, for
messages, which setting chooses the part: (key, the values that choose it).
"""

from __future__ import annotations

from typing import Any, Callable, ClassVar, Dict, NamedTuple, Optional, Set, Tuple


class When(NamedTuple):
    switch: str  # how a user makes the key count, for messages: "nn_entropy_weight > 0"
    test: Callable[[Any], bool]  # of a config


class ReadsConfig:
    """A part of the method that reads config keys (see the module's docstring)."""

    config_keys: ClassVar[Dict[str, Optional[When]]] = {}
    chosen_by: ClassVar[Tuple[str, Tuple[str, ...]]] = ("", ())  # ("objective", ("vcd",))

    @classmethod
    def keys_read(cls, cfg) -> Set[str]:
        """The keys this part reads under `cfg`."""
        return {key for key, when in cls.config_keys.items() if when is None or when.test(cfg)}
