"""One verdict from a domain's judge: what the local executor's threads and the Ray executor's remote tasks both
run, in a module of its own so that neither executor imports the other for it."""

from __future__ import annotations

from codealign.domains.base import Domain, sandbox_error
from codealign.sandbox.process import ProcessBackend
from codealign.types import Candidate, ExecResult, Task


def evaluate_one(domain: Domain, task: Task, candidate: Candidate, backend: ProcessBackend) -> ExecResult:
    """One verdict; a harness exception becomes SANDBOX_ERROR instead of escaping."""
    try:
        result = domain.evaluate(task, candidate, backend)
    except Exception as exc:  # the harness failed, not the candidate
        return sandbox_error(task, candidate, f"{type(exc).__name__}: {exc}")
    result.completion = candidate.completion
    return result
