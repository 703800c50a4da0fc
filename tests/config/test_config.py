import re

import pytest

from vgan._utils.errors import ConfigError
from vgan.config import Config, check_presets, from_dict, load_config, parse_overrides
from vgan.config.files import ROOT, list_presets, preset_path
from vgan.model.networks import build_energy, build_generator


def test_default_preset_spells_out_the_defaults():
    assert load_config("mnist_vgan") == Config()


@pytest.mark.parametrize("name", list_presets())
def test_shipped_presets_validate_and_describe_themselves(name):
    assert isinstance(load_config(name), Config)
    description = list_presets()[name]
    assert description and len(description) <= 100  # the `vgan configs` line: the file's first comment line


def test_every_yaml_in_the_package_is_a_preset():
    assert len(list_presets()) == len(list(ROOT.rglob("*.yaml"))) > 20
    assert "sweeps/mnist_vcd_rho0.01" in list_presets() and all(error is None for error in check_presets().values())


def test_missing_package_data_is_one_line(monkeypatch, tmp_path):
    monkeypatch.setattr("vgan.config.files.ROOT", tmp_path / "configs")
    with pytest.raises(ConfigError, match="lacks its package data; reinstall vgan"):
        load_config("mnist_gan")


def test_a_preset_is_named_with_or_without_yaml_and_a_file_comes_first(tmp_path, monkeypatch):
    assert load_config("sweeps/mnist_vcd_rho0.1.yaml") == load_config("sweeps/mnist_vcd_rho0.1")
    assert load_config("sweeps/mnist_vcd_rho0.1").rho == 0.1
    assert preset_path("nope") is None and preset_path("../pyproject") is None
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mnist_gan.yaml").write_text("name: mine\n")
    assert load_config("mnist_gan.yaml").name == "mine" and load_config("mnist_gan").name == "mnist_gan"


def test_base_is_a_file_beside_or_a_preset(tmp_path):
    (tmp_path / "mine.yaml").write_text("base: mnist_gan\nname: mine\n")  # no such file beside: the preset
    (tmp_path / "local.yaml").write_text("base: mine.yaml\nk: 1\n")  # a file beside
    cfg = load_config(tmp_path / "local.yaml")
    assert (cfg.name, cfg.objective, cfg.k) == ("mine", "gan", 1)
    (tmp_path / "bad.yaml").write_text("base: nowhere.yaml\n")
    with pytest.raises(ConfigError, match="neither a file beside it nor a preset"):
        load_config(tmp_path / "bad.yaml")


def test_gan_config_uses_the_same_networks_as_vgan():
    vgan_cfg, gan_cfg = load_config("mnist_vgan"), load_config("mnist_gan")
    shapes = lambda m: [tuple(p.shape) for p in m.parameters()]  # noqa: E731
    assert shapes(build_generator(vgan_cfg, (1, 28, 28))) == shapes(build_generator(gan_cfg, (1, 28, 28)))
    assert shapes(build_energy(vgan_cfg, (1, 28, 28)).features) == shapes(build_energy(gan_cfg, (1, 28, 28)).features)
    assert build_energy(gan_cfg, (1, 28, 28)).head.unit.out_features == 1
    assert gan_cfg.k == vgan_cfg.k


def test_overrides_are_parsed_as_yaml():
    assert parse_overrides(["k=3", "lr=0.1", "data_dir=null", "betas=[0.5, 0.9]", "name=x"]) == {
        "k": 3,
        "lr": 0.1,
        "data_dir": None,
        "betas": [0.5, 0.9],
        "name": "x",
    }
    assert load_config(overrides=["lr=1"]).lr == 1.0  # int accepted for float


def test_unknown_key_suggests_the_close_ones_in_a_short_line():
    with pytest.raises(
        ConfigError, match=r"unknown config key\(s\) epoch \(did you mean epochs\?\); `vgan train --help`"
    ):
        from_dict({"epoch": 3})
    with pytest.raises(ConfigError, match=r"k0 .*, k1000 and 19995 more;") as info:
        from_dict({f"k{i}": 1 for i in range(20000)})
    assert len(str(info.value)) < 200


