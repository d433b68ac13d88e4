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


# --- how config.build reads sections ---------------------------------------------------------------------

@dataclass
class Madpo:
    pivot: float = 0.5
    """Pivot."""
    sharpness: float = 2.0
    """Sharpness."""


@dataclass
class Refusing:
    value: int = 0
    """Never accepted."""

    def __post_init__(self):
        raise ValueError("this section was built")


@dataclass
class Sections:
    dpo: Inner = field(default_factory=lambda: Inner(beta=0.7))
    """A section whose default differs from the section class's own."""
    weights: Madpo | None = None
    """An optional section."""
    refusing: Refusing | None = None
    """A section that fails whenever it is built."""


def test_unknown_key_names_the_closest_valid_one():
    with pytest.raises(UserError, match=r"^dpo\.bta: unknown config key; did you mean dpo\.beta\?$"):
        load_config(Outer, None, ["dpo.bta=0.2"])


def test_unknown_key_fails_before_any_section_is_built():
    with pytest.raises(UserError, match="weights.pivt"):
        load_config(Sections, None, ["refusing.value=1", "weights.pivt=1"])


def test_section_error_names_the_section():
    with pytest.raises(UserError, match="^refusing: this section was built"):
        load_config(Sections, None, ["refusing.value=1"])


def test_numbers_written_as_yaml_strings_become_numbers():
    assert load_config(Outer, None, ["dpo.beta=1e-4"]).dpo.beta == 1e-4


def test_overriding_one_key_of_a_section_keeps_its_other_default_values():
    cfg = load_config(Sections, None, ["weights.sharpness=3"])
    assert load_config(Sections, None, []).dpo.beta == 0.7
    assert cfg.weights == Madpo(pivot=0.5, sharpness=3.0)


def test_optional_section_stays_none_unless_given():
    assert load_config(Sections, None, []).weights is None
    assert load_config(Sections, None, ["weights={}"]).weights == Madpo()


# --- the pipeline's config ---------------------------------------------------------------------------------

def test_a_run_config_must_name_its_domain():
    from codealign.config import build
    from codealign.pipeline import PipelineConfig

    with pytest.raises(UserError, match="domain"):
        build(PipelineConfig, {})


def test_pipeline_sections_are_typed_configs():
    from codealign.pairs.curriculum import CurriculumConfig
    from codealign.pairs.make import PairsConfig
    from codealign.pairs.weights import MadpoConfig
    from codealign.pipeline import make_config
    from codealign.train.dpo import DPORunConfig
    from codealign.train.sft import SFTRunConfig

    cfg = make_config("verilog", overrides=["weights.pivot=0.3", "pairs.strategy=ranked"])
    assert isinstance(cfg.sft, SFTRunConfig) and isinstance(cfg.dpo, DPORunConfig)
    assert isinstance(cfg.pairs, PairsConfig) and cfg.pairs.strategy == "ranked"
    assert cfg.weights == MadpoConfig(pivot=0.3) and cfg.curriculum == CurriculumConfig(stages=1)


def test_pipeline_stage_defaults_are_in_the_config_before_the_run():
    from codealign.pipeline import make_config

    tiny = make_config("verilog")
    assert (tiny.sft.learning_rate, tiny.sft.max_steps, tiny.sft.per_device_train_batch_size) == (3e-3, 300, 16)
    assert (tiny.dpo.learning_rate, tiny.round_steps, tiny.dpo.nll_alpha, tiny.dpo.save_steps) == (1e-4, 40, 1.0, 20)
    other = make_config("verilog", overrides=["model=some/model", "seed=5"])
    assert (other.sft.learning_rate, other.dpo.learning_rate, other.dpo.seed) == (2e-5, 5e-7, 5)


def test_domain_preset_and_overrides_apply_over_the_stage_defaults():
    from codealign.pipeline import make_config

    cfg = make_config("ladder", "ladder", overrides=["round_steps=3"])
    assert (cfg.sft.max_steps, cfg.dpo.learning_rate, cfg.round_steps) == (150, 1e-5, 3)


def test_a_named_benchmark_replaces_the_domains_default_evaluation_draw():
    from codealign.pipeline import EvalConfig, make_config

    assert make_config("verilog").eval.heldout_tasks > 0
    cfg = make_config("verilog", overrides=["eval.benchmark=verilogeval", "eval.data=x"])
    assert (cfg.eval.heldout_tasks, cfg.eval.max_tasks) == (EvalConfig.heldout_tasks, EvalConfig.max_tasks)


