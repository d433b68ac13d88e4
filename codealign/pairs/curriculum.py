"""Curriculum: pairs ordered easy → hard and split into stages (trained stage by stage).

Difficulty keys (higher = harder):

* ``gap`` — 1 - margin: a large score gap is an easy pair;
* ``pass_rate`` — 1 - the prompt's pass rate (from pair metadata): prompts most candidates solve come first;
* ``rank`` — Curry-DPO: within each prompt, pairs sorted by rank distance (best-vs-worst first), then gap;
  the difficulty is the pair's position in that order, so every prompt's best-vs-worst pair is in the
  first stage and its closer pairs in later ones;
* any other name — a numeric metadata field of every pair; or a callable ``pair -> float``.

Guarantees: the output is a function of the pairs and the config alone (same order across runs); stages
are numbered 0.. without gaps and are monotone — every pair of stage s is at most as hard as every pair of
stage s+1 (pairs of equal difficulty never straddle a boundary, so a stage may hold more than its share and
fewer stages than asked may result); stages come out in strict order, never mixed; within a stage the
order is by difficulty (``sequential``) or a shuffle seeded by ``seed`` and the stage number.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from typing import Callable, Sequence

from codealign.errors import UserError
from codealign.types import Pair

KEYS = ("gap", "pass_rate", "rank")
WITHIN_STAGE = ("sequential", "shuffle")


@dataclass
class CurriculumConfig:
    key: str | Callable[[Pair], float] = "gap"
    """Difficulty: gap, pass_rate, rank, a numeric metadata field name, or a callable pair -> float."""

    stages: int = 3
    """Number of stages asked for (>= 1); ties in difficulty may merge stages."""

    within_stage: str = "sequential"
    """Order inside a stage: sequential (by difficulty) or shuffle (seeded)."""

    seed: int = 0
    """Seed of the within-stage shuffle."""

    def __post_init__(self) -> None:
        if self.stages < 1:
            raise ValueError(f"stages must be >= 1, got {self.stages}")
        if self.within_stage not in WITHIN_STAGE:
            raise ValueError(f"within_stage must be one of {', '.join(WITHIN_STAGE)}, got {self.within_stage!r}")
        if not (callable(self.key) or isinstance(self.key, str) and self.key):
            raise ValueError("key must be a non-empty name or a callable")


def _rank_positions(pairs: Sequence[Pair]) -> list[float]:
    by_task: dict[str, list[int]] = {}
    for i, pair in enumerate(pairs):
        by_task.setdefault(pair.task_id, []).append(i)
    difficulty = [0.0] * len(pairs)
    for indices in by_task.values():
        def order(i: int):
            rank = pairs[i].rank
            distance = rank[1] - rank[0] if len(rank) == 2 else 0
            return (-distance, -pairs[i].margin, pairs[i].chosen, pairs[i].rejected)

        for position, i in enumerate(sorted(indices, key=order)):
            difficulty[i] = float(position)
    return difficulty


def difficulties(pairs: Sequence[Pair], key: str | Callable[[Pair], float]) -> list[float]:
    """The difficulty of each pair under ``key`` (see the module docstring)."""
    if callable(key):
        return [float(key(p)) for p in pairs]
    if key == "gap":
        return [1.0 - p.margin for p in pairs]
    if key == "rank":
        return _rank_positions(pairs)
    field = key
    values = []
    for p in pairs:
        value = p.metadata.get(field)
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise UserError(f"curriculum key {key!r}: pair of task {p.task_id!r} has no numeric metadata {field!r}")
        values.append(float(value))
    if key == "pass_rate":
        return [1.0 - v for v in values]
    return values


def _stage_bounds(sorted_difficulty: list[float], stages: int) -> list[int]:
    n = len(sorted_difficulty)
    bounds = []
    for s in range(1, stages):
        cut = -(-s * n // stages)
        while 0 < cut < n and sorted_difficulty[cut] == sorted_difficulty[cut - 1]:
            cut += 1
        if 0 < cut < n and (not bounds or cut > bounds[-1]):
            bounds.append(cut)
    return bounds


def curriculum(pairs: Sequence[Pair], config: CurriculumConfig | None = None, **options) -> list[Pair]:
    """Copies of ``pairs`` in curriculum order with ``stage`` set. Options build a CurriculumConfig."""
    if config is None:
        try:
            config = CurriculumConfig(**options)
        except (TypeError, ValueError) as exc:
            raise UserError(f"curriculum: {exc}") from None
    pairs = list(pairs)
    difficulty = difficulties(pairs, config.key)
    order = sorted(
        range(len(pairs)),
        key=lambda i: (difficulty[i], pairs[i].task_id, pairs[i].chosen, pairs[i].rejected, i),
    )
    sorted_difficulty = [difficulty[i] for i in order]
    cuts = [0, *_stage_bounds(sorted_difficulty, config.stages), len(order)]
    ordered: list[Pair] = []
    for stage, (start, end) in enumerate(zip(cuts, cuts[1:])):
        members = order[start:end]
        if config.within_stage == "shuffle":
            random.Random(f"{config.seed}:{stage}").shuffle(members)
        for i in members:
            metadata = dict(pairs[i].metadata)
            metadata["difficulty"] = difficulty[i]
            ordered.append(replace(pairs[i], stage=stage, metadata=metadata))
    return ordered

