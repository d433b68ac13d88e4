"""Rough edges a new user hit (issue 15), each pinned by the property that was broken."""

import pytest

from codealign.types import Candidate, Task, Verdict

CONTRACT = "pragma solidity ^0.8.0;\ncontract A { uint x; function f() public { x = 1; } }\n"


@pytest.mark.parametrize("persistent", [True, False])
def test_an_oversized_solidity_candidate_is_a_clean_compile_error(persistent):
    from codealign.domains.solidity import SolidityDomain
    from codealign.execution.executor import execute

    task = Task("big", "solidity", "write a contract", assets={"kind": "analyze"})
    huge = CONTRACT + "// " + "x" * (10 << 20) + "\n"
    result = execute(SolidityDomain(persistent=persistent), [task], [Candidate("big", huge)], progress=False)[0]
    assert result.verdict is Verdict.COMPILE_ERROR
    reason = result.details["analysis"]["compile_error"]
    assert "over the 1 MiB source cap" in reason and "\n" not in reason and "Traceback" not in str(result.details)


def _flip_inputs(n: int, flipped: int):
    from codealign.types import ExecResult, Pair

    pairs = [Pair("p", "good", "bad", task_id=f"t{i}", metadata={"chosen_id": f"c{i}", "rejected_id": f"r{i}"})
             for i in range(n)]
    second = [ExecResult(f"t{i}", f"c{i}", Verdict.FAIL if i < flipped else Verdict.PASS, 0.0) for i in range(n)]
    second += [ExecResult(f"t{i}", f"r{i}", Verdict.PASS if i < flipped else Verdict.FAIL, 0.0) for i in range(n)]
    return pairs, second


def test_a_flip_rate_from_two_pairs_warns_about_its_sample_size():
    from codealign.pairs.make import flip_summary
    from codealign.pairs.weights import estimate_flip_rate

    summary = flip_summary(estimate_flip_rate(*_flip_inputs(2, 0)))
    assert summary["compared"] == 2 and "only 2 compared pair(s)" in summary["warning"]
    assert summary["ci95"][0] == 0.0 and summary["ci95"][1] > 0.3


def test_a_flip_rate_from_enough_pairs_has_no_warning():
    from codealign.pairs.weights import MIN_FLIP_PAIRS, estimate_flip_rate

    estimate = estimate_flip_rate(*_flip_inputs(MIN_FLIP_PAIRS, 3))
    low, high = estimate.interval
    assert estimate.warning == "" and low < estimate.rate < high


@pytest.mark.parametrize("strategy", ["execution", "ranked"])
def test_samples_refused_for_size_or_emptiness_never_become_rejected_samples(strategy):
    from codealign.domains.verilog import VerilogDomain, reference_solution
    from codealign.domains.verilog.tasks import bundled_tasks
    from codealign.execution.executor import execute
    from codealign.pairs import build_pairs_report

    task = bundled_tasks("train")[0]
    broken = "module TopModule(input a, output y); assign y = ; endmodule"
    oversized = "module TopModule(); endmodule\n// " + "x" * 4096 + "\n"
    cands = [Candidate(task.task_id, reference_solution(task)), Candidate(task.task_id, ""),
             Candidate(task.task_id, oversized), Candidate(task.task_id, broken)]
    results = execute(VerilogDomain(max_candidate_bytes=2048), [task], cands, progress=False)
    assert [r.details.get("failure") for r in results[1:3]] == ["empty", "too_large"]
    pairs, report = build_pairs_report(results, [task], strategy)
    assert {p.rejected for p in pairs} == {broken} and report["refused_unrun_dropped"] == 2