@pytest.mark.parametrize(
    "values, message",
    [
        ({"k": "three"}, "'k' must be int"),
        ({"k": 2.5}, "'k' must be int"),
        ({"tensorboard": "yes"}, "'tensorboard' must be bool"),
        ({"betas": 0.5}, "'betas' must be a list"),
        ({"optimizer": "sgd"}, "choose one of adam, adadelta"),
        ({"k": 0}, r"'k' must be in \[1, 1000\]"),
        ({"objective": "gan"}, "needs energy 'gan'"),
        ({"train_limit": 10}, "smaller than one iteration"),
        ({"objective": "gan", "energy": "gan", "r1_penalty": 1.0}, "r1_penalty has no effect with objective 'gan'"),
        ({"objective": "vcd", "nn_entropy_weight": 0.1}, "nn_entropy_weight has no effect with objective 'vcd'"),
        ({"objective": "vcd", "mi_entropy_weight": 1.0}, "mi_entropy_weight has no effect with objective 'vcd'"),
        ({"objective": "gan", "energy": "gan", "mi_entropy_weight": 1.0}, "mi_entropy_weight has no effect"),
        ({"mi_entropy_weight": -1.0}, "'mi_entropy_weight' must be >= 0"),
        ({"spectral_norm_head": False}, "spectral_norm_head=false has no effect without spectral_norm=true"),
        ({"nn_entropy_space": "features"}, "nn_entropy_space has no effect unless nn_entropy_weight > 0"),
        ({"nn_entropy_weight": 0.1, "nn_entropy_space": "phi"}, "nn_entropy_space"),
        ({"energy": "rbm", "expert_entropy": "min"}, "expert_entropy has no effect .* set energy=multimodal"),
        ({"energy": "rbm", "expert_decorrelation": 1.0}, "expert_decorrelation has no effect unless energy=multimodal"),
        ({"objective": "gan", "energy": "gan", "expert_decorrelation": 1.0}, "expert_decorrelation has no effect"),
        ({"objective": "gan", "energy": "gan", "batch_entropy": "pairwise"}, "batch_entropy has no effect"),
        ({"batch_entropy": "joint"}, "choose one of eq9, pairwise"),
        ({"pack": 3}, r"batch_size \(100\) must be a multiple of pack \(3\)"),
        ({"pack": 2, "energy": "rbm"}, "pack applies to energies multimodal and gan, not rbm"),
        ({"pack": 0}, r"'pack' must be in \[1, 1048576\]"),
        ({"objective": "cd", "k": 1}, "k has no effect with objective 'cd'"),
        ({"objective": "cd", "ema_decay": 0.9}, "ema_decay has no effect with objective 'cd'"),
        (
            {"langevin_steps": 5},
            "langevin_steps has no effect with objective 'vgan' and energy 'multimodal'; remove it, "
            "or set objective=cd",
        ),
        (
            {"objective": "cd", "langevin_init": "noise", "buffer_size": 50},
            "buffer_size has no effect unless langevin_init=buffer",
        ),
        ({"objective": "cd", "buffer_size": 50}, r"buffer_size \(50\) must hold one batch \(100 chains\)"),
        ({"objective": "cd", "buffer_restart": 1.5}, "'buffer_restart' must be in"),
        ({"objective": "cd", "langevin_init": "replay"}, "choose one of buffer, noise, data"),
        ({"objective": "cd", "pack": 2}, "contrastive divergence's chains read one image each"),
        ({"energy": "scalar"}, "energy 'scalar' has no logits for Eq. 9's entropy"),
        ({"objective": "cd", "buffer_size": 2**62}, r"'buffer_size' must be in \[1, 1048576\]"),
    ],
)
def test_bad_values_give_one_line_errors(values, message):
    with pytest.raises(ConfigError, match=message) as info:
        from_dict(values)
    assert "\n" not in str(info.value)


def test_bad_override_and_missing_file():
    with pytest.raises(ConfigError, match="not key=value"):
        parse_overrides(["k3"])
    with pytest.raises(ConfigError, match="does not exist or is not a file, and is not a preset name.*`vgan configs`"):
        load_config("no/such.yaml")


def test_every_key_has_a_check():
    """Adding a key means adding its line to CHOICES or CHECKS (booleans need none)."""
    from vgan.config.keys import CHECKS, CHOICES

    for key, value in Config().to_dict().items():
        assert key in CHECKS or key in CHOICES or isinstance(value, bool), key
    assert set(CHECKS) | set(CHOICES) <= set(Config().to_dict())


def test_every_key_has_one_line_of_help():
    """Adding a key means adding its line to HELP: `vgan train --help`, `vgan configs --keys` and the
    docs' key reference print it."""
    from vgan.config import describe_keys
    from vgan.config.keys import HELP

    keys = list(Config().to_dict())
    missing = [k for k in keys if k not in HELP]
    assert not missing, f"add a line to vgan.config.HELP for: {', '.join(missing)}"
    assert not set(HELP) - set(keys), f"HELP names keys Config lacks: {', '.join(sorted(set(HELP) - set(keys)))}"
    assert all(h.strip() and "\n" not in h and len(h) <= 100 for h in HELP.values())
    rows = {r["key"]: r for r in describe_keys()}
    assert list(rows) == keys
    assert rows["k"]["type"] == "int" and rows["k"]["default"] == 3 and rows["k"]["allowed"] == "in [1, 1000]"
    assert rows["train_limit"]["type"] == "int or null" and rows["betas"]["type"] == "list of float"
    assert rows["arch"]["allowed"] == "mlp | conv" and rows["arch"]["fixed_on_resume"]
    assert not rows["epochs"]["fixed_on_resume"]


