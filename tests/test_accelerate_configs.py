"""The shipped accelerate configs and the `accelerate launch` command built from them."""

from __future__ import annotations

import subprocess
import sys

import pytest

from codealign.errors import UserError
from codealign.train.launch import ACCELERATE_CONFIGS, accelerate_command, accelerate_config_path

EXPECTED = {
    "single_gpu": ("NO", None),
    "multi_gpu": ("MULTI_GPU", None),
    "zero2": ("DEEPSPEED", 2),
    "zero3": ("DEEPSPEED", 3),
    "fsdp": ("FSDP", None),
}


def test_every_expected_config_is_shipped():
    assert set(ACCELERATE_CONFIGS) == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_config_parses_with_accelerates_own_loader(name):
    from accelerate.commands.config.config_args import load_config_from_file

    config = load_config_from_file(str(accelerate_config_path(name)))
    kind, zero_stage = EXPECTED[name]
    assert str(config.distributed_type).rsplit(".", 1)[-1] == kind
    assert str(config.mixed_precision).rsplit(".", 1)[-1] == "bf16"
    if zero_stage is not None:
        assert config.deepspeed_config["zero_stage"] == zero_stage
    if name == "fsdp":
        assert config.fsdp_config["fsdp_version"] == 2
    if name == "single_gpu":
        assert config.num_processes == 1


def test_launch_command_runs_codealign_train_under_accelerate():
    argv = accelerate_command("zero3", ["dpo", "--config", "dpo.yaml", "beta=0.2"], num_processes=4)
    assert argv[:3] == [sys.executable, "-m", "accelerate.commands.launch"]
    assert argv[3:5] == ["--config_file", str(accelerate_config_path("zero3"))]
    assert argv[5:7] == ["--num_processes", "4"]
    assert argv[7:] == ["-m", "codealign.cli", "train", "dpo", "--config", "dpo.yaml", "beta=0.2"]


def test_unknown_config_name_is_a_user_error():
    with pytest.raises(UserError, match="unknown accelerate config"):
        accelerate_command("zero9", ["dpo"])


def test_launch_command_refuses_to_launch_itself_again():
    with pytest.raises(UserError, match="launch itself"):
        accelerate_command("single_gpu", ["dpo", "--accelerate-config", "single_gpu"])


@pytest.mark.slow
def test_cli_trains_through_accelerate_launch(tmp_path):
    """`codealign train dpo --accelerate-config single_gpu` really launches and trains (on CPU here)."""
    import json

    from codealign.jsonl import write_jsonl
    from codealign.train.models import build_tiny_model
    from codealign.types import Pair

    model = build_tiny_model(tmp_path / "tiny", hidden_size=32, layers=1, heads=2, kv_heads=1, intermediate_size=64)
    write_jsonl(tmp_path / "pairs.jsonl", [
        Pair(prompt="module top(input a, output y);", chosen=" assign y = ~a;\nendmodule",
             rejected=" assign y = a;\nendmodule")
    ] * 2)
    (tmp_path / "dpo.yaml").write_text(f"model: {model}\npairs: {tmp_path / 'pairs.jsonl'}\nmax_steps: 1\n"
                                       f"device: cpu\nper_device_train_batch_size: 2\n")
    out = tmp_path / "run"
    proc = subprocess.run(
        [sys.executable, "-m", "codealign.cli", "train", "dpo", "--json", "--config", str(tmp_path / "dpo.yaml"),
         f"output_dir={out}", "report_tensorboard=false", "--accelerate-config", "single_gpu"],
        capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    summary = json.loads(proc.stdout)
    assert summary["launched"][2] == "accelerate.commands.launch"
    assert json.loads((out / "stage-0" / "done.json").read_text())["steps"] == 1
