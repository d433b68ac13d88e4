"""Verdicts from a domain's judge, for one candidate or a batch: what the local executor's threads and the
Ray executor's remote tasks both run, in a module of its own so that neither executor imports the other for it."""

from __future__ import annotations

from typing import Sequence

from codealign.domains.base import Domain, sandbox_error
from codealign.sandbox.process import Backend
from codealign.types import Candidate, ExecResult, Task


def evaluate_one(domain: Domain, task: Task, candidate: Candidate, backend: Backend) -> ExecResult:
    """One verdict; a harness exception becomes SANDBOX_ERROR instead of escaping."""
    try:
        result = domain.evaluate(task, candidate, backend)
    except Exception as exc:  # the harness failed, not the candidate
        return sandbox_error(task, candidate, f"{type(exc).__name__}: {exc}")
    result.completion = candidate.completion
    return result


def evaluate_batch(domain: Domain, tasks: Sequence[Task], candidates: Sequence[Candidate],
                   backend: Backend) -> list[ExecResult | None]:
    """:meth:`Domain.evaluate_batch` for one unit of work (``tasks[k]`` is ``candidates[k]``'s task): a lone
    candidate is judged by :func:`evaluate_one`; None for each candidate the batch left to be judged alone, and
    for all of them when the harness failed or answered with the wrong number of results (a batch fault never
    becomes anyone's verdict)."""
    if len(candidates) == 1:
        return [evaluate_one(domain, tasks[0], candidates[0], backend)]
    try:
        results = list(domain.evaluate_batch(tasks, candidates, backend))
    except Exception:
        return [None] * len(candidates)
    if len(results) != len(candidates):
        return [None] * len(candidates)
    for result, candidate in zip(results, candidates):
        if result is not None:
            result.completion = candidate.completion
    return results
