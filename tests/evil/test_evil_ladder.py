"""Hostile ladder programs (issue 28), judged through the sandbox under bwrap and docker.

Each attack passed b2987a3's judge, which checked a family task on its fixed traces alone: programs that run a
free-running timer as a scan clock (ignoring the inputs, or with the current inputs) and replay the traces'
expected outputs, and two graph edits of the reference that the traces miss. The judge now compares with the
task's reference by the exhaustive search and on traces drawn per job from a seed the candidate cannot know.
``benchmarks/ladder_attacks.py`` runs the same classes over every bundled task.
"""

import pytest

import codealign
from codealign.domains.ladder import LadderDomain
from codealign.domains.ladder.parser import MAX_ELEMENTS
from codealign.domains.ladder.tasks import bundled_tasks
from codealign.types import Candidate, Verdict

SEAL_IN = "ld-seal_in-names0-NO-stop-permit-p0"
"""Start/Stop/Ready -> Motor: ``[NO(Start) | NO(Motor)] NC(Stop) NO(Ready) OUT(Motor)``."""

CLOCK_ONLY = ("TON(Clk, PT=1300ms)\n[EQ(Clk.ET, 100) | EQ(Clk.ET, 200) | EQ(Clk.ET, 300) | EQ(Clk.ET, 700) | "
              "EQ(Clk.ET, 800) | EQ(Clk.ET, 1100) | EQ(Clk.ET, 1200)] OUT(Motor)")
CLOCK_AND_INPUTS = (
    "TON(Clk, PT=1300ms)\n[EQ(Clk.ET, 100) NO(Start) NC(Stop) NO(Ready) | EQ(Clk.ET, 200) NC(Start) NC(Stop) NO(Ready) "
    "| EQ(Clk.ET, 300) NC(Start) NC(Stop) NO(Ready) | EQ(Clk.ET, 700) NO(Start) NC(Stop) NO(Ready) | EQ(Clk.ET, 800) "
    "NC(Start) NC(Stop) NO(Ready) | EQ(Clk.ET, 1100) NO(Start) NC(Stop) NO(Ready) | EQ(Clk.ET, 1200) NC(Start) "
    "NC(Stop) NO(Ready)] OUT(Motor)")

TWO_EDITS = {
    "two_hand_runs_on_one_hand": ("ld-two_hand-names0-held-guard-p0",
                                  "[NO(Left) | NC(Press)] NO(Right) NO(Guard) OUT(Press)"),
    "stop_overridden": ("ld-interlock-names0-latched-first-NO-p0",
                        "[NO(FwdBtn) | NO(Stop) | NO(Fwd)] [NC(Stop) | NO(FwdBtn)] NC(Rev) OUT(Fwd)\n"
                        "[NO(RevBtn) | NO(Rev)] NC(Stop) NC(Fwd) OUT(Rev)"),
    "permissive_bypassed": (SEAL_IN, "[NO(Start) | NO(Stop) | NO(Motor)] NC(Stop) [NO(Ready) | NO(Start)] OUT(Motor)"),
}


def family_task(task_id):
    return next(t for split in ("train", "heldout") for t in bundled_tasks(split) if t.task_id == task_id)


def judge(task, text, backend):
    [result] = codealign.execute([task], [Candidate(task.task_id, text)], domain=LadderDomain(), backend=backend,
                                 progress=False, cache=None)
    return result


def test_scan_clock_that_ignores_every_input_fails(hiding_backend):
    result = judge(family_task(SEAL_IN), CLOCK_ONLY, hiding_backend)
    assert result.verdict is Verdict.FAIL, result.details


def test_scan_clock_with_the_current_inputs_fails(hiding_backend):
    result = judge(family_task(SEAL_IN), CLOCK_AND_INPUTS, hiding_backend)
    assert result.verdict is Verdict.FAIL, result.details


@pytest.mark.parametrize("attack", sorted(TWO_EDITS))
def test_two_graph_edits_of_the_reference_fail(hiding_backend, attack):
    task_id, text = TWO_EDITS[attack]
    result = judge(family_task(task_id), text, hiding_backend)
    assert result.verdict is Verdict.FAIL, result.details


def test_program_of_five_thousand_coils_is_refused_not_timed_out(hiding_backend):
    text = "NO(Start) " + " ".join(f"OUT(q{i})" for i in range(MAX_ELEMENTS - 1))
    result = judge(family_task(SEAL_IN), text, hiding_backend)
    assert result.verdict is Verdict.RUNTIME_ERROR and "budget" in result.details["error"], result.details


def test_the_references_of_the_attacked_tasks_pass(hiding_backend):
    for task_id in sorted({SEAL_IN} | {t for t, _ in TWO_EDITS.values()}):
        task = family_task(task_id)
        result = judge(task, task.metadata["solution"], hiding_backend)
        assert result.verdict is Verdict.PASS and result.score == 1.0, (task_id, result.details)


LATE_STATE = {
    "counter_of_thirty_thousand_scans": "NC(Tick) OUT(Tick)\nNO(Tick) CTU(Scans, PV=30000)\n"
                                        "[NO(Start) | NO(Motor) | NO(Scans.Q)] NC(Stop) NO(Ready) OUT(Motor)",
    "timer_of_one_hour": "NO(Ready) TON(Late, PT=3600s)\n[NO(Start) | NO(Motor) | NO(Late.Q)] NC(Stop) NO(Ready) OUT(Motor)",
}


@pytest.mark.parametrize("attack", sorted(LATE_STATE))
def test_difference_hidden_past_the_search_budget_fails(hiding_backend, attack):
    result = judge(family_task(SEAL_IN), LATE_STATE[attack], hiding_backend)
    assert result.verdict is Verdict.FAIL and result.score < 1.0, result.details
    assert result.details["method"] == "candidate-over-budget", result.details
