"""The rules between config keys: each takes a Config and returns what is wrong with it, in one
line that names the fix, or None. `vgan.config.validate` runs them after each key's own check."""

from __future__ import annotations

import dataclasses
from typing import Callable, List, Optional, Set, Tuple

from ..model.energy import HEADS
from ..model.mcmc import LangevinSampler
from ..model.model import sampler_class
from ..model.objectives import OBJECTIVES
from ..model.samplers import LatentSampler, TransitionSampler, VERASampler


def is_conditional(cfg) -> bool:
    """Whether the negatives start from images: VCD's transitions, CD-k's chains from data."""
    return cfg.objective == "vcd" or (cfg.objective == "cd" and cfg.langevin_init == "data")


def images_per_step(cfg) -> int:
    """Training images one iteration consumes: a conditional sampler splits 2B into B real and B conditioning."""
    return cfg.batch_size * (2 if is_conditional(cfg) else 1)


def _gan_needs_gan_energy(cfg) -> Optional[str]:
    if cfg.objective == "gan" and cfg.energy != "gan":
        return "objective 'gan' (Eq. 1) needs energy 'gan' (one sigmoid unit); set energy=gan"
    eq9 = cfg.objective == "vcd" or cfg.gen_entropy_weight > 0 or cfg.data_entropy_weight > 0
    if cfg.energy == "scalar" and cfg.objective != "cd" and eq9:
        return (
            f"energy 'scalar' has no logits for Eq. 9's entropy, which objective '{cfg.objective}' needs; "
            "set gen_entropy_weight=0 and data_entropy_weight=0 (e.g. with vera_entropy_weight > 0), "
            "objective=cd or another energy"
        )


def _sigma_range(cfg) -> Optional[str]:
    if cfg.vera_entropy_weight > 0 and cfg.vera_sigma_min > cfg.vera_sigma_max:  # else the keys are not read
        return f"vera_sigma_min ({cfg.vera_sigma_min}) is above vera_sigma_max ({cfg.vera_sigma_max}); swap them"


def _train_limit_fits_a_step(cfg) -> Optional[str]:
    if cfg.train_limit is not None and cfg.train_limit < images_per_step(cfg):
        return (
            f"train_limit ({cfg.train_limit}) is smaller than one iteration's {images_per_step(cfg)} "
            "images; raise train_limit or lower batch_size"
        )


def _points_need_mlp(cfg) -> Optional[str]:
    if cfg.dataset in ("8gaussians", "25gaussians") and cfg.arch != "mlp":
        return f"dataset {cfg.dataset} holds 2-D points, not images; set arch=mlp"
    if cfg.dataset in ("8gaussians", "25gaussians") and cfg.data_dir is not None:
        return f"dataset {cfg.dataset} is generated, so data_dir has no effect; remove it (or --data-dir)"


def parts(cfg) -> List[type]:
    """The parts of the method `cfg` chooses, each declaring the keys it reads (`model.reads`): the
    objective, the sampler of its negatives and the energy's head."""
    return [OBJECTIVES[cfg.objective], sampler_class(cfg), HEADS[cfg.energy]]


ALL_PARTS = (*OBJECTIVES.values(), LatentSampler, VERASampler, TransitionSampler, LangevinSampler, *HEADS.values())


def keys_read(cfg) -> Set[str]:
    """The declared keys (`DECLARED`) that the parts `cfg` chooses read."""
    return set().union(*(part.keys_read(cfg) for part in parts(cfg)))


def _keys_are_read(cfg) -> Optional[str]:
    """A key that some part of the method reads, set (off its default) where no chosen part reads
    it, is refused: it would do nothing. Derived from what each part declares."""
    read = keys_read(cfg)
    defaults = {f.name: f.default for f in dataclasses.fields(cfg) if f.default is not dataclasses.MISSING}
    for key in DECLARED:
        if key in read or key not in defaults or getattr(cfg, key) == defaults[key]:
            continue
        chosen = [p for p in parts(cfg) if key in p.config_keys]
        if chosen:  # read by a chosen part, but only when a switch is on
            return f"{key} has no effect unless {chosen[0].config_keys[key].switch}; set that too, or remove {key}"
        return (
            f"{key} has no effect with objective '{cfg.objective}' and energy '{cfg.energy}'; "
            f"remove it, or set {_choices(key)}"
        )


def _choices(key: str) -> str:
    """The settings that choose a part that reads `key`: "objective=vgan, gan or vcd"."""
    values: dict = {}
    for part in ALL_PARTS:
        if key in part.config_keys:
            setting, chosen = part.chosen_by
            values.setdefault(setting, []).extend(v for v in chosen if v not in values.get(setting, []))
    said = []
    for setting, chosen in values.items():
        listed = ", ".join(chosen[:-1]) + " or " + chosen[-1] if len(chosen) > 1 else chosen[0]
        said.append(f"{setting} {listed}" if listed.startswith(">") else f"{setting}={listed}")
    return ", or ".join(said)


def _switches(cfg) -> Optional[str]:
    if not cfg.spectral_norm_head and not cfg.spectral_norm:
        return "spectral_norm_head=false has no effect without spectral_norm=true; set both or remove it"


def _buffer_holds_a_batch(cfg) -> Optional[str]:
    if cfg.objective == "cd" and cfg.langevin_init == "buffer" and cfg.buffer_size < cfg.batch_size:
        return f"buffer_size ({cfg.buffer_size}) must hold one batch ({cfg.batch_size} chains); raise buffer_size"


def _pack_fits(cfg) -> Optional[str]:
    if cfg.pack > 1 and cfg.batch_size % cfg.pack:
        return f"batch_size ({cfg.batch_size}) must be a multiple of pack ({cfg.pack}); change one of them"
    if cfg.pack > 1 and cfg.objective == "cd":
        return "pack applies to a generator's batches; contrastive divergence's chains read one image each: set pack=1"
    if cfg.pack > 1 and cfg.energy == "rbm":
        return "pack applies to energies multimodal and gan, not rbm (its visible term reads one image); set pack=1"


RULES: Tuple[Callable[..., Optional[str]], ...] = (
    _gan_needs_gan_energy,
    _train_limit_fits_a_step,
    _sigma_range,
    _points_need_mlp,
    _keys_are_read,
    _switches,
    _pack_fits,
    _buffer_holds_a_batch,
)

DECLARED = sorted({key for part in ALL_PARTS for key in part.config_keys})  # keys some part reads
