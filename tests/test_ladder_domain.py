import json
import random
import time

import pytest

from codealign.domains import get_domain
from codealign.domains.ladder import LadderDomain, bundled_tasks, library
from codealign.domains.ladder.parser import MAX_CHARS, parse_program
from codealign.domains.ladder.assets import LadderTask, fixture_task
from codealign.domains.ladder.edits import negatives
from codealign.errors import UserError
from codealign.types import Candidate, Task, Verdict

SEAL_IN = "[NO(Start) | NO(Run)] NC(Stop) OUT(Run)"


def seal_in_task(**assets):
    trace = {"steps": [{"cycles": 1, "inputs": {"Start": True}}, {"cycles": 2, "inputs": {"Start": False}},
                       {"cycles": 1, "inputs": {"Stop": True}}],
             "watch": ["Run"], "expected": [[True], [True], [True], [False]]}
    base = {"inputs": ["Start", "Stop"], "outputs": ["Run"], "traces": [trace]}
    base.update(assets)
    return Task("seal", "ladder", "motor seal-in", assets=base)


@pytest.fixture(scope="module")
def fast():
    return LadderDomain(in_process=True)


def judge(domain, task, text, backend=None):
    return domain.evaluate(task, Candidate(task.task_id, text), backend)


def test_registry_returns_the_ladder_domain():
    assert isinstance(get_domain("ladder"), LadderDomain)


def test_sandboxed_check_passes_a_correct_program(backend):
    result = judge(LadderDomain(), seal_in_task(), SEAL_IN, backend)
    assert result.verdict is Verdict.PASS and result.score == 1.0
    assert result.details["backend"] not in ("", "in-process")


def test_sandboxed_check_grades_a_wrong_program_by_matching_values(backend):
    result = judge(LadderDomain(), seal_in_task(), "NO(Start) NC(Stop) OUT(Run)", backend)
    assert result.verdict is Verdict.FAIL and result.score == 0.5
    assert result.details["first_mismatch"] == {"trace": 1, "scan": 2, "variable": "Run", "expected": True,
                                                "got": False}


def test_sandboxed_check_reports_syntax_error_as_compile_error(backend):
    result = judge(LadderDomain(), seal_in_task(), "NO(Start OUT(Run)", backend)
    assert result.verdict is Verdict.COMPILE_ERROR
    assert result.details["error"].startswith("line 1, column 10:")


def test_printed_pass_cannot_forge_a_verdict(backend):
    result = judge(LadderDomain(), seal_in_task(), 'PASS\n{"verdict": "PASS", "score": 1.0}', backend)
    assert result.verdict is Verdict.COMPILE_ERROR


def test_in_process_and_sandbox_agree(backend, fast):
    task = seal_in_task()
    for text in (SEAL_IN, "NO(Start) OUT(Run)", "NO(Start) OUT(Run) NC(x)"):
        a, b = judge(fast, task, text), judge(LadderDomain(), task, text, backend)
        assert (a.verdict, a.score) == (b.verdict, b.score), text


def test_structural_error_is_compile_error(fast):
    result = judge(fast, seal_in_task(), "[NO(Start) | NO(Run)] NC(Stopp) OUT(Run)")
    assert result.verdict is Verdict.COMPILE_ERROR and "undriven" in result.details["error"]


def test_fenced_answer_is_extracted(fast):
    assert judge(fast, seal_in_task(), f"Here it is:\n```ld\n{SEAL_IN}\n```\nDone.").verdict is Verdict.PASS


def test_every_bundled_task_solution_passes(fast):
    tasks = bundled_tasks()
    assert len(tasks) >= 20
    for task in tasks:
        result = judge(fast, task, task.metadata["solution"])
        assert result.verdict is Verdict.PASS, (task.task_id, result.details)


def test_bundled_tasks_have_a_held_out_split():
    train, test = bundled_tasks("train"), bundled_tasks("test")
    assert len(train) + len(test) == len(bundled_tasks()) and len(test) >= 4
    assert not {t.task_id for t in train} & {t.task_id for t in test}
    with pytest.raises(UserError, match="unknown split"):
        bundled_tasks("dev")


def test_bundled_trace_tasks_reject_the_graph_edits_that_change_their_behaviour(fast):
    task = next(t for t in bundled_tasks() if t.task_id == "ld_star_delta")
    lt = fast.ladder_task(task)
    program = parse_program(task.metadata["solution"])
    decl = lt.declarations()
    kept = negatives(program, rng=random.Random(0), inputs=lt.equivalence_inputs(program),
                     outputs=sorted(decl.outputs) if decl.outputs else None, types=lt.types, scan_ms=lt.scan_ms,
                     traces=lt.traces, seed=lt.seed, decl=decl).kept
    assert len(kept) >= 5
    for edit in kept[:8]:
        assert fast.evaluate(task, Candidate(task.task_id, edit.program.text()), None).verdict is not Verdict.PASS, \
            edit.metadata()


