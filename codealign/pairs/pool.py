"""The candidate pool of one prompt: its verdicts, cleaned and ranked, ready for a pair strategy.

Guarantees every strategy relies on:

* SANDBOX_ERROR verdicts never enter a pool (a harness fault says nothing about the candidate).
* Nor do samples refused before they ran, for emptiness or size (:func:`refused_unrun`): they count against
  the prompt's pass rate, but an empty or oversized text teaches nothing as a rejected sample (and an
  oversized one costs its length in every training batch). Candidates that ran and failed, COMPILE_ERRORs
  included, stay the rejected samples.
* Candidates whose completions are identical after normalisation are collapsed into one entry; when such
  copies got different scores (a flaky checker) all of them are dropped, since neither label can be trusted.
* Entries are sorted best first by effective score (PASS counts as 1.0), ties broken by candidate id, so
  every run ranks the same verdicts the same way.

Pools only read verdicts; they never run anything.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping

from codealign.errors import UserError
from codealign.types import Candidate, ExecResult, Pair, Task, Verdict

_WHITESPACE = re.compile(r"\s+")


def normalize_text(text: str) -> str:
    """Whitespace-insensitive form of a completion: runs of whitespace collapse to one space, ends stripped.
    Two completions equal under this form are treated as the same answer."""
    return _WHITESPACE.sub(" ", text).strip()


def effective_score(result: ExecResult) -> float:
    """The score pairs are ranked by and online RL is rewarded with: 1.0 for PASS, 0.0 for SANDBOX_ERROR (the
    candidate was never judged), the graded score otherwise."""
    if result.verdict is Verdict.PASS:
        return 1.0
    if result.verdict is Verdict.SANDBOX_ERROR:
        return 0.0
    return float(result.score)


_EPS = 1e-9


def score_gap(chosen: "Entry", rejected: "Entry") -> float:
    """chosen - rejected effective score, rounded to 9 decimals so equal gaps compare equal."""
    return round(chosen.score - rejected.score, 9)


def forms_pair(gap: float, min_gap: float) -> bool:
    """True when a score gap is large enough to form a pair: strictly positive (ties never pair) and at least
    ``min_gap``, up to float rounding (0.6 - 0.5 counts as a gap of 0.1)."""
    return gap > _EPS and gap >= min_gap - _EPS


REFUSED_UNRUN = frozenset({"empty", "too_large", "source_too_large"})
"""Failure classes (``details["failure"]``) that domains give a candidate refused before running it."""


def refused_unrun(result: ExecResult) -> bool:
    """Whether ``result`` is a refusal before running for emptiness or size: an empty completion, or one of
    :data:`REFUSED_UNRUN`."""
    return not result.completion.strip() or result.details.get("failure") in REFUSED_UNRUN


@dataclass(frozen=True)
class Entry:
    """One distinct candidate in a pool."""

    result: ExecResult
    score: float
    metadata: Mapping[str, Any] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return self.result.completion

    @property
    def candidate_id(self) -> str:
        return self.result.candidate_id


@dataclass
class Pool:
    """A prompt's distinct candidates, best first. ``pass_rate`` counts every judged candidate (duplicates
    included, sandbox errors excluded); ``by_id`` reaches any judged candidate, even a collapsed duplicate."""

    task_id: str
    prompt: str
    entries: list[Entry]
    pass_rate: float
    n_judged: int
    by_id: dict[str, Entry]

    def pair(self, chosen: Entry, rejected: Entry, gap: float, rank: list[int], source: str,
             **extra: Any) -> Pair:
        """A :class:`Pair` of two of this pool's entries with the shared provenance (plus ``extra``)."""
        return Pair(prompt=self.prompt, chosen=chosen.text, rejected=rejected.text, task_id=self.task_id,
                    margin=gap, rank=rank, source=source, metadata={**self.pair_metadata(chosen, rejected), **extra})

    def pair_metadata(self, chosen: Entry, rejected: Entry) -> dict[str, Any]:
        """The provenance every pair records, with the same keys and types for every strategy (so a pairs
        file loads as one Arrow table)."""
        return {
            "chosen_id": chosen.candidate_id,
            "rejected_id": rejected.candidate_id,
            "chosen_verdict": chosen.result.verdict.value,
            "rejected_verdict": rejected.result.verdict.value,
            "chosen_score": chosen.score,
            "rejected_score": rejected.score,
            "pass_rate": self.pass_rate,
            "n_candidates": len(self.entries),
        }


