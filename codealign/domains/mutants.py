"""Mutants of correct solutions (RISE error injection), shared by every domain's ``mutate``.

A domain's mutator finds mutation sites on a parse tree and expresses each as an :class:`Edit` (a byte span
of the source and its replacement); :func:`mutants_from_edits` applies them one at a time, keeps those the
domain's validity check accepts (still parses), drops duplicates and orders them round-robin across
operators in a seeded order, so a capped list still shows every kind of mutation.

:func:`mutant_candidates` turns them into Candidates that go through the normal execute stage, with the
mutation recorded in metadata (``mutation``: ``{"operator", "detail", "line"}``, ``parent_id``: the
candidate id of the solution) — which is what :mod:`codealign.pairs.injection` reads. Whether a mutant is a
usable negative is decided only by its verdict, never here.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Iterable, Mapping

from codealign.types import Candidate, Task

if TYPE_CHECKING:
    from codealign.domains.base import Domain


@dataclass(frozen=True)
class Edit:
    """Replace ``source[start:end]`` (bytes) with ``replacement``."""

    start: int
    end: int
    replacement: bytes
    operator: str
    detail: str
    line: int


def apply_edit(source: bytes, edit: Edit) -> str:
    return (source[: edit.start] + edit.replacement + source[edit.end:]).decode("utf-8", "surrogateescape")


def mutants_from_edits(
    source: str,
    edits: Iterable[Edit],
    rng: random.Random,
    valid: Callable[[str], bool],
) -> list[tuple[str, dict]]:
    """``[(mutant text, description)]``: one mutant per edit, valid and distinct from the source and each
    other, round-robin over operators (operator order and order within an operator drawn from ``rng``)."""
    data = source.encode("utf-8", "surrogateescape")
    by_operator: dict[str, list[Edit]] = {}
    for edit in edits:
        by_operator.setdefault(edit.operator, []).append(edit)
    operators = sorted(by_operator)
    rng.shuffle(operators)
    queues = []
    for op in operators:
        queue = sorted(by_operator[op], key=lambda e: (e.start, e.end, e.replacement))
        rng.shuffle(queue)
        queues.append(queue)
    seen = {source}
    mutants = []
    while any(queues):
        for queue in queues:
            while queue:
                edit = queue.pop(0)
                text = apply_edit(data, edit)
                if text in seen or not valid(text):
                    continue
                seen.add(text)
                mutants.append((text, {"operator": edit.operator, "detail": edit.detail, "line": edit.line}))
                break
    return mutants


def _standard(description: Mapping) -> dict:
    """A domain's mutation description with the keys injection reads: ``operator`` and ``detail`` (the ladder
    domain's graph edits say ``op`` and ``description``); other keys are kept."""
    out = dict(description)
    out.setdefault("operator", str(description.get("op", "unknown")))
    out.setdefault("detail", str(description.get("description", "")))
    return out


def mutant_candidates(
    domain: "Domain",
    task: Task,
    solution: str,
    rng: random.Random,
    max_per_task: int | None = None,
) -> list[Candidate]:
    """Candidates for up to ``max_per_task`` mutants of ``solution`` (a correct answer to ``task``), each
    recording its mutation and its parent's candidate id. The parent itself is not included."""
    parent = Candidate(task.task_id, solution)
    base = domain.normalize(solution)
    out = []
    for text, description in domain.mutate(solution, rng):
        if domain.normalize(text) == base:
            continue
        out.append(Candidate(task.task_id, text, metadata={
            "mutation": _standard(description), "parent_id": parent.candidate_id, "source": "rise"}))
        if max_per_task is not None and len(out) >= max_per_task:
            break
    return out


def rise_candidates(
    domain: "Domain",
    tasks: Iterable[Task],
    solutions: Mapping[str, str],
    seed: int = 0,
    max_per_task: int | None = 8,
) -> list[Candidate]:
    """For every task with a solution: the solution itself (the parent, which must be judged too) followed
    by its mutants. Deterministic for a seed (each task draws from its own ``Random(f"{seed}:{task_id}")``)."""
    out = []
    for task in tasks:
        solution = solutions.get(task.task_id)
        if solution is None:
            continue
        out.append(Candidate(task.task_id, solution, metadata={"source": "rise-parent"}))
        out.extend(mutant_candidates(domain, task, solution, random.Random(f"{seed}:{task.task_id}"),
                                     max_per_task))
    return out


def solutions_for(domain: "Domain", tasks: Iterable[Task], results: Iterable | None = None) -> dict[str, str]:
    """task id → a correct answer to mutate: with ``results`` (ExecResults carrying ``completion``), the first
    PASS per task, as RISE mutates the policy's own correct samples; without, the domain's reference solution.
    Tasks without one are left out."""
    if results is not None:
        wanted = {t.task_id for t in tasks}
        found: dict[str, str] = {}
        for r in results:
            if r.passed and r.completion and r.task_id in wanted:
                found.setdefault(r.task_id, r.completion)
        return found
    return {t.task_id: s for t in tasks if (s := domain.reference_solution(t))}
