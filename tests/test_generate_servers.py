"""The OpenAI-compatible generator against a small HTTP server written for the test, and vLLM where present."""

import json
import time

import pytest

from codealign.errors import UserError
from codealign.generate import get_generator
from codealign.types import Task
from openai_standin import StandIn as _Server


@pytest.fixture
def server(openai_server):
    return openai_server


def test_completions_endpoint_returns_n_samples_per_prompt_with_settings_sent(server):
    gen = get_generator("openai", model="m", base_url=server, api_key="k")
    out = gen.generate(["spec one", "spec two"], n=3, temperature=0.7, top_p=0.9, max_new_tokens=64, seed=5,
                       stop=["endmodule"])
    assert [len(row) for row in out] == [3, 3]
    path, body, auth = _Server.requests[0]
    assert path == "/v1/completions" and auth == "Bearer k"
    assert (body["n"], body["temperature"], body["top_p"], body["max_tokens"], body["seed"], body["stop"]) == (
        3, 0.7, 0.9, 64, 5, ["endmodule"])


def test_length_finish_is_reported_as_truncation(server):
    gen = get_generator("openai", model="m", base_url=server)
    samples = gen.sample(["p"], 3, __import__("codealign.generate", fromlist=["SamplingParams"]).SamplingParams())
    assert [s.finish_reason for s in samples[0]] == ["eos", "eos", "length"]


def test_chat_mode_sends_messages_and_candidates_are_extracted(server):
    gen = get_generator("openai", model="m", base_url=server, chat=True, system="be terse")
    cands = gen.candidates([Task("t1", "verilog", "write y")], n=2)
    _, body, _ = _Server.requests[0]
    assert body["messages"][0] == {"role": "system", "content": "be terse"}
    assert cands[0].completion.startswith("module TopModule") and "```" not in cands[0].completion


def test_client_error_is_a_one_line_user_error(server):
    gen = get_generator("openai", model="missing", base_url=server)
    with pytest.raises(UserError, match="HTTP 404"):
        gen.generate(["p"], n=1)


def test_chat_mode_returns_n_samples_and_sends_the_domains_stop_sequences(server, tmp_path):
    from codealign.generate.command import generate_candidates, make_generator
    from codealign.jsonl import write_jsonl

    write_jsonl(tmp_path / "tasks.jsonl", [Task("t1", "verilog", "write y"), Task("t2", "verilog", "write z")])
    gen = make_generator("openai", model="m", base_url=server, chat=True)
    summary = generate_candidates(tmp_path / "tasks.jsonl", tmp_path / "c.jsonl", gen, n=3)
    assert summary["candidates"] == 6
    assert all(path == "/v1/chat/completions" and body["n"] == 3 and body["stop"] == ["endmodule"]
               for path, body, _ in _Server.requests)


def test_rate_limits_and_server_errors_are_retried_until_an_answer(server):
    _Server.failures = [429, 503]
    gen = get_generator("openai", model="m", base_url=server, chat=True, retries=2, backoff_s=0.01)
    assert len(gen.generate(["p"], n=2)[0]) == 2
    assert len(_Server.requests) == 3


def test_persistent_server_error_is_one_line_after_the_retries(server):
    _Server.failures = [500] * 10
    gen = get_generator("openai", model="m", base_url=server, retries=2, backoff_s=0.01)
    with pytest.raises(UserError, match=r"no answer after 3 tries \(last: HTTP 500: status 500 second line\)") as err:
        gen.generate(["p"], n=1)
    assert "\n" not in str(err.value) and len(_Server.requests) == 3


def test_requests_in_flight_never_exceed_the_concurrency_limit(server):
    gen = get_generator("openai", model="slow", base_url=server, concurrency=2)
    assert len(gen.generate([f"p{i}" for i in range(8)], n=1)) == 8
    assert _Server.most_in_flight == 2


def test_cli_generate_speaks_chat_completions_with_a_system_prompt(server, tmp_path, capsys):
    from codealign.cli import main
    from codealign.jsonl import write_jsonl

    write_jsonl(tmp_path / "tasks.jsonl", [Task("t1", "verilog", "write y")])
    code = main(["generate", "--json", "--generator", "openai", "--chat", "--system", "be terse", "--model", "m",
                 "--base-url", server, "--tasks", str(tmp_path / "tasks.jsonl"), "--out", str(tmp_path / "c.jsonl"),
                 "--n", "2"])
    assert code == 0 and json.loads(capsys.readouterr().out)["candidates"] == 2
    path, body, _ = _Server.requests[0]
    assert path == "/v1/chat/completions" and body["messages"][0] == {"role": "system", "content": "be terse"}


