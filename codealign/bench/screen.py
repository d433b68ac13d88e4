"""The test-strength screen for outside tasks (VerilogEval, RTLLM, CVDP, a user's): designs that no useful
test may pass are run through the task's own judge, and a task that passes one is *weak*.

:func:`screen` marks each weak task with ``task.metadata["weak"]`` = the names of the designs that passed
(the domain's ``screen_answers`` makes them, e.g. :mod:`codealign.domains.verilog.screen`); a weak task is
kept in benchmark scores, flagged, and :func:`training_tasks` leaves it out of training pools unless
``allow_weak``. A verdict other than PASS (a design that fails, does not compile or times out) clears the
design; a SANDBOX_ERROR leaves the task unmarked and is counted in ``unscreened`` (nothing was learnt).
Tasks of a domain without ``screen_answers``, and tasks without a reference, are not screened.
"""

from __future__ import annotations

from typing import Any, Sequence

from codealign.types import Candidate, Task, Verdict


def screen(domain: Any, tasks: Sequence[Task], **execute_options: Any) -> dict:
    """Run the screen's designs of every task through ``domain``'s judge (``execute_options``: those of
    :func:`codealign.execution.executor.execute`) and mark the weak tasks in place. Returns ``{"screened":
    N, "weak": {task_id: [designs that passed]}, "unscreened": [task ids whose screen did not run],
    "compile_errors": {design: [task ids that refused or could not build it]}}`` (a design that does not
    compile tells nothing about the test)."""
    from codealign.domains import get_domain
    from codealign.execution.executor import execute

    dom = get_domain(domain) if isinstance(domain, str) else domain
    answers = getattr(dom, "screen_answers", None)
    cands = [Candidate(t.task_id, text, candidate_id=f"{t.task_id}#screen:{name}", metadata={"screen": name})
             for t in tasks for name, text in (answers(t) if answers else {}).items()]
    results = execute(dom, tasks, cands, **{"progress": False, **execute_options}) if cands else []
    passed: dict[str, list[str]] = {}
    broken: set[str] = set()
    uncompiled: dict[str, list[str]] = {}
    for cand, result in zip(cands, results):
        if result.verdict is Verdict.PASS:
            passed.setdefault(cand.task_id, []).append(cand.metadata["screen"])
        elif result.verdict is Verdict.SANDBOX_ERROR:
            broken.add(cand.task_id)
        elif result.verdict is Verdict.COMPILE_ERROR:
            uncompiled.setdefault(cand.metadata["screen"], []).append(cand.task_id)
    for task in tasks:
        if task.task_id in passed:
            task.metadata["weak"] = passed[task.task_id]
    screened = {c.task_id for c in cands} - broken
    return {"screened": len(screened), "weak": {t.task_id: passed[t.task_id] for t in tasks if t.task_id in passed},
            "unscreened": sorted(broken), "compile_errors": uncompiled}


def training_tasks(tasks: Sequence[Task], allow_weak: bool = False) -> list[Task]:
    """The tasks a training pool may use: all with ``allow_weak``, else those the screen did not mark weak."""
    return list(tasks) if allow_weak else [t for t in tasks if not t.metadata.get("weak")]


def report(summary: dict, tasks: Sequence[Task], variant: str | None, domain: str | None, *,
           domain_options: dict, **execute_options: Any) -> list[str]:
    """One benchmark variant's part of the weak-task report: screen ``tasks`` when ``domain`` is given,
    add every weak task (screened now or marked before) to ``summary["weak"]`` (task id → designs that
    passed) and return the lines ``codealign bench`` prints about them (none for a domain without a screen)."""
    lines = []
    if domain is not None:
        from codealign.domains import get_domain

        found = screen(get_domain(domain, **domain_options), tasks, **execute_options)
        if found["screened"] or found["unscreened"]:
            summary["screened"] = summary.get("screened", 0) + found["screened"]
            summary.setdefault("unscreened", []).extend(found["unscreened"])
            broken = f"; {len(found['unscreened'])} not screened (sandbox error)" if found["unscreened"] else ""
            lines.append(f"{variant + ': ' if variant else ''}test-strength screen: {len(found['weak'])} of "
                         f"{found['screened']} tasks weak (a constant, all-X/Z or inverted design passes){broken}")
    weak = {t.task_id: t.metadata["weak"] for t in tasks if t.metadata.get("weak")}
    if weak:
        summary.setdefault("weak", {}).update(weak)
        lines += [f"  weak {tid}: {', '.join(designs)} passed" for tid, designs in weak.items()]
    return lines
