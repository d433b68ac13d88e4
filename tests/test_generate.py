"""Generation interface, the HF and file backends, and prompt formatting."""

import json
import subprocess
import sys

import pytest

from codealign.errors import UserError
from codealign.fim import FIM_PRESETS, fim_format
from codealign.generate import SamplingParams, get_generator
from codealign.prompts import add_special_tokens, format_prompt, preference_row, sft_row
from codealign.jsonl import write_jsonl
from codealign.train.models import build_tiny_model, load_model
from codealign.types import Candidate, Task

PROMPTS = ["Implement an AND gate with inputs a and b.", "Build a 4-bit counter with synchronous reset."]


@pytest.fixture(scope="module")
def generator(tmp_path_factory):
    path = build_tiny_model(tmp_path_factory.mktemp("tiny") / "m", seed=0, hidden_size=64, layers=2, heads=2,
                            kv_heads=1, intermediate_size=128)
    return get_generator("hf", model=str(path), device="cpu", batch_size=8)


def test_same_seed_gives_same_samples(generator):
    a = generator.generate(PROMPTS, 3, max_new_tokens=16, seed=7)
    b = generator.generate(PROMPTS, 3, max_new_tokens=16, seed=7)
    assert a == b


def test_different_seed_gives_different_samples(generator):
    a = generator.generate(PROMPTS, 3, max_new_tokens=16, seed=7)
    b = generator.generate(PROMPTS, 3, max_new_tokens=16, seed=8)
    assert a != b


def test_n_samples_per_prompt_in_prompt_order(generator):
    out = generator.generate(PROMPTS, 5, max_new_tokens=4, seed=0)
    assert [len(row) for row in out] == [5, 5]


def test_batching_covers_every_prompt_when_batch_is_smaller_than_n(generator):
    generator.batch_size, saved = 2, generator.batch_size
    try:
        out = generator.generate(PROMPTS * 2, 3, max_new_tokens=4, seed=0)
    finally:
        generator.batch_size = saved
    assert len(out) == 4 and all(len(row) == 3 for row in out)


def test_greedy_ignores_the_seed(generator):
    a = generator.generate(PROMPTS, 1, temperature=0, max_new_tokens=12, seed=1)
    b = generator.generate(PROMPTS, 1, temperature=0, max_new_tokens=12, seed=2)
    assert a == b


def test_sampling_leaves_global_rng_untouched(generator):
    import torch

    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    generator.generate(PROMPTS, 2, max_new_tokens=4, seed=5)
    assert torch.equal(torch.rand(3), expected)


def test_token_limit_is_reported_as_length_finish(generator):
    rows = generator.sample(PROMPTS, 2, SamplingParams(max_new_tokens=3, temperature=1.0))
    for row in rows:
        for s in row:
            assert s.num_tokens <= 3
            assert s.finish_reason in ("length", "eos")
    assert any(s.finish_reason == "length" for row in rows for s in row)


def test_stop_string_cuts_the_sample(generator):
    free = generator.generate(PROMPTS, 4, max_new_tokens=24, seed=3, temperature=1.0)
    stop = next(ch for ch in " e\na" if any(ch in s for row in free for s in row))
    stopped = generator.sample(PROMPTS, 4, SamplingParams(max_new_tokens=24, seed=3, temperature=1.0, stop=(stop,)))
    assert all(stop not in s.text for row in stopped for s in row)
    assert any(s.finish_reason == "stop" for row in stopped for s in row)


def test_candidates_record_generator_and_extraction(generator):
    task = Task(task_id="t0", domain="verilog", prompt=PROMPTS[0])
    cands = generator.candidates([task], 2, max_new_tokens=8, seed=0)
    assert len(cands) == 2 and {c.metadata["sample_index"] for c in cands} == {0, 1}
    for c in cands:
        assert c.task_id == "t0" and c.metadata["generator"] == "hf" and c.metadata["seed"] == 0
        assert "extraction" in c.metadata and "finish_reason" in c.metadata


def test_bad_sampling_settings_are_user_errors(generator):
    with pytest.raises(UserError, match="top_p"):
        generator.generate(PROMPTS, 1, top_p=0)
    with pytest.raises(UserError, match="positive integer"):
        generator.generate(PROMPTS, 0)


def test_unknown_generator_is_a_user_error():
    with pytest.raises(UserError, match="unknown generator"):
        get_generator("telepathy")


def test_importing_generate_does_not_import_torch():
    code = "import sys, codealign.generate, codealign.prompts, codealign.extraction; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "False", out.stderr


