from pathlib import Path

import pytest

from vgan.config import Config, from_dict, load_config, parse_overrides
from vgan.errors import ConfigError
from vgan.networks import build_energy, build_generator

CONFIGS = Path(__file__).parent.parent / "configs"


def test_default_config_file_spells_out_the_defaults():
    assert load_config(CONFIGS / "mnist_vgan.yaml") == Config()


@pytest.mark.parametrize("path", sorted(CONFIGS.rglob("*.yaml")), ids=lambda p: p.name)
def test_shipped_configs_validate(path):
    assert isinstance(load_config(path), Config)


def test_gan_config_uses_the_same_networks_as_vgan():
    vgan_cfg, gan_cfg = load_config(CONFIGS / "mnist_vgan.yaml"), load_config(CONFIGS / "mnist_gan.yaml")
    shapes = lambda m: [tuple(p.shape) for p in m.parameters()]  # noqa: E731
    assert shapes(build_generator(vgan_cfg, (1, 28, 28))) == shapes(build_generator(gan_cfg, (1, 28, 28)))
    assert shapes(build_energy(vgan_cfg, (1, 28, 28)).features) == shapes(build_energy(gan_cfg, (1, 28, 28)).features)
    assert build_energy(gan_cfg, (1, 28, 28)).head.unit.out_features == 1
    assert gan_cfg.k == vgan_cfg.k


def test_overrides_are_parsed_as_yaml():
    assert parse_overrides(["k=3", "lr=0.1", "data_dir=null", "betas=[0.5, 0.9]", "name=x"]) == {
        "k": 3, "lr": 0.1, "data_dir": None, "betas": [0.5, 0.9], "name": "x"}
    assert load_config(overrides=["lr=1"]).lr == 1.0  # int accepted for float


def test_unknown_key_lists_the_valid_ones():
    with pytest.raises(ConfigError, match=r"unknown config key\(s\) epoch;.*valid keys are: name, out_dir"):
        from_dict({"epoch": 3})


@pytest.mark.parametrize("values, message", [
    ({"k": "three"}, "'k' must be int"),
    ({"k": 2.5}, "'k' must be int"),
    ({"tensorboard": "yes"}, "'tensorboard' must be bool"),
    ({"betas": 0.5}, "'betas' must be a list"),
    ({"optimizer": "sgd"}, "choose one of adam, adadelta"),
    ({"k": 0}, "'k' must be > 0"),
    ({"objective": "gan"}, "needs energy 'gan'"),
    ({"train_limit": 10}, "smaller than one iteration"),
])
def test_bad_values_give_one_line_errors(values, message):
    with pytest.raises(ConfigError, match=message) as info:
        from_dict(values)
    assert "\n" not in str(info.value)


def test_bad_override_and_missing_file():
    with pytest.raises(ConfigError, match="not key=value"):
        parse_overrides(["k3"])
    with pytest.raises(ConfigError, match="does not exist"):
        load_config("no/such.yaml")


def test_every_key_has_a_check():
    """Adding a key means adding its line to CHOICES or CHECKS (booleans need none)."""
    from vgan.config import CHECKS, CHOICES

    for key, value in Config().to_dict().items():
        assert key in CHECKS or key in CHOICES or isinstance(value, bool), key
    assert set(CHECKS) | set(CHOICES) <= set(Config().to_dict())


@pytest.mark.parametrize("values, message", [
    ({"lr": float("nan")}, "'lr' must be a finite number"),
    ({"rho": float("inf")}, "'rho' must be a finite number"),
    ({"betas": [0.5, 1.0]}, r"'betas' must be two numbers in \[0, 1\)"),
    ({"name": "../x"}, "'name' must be a plain folder name"),
    ({"name": ""}, "'name' must be a plain folder name"),
    ({"max_steps": -3}, "'max_steps' must be > 0 or null"),
    ({"seed": -1}, r"'seed' must be in \[0, 4294967295\]"),
    ({"gen_entropy_weight": -1.0}, "'gen_entropy_weight' must be >= 0"),
])
def test_ranges_are_checked_when_a_config_is_made(values, message):
    with pytest.raises(ConfigError, match=message):
        from_dict(values)
    with pytest.raises(ConfigError, match=message):
        Config(**values)  # a Config is never invalid, however it is made


def test_exponent_floats_and_yaml_pitfalls(tmp_path):
    assert from_dict({"lr": "1e-3"}).lr == 0.001  # YAML 1.1 reads 1e-3 as a string
    path = tmp_path / "dup.yaml"
    path.write_text("lr: 0.1\nk: 3\nlr: 0.5\n")
    with pytest.raises(ConfigError, match=r"dup.yaml gives the key 'lr' twice \(lines 1 and 3\); keep one"):
        load_config(path)
    path.write_bytes(b"lr: 0.1\nname: caf\xe9\n")
    with pytest.raises(ConfigError, match=r"is not UTF-8 text \(byte 0xe9 at offset 17\)"):
        load_config(path)
    path.write_text("base: 3\n")
    with pytest.raises(ConfigError, match="it must name another YAML file"):
        load_config(path)
    path.write_text("defaults: &d {k: 1}\nmerged:\n  <<: *d\n  k: 2\n")  # an override through a merge key is fine
    with pytest.raises(ConfigError, match="unknown config key"):
        load_config(path)