@dataclass
class PoolStats:
    """What pooling dropped, for the summary."""

    results: int = 0
    sandbox_errors: int = 0
    refused_unrun: int = 0
    duplicates_collapsed: int = 0
    conflicting_dropped: int = 0


def resolve_prompts(results: Iterable[ExecResult], tasks: Any) -> dict[str, str]:
    """Map task_id → prompt from ``tasks`` (a list of Task, a dict task_id → Task, or task_id → str).

    Raises UserError naming the first task id that has no prompt: a pair without its prompt is useless and
    must not be written silently.
    """
    prompts: dict[str, str] = {}
    if isinstance(tasks, Mapping):
        for key, value in tasks.items():
            prompts[key] = value.prompt if isinstance(value, Task) else str(value)
    elif tasks is not None:
        for task in tasks:
            prompts[task.task_id] = task.prompt
    missing = sorted({r.task_id for r in results} - set(prompts))
    if missing:
        hint = "pass the tasks file (--tasks)" if tasks is None else "the tasks do not include it"
        raise UserError(f"no prompt for task {missing[0]!r} ({len(missing)} task(s) without one): {hint}")
    return prompts


def candidate_metadata(candidates: Any) -> dict[str, Mapping[str, Any]]:
    """candidate_id → metadata from a list of Candidate or a dict candidate_id → Candidate/metadata."""
    if candidates is None:
        return {}
    if isinstance(candidates, Mapping):
        return {cid: (c.metadata if isinstance(c, Candidate) else c) for cid, c in candidates.items()}
    return {c.candidate_id: c.metadata for c in candidates}


def build_pools(
    results: Iterable[ExecResult],
    prompts: Mapping[str, str],
    metadata: Mapping[str, Mapping[str, Any]] | None = None,
    normalize: Callable[[str], str] = normalize_text,
) -> tuple[list[Pool], PoolStats]:
    """One pool per task id, sorted by task id."""
    metadata = metadata or {}
    stats = PoolStats()
    grouped: dict[str, list[ExecResult]] = {}
    for result in results:
        stats.results += 1
        if result.verdict is Verdict.SANDBOX_ERROR:
            stats.sandbox_errors += 1
            continue
        grouped.setdefault(result.task_id, []).append(result)
    pools = []
    for task_id in sorted(grouped):
        judged = grouped[task_id]
        by_text: dict[str, list[Entry]] = {}
        by_id: dict[str, Entry] = {}
        for result in judged:
            if refused_unrun(result):
                stats.refused_unrun += 1
                continue
            entry = Entry(result, effective_score(result), metadata.get(result.candidate_id, {}))
            by_text.setdefault(normalize(result.completion), []).append(entry)
            by_id[result.candidate_id] = entry
        entries = []
        for copies in by_text.values():
            if len({e.score for e in copies}) > 1:
                stats.conflicting_dropped += len(copies)
                for e in copies:
                    by_id.pop(e.candidate_id, None)
                continue
            copies.sort(key=lambda e: e.candidate_id)
            stats.duplicates_collapsed += len(copies) - 1
            entries.append(copies[0])
        entries.sort(key=lambda e: (-e.score, e.candidate_id))
        passed = sum(r.verdict is Verdict.PASS for r in judged)
        pools.append(Pool(task_id, prompts[task_id], entries, passed / len(judged), len(judged), by_id))
    return pools, stats