def test_unreachable_server_is_a_user_error_after_retries():
    gen = get_generator("openai", model="m", base_url="http://127.0.0.1:9/v1", retries=1, timeout_s=1, backoff_s=0.01)
    with pytest.raises(UserError, match="no answer"):
        gen.generate(["p"], n=1)


def test_the_vllm_generator_without_vllm_is_a_one_line_user_error():
    import importlib.util

    if importlib.util.find_spec("vllm") is not None:
        pytest.skip("vLLM is installed here: the GPU test below covers it")
    with pytest.raises(UserError, match="needs vLLM"):
        get_generator("vllm", model="codealign-tiny")


def test_vllm_generator_samples_on_a_gpu():
    pytest.importorskip("vllm", reason="vLLM is GPU-only and not installed on CPU machines")
    import torch

    if not torch.cuda.is_available():
        pytest.skip("vLLM needs a GPU")
    from codealign.train.models import build_tiny_model

    path = build_tiny_model(__import__("tempfile").mkdtemp())
    gen = get_generator("vllm", model=str(path))
    assert len(gen.generate(["module"], n=2, max_new_tokens=8)[0]) == 2


# ------------------------------------------------------------------------------ issue 31: the second day

def test_without_a_model_name_the_one_model_the_server_lists_is_used(server):
    gen = get_generator("openai", base_url=server)
    gen.generate(["p"], n=1)
    assert gen.model_name == "stand-in" and _Server.requests[0][1]["model"] == "stand-in"


def test_without_a_model_name_a_server_listing_several_is_one_line_asking_for_model(server):
    _Server.served = ["a", "b"]
    with pytest.raises(UserError, match=r"lists 2 models \(a, b\); give --model NAME") as err:
        get_generator("openai", base_url=server)
    assert "\n" not in str(err.value)


def test_a_server_that_ignores_n_is_warned_about_and_asked_again_until_n(server, caplog):
    _Server.ignore_n = True
    gen = get_generator("openai", model="m", base_url=server)
    with caplog.at_level("WARNING"):
        rows = gen.generate(["p", "q"], n=3, temperature=0.7)
    assert [len(r) for r in rows] == [3, 3] and len(_Server.requests) == 6
    assert sum("ignores n" in r.getMessage() for r in caplog.records) == 1


def test_a_system_message_on_the_completions_endpoint_is_refused(server):
    with pytest.raises(UserError, match="--system needs --chat"):
        get_generator("openai", model="m", base_url=server, system="be terse")


def test_temperature_zero_with_several_samples_is_one_line_before_any_request(server):
    gen = get_generator("openai", model="m", base_url=server)
    with pytest.raises(UserError, match="temperature 0 is greedy decoding"):
        gen.candidates([Task("t", "verilog", "p")], n=4, temperature=0)
    assert _Server.requests == []


def test_lone_surrogates_in_an_answer_become_replacement_characters(server, tmp_path):
    from codealign.generate.command import generate_candidates
    from codealign.jsonl import read_jsonl, write_jsonl

    _Server.text = "module m; // \ud800 endmodule"
    write_jsonl(tmp_path / "t.jsonl", [Task("t", "verilog", "p")])
    gen = get_generator("openai", model="m", base_url=server)
    generate_candidates(tmp_path / "t.jsonl", tmp_path / "c.jsonl", gen, extract=False)
    assert "\ufffd" in read_jsonl(tmp_path / "c.jsonl")[0]["completion"]


@pytest.fixture
def five_tasks(tmp_path):
    from codealign.jsonl import write_jsonl

    write_jsonl(tmp_path / "tasks.jsonl", [Task(f"t{i}", "verilog", f"spec {i}") for i in range(5)])
    return tmp_path / "tasks.jsonl"