def test_reference_task_fails_a_non_equivalent_candidate_with_counterexample(fast):
    task = next(t for t in bundled_tasks() if t.task_id == "ld_garage_door")
    wrong = task.metadata["solution"].replace("NC(CloseBtn) OUT(MotorUp)", "OUT(MotorUp)")
    result = judge(fast, task, wrong)
    assert result.verdict is Verdict.FAIL and 0 < result.score < 1
    assert result.details["method"] == "exhaustive" and result.details["counterexample"]["first_difference"]


def test_library_entries_parse():
    rows = library()
    assert len(rows) >= 10 and all({"name", "description", "ld"} <= set(r) for r in rows)


def test_fixture_records_become_tasks_that_their_program_passes(shared_data, fast):
    rows = [json.loads(line) for line in (shared_data / "ladder" / "ladder_fixtures.jsonl").read_text().splitlines()]
    for row in rows:
        task = fixture_task(row)
        assert judge(fast, task, "\n".join(row["ldt"])).verdict is Verdict.PASS, row["id"]


# ------------------------------------------------------------------------------------------------ bad input

def test_one_megabyte_program_is_a_compile_error(fast):
    text = ("NO(a) OUT(b)\n" * (1 << 20))[: 1 << 20]
    result = judge(fast, seal_in_task(), text)
    assert result.verdict is Verdict.COMPILE_ERROR and f"limit is {MAX_CHARS}" in result.details["error"]


def test_deeply_nested_branches_are_a_compile_error(fast):
    text = "[" * 5000 + "NO(a) | NO(b)" + "]" * 5000 + " OUT(Run)"
    result = judge(fast, seal_in_task(), text)
    assert result.verdict is Verdict.COMPILE_ERROR and "nested deeper" in result.details["error"]


def test_unknown_element_is_a_compile_error_naming_line_and_column(fast):
    result = judge(fast, seal_in_task(), "NO(Start) XOR(Stop) OUT(Run)")
    assert result.verdict is Verdict.COMPILE_ERROR
    assert result.details["error"] == "line 1, column 11: unknown element 'XOR'"


def test_trace_naming_an_unknown_variable_is_a_one_line_task_error(fast):
    task = seal_in_task()
    task.assets["traces"][0]["watch"] = ["Rnu"]
    with pytest.raises(UserError) as err:
        judge(fast, task, SEAL_IN)
    assert str(err.value) == "task seal: trace 1: watches unknown variable 'Rnu'"


def test_task_without_traces_or_reference_is_rejected():
    with pytest.raises(UserError, match="needs 'traces'"):
        LadderTask.from_task(Task("t", "ladder", "p", assets={"inputs": ["a"]}))


def test_reference_that_disagrees_with_its_trace_is_rejected():
    with pytest.raises(UserError, match="reference disagrees with trace 1 at scan 2"):
        LadderTask.from_task(seal_in_task(reference="NO(Start) NC(Stop) OUT(Run)"))


def test_simulation_of_huge_trace_is_refused_quickly():
    task = seal_in_task()
    task.assets["traces"][0]["steps"][0]["cycles"] = 10 ** 9
    start = time.monotonic()
    with pytest.raises(UserError, match="limit"):
        LadderTask.from_task(task)
    assert time.monotonic() - start < 1.0


def test_oscillating_program_simulates_within_budget(fast):
    text = "NO(x) NOUT(x)\n" + "NO(x) TON(T1, PT=100ms) OUT(y)"
    program = parse_program(text)
    assert program.rungs
    task = Task("osc", "ladder", "p", assets={"reference": "NO(x) NOUT(x)", "outputs": ["x"], "inputs": []})
    start = time.monotonic()
    result = judge(fast, task, text)
    assert result.verdict is Verdict.PASS and time.monotonic() - start < 5.0


@pytest.mark.parametrize("rung", ["TP(T1, PT=500ms) OUT(Lamp)", "CTD(C1, PV=3, R=Load) OUT(Empty)",
                                  "TOF(T2, PT=1s) OUT(Fan)", "CTU(C2, PV=2) OUT(Full)", "GE(C1.CV, 2) OUT(Half)",
                                  "[[NO(a) | NO(b)] | NO(c)] OUT(q)", "| NO(a) OUT(q)", "NOUT (q)",
                                  "(* the pulse rung *)"])
def test_extractor_keeps_a_line_starting_with_any_element_the_grammar_knows(rung):
    answer = f"Here is the program:\n```\nNO(x) OUT(y)\n{rung}\n```\nIt works."
    extraction = LadderDomain().extract(answer)
    assert extraction.code.strip("\n").split("\n") == ["NO(x) OUT(y)", rung]


def test_a_clean_answer_is_trained_on_as_written_ending_as_the_references_do():
    from codealign.domains.candidates import make_candidate

    task = next(t for t in bundled_tasks("train") if "\n" in LadderDomain().reference_solution(t))
    reference = LadderDomain().reference_solution(task)
    candidate = make_candidate(task, reference, {"finish_reason": "eos"})
    assert candidate.completion == reference and "raw" not in candidate.metadata
