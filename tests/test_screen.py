"""The test-strength screen: junk designs made from a task's port list run through the real judge; a task
one of them passes is weak, listed by ``bench --oracle`` and left out of training pools unless allowed."""

import json

import pytest

from codealign import bench
from codealign.bench.screen import screen, training_tasks
from codealign.domains.verilog.cvdp import load_cvdp
from codealign.domains.verilog.rtllm import load_rtllm
from codealign.domains.verilog.screen import DESIGNS, screen_answers
from codealign.types import Task

WEAK, STRONG = "fixed_point_adder", "adder_8bit"  # stimulus all X (``$random % (1 << 32)``); a plain adder


@pytest.fixture(scope="module")
def rtllm(shared_data):
    return {t.task_id: t for t in load_rtllm(shared_data / "rtllm" / "problems.jsonl")}


@pytest.mark.slow
def test_screen_marks_a_weak_task_with_the_designs_that_passed_and_not_a_strong_one(rtllm):
    tasks = [rtllm[WEAK], rtllm[STRONG]]
    found = screen("verilog", tasks, backend="bwrap")
    assert found == {"screened": 2, "weak": {WEAK: ["all-X", "inverted-reference"]}, "unscreened": [],
                     "compile_errors": {}}
    assert tasks[0].metadata["weak"] == ["all-X", "inverted-reference"] and "weak" not in tasks[1].metadata


@pytest.mark.slow
def test_cvdp_lfsr_example_is_weak_because_constant_zero_passes(shared_data):
    task = load_cvdp(shared_data / "cvdp" /
                     "cvdp_v1.0.4_example_nonagentic_code_generation_no_commercial_with_solutions.jsonl")[0]
    assert screen("verilog", [task], backend="bwrap")["weak"] == {task.task_id: ["constant-0"]}


def test_every_screen_design_drives_the_reference_interface(rtllm):
    answers = screen_answers(rtllm[WEAK])
    assert list(answers) == list(DESIGNS)
    assert "assign c = 'x;" in answers["all-X"]
    assert "fixed_point_adder_screen_ref #(.Q(Q), .N(N)) screen_inner(.a(a), .b(b), .c(c_screen_n));" \
        in answers["inverted-reference"]


def test_a_task_without_a_reference_is_not_screened():
    assert screen_answers(Task("judge-only", "verilog", "p", assets={"format": "rtllm", "test": "module tb; endmodule",
                                                                     "top_module": "m"})) == {}


def test_training_pools_leave_weak_tasks_out_unless_allowed():
    tasks = [Task("a", "verilog", "p", metadata={"weak": ["constant-0"]}), Task("b", "verilog", "p")]
    assert [t.task_id for t in training_tasks(tasks)] == ["b"]
    assert [t.task_id for t in training_tasks(tasks, allow_weak=True)] == ["a", "b"]


@pytest.mark.slow
def test_bench_oracle_lists_the_weak_tasks_and_keeps_them_scored(shared_data, tmp_path):
    rows = [json.loads(line) for line in (shared_data / "rtllm" / "problems.jsonl").read_text().splitlines()]
    data = tmp_path / "two.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows if r["task_id"] in (WEAK, STRONG)))
    report = bench.run("rtllm", data=data, oracle=True, backend="bwrap")
    assert report.summary["report"]["total"] == 2
    assert report.summary["weak"] == {WEAK: ["all-X", "inverted-reference"]} and report.summary["screened"] == 2
    assert f"weak {WEAK}: all-X, inverted-reference passed" in report.text
    assert "weak" not in bench.run("rtllm", data=data, oracle=True, backend="bwrap", screen=False).summary


@pytest.mark.slow
@pytest.mark.parametrize("allow_weak", [False, True])
def test_a_run_leaves_weak_given_tasks_out_of_training_unless_allowed(rtllm, tmp_path, allow_weak):
    from codealign.jsonl import read_jsonl, write_jsonl
    from codealign.pipeline import make_config, run_pipeline

    given = tmp_path / "given.jsonl"
    write_jsonl(given, [rtllm[WEAK], rtllm[STRONG]])
    config = make_config("verilog", overrides=[f"tasks={given}", f"allow_weak={str(allow_weak).lower()}",
                                               "control=none"])
    info = run_pipeline(config, tmp_path / "run", stages=["tasks"], backend="bwrap", quiet=True)["tasks"]
    kept = [t.task_id for t in read_jsonl(tmp_path / "run" / "tasks.jsonl", Task.from_dict)]
    assert kept == ([WEAK, STRONG] if allow_weak else [STRONG]) and info["weak_tasks"] == [WEAK]