@pytest.mark.parametrize("override, message", [
    ("dpo.bta=0.2", r"dpo\.bta: unknown config key; did you mean dpo\.beta\?"),
    ("dpo.beta=-1", r"^dpo: beta must be > 0"),
    ("pairs.strategy=rankd", r"unknown pair strategy 'rankd'; did you mean 'ranked'\?"),
    ("pairs.beta=0.3", r"beta does not apply to strategy 'execution' \(only rso\)"),
    ("weights.min_weight=2", r"^weights: min_weight"),
    ("curriculum.within_stage=random", r"^curriculum: within_stage"),
    ("sft.max_steps=0", r"max_steps must be -1 or > 0"),
    ("eval.heldout_tasks=5000", r"eval\.heldout_tasks=5000: the held-out split of domain 'verilog' has \d+ tasks"),
    ("eval.benchmark=verilogeval eval.data=x eval.heldout_tasks=8", r"set only one"),
])
def test_a_bad_section_value_fails_when_the_config_is_built(override, message):
    from codealign.pipeline import make_config

    with pytest.raises(UserError, match=message):
        make_config("verilog", overrides=override.split())


def test_every_pipeline_field_is_read_by_some_stage():
    import dataclasses

    from codealign.pipeline import STAGE_CONFIG, PipelineConfig

    read = {key.split(".")[0] for keys in STAGE_CONFIG.values() for key in keys}
    assert {f.name for f in dataclasses.fields(PipelineConfig)} <= read


def test_pairs_config_has_every_strategy_option():
    import dataclasses

    from codealign.pairs import STRATEGIES
    from codealign.pairs.make import PairsConfig

    options = {f.name for name in STRATEGIES for f in dataclasses.fields(STRATEGIES.get(name).config)}
    assert options <= {f.name for f in dataclasses.fields(PairsConfig)}


def test_importing_the_pipeline_imports_no_torch():
    import subprocess
    import sys

    code = "import sys, codealign.pipeline; print(sorted({'torch', 'trl', 'transformers'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize("key", ["rft.model", "rft.output_dir", "rft.mode", "sft.data", "sft.verdicts", "dpo.pairs",
                                 "grpo.model"])
def test_a_trainer_input_or_output_that_a_run_sets_itself_is_refused_as_a_key(key):
    from codealign.pipeline import make_config

    with pytest.raises(UserError, match=rf"{key}: a run gives its \w+ stage its inputs and outputs itself, so "
                                        "nothing reads this key; remove it$"):
        make_config("verilog", overrides=[f"{key}=rft"])


def test_the_trainer_inputs_and_outputs_a_run_reads_are_still_keys():
    from codealign.pipeline import make_config

    cfg = make_config("verilog", overrides=["sft.model=m", "sft.output_dir=o", "dpo.model=m2", "dpo.output_dir=o2"])
    assert (cfg.sft.model, cfg.sft.output_dir, cfg.dpo.model, cfg.dpo.output_dir) == ("m", "o", "m2", "o2")


def test_every_trainer_config_loads_through_the_one_loader_with_its_section(tmp_path):
    from codealign.train.dpo import DPORunConfig
    from codealign.train.grpo import GRPORunConfig
    from codealign.train.sft import SFTRunConfig

    path = tmp_path / "run.yaml"
    path.write_text("dpo: {model: m, beta: 0.3}\nsft: {learning_rate: 2e-4}\ngrpo: {beta: 0.05}\n")
    loaded = [load_config(cls, path, section=name)
              for cls, name in ((DPORunConfig, "dpo"), (SFTRunConfig, "sft"), (GRPORunConfig, "grpo"))]
    assert (loaded[0].beta, loaded[1].learning_rate, loaded[2].beta) == (0.3, 2e-4, 0.05)


def test_a_missing_required_key_is_one_line_naming_it():
    from codealign.train.dpo import DPORunConfig

    with pytest.raises(UserError, match=r"^model: required config key is missing$"):
        load_config(DPORunConfig, None, ["beta=0.2"])


def test_a_number_field_given_a_word_is_one_line_naming_the_key():
    with pytest.raises(UserError, match=r"^dpo\.beta: expected a number, got 'high'$"):
        load_config(Outer, None, ["dpo.beta=high"])
