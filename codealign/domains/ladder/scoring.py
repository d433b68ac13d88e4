"""Scoring one candidate program against a ladder task: the function the sandboxed checker runs.

Order: extract the program text (a fenced code block if the answer has one), parse (syntax error →
COMPILE_ERROR), structural and type checks (any ``error`` finding → COMPILE_ERROR), then behaviour:

* with a reference (every procedural family task has one): the exhaustive search of the product machine
  where the state space allows, the task's traces, :data:`DRAWN_TRACES` random traces of :data:`DRAWN_STEPS`
  steps drawn from ``seed`` — the per-job seed the harness derives from its secret key
  (:func:`codealign.domains.draws.draw_seed`), so a candidate cannot know the traces it will meet — each
  holding its inputs long enough for every timer to expire, and a covering trace to every reachable state of
  the reference those traces missed (where its states can be enumerated). Each trace is a draw; ``score`` is
  the fraction of draws passed and PASS needs every draw and no search counterexample;
* without one: the task's traces; ``score`` is the fraction of (scan, watched variable) values that match and
  PASS needs all.

A program too large to simulate within the work budget is a RUNTIME_ERROR, refused before any simulation.
Never raises for a bad candidate; raises UserError only for a bad task.
"""

from __future__ import annotations

import re
from typing import Any

from codealign.domains.ladder.checks import check_program, errors
from codealign.domains.ladder.equivalence import compare_programs
from codealign.domains.ladder.parser import parse_program
from codealign.domains.ladder.simulator import BudgetError, compare_rows
from codealign.domains.ladder.assets import LadderTask
from codealign.errors import UserError

_FENCE = re.compile(r"```[^\n`]*\n(.*?)(?:```|\Z)", re.DOTALL)
_MAX_REPORTED = 20
DRAWN_TRACES = 32
DRAWN_STEPS = 24
DRAW_PURPOSE = "ladder-traces"
"""The purpose tag of the ladder judge's per-job seed."""


def extract_program(text: str) -> str:
    """The program in a model's answer: the first fenced code block if there is one, else the whole text,
    without surrounding blank lines."""
    m = _FENCE.search(text)
    body = m.group(1) if m else text
    return body.strip("\n").rstrip()


def score_candidate(task: LadderTask, completion: str, *, seed: int) -> dict[str, Any]:
    """``{"verdict": ..., "score": ..., "details": {...}}`` for one candidate (plain data, JSON-able);
    ``seed`` draws the random traces."""
    source = extract_program(completion)
    try:
        program = parse_program(source)
    except UserError as exc:
        return {"verdict": "COMPILE_ERROR", "score": 0.0, "details": {"stage": "parse", "error": str(exc)}}
    issues = check_program(program, task.declarations())
    details: dict[str, Any] = {"rungs": len(program.rungs), "elements": sum(1 for _ in program.elements()),
                               "issues": [i.to_dict() for i in issues[:_MAX_REPORTED]]}
    found = errors(issues)
    if found:
        details.update(stage="check", error=str(found[0]), errors=len(found))
        return {"verdict": "COMPILE_ERROR", "score": 0.0, "details": details}
    try:
        if task.reference is not None:
            return _by_reference(task, program, details, seed)
        return _by_traces(task, program, details)
    except BudgetError as exc:
        details.update(stage="simulate", error=str(exc))
        return {"verdict": "RUNTIME_ERROR", "score": 0.0, "details": details}


def _by_traces(task: LadderTask, program, details: dict[str, Any]) -> dict[str, Any]:
    sim = task.simulator(program)
    matched = total = 0
    for index, trace in enumerate(task.traces, 1):
        m, t, bad = compare_rows(trace.expected, sim.run(trace))
        matched, total = matched + m, total + t
        if bad and "first_mismatch" not in details:
            scan, col, want, got = bad[0]
            details["first_mismatch"] = {"trace": index, "scan": scan + 1, "variable": trace.watch[col],
                                         "expected": want, "got": got}
    details.update(stage="traces", matched=matched, total=total)
    passed = total > 0 and matched == total
    return {"verdict": "PASS" if passed else "FAIL", "score": matched / total if total else 0.0, "details": details}


def _by_reference(task: LadderTask, program, details: dict[str, Any], seed: int) -> dict[str, Any]:
    eq = compare_programs(task.reference, program, inputs=task.equivalence_inputs(program),
                          outputs=sorted(task.declarations().outputs or ()), types=task.types,
                          scan_ms=task.scan_ms, traces=task.traces, seed=seed, random_count=DRAWN_TRACES,
                          random_steps=DRAWN_STEPS, cover=True)
    details.update(stage="equivalence", **eq.to_dict())
    return {"verdict": "PASS" if eq.equivalent else "FAIL", "score": eq.score, "details": details}
