"""A user's second day with ``codealign bench`` (issue 31): a served model on every benchmark, pass@k at the
ks asked, a per-job timeout, missing answers counted as failures, and an exit code that gates every benchmark
(nothing run is a failure). The served model is the stand-in OpenAI-compatible server on 127.0.0.1."""

import pytest

from codealign import bench
from codealign.cli import main
from codealign.errors import UserError
from codealign.jsonl import write_jsonl
from codealign.types import Candidate
from openai_standin import StandIn


@pytest.fixture
def server(openai_server):
    return openai_server


def _demo_tasks(n):
    return bench.load_benchmark("verilogeval")[:n]


def test_candidates_for_one_of_four_problems_count_the_other_three_as_failures(tmp_path):
    _, verilogeval = bench.get_benchmark("verilogeval")
    task = _demo_tasks(1)[0]
    write_jsonl(tmp_path / "c.jsonl", [Candidate(task.task_id, verilogeval.oracle(task))])
    report = bench.run("verilogeval", candidates=tmp_path / "c.jsonl", limit=4)
    assert report.pass_at_1 == pytest.approx(0.25)
    assert report.to_dict()["missing"] == {"spec-to-rtl": 3}
    assert "3 of 4 problems have no candidate" in report.text and "counted as failures" in report.text


def test_missing_problems_fail_at_every_k_the_others_allow(tmp_path):
    _, verilogeval = bench.get_benchmark("verilogeval")
    task = _demo_tasks(1)[0]
    write_jsonl(tmp_path / "c.jsonl", [Candidate(task.task_id, verilogeval.oracle(task) + "\n" * i)
                                       for i in range(2)])
    section = bench.run("verilogeval", candidates=tmp_path / "c.jsonl", limit=2, ks=[1, 2]).to_dict()
    overall = section["tasks"]["spec-to-rtl"]["overall"]
    assert section["tasks"]["spec-to-rtl"]["ks"] == [1, 2] and overall == {"pass@1": 0.5, "pass@2": 0.5}


def test_every_benchmark_gates_smartbugs_on_its_macro_f1(shared_data):
    report = bench.run("smartbugs", data=shared_data / "smartbugs", empty=True, limit=2, fail_under=0.5)
    assert report.exit_code == 1 and report.failure == "macro_f1 0.0000 is below --fail-under 0.5"


def test_a_run_where_every_problem_is_skipped_exits_1_even_without_fail_under(shared_data):
    data = shared_data / "cvdp" / "cvdp_v1.0.4_example_nonagentic_code_generation_commercial_with_solutions.jsonl"
    report = bench.run("cvdp", data=data, oracle=True)
    assert report.exit_code == 1 and "nothing was run: every problem was skipped" in report.failure


def test_bench_samples_a_served_model_through_the_openai_generator(server):
    report = bench.run("verilogeval", model="stand-in", generator="openai", base_url=server, limit=2, ks=[1])
    section = report.to_dict()["tasks"]["spec-to-rtl"]
    assert section["candidates"] == 2 and report.pass_at_1 == 0.0
    assert len(StandIn.requests) == 2 and all(path == "/v1/completions" for path, _, _ in StandIn.requests)
    assert f"--generator openai --base-url {server} --model stand-in" in report.to_dict()["command"]


def test_cli_bench_takes_a_served_chat_model_with_a_key_and_k(server, capsys):
    code = main(["bench", "verilogeval", "--quiet", "--generator", "openai", "--base-url", server, "--chat",
                 "--api-key", "sk-test", "--model", "stand-in", "--n", "3", "--temperature", "0.7", "--k", "1,3",
                 "--limit", "1", "--no-cache"])
    assert code == 0
    path, body, auth = StandIn.requests[0]
    assert (path, body["n"], auth) == ("/v1/chat/completions", 3, "Bearer sk-test")
    assert capsys.readouterr().out.splitlines() == ["verilogeval: pass@1 0.0000 on 1 problems (model)"]
    assert main(["bench", "verilogeval", "--json", "--generator", "openai", "--base-url", server, "--model",
                 "stand-in", "--n", "3", "--temperature", "0.7", "--k", "1,3", "--limit", "1", "--no-cache"]) == 0
    assert '"pass@3": 0.0' in capsys.readouterr().out


def test_greedy_with_several_samples_is_one_line(capsys):
    assert main(["bench", "verilogeval", "--greedy", "--n", "2", "--model", "m"]) == 2
    assert "--greedy samples once at temperature 0" in capsys.readouterr().err


def test_server_options_without_the_openai_generator_are_refused():
    with pytest.raises(UserError, match="options of --generator openai"):
        bench.run("verilogeval", model="codealign-tiny", chat=True, limit=1)


def test_a_per_job_timeout_ends_a_design_that_never_finishes(tmp_path):
    task = _demo_tasks(1)[0]
    endless = "module TopModule(input clk, output reg q); initial forever #1 q = ~q; endmodule"
    write_jsonl(tmp_path / "c.jsonl", [Candidate(task.task_id, endless)])
    report = bench.run("verilogeval", candidates=tmp_path / "c.jsonl", limit=1, timeout=2)
    section = report.to_dict()["tasks"]["spec-to-rtl"]
    assert "--timeout 2" in report.to_dict()["command"] and section["seconds"] < 20
    assert report.pass_at_1 == 0.0


@pytest.mark.slow
def test_verilogeval_without_data_says_it_runs_the_four_problem_demo():
    report = bench.run("verilogeval", oracle=True, variant="spec-to-rtl", limit=1)
    assert "no --data given: running the bundled 4-problem demo set" in report.text


@pytest.mark.slow
def test_ladder_bench_runs_the_shared_fixture_records(shared_data):
    report = bench.run("ladder", data=shared_data / "ladder" / "ladder_fixtures.jsonl", oracle=True)
    assert report.to_dict()["tasks"]["test"]["passed"] == report.to_dict()["tasks"]["test"]["total"] == 17
    assert "has no problems of split train; skipped" in report.text


def test_ladder_bench_on_a_file_of_other_rows_says_what_a_row_needs(tmp_path):
    write_jsonl(tmp_path / "x.jsonl", [{"name": "not a task"}])
    with pytest.raises(UserError, match="a ladder task row is a Task .* or a fixture record \\(id, ldt, test\\)"):
        bench.run("ladder", data=tmp_path / "x.jsonl", oracle=True)


def test_k_on_a_benchmark_with_its_own_metrics_is_refused_not_ignored(shared_data):
    with pytest.raises(UserError, match="bench smartbugs reports its own metrics"):
        bench.run("smartbugs", data=shared_data / "smartbugs", empty=True, limit=1, ks=[1, 5])
