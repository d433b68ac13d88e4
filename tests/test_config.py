from dataclasses import dataclass, field

import pytest

from codealign.config import apply_overrides, load_config
from codealign.errors import UserError


@dataclass
class Inner:
    beta: float = 0.1
    """DPO beta."""


@dataclass
class Outer:
    seed: int = 0
    """Seed."""
    name: str = "x"
    """Name."""
    dpo: Inner = field(default_factory=Inner)
    """Nested section."""

    def __post_init__(self):
        if self.seed < 0:
            raise ValueError("seed must be >= 0")


def test_overrides_reach_nested_fields_and_parse_as_yaml(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("seed: 3\ndpo:\n  beta: 0.5\n")
    cfg = load_config(Outer, path, ["dpo.beta=0.25", "name=run1"])
    assert (cfg.seed, cfg.name, cfg.dpo.beta) == (3, "run1", 0.25)


def test_file_overrides_base_and_cli_overrides_file(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("seed: 3\n")
    assert load_config(Outer, path, ["seed=4"], base={"seed": 1, "name": "preset"}).seed == 4
    assert load_config(Outer, path, [], base={"seed": 1, "name": "preset"}).name == "preset"


def test_unknown_key_is_a_user_error_naming_it():
    with pytest.raises(UserError, match="dpo.gamma"):
        load_config(Outer, None, ["dpo.gamma=1"])


def test_malformed_yaml_names_the_file(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("seed: [1,\n")
    with pytest.raises(UserError, match="bad.yaml"):
        load_config(Outer, path)


def test_validation_errors_become_user_errors():
    with pytest.raises(UserError, match="seed must be"):
        load_config(Outer, None, ["seed=-1"])


def test_override_without_equals_is_rejected():
    with pytest.raises(UserError, match="key=value"):
        apply_overrides({}, ["seed"])
