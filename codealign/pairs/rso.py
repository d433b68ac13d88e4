"""Statistical rejection sampling (RSO; Liu et al., "Statistical Rejection Sampling Improves Preference
Optimization", 2023): pairs drawn from the target policy the scores imply.

The prompt's N judged candidates stand for samples of the generating policy. The target is
``pi_r(y) ∝ pi(y) · exp(score(y) / beta)``; rejection sampling accepts candidate y with probability
``exp((score(y) - max score) / beta)``, in rounds over the not-yet-accepted candidates (each round's max is
taken over what remains, candidates visited in a seeded random order), until ``num_samples`` are accepted
or none remain. Small ``beta`` accepts the
top-scored candidates first; large ``beta`` approaches uniform sampling. The accepted samples are then
shuffled and paired off (a tournament); within a pair the higher score is chosen, and a tied pair is
dropped. Randomness comes from ``seed`` and the task id only, so a run is reproducible.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from codealign.pairs.pool import Entry, Pool, forms_pair, score_gap
from codealign.types import Pair

NAME = "rso"


@dataclass
class RSOConfig:
    beta: float = 0.5
    """Temperature of the target policy (> 0); scores are in [0, 1], so beta around 0.1-1 matters."""

    num_samples: int = 8
    """Candidates accepted per prompt before pairing (>= 2); gives num_samples // 2 pairs at most."""

    seed: int = 0
    """Seed of the sampler; combined with each task id."""

    min_gap: float = 0.0
    """Smallest effective-score gap that forms a pair; a zero gap never does."""

    def __post_init__(self) -> None:
        if not self.beta > 0:
            raise ValueError(f"beta must be > 0, got {self.beta}")
        if self.num_samples < 2:
            raise ValueError(f"num_samples must be >= 2, got {self.num_samples}")
        if not 0.0 <= self.min_gap <= 1.0:
            raise ValueError(f"min_gap must be in [0, 1], got {self.min_gap}")


def rejection_sample(entries: list[Entry], num_samples: int, beta: float, rng: random.Random) -> list[Entry]:
    """Entries accepted in order, following RSO's Algorithm 1. The candidates are visited in a seeded random
    order (they stand for samples in generation order), so the best-first pool order gives no head start."""
    remaining = list(entries)
    rng.shuffle(remaining)
    accepted: list[Entry] = []
    while remaining and len(accepted) < num_samples:
        top = max(e.score for e in remaining)
        kept = []
        for entry in remaining:
            if len(accepted) < num_samples and rng.random() < math.exp((entry.score - top) / beta):
                accepted.append(entry)
            else:
                kept.append(entry)
        remaining = kept
    return accepted


def build(pool: Pool, config: RSOConfig) -> list[Pair]:
    rng = random.Random(f"{config.seed}:{pool.task_id}")
    accepted = rejection_sample(pool.entries, config.num_samples, config.beta, rng)
    rng.shuffle(accepted)
    position = {e.candidate_id: i for i, e in enumerate(pool.entries)}
    pairs = []
    for a, b in zip(accepted[0::2], accepted[1::2]):
        chosen, rejected = (a, b) if a.score >= b.score else (b, a)
        gap = score_gap(chosen, rejected)
        if not forms_pair(gap, config.min_gap):
            continue
        pairs.append(
            pool.pair(chosen, rejected, gap, [position[chosen.candidate_id], position[rejected.candidate_id]], NAME)
        )
    return pairs