def test_an_http_failure_after_retries_keeps_the_finished_tasks_and_a_rerun_samples_only_the_rest(server, five_tasks):
    from codealign.generate.command import generate_candidates
    from codealign.jsonl import read_jsonl

    out = five_tasks.parent / "c.jsonl"
    gen = get_generator("openai", model="m", base_url=server, concurrency=1, retries=1, backoff_s=0.01)
    gen.chunk_prompts = 1
    _Server.failures = [None, None, 500, 500]  # two prompts answered, then the third fails on both tries
    with pytest.raises(UserError, match=r"HTTP 500.*\(2 of 5 tasks' candidates are kept in .*rerun the same command"):
        generate_candidates(five_tasks, out, gen, n=2, temperature=0.7)
    assert sorted({c["task_id"] for c in read_jsonl(out)}) == ["t0", "t1"]
    _Server.requests = []
    summary = generate_candidates(five_tasks, out, gen, n=2, temperature=0.7)
    assert summary["resumed_tasks"] == 2 and summary["candidates"] == 10
    assert sorted(b["prompt"][-1] for _, b, _ in _Server.requests) == ["2", "3", "4"]
    assert [c["task_id"] for c in read_jsonl(out)] == [f"t{i}" for i in range(5) for _ in range(2)]


def test_a_rerun_with_other_sampling_settings_is_refused_not_mixed(server, five_tasks):
    from codealign.generate.command import generate_candidates

    out = five_tasks.parent / "c.jsonl"
    generate_candidates(five_tasks, out, get_generator("openai", model="m", base_url=server), n=1, temperature=0.7)
    before = out.read_bytes()
    with pytest.raises(UserError, match=r"holds candidates of other sampling: model 'm' \(now 'other'\)"):
        generate_candidates(five_tasks, out, get_generator("openai", model="other", base_url=server), n=1,
                            temperature=0.7)
    assert out.read_bytes() == before


def test_a_torn_last_line_and_a_half_written_task_are_sampled_again(server, five_tasks):
    from codealign.generate.command import generate_candidates
    from codealign.jsonl import read_jsonl

    out = five_tasks.parent / "c.jsonl"
    gen = get_generator("openai", model="m", base_url=server)
    generate_candidates(five_tasks, out, gen, n=2, temperature=0.7)
    lines = out.read_bytes().splitlines(keepends=True)
    out.write_bytes(b"".join(lines[:7]) + lines[7][:20])  # t3 has one of two rows, t4 a torn one
    _Server.requests = []
    summary = generate_candidates(five_tasks, out, gen, n=2, temperature=0.7)
    assert summary["resumed_tasks"] == 3 and sorted(b["prompt"] for _, b, _ in _Server.requests) == ["spec 3",
                                                                                                     "spec 4"]
    assert [c["task_id"] for c in read_jsonl(out)] == [f"t{i}" for i in range(5) for _ in range(2)]


@pytest.mark.slow
def test_ctrl_c_ends_generate_within_two_seconds_and_loses_no_finished_task(five_tasks):
    import os
    import signal
    import subprocess
    import sys
    from pathlib import Path

    from codealign.jsonl import read_jsonl, write_jsonl

    write_jsonl(five_tasks, [Task(f"t{i}", "verilog", f"spec {i}") for i in range(40)])
    out = five_tasks.parent / "c.jsonl"
    here = Path(__file__).parent
    server = subprocess.Popen([sys.executable, str(here / "openai_standin.py"), "--port", "0", "--delay", "0.2"],
                              stdout=subprocess.PIPE, text=True)
    try:
        url = server.stdout.readline().split()[-1]
        proc = subprocess.Popen([sys.executable, "-m", "codealign.cli", "generate", "--quiet", "--generator",
                                 "openai", "--base-url", url, "--model", "m", "--concurrency", "2", "--tasks",
                                 str(five_tasks), "--out", str(out), "--temperature", "0.7"],
                                stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and (not out.exists() or len(out.read_bytes().splitlines()) < 8):
            time.sleep(0.05)
        assert len(out.read_bytes().splitlines()) >= 8, "no chunk was written"
        proc.send_signal(signal.SIGINT)
        t0 = time.monotonic()
        err = proc.communicate(timeout=30)[1]
        assert time.monotonic() - t0 < 2.0 and proc.returncode == 130, err
        kept = {c["task_id"] for c in read_jsonl(out)}
        assert f"{len(kept)} of 40 tasks' candidates are kept" in err and "Traceback" not in err
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=10)