@pytest.mark.parametrize(
    "values, message",
    [
        ({"lr": float("nan")}, "'lr' must be a finite number"),
        ({"rho": float("inf")}, "'rho' must be a finite number"),
        ({"betas": [0.5, 1.0]}, r"'betas' must be two numbers in \[0, 1\)"),
        ({"name": "../x"}, "'name' must be a plain folder name"),
        ({"name": ""}, "'name' must be a plain folder name"),
        ({"max_steps": -3}, r"'max_steps' must be in \[1, 10000000000\] or null"),
        ({"seed": -1}, r"'seed' must be in \[0, 4294967295\]"),
        ({"gen_entropy_weight": -1.0}, "'gen_entropy_weight' must be >= 0"),
    ],
)
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
    path.write_text("merged:\n  <<: {k: 1}\n  k: 2\n")  # an override through a merge key is fine
    with pytest.raises(ConfigError, match="unknown config key"):
        load_config(path)


def test_remedies_are_off_in_every_preset_but_the_stable_ones_and_the_successors_are_their_own():
    from vgan.config import REMEDIES
    from vgan.config.files import list_presets
    from vgan.config.keys import SUCCESSORS

    defaults = Config()
    for name in list_presets():
        cfg = load_config(name)
        changed = [k for k in REMEDIES if getattr(cfg, k) != getattr(defaults, k)]
        successors = [k for k in SUCCESSORS if getattr(cfg, k) != getattr(defaults, k)]
        assert bool(changed) == name.endswith(("_stable", "_vera")), (name, changed)
        assert bool(successors) == name.endswith("_vera"), (name, successors)


# ---- keys declared by the parts of the method (vgan.model.reads), and the rule derived from them
def _other_value(key):
    """A valid value of `key` other than its default."""
    from vgan.config.keys import CHOICES

    default = Config().to_dict()[key]
    if key in CHOICES:
        return next(c for c in CHOICES[key] if c != default)
    if isinstance(default, bool):
        return not default
    if isinstance(default, int):
        return default + 1
    if isinstance(default, float):
        return 0.25 if default != 0.25 else 0.125
    return 8  # Optional[int] sizes (gen_channels)


def test_every_config_key_is_read_by_the_package():
    import re
    from pathlib import Path

    import vgan

    src = Path(vgan.__file__).parent
    code = "".join(p.read_text() for p in src.rglob("*.py") if p.parent.name != "config")
    unread = [k for k in Config().to_dict() if not re.search(rf"\bcfg\.{k}\b", code)]
    assert unread == [], f"keys no module outside vgan.config reads as cfg.<key>: {unread}"


def test_every_declared_key_is_a_config_key_read_where_the_method_is_built():
    import re
    from pathlib import Path

    import vgan
    from vgan.config.rules import ALL_PARTS, DECLARED

    assert set(DECLARED) <= set(Config().to_dict())
    src = Path(vgan.__file__).parent
    builders = "".join(p.read_text() for folder in ("model", "training") for p in (src / folder).glob("*.py"))
    for part in ALL_PARTS:
        for key in part.config_keys:
            assert re.search(rf"\bcfg\.{key}\b", builders), f"{part.__name__} declares {key}, which nothing builds from"


OBJECTIVE_SETUP = {"vgan": {}, "gan": {"energy": "gan"}, "vcd": {}, "cd": {}}


@pytest.mark.parametrize("mine", sorted(OBJECTIVE_SETUP))
@pytest.mark.parametrize("theirs", sorted(OBJECTIVE_SETUP))
def test_each_objective_refuses_the_keys_only_another_reads_in_one_line(mine, theirs):
    from vgan.config.rules import keys_read
    from vgan.model.model import sampler_class
    from vgan.model.objectives import OBJECTIVES

    base = {"objective": mine, **OBJECTIVE_SETUP[mine]}
    other = from_dict({"objective": theirs, **OBJECTIVE_SETUP[theirs]})
    parts = (OBJECTIVES[theirs], sampler_class(other))
    theirs_keys = {k for part in parts for k, when in part.config_keys.items() if when is None}
    refused = sorted(theirs_keys - keys_read(from_dict(base)))
    assert bool(refused) == (mine != theirs), f"objective {mine} refuses {refused} of objective {theirs}'s keys"
    for key in refused:
        with pytest.raises(ConfigError, match=f"^{key} has no effect with objective '{mine}'") as info:
            from_dict({**base, key: _other_value(key)})
        message = str(info.value)
        named = re.search(r"or set objective=([\w, ]+?)(?:, or |$)", message).group(1)
        assert "\n" not in message and theirs in re.split(r", | or ", named)


def test_a_key_read_only_under_a_switch_names_the_switch():
    with pytest.raises(ConfigError, match=r"buffer_restart has no effect unless langevin_init=buffer"):
        from_dict({"objective": "cd", "langevin_init": "noise", "buffer_restart": 0.5})
    assert from_dict({"objective": "cd", "buffer_restart": 0.5}).buffer_restart == 0.5
