"""Ranked multi-pair (Curry-DPO): several pairs per prompt from its N ranked candidates.

``selection`` picks which of the C(N, 2) pairs are kept:

* ``all`` — every pair of candidates with different scores;
* ``best_vs_each`` — the top candidate against every lower-scored one;
* ``adjacent`` — one candidate per score level, each level against the next lower one.

Each pair carries its score gap as ``margin`` and ``rank = [chosen position, rejected position]`` in the
prompt's best-first order. Within a prompt, pairs come out easiest first (largest gap, then widest rank
distance), which is the order Curry-DPO's curriculum uses; ``max_pairs_per_prompt`` keeps that prefix.
Ties and gaps below ``min_gap`` never form a pair.
"""

from __future__ import annotations

from dataclasses import dataclass

from codealign.pairs.pool import Pool, forms_pair, score_gap
from codealign.types import Pair

NAME = "ranked"
SELECTIONS = ("all", "best_vs_each", "adjacent")


@dataclass
class RankedConfig:
    selection: str = "all"
    """Which pairs among the ranked candidates: all, best_vs_each or adjacent."""

    min_gap: float = 0.0
    """Smallest effective-score gap that forms a pair; a zero gap never does."""

    max_pairs_per_prompt: int | None = None
    """Keep at most this many (the easiest) pairs per prompt; None keeps all selected."""

    def __post_init__(self) -> None:
        if self.selection not in SELECTIONS:
            raise ValueError(f"selection must be one of {', '.join(SELECTIONS)}, got {self.selection!r}")
        if not 0.0 <= self.min_gap <= 1.0:
            raise ValueError(f"min_gap must be in [0, 1], got {self.min_gap}")
        if self.max_pairs_per_prompt is not None and self.max_pairs_per_prompt < 1:
            raise ValueError(f"max_pairs_per_prompt must be >= 1, got {self.max_pairs_per_prompt}")


def _positions(pool: Pool, selection: str) -> list[tuple[int, int]]:
    n = len(pool.entries)
    if selection == "all":
        return [(i, j) for i in range(n) for j in range(i + 1, n)]
    if selection == "best_vs_each":
        return [(0, j) for j in range(1, n)]
    level_heads = [i for i in range(n) if i == 0 or pool.entries[i].score != pool.entries[i - 1].score]
    return list(zip(level_heads, level_heads[1:]))


def build(pool: Pool, config: RankedConfig) -> list[Pair]:
    pairs = []
    for i, j in _positions(pool, config.selection):
        chosen, rejected = pool.entries[i], pool.entries[j]
        gap = score_gap(chosen, rejected)
        if not forms_pair(gap, config.min_gap):
            continue
        pairs.append(
            pool.pair(chosen, rejected, gap, [i, j], NAME)
        )
    pairs.sort(key=lambda p: (-p.margin, -(p.rank[1] - p.rank[0]), p.rank))
    return pairs[: config.max_pairs_per_prompt]
