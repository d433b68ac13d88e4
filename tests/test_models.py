"""The offline tiny model and model loading."""

import subprocess
import sys
import time

import pytest

from codealign.errors import UserError
from codealign.prompts import format_prompt
from codealign.train.models import TINY_MODEL, build_tiny_model, load_model, load_tokenizer


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "model", seed=0)


def test_tiny_model_builds_in_seconds(tiny, tmp_path):
    start = time.perf_counter()
    build_tiny_model(tmp_path / "m", seed=3)
    assert time.perf_counter() - start < 30


def test_tiny_model_builds_without_network(tmp_path, monkeypatch):
    import socket

    def refuse(*args, **kwargs):
        raise OSError("network disabled in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    build_tiny_model(tmp_path / "m", hidden_size=64, layers=1, heads=2, kv_heads=1, intermediate_size=128)
    assert (tmp_path / "m" / "model.safetensors").is_file()


def test_tiny_model_reloads_with_auto_classes(tiny):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = tiny
    model = AutoModelForCausalLM.from_pretrained(path)
    tokenizer = AutoTokenizer.from_pretrained(path)
    assert model.config.vocab_size == len(tokenizer)
    assert tokenizer.sep_token == "<|sep|>" and tokenizer.eos_token and tokenizer.pad_token


def test_tiny_model_has_a_few_million_parameters(tiny):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny)
    assert 1_000_000 < sum(p.numel() for p in model.parameters()) < 10_000_000


def test_same_seed_builds_identical_weights_and_tokenizer(tiny, tmp_path):
    path = tiny
    again = build_tiny_model(tmp_path / "again", seed=0)
    assert (again / "model.safetensors").read_bytes() == (path / "model.safetensors").read_bytes()
    assert (again / "tokenizer.json").read_bytes() == (path / "tokenizer.json").read_bytes()


@pytest.mark.parametrize("domain", ["verilog", "python", "solidity", "ladder"])
def test_tiny_tokenizer_is_byte_identical_to_the_one_the_shipped_warmups_were_trained_with(tiny, domain):
    from codealign.domains import get_domain

    shipped = get_domain(domain).warmup_folder() / "tokenizer.json"
    assert (tiny / "tokenizer.json").read_bytes() == shipped.read_bytes()


def test_different_seed_builds_different_weights(tiny, tmp_path):
    other = build_tiny_model(tmp_path / "other", seed=1)
    assert (other / "model.safetensors").read_bytes() != (tiny / "model.safetensors").read_bytes()


def test_prompt_is_a_token_prefix_of_prompt_plus_completion(tiny):
    tokenizer = load_tokenizer(str(tiny))
    for prompt, completion in [
        ("Implement a 4-bit adder", "module TopModule(input [3:0] a);\nendmodule\n"),
        ("Ends with spaces   ", "  assign y = a;"),
        ("def f(x):", "    return x"),
    ]:
        formatted = format_prompt(prompt, tokenizer)
        assert formatted.endswith("<|sep|>")
        prompt_ids = tokenizer(formatted)["input_ids"]
        full_ids = tokenizer(formatted + completion)["input_ids"]
        assert full_ids[: len(prompt_ids)] == prompt_ids


def test_tiny_tokenizer_roundtrips_code(tiny):
    tokenizer = load_tokenizer(str(tiny))
    text = "module m(input [7:0] a, output y);\n\tassign y = ^a; // parity ünïcode\nendmodule\n"
    assert tokenizer.decode(tokenizer(text)["input_ids"]) == text


def test_tiny_model_samples_text(tiny):
    model, tokenizer = load_model(str(tiny), device="cpu")
    from codealign.generate.hf import HFGenerator

    out = HFGenerator(model, tokenizer=tokenizer).generate(["Implement an AND gate"], 2, max_new_tokens=8)
    assert len(out) == 1 and len(out[0]) == 2 and all(isinstance(s, str) and s for s in out[0])


def test_load_model_by_tiny_name_builds_into_cache(tmp_path, monkeypatch, tiny):
    monkeypatch.setenv("CODEALIGN_CACHE", str(tmp_path))
    model, tokenizer = load_model(TINY_MODEL, device="cpu")
    cached = list((tmp_path / "models").iterdir())
    assert len(cached) == 1 and cached[0].name.startswith(TINY_MODEL)
    assert (cached[0] / "model.safetensors").read_bytes() == (tiny / "model.safetensors").read_bytes()
    assert tokenizer.sep_token == "<|sep|>" and not model.training


def test_load_model_missing_local_path_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="no such model folder"):
        load_model(str(tmp_path / "nope"), device="cpu")


def test_load_model_folder_without_config_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="no config.json"):
        load_model(str(tmp_path), device="cpu")


def test_load_model_unknown_hub_id_offline_is_a_user_error(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(UserError, match="cannot load"):
        load_model("codealign-test/definitely-not-cached", device="cpu")


def test_cpu_training_settings_are_fp32_single_thread_without_checkpointing(monkeypatch):
    import torch

    from codealign.train.device import training_args_for_device

    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    args = training_args_for_device("cpu")
    assert args["use_cpu"] is True and args["bf16"] is False and args["fp16"] is False
    assert args["gradient_checkpointing"] is False
    assert torch.get_num_threads() == 1


def test_unknown_device_is_a_user_error():
    from codealign.train.device import resolve_device

    with pytest.raises(UserError, match="unknown device"):
        resolve_device("tpu")


def test_importing_models_does_not_import_torch():
    code = "import sys, codealign.train.models, codealign.train.sft, codealign.generate; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "False", out.stderr