@pytest.fixture
def candidate_file(tmp_path):
    rows = [
        Candidate("a", "module TopModule(); endmodule", metadata={"prompt": "pa"}),
        Candidate("a", "```verilog\nmodule TopModule(); endmodule\n```"),
        Candidate("a", "third"),
        Candidate("b", "module TopModule(input x); endmodule"),
    ]
    path = tmp_path / "cands.jsonl"
    write_jsonl(path, rows)
    return path


def test_file_generator_replays_at_most_n_candidates_per_task(candidate_file):
    tasks = [Task("a", "verilog", "pa"), Task("b", "verilog", "pb"), Task("c", "verilog", "pc")]
    cands = get_generator("file", path=candidate_file).candidates(tasks, 2)
    assert [c.task_id for c in cands] == ["a", "a", "b"]
    assert cands[1].completion.strip() == "module TopModule(); endmodule"
    assert cands[1].metadata["extraction"]["method"] == "fenced"


def test_file_generator_matches_prompts_through_tasks(candidate_file):
    gen = get_generator("file", path=candidate_file, tasks=[Task("b", "verilog", "pb")])
    assert gen.generate(["pb", "pa"], 5) == [
        ["module TopModule(input x); endmodule"],
        ["module TopModule(); endmodule", "```verilog\nmodule TopModule(); endmodule\n```", "third"],
    ]


def test_file_generator_unknown_prompt_is_a_user_error(candidate_file):
    with pytest.raises(UserError, match="no candidate row matches"):
        get_generator("file", path=candidate_file).generate(["never seen"], 1)


def test_file_generator_missing_file_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="no such file"):
        get_generator("file", path=tmp_path / "missing.jsonl")


@pytest.fixture(scope="module")
def chat_tokenizer(generator):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(generator.model.config._name_or_path)
    tok.chat_template = (
        "{{ bos_token }}{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}<|end|>{% endfor %}"
        "{% if add_generation_prompt %}<|assistant|>{% endif %}"
    )
    return tok


def test_plain_tokenizer_prompt_ends_with_separator(generator):
    assert format_prompt("spec", generator.tokenizer) == "spec<|sep|>"
    assert add_special_tokens(generator.tokenizer)


def test_chat_template_prompt_uses_the_template(chat_tokenizer):
    text = format_prompt("spec", chat_tokenizer, system="be brief")
    assert text == "<|bos|><|system|>be brief<|end|><|user|>spec<|end|><|assistant|>"
    assert not add_special_tokens(chat_tokenizer)


def test_hf_generator_samples_from_the_chat_template_prompt(generator, chat_tokenizer):
    from codealign.generate.hf import HFGenerator

    chat = HFGenerator(generator.model, tokenizer=chat_tokenizer, system="be brief")
    templated = HFGenerator(generator.model, tokenizer=chat_tokenizer, raw_prompts=True)
    plain = HFGenerator(generator.model, tokenizer=generator.tokenizer)
    text = format_prompt(PROMPTS[0], chat_tokenizer, system="be brief")
    out = chat.generate(PROMPTS[:1], 1, temperature=0, max_new_tokens=12)
    assert out == templated.generate([text], 1, temperature=0, max_new_tokens=12)
    assert out != plain.generate(PROMPTS[:1], 1, temperature=0, max_new_tokens=12)


def test_chat_template_rows_are_conversational(chat_tokenizer):
    row = sft_row("spec", "code", chat_tokenizer)
    assert row == {"prompt": [{"role": "user", "content": "spec"}], "completion": [{"role": "assistant", "content": "code"}]}
    pref = preference_row("spec", "good", "bad", chat_tokenizer)
    assert pref["chosen"][0]["content"] == "good" and pref["rejected"][0]["content"] == "bad"


def test_plain_rows_carry_the_formatted_prompt(generator):
    assert sft_row("spec", "code", generator.tokenizer) == {"prompt": "spec<|sep|>", "completion": "code"}


@pytest.mark.parametrize("family", sorted(FIM_PRESETS))
def test_fim_psm_puts_prefix_and_suffix_between_sentinels(family):
    fmt = FIM_PRESETS[family]
    text = fmt.render("def f():\n    ", "\n    return x\n")
    assert text.index(fmt.prefix) < text.index("def f()") < text.index(fmt.suffix) < text.index("return x")
    assert text.rstrip().endswith(fmt.middle)


def test_fim_spm_puts_suffix_first():
    fmt = FIM_PRESETS["starcoder"]
    assert fmt.render("PRE", "SUF", mode="spm") == "<fim_prefix><fim_suffix>SUF<fim_middle>PRE"


