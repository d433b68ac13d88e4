"""The interface every domain implements: how to turn (task, candidate) into a sandboxed job and how to
read the job's outcome back as an :class:`~codealign.types.ExecResult`."""

from __future__ import annotations

import abc
import functools
import random
from typing import TYPE_CHECKING

from codealign.sandbox.job import Job, JobResult, JobStatus
from codealign.sandbox.limits import Limits
from codealign.types import Candidate, ExecResult, Task, Verdict

if TYPE_CHECKING:
    from codealign.sandbox.process import ProcessBackend


class Domain(abc.ABC):
    """A kind of code and its checker.

    Subclasses set ``name``, ``harness_version`` (bump it whenever judging changes: it is part of the cache
    key) and ``default_limits``, and implement :meth:`prepare` and :meth:`judge`. A domain never raises
    because a candidate failed; it raises only for harness faults, which the executor turns into
    SANDBOX_ERROR.
    """

    name: str = ""
    harness_version: str = "1"
    default_limits: Limits = Limits()

    @abc.abstractmethod
    def prepare(self, task: Task, candidate: Candidate) -> Job | ExecResult:
        """The job that judges ``candidate``, or an ExecResult when the verdict is known without running
        anything (e.g. no code could be extracted)."""

    @abc.abstractmethod
    def judge(self, task: Task, candidate: Candidate, job: Job, result: JobResult) -> ExecResult:
        """The verdict from the job's outcome. Must trust only what the candidate cannot forge."""

    def toolchain_version(self) -> str:
        """Versions of the external tools the verdict depends on (part of the cache key)."""
        return ""

    def check_toolchain(self) -> str | None:
        """None when the toolchain is usable, else a one-line reason (reported as SANDBOX_ERROR)."""
        return None

    def normalize(self, completion: str) -> str:
        """The candidate text as the cache sees it. Identity unless the domain proves a normalisation
        changes no verdict."""
        return completion

    def limits_for(self, task: Task) -> Limits:
        return self.default_limits.merged(task.limits)

    def evaluate(self, task: Task, candidate: Candidate, backend: "ProcessBackend") -> ExecResult:
        """Judge one candidate: prepare, run in ``backend``, judge. Domains with persistent workers
        override this."""
        problem = self.check_toolchain()
        if problem:
            return sandbox_error(task, candidate, problem)
        prepared = self.prepare(task, candidate)
        if isinstance(prepared, ExecResult):
            return prepared
        outcome = backend.run(prepared)
        if outcome.status is JobStatus.SANDBOX_ERROR:
            return sandbox_error(task, candidate, outcome.error or "sandbox failed", outcome)
        result = self.judge(task, candidate, prepared, outcome)
        result.details.setdefault("backend", outcome.backend)
        return result

    def demo_tasks(self, split: str = "train") -> list[Task]:
        """Bundled tasks of this domain (``train`` or ``heldout``) for ``codealign run`` on embedded defaults."""
        from codealign.errors import UserError

        raise UserError(f"domain {self.name!r} ships no bundled tasks; pass --tasks PATH")

    def reference_solution(self, task: Task) -> str | None:
        """The task's known-good answer in the form a model should write it (SFT warm-up data), or None."""
        return None

    def selftest_cases(self) -> list[tuple[Task, Candidate, Verdict]]:
        """Tiny (task, candidate, expected verdict) cases for ``codealign doctor``'s live check: at least one
        known-good and one known-bad. Empty when the domain offers none."""
        return []

    def tokenizer_corpus(self) -> list[str]:
        """Texts of this language for the offline tiny model's tokenizer, in a fixed order: by default every
        file of the domain package's ``resources/tokenizer_corpus`` folder, sorted by name."""
        from importlib import resources

        folder = resources.files(type(self).__module__.rsplit(".", 1)[0] if not _is_package(self) else
                                 type(self).__module__) / "resources" / "tokenizer_corpus"
        if not folder.is_dir():
            return []
        return [e.read_text(encoding="utf-8") for e in sorted(folder.iterdir(), key=lambda e: e.name) if e.is_file()]

    def mutate(self, solution: str, rng: random.Random) -> list[tuple[str, dict]]:
        """Small mutations of a correct solution for error-injection negatives: ``[(text, description)]``.
        Domains that do not offer mutations return an empty list."""
        return []


def _is_package(domain: Domain) -> bool:
    import sys

    return hasattr(sys.modules[type(domain).__module__], "__path__")


def limit_verdict(result: JobResult) -> Verdict | None:
    """The verdict implied by how the job ended, when the harness had to stop it."""
    return {
        JobStatus.TIMEOUT: Verdict.TIMEOUT,
        JobStatus.MEMORY: Verdict.MEMORY,
        JobStatus.OUTPUT_LIMIT: Verdict.OUTPUT_LIMIT,
    }.get(result.status)


def sandbox_error(task: Task, candidate: Candidate, message: str, outcome: JobResult | None = None) -> ExecResult:
    return ExecResult(
        task_id=task.task_id,
        candidate_id=candidate.candidate_id,
        verdict=Verdict.SANDBOX_ERROR,
        details={"error": message},
        stderr=outcome.text("stderr") if outcome else "",
        completion=candidate.completion,
    )


@functools.lru_cache(maxsize=None)
def command_version(*argv: str) -> str:
    """First line of a tool's version output, or '' when the tool is missing."""
    import subprocess

    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    text = (out.stdout or out.stderr).strip()
    return text.splitlines()[0] if text else ""
