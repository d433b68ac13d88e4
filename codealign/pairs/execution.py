"""Execution pairs: per prompt, the best-scored candidate is chosen and the worst rejected.

With ``max_pairs_per_prompt`` above 1 the next pairs are formed from both ends inwards (second best vs
second worst, ...), so no candidate appears in two pairs. A pair is formed only when the effective score
gap is strictly positive and at least ``min_gap``: ties never form a pair.
"""

from __future__ import annotations

from dataclasses import dataclass

from codealign.pairs.pool import Pool, forms_pair, score_gap
from codealign.types import Pair

NAME = "execution"


@dataclass
class ExecutionConfig:
    min_gap: float = 0.0
    """Smallest effective-score gap (chosen - rejected) that forms a pair; a zero gap never does."""

    max_pairs_per_prompt: int = 1
    """How many disjoint best-vs-worst pairs a prompt may give."""

    chosen_must_pass: bool = False
    """Only a PASS candidate may be chosen (drops pairs between two failures of different score)."""

    def __post_init__(self) -> None:
        if not 0.0 <= self.min_gap <= 1.0:
            raise ValueError(f"min_gap must be in [0, 1], got {self.min_gap}")
        if self.max_pairs_per_prompt < 1:
            raise ValueError(f"max_pairs_per_prompt must be >= 1, got {self.max_pairs_per_prompt}")


def build(pool: Pool, config: ExecutionConfig) -> list[Pair]:
    pairs = []
    entries = pool.entries
    lo, hi = 0, len(entries) - 1
    while lo < hi and len(pairs) < config.max_pairs_per_prompt:
        chosen, rejected = entries[lo], entries[hi]
        gap = score_gap(chosen, rejected)
        if not forms_pair(gap, config.min_gap) or (config.chosen_must_pass and not chosen.result.passed):
            break
        pairs.append(
            pool.pair(chosen, rejected, gap, [lo, hi], NAME)
        )
        lo, hi = lo + 1, hi - 1
    return pairs