def test_codellama_psm_layout():
    assert FIM_PRESETS["codellama"].render("a", "b") == "<PRE> a <SUF>b <MID>"


def test_fim_spm_on_family_without_it_is_a_user_error():
    with pytest.raises(UserError, match="no SPM layout"):
        FIM_PRESETS["deepseek-coder"].render("a", "b", mode="spm")


def test_fim_format_found_from_model_name_or_vocabulary(generator):
    assert fim_format("Qwen/Qwen2.5-Coder-1.5B").family == "qwen2.5-coder"
    assert fim_format("deepseek-ai/deepseek-coder-1.3b-base").family == "deepseek-coder"
    assert fim_format("some/local-model", generator.tokenizer).family == "starcoder"
    with pytest.raises(UserError, match="no FIM format"):
        fim_format("gpt2")


def test_fim_repo_context_uses_file_separators():
    ctx = FIM_PRESETS["qwen2.5-coder"].repo_context([("a.py", "x = 1")], repo="proj")
    assert ctx == "<|repo_name|>proj\n<|file_sep|>a.py\nx = 1\n"


def test_fim_prompt_samples_on_the_tiny_model(generator):
    gen = get_generator("hf", model=generator.model, tokenizer=generator.tokenizer, raw_prompts=True)
    prompt = fim_format("codealign-tiny").render("def add(a, b):\n    return ", "\n")
    out = gen.generate([prompt], 1, max_new_tokens=4)
    assert len(out[0]) == 1


def test_loaded_model_and_generator_share_one_loader(generator):
    model, tokenizer = load_model(generator.model.config._name_or_path, device="cpu")
    assert type(model) is type(generator.model) and tokenizer.sep_token == generator.tokenizer.sep_token


def test_generate_to_file_writes_candidates_atomically(candidate_file, tmp_path):
    from codealign.generate import generate_to_file
    from codealign.jsonl import read_jsonl

    tasks = [Task("a", "verilog", "pa"), Task("b", "verilog", "pb")]
    written = generate_to_file(get_generator("file", path=candidate_file), tasks, 1, tmp_path / "out.jsonl")
    assert [c.to_dict() for c in read_jsonl(tmp_path / "out.jsonl", Candidate.from_dict)] == [c.to_dict() for c in written]


def test_cli_generate_shows_progress_on_stderr_unless_quiet(generator, tmp_path, capsys):
    from codealign.cli import main

    write_jsonl(tmp_path / "tasks.jsonl", [Task("t0", "verilog", PROMPTS[0]), Task("t1", "verilog", PROMPTS[1])])
    argv = ["generate", "--tasks", str(tmp_path / "tasks.jsonl"), "--out", str(tmp_path / "c.jsonl"),
            "--model", generator.model.config._name_or_path, "--device", "cpu", "--max-new-tokens", "4"]
    assert main(argv) == 0
    assert "2/2" in capsys.readouterr().err
    assert main(argv + ["--quiet"]) == 0
    assert "2/2" not in capsys.readouterr().err


def test_cli_generate_writes_candidates_and_prints_one_json_object(generator, tmp_path, capsys):
    from codealign.cli import main
    from codealign.jsonl import read_jsonl

    write_jsonl(tmp_path / "tasks.jsonl", [Task("t0", "verilog", PROMPTS[0]), Task("t1", "verilog", PROMPTS[1])])
    code = main(["generate", "--json", "--tasks", str(tmp_path / "tasks.jsonl"), "--out", str(tmp_path / "c.jsonl"),
                 "--model", generator.model.config._name_or_path, "--device", "cpu", "--n", "2",
                 "--max-new-tokens", "6"])
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    cands = read_jsonl(tmp_path / "c.jsonl", Candidate.from_dict)
    assert summary["candidates"] == 4 == len(cands)
    assert all("extraction" in c.metadata for c in cands)


@pytest.mark.parametrize("quiet", [False, True])
def test_pipeline_sampling_shows_progress_unless_quiet(generator, tmp_path, capsys, quiet):
    from codealign.pipeline import Run, make_config

    run = Run(make_config("verilog", overrides=["device=cpu", "sample.batch_size=2", "sample.max_new_tokens=4"]), tmp_path, quiet=quiet)
    tasks = [Task("t0", "verilog", PROMPTS[0]), Task("t1", "verilog", PROMPTS[1])]
    assert len(run.sample(generator.model.config._name_or_path, tasks, 1, 0, 0.8)) == 2
    assert ("2/2" in capsys.readouterr().err) is not quiet
