"""The rules between config keys: each takes a Config and returns what is wrong with it, in one
line that names the fix, or None. `vgan.config.validate` runs them after each key's own check."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Callable, Optional, Tuple

if TYPE_CHECKING:
    from . import Config


def is_conditional(cfg: Config) -> bool:
    """Whether the negatives start from images: VCD's transitions, CD-k's chains from data."""
    return cfg.objective == "vcd" or (cfg.objective == "cd" and cfg.langevin_init == "data")


def images_per_step(cfg: Config) -> int:
    """Training images one iteration consumes: a conditional sampler splits 2B into B real and B conditioning."""
    return cfg.batch_size * (2 if is_conditional(cfg) else 1)


def _gan_needs_gan_energy(cfg: Config) -> Optional[str]:
    if cfg.objective == "gan" and cfg.energy != "gan":
        return "objective 'gan' (Eq. 1) needs energy 'gan' (one sigmoid unit); set energy=gan"
    if cfg.energy == "scalar" and cfg.objective != "cd":
        return (
            f"energy 'scalar' has no logits for Eq. 9's entropy, which objective '{cfg.objective}' needs; "
            "set objective=cd or another energy"
        )


def _train_limit_fits_a_step(cfg: Config) -> Optional[str]:
    if cfg.train_limit is not None and cfg.train_limit < images_per_step(cfg):
        return (
            f"train_limit ({cfg.train_limit}) is smaller than one iteration's {images_per_step(cfg)} "
            "images; raise train_limit or lower batch_size"
        )


def _points_need_mlp(cfg: Config) -> Optional[str]:
    if cfg.dataset in ("8gaussians", "25gaussians") and cfg.arch != "mlp":
        return f"dataset {cfg.dataset} holds 2-D points, not images; set arch=mlp"
    if cfg.dataset in ("8gaussians", "25gaussians") and cfg.data_dir is not None:
        return f"dataset {cfg.dataset} is generated, so data_dir has no effect; remove it (or --data-dir)"


def _remedies_apply(cfg: Config) -> Optional[str]:
    """A remedy the chosen objective or energy would silently ignore is refused."""
    off = {f.name: f.default for f in dataclasses.fields(cfg)}  # a remedy is on when it leaves its default
    unused = {
        "gan": (  # Eq. 1
            "logit_penalty",
            "r1_penalty",
            "expert_decorrelation",
            "nn_entropy_weight",
            "mi_entropy_weight",
            "batch_entropy",
        ),
        "vcd": ("nn_entropy_weight", "mi_entropy_weight"),  # Alg. 2's transitions keep Eq. 9 only
        "cd": (  # no generator, no entropy terms: E(x) - E(x-) alone
            "k",
            "gen_entropy_weight",
            "data_entropy_weight",
            "batch_entropy",
            "nn_entropy_weight",
            "mi_entropy_weight",
            "ema_decay",
        ),
    }.get(cfg.objective, ())
    for key in unused:
        if getattr(cfg, key) != off[key]:
            return f"{key} has no effect with objective '{cfg.objective}'; remove it or set objective=vgan"
    if cfg.objective != "cd":
        for key in LANGEVIN_KEYS:
            if getattr(cfg, key) != off[key]:
                return f"{key} sets the Langevin chains of objective 'cd'; remove it or set objective=cd"
    if cfg.langevin_init != "buffer":
        for key in ("buffer_size", "buffer_restart"):
            if getattr(cfg, key) != off[key]:
                return (
                    f"{key} has no effect with langevin_init '{cfg.langevin_init}'; "
                    "remove it or set langevin_init=buffer"
                )
    if cfg.nn_entropy_space != "pixels" and not cfg.nn_entropy_weight:
        return "nn_entropy_space has no effect without nn_entropy_weight > 0; set both or remove it"
    if not cfg.spectral_norm_head and not cfg.spectral_norm:
        return "spectral_norm_head=false has no effect without spectral_norm=true; set both or remove it"
    for key in ("expert_entropy", "expert_decorrelation"):  # Eq. 8's experts only
        if getattr(cfg, key) != off[key] and cfg.energy != "multimodal":
            return f"{key} applies to Eq. 8's experts, not energy '{cfg.energy}'; remove it or set energy=multimodal"


def _buffer_holds_a_batch(cfg: Config) -> Optional[str]:
    if cfg.objective == "cd" and cfg.langevin_init == "buffer" and cfg.buffer_size < cfg.batch_size:
        return f"buffer_size ({cfg.buffer_size}) must hold one batch ({cfg.batch_size} chains); raise buffer_size"


def _pack_fits(cfg: Config) -> Optional[str]:
    if cfg.pack > 1 and cfg.batch_size % cfg.pack:
        return f"batch_size ({cfg.batch_size}) must be a multiple of pack ({cfg.pack}); change one of them"
    if cfg.pack > 1 and cfg.objective == "cd":
        return "pack applies to a generator's batches; contrastive divergence's chains read one image each: set pack=1"
    if cfg.pack > 1 and cfg.energy == "rbm":
        return "pack applies to energies multimodal and gan, not rbm (its visible term reads one image); set pack=1"


LANGEVIN_KEYS = (
    "langevin_init",
    "langevin_steps",
    "langevin_step_size",
    "langevin_noise",
    "buffer_size",
    "buffer_restart",
    "energy_l2",
)

RULES: Tuple[Callable[[Config], Optional[str]], ...] = (
    _gan_needs_gan_energy,
    _train_limit_fits_a_step,
    _points_need_mlp,
    _remedies_apply,
    _pack_fits,
    _buffer_holds_a_batch,
)
