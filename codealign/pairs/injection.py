"""Error injection (RISE): a correct solution is chosen, a mutant of it that the sandbox saw fail is rejected.

Mutants are made by the domain (``Domain.mutate`` via ``codealign.domains.mutants``) and executed like any
candidate; this module only reads their verdicts. A candidate is a mutant when its metadata (from the
candidates file) holds ``mutation`` (a description dict with at least ``operator``) and ``parent_id`` (the
candidate id of the solution it was made from). A pair is formed only when

* the parent was judged and PASSED (an unverified parent is never chosen), and
* the mutant's verdict is a candidate failure: a mutant that still passes is never rejected, and
  COMPILE_ERROR mutants are skipped unless ``allow_compile_errors`` (RISE wants hard, compilable negatives).

``max_pairs_per_prompt`` keeps mutants round-robin across mutation operators, so a cap keeps variety.
"""

from __future__ import annotations

from dataclasses import dataclass

from codealign.pairs.pool import Entry, Pool, forms_pair, score_gap
from codealign.types import Pair, Verdict

NAME = "injection"


@dataclass
class InjectionConfig:
    allow_compile_errors: bool = False
    """Let mutants that fail to compile be rejected samples too."""

    min_gap: float = 0.0
    """Smallest effective-score gap (parent - mutant) that forms a pair; a zero gap never does."""

    max_pairs_per_prompt: int | None = None
    """Keep at most this many mutant pairs per prompt (round-robin over operators); None keeps all."""

    def __post_init__(self) -> None:
        if not 0.0 <= self.min_gap <= 1.0:
            raise ValueError(f"min_gap must be in [0, 1], got {self.min_gap}")
        if self.max_pairs_per_prompt is not None and self.max_pairs_per_prompt < 1:
            raise ValueError(f"max_pairs_per_prompt must be >= 1, got {self.max_pairs_per_prompt}")


def mutation_of(entry: Entry) -> dict | None:
    """The mutation description recorded for a candidate, or None when it is not a mutant."""
    mutation = entry.metadata.get("mutation")
    if not isinstance(mutation, dict) or not entry.metadata.get("parent_id"):
        return None
    return mutation


def _usable_rejected(entry: Entry, config: InjectionConfig) -> bool:
    verdict = entry.result.verdict
    if not verdict.is_candidate_failure:
        return False
    return config.allow_compile_errors or verdict is not Verdict.COMPILE_ERROR


def _round_robin(pairs: list[Pair]) -> list[Pair]:
    by_operator: dict[str, list[Pair]] = {}
    for pair in pairs:
        by_operator.setdefault(pair.metadata["mutation"], []).append(pair)
    queues = [by_operator[k] for k in sorted(by_operator)]
    ordered = []
    while any(queues):
        for queue in queues:
            if queue:
                ordered.append(queue.pop(0))
    return ordered


def build(pool: Pool, config: InjectionConfig) -> list[Pair]:
    position = {e.candidate_id: i for i, e in enumerate(pool.entries)}
    pairs = []
    for mutant in pool.entries:
        mutation = mutation_of(mutant)
        if mutation is None or not _usable_rejected(mutant, config):
            continue
        parent = pool.by_id.get(mutant.metadata["parent_id"])
        if parent is None or not parent.result.passed:
            continue
        gap = score_gap(parent, mutant)
        if not forms_pair(gap, config.min_gap):
            continue
        pairs.append(pool.pair(parent, mutant, gap, [position.get(parent.candidate_id, 0),
                                                      position[mutant.candidate_id]], NAME,
                               mutation=str(mutation.get("operator", "unknown")),
                               mutation_detail=str(mutation.get("detail", ""))))
    pairs.sort(key=lambda p: (p.metadata["mutation"], p.metadata["rejected_id"]))
    return _round_robin(pairs)[: config.max_pairs_per_prompt]
