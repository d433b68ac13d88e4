"""Per-pair loss weights (MADPO) and the label-flip rate for robust DPO (rDPO).

**MADPO** (Rho, "Margin Adaptive DPO", 2025) re-weights each pair's DPO loss by a continuous function of
its preference margin: above 1 for hard, small-margin pairs (amplified), below 1 for easy, large-margin
pairs (dampened), bounded on both sides and never negative; a negative margin (the margin source disagrees
with the label) gets the capped maximum rather than an unbounded one. The formula here is codealign's own
instance of that shape, not the paper's exact function: ``clip(exp(-sharpness * (margin - pivot)),
min_weight, max_weight)``, 1 at ``pivot`` and monotone non-increasing in the margin. The margin is the
pair's score gap, or a reward model's margin when given.

**rDPO** (Chowdhury et al., "Provably Robust DPO", 2024) needs the rate ε at which labels are flipped;
TRL's ``loss_type="robust"`` takes it as ``label_smoothing`` in [0, 0.5). :func:`estimate_flip_rate`
estimates it from how often a second verdict source (e.g. Verilator next to Icarus) disagrees with the
direction of the pairs on a sample.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, replace
from typing import Iterable, Mapping, Sequence

from codealign.pairs.pool import effective_score
from codealign.types import ExecResult, Pair, Verdict

MAX_FLIP_RATE = 0.49
MIN_FLIP_PAIRS = 30
"""Below this many compared pairs a flip-rate estimate carries a warning: its 95 % interval spans most of
the useful range of ``label_smoothing`` (0 disagreements out of 10 still allow a flip rate near 0.17)."""
FLIP_ASSUMPTIONS = ("symmetric", "reference_exact")


@dataclass
class MadpoConfig:
    pivot: float = 0.5
    """Margin at which the weight is exactly 1; smaller margins are amplified, larger ones dampened."""

    sharpness: float = 2.0
    """How fast the weight changes with the margin (>= 0; 0 gives every pair weight 1)."""

    min_weight: float = 0.25
    """Lower bound of the weight (> 0), reached by the easiest pairs."""

    max_weight: float = 4.0
    """Upper bound of the weight (>= 1), reached by the hardest and by mislabeled (negative-margin) pairs."""

    def __post_init__(self) -> None:
        if self.sharpness < 0:
            raise ValueError(f"sharpness must be >= 0, got {self.sharpness}")
        if not 0 < self.min_weight <= 1:
            raise ValueError(f"min_weight must be in (0, 1], got {self.min_weight}")
        if self.max_weight < 1:
            raise ValueError(f"max_weight must be >= 1, got {self.max_weight}")


def madpo_weight(margin: float, config: MadpoConfig = MadpoConfig()) -> float:
    """The MADPO weight of one pair with preference ``margin``; always in [min_weight, max_weight]."""
    exponent = -config.sharpness * (margin - config.pivot)
    if exponent > math.log(config.max_weight):
        return config.max_weight
    return min(config.max_weight, max(config.min_weight, math.exp(exponent)))


def apply_weights(
    pairs: Iterable[Pair],
    config: MadpoConfig = MadpoConfig(),
    rm_margins: Sequence[float] | None = None,
) -> list[Pair]:
    """Copies of ``pairs`` with ``weight`` set by MADPO from the score gap, or from ``rm_margins`` (one
    reward-model margin per pair, recorded as ``metadata["rm_margin"]``) when given."""
    pairs = list(pairs)
    if rm_margins is not None and len(rm_margins) != len(pairs):
        raise ValueError(f"rm_margins has {len(rm_margins)} values for {len(pairs)} pairs")
    weighted = []
    for i, pair in enumerate(pairs):
        metadata = dict(pair.metadata)
        margin = pair.margin
        if rm_margins is not None:
            margin = float(rm_margins[i])
            metadata["rm_margin"] = margin
        weighted.append(replace(pair, weight=madpo_weight(margin, config), metadata=metadata))
    return weighted


@dataclass(frozen=True)
class FlipEstimate:
    """A label-flip rate estimated from two verdict sources. ``rate`` is what TRL's robust loss takes as
    ``label_smoothing``; ``compared`` pairs had usable verdicts from both sources."""

    rate: float
    disagreement: float
    compared: int
    disagreements: float
    assumption: str

    @property
    def interval(self) -> tuple[float, float]:
        """95 % Wilson interval of the flip rate (the disagreement's interval through the assumption);
        (0, MAX_FLIP_RATE) with nothing compared."""
        if not self.compared:
            return 0.0, MAX_FLIP_RATE
        n, p, z = self.compared, self.disagreement, 1.96
        centre = (p + z * z / (2 * n)) / (1 + z * z / n)
        half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
        return (flip_rate_from_disagreement(max(0.0, centre - half), self.assumption),
                flip_rate_from_disagreement(min(1.0, centre + half), self.assumption))

    @property
    def warning(self) -> str:
        """A one-line warning when fewer than :data:`MIN_FLIP_PAIRS` pairs were compared, else ''."""
        if self.compared >= MIN_FLIP_PAIRS:
            return ""
        low, high = self.interval
        return (f"WARNING: the rDPO flip rate {self.rate:.3f} comes from only {self.compared} compared pair(s): "
                f"its 95 % interval is [{low:.3f}, {high:.3f}]; re-judge at least {MIN_FLIP_PAIRS} pairs "
                "before trusting it as label_smoothing")


def sample_pairs(pairs: Sequence[Pair], n: int, seed: int = 0) -> list[Pair]:
    """A seeded sample of ``n`` pairs (all when fewer): the candidates to re-judge with the second source."""
    if n >= len(pairs):
        return list(pairs)
    return random.Random(seed).sample(list(pairs), n)


def flip_rate_from_disagreement(disagreement: float, assumption: str = "symmetric") -> float:
    """ε from the disagreement rate d. ``symmetric``: both sources flip independently at rate ε, so
    d = 2ε(1-ε) and ε = (1 - sqrt(1 - 2d)) / 2. ``reference_exact``: the second source is right, ε = d.
    Capped at 0.49 (TRL requires < 0.5)."""
    if assumption not in FLIP_ASSUMPTIONS:
        raise ValueError(f"assumption must be one of {', '.join(FLIP_ASSUMPTIONS)}, got {assumption!r}")
    if assumption == "reference_exact":
        rate = disagreement
    else:
        rate = (1.0 - math.sqrt(max(0.0, 1.0 - 2.0 * disagreement))) / 2.0
    return min(MAX_FLIP_RATE, max(0.0, rate))


def estimate_flip_rate(
    pairs: Iterable[Pair],
    second_source: Iterable[ExecResult] | Mapping[str, ExecResult],
    assumption: str = "symmetric",
) -> FlipEstimate:
    """Compare each pair's direction with a second source's verdicts on the same two candidates.

    A pair counts as a disagreement when the second source scores the rejected side higher, as half a
    disagreement when it scores both sides the same, and is skipped when the second source lacks either
    candidate or gave SANDBOX_ERROR. Candidates are matched by the ``chosen_id``/``rejected_id`` recorded in
    pair metadata. With nothing comparable the estimate is 0 with ``compared == 0``.
    """
    if not isinstance(second_source, Mapping):
        second_source = {r.candidate_id: r for r in second_source}
    compared, disagreements = 0, 0.0
    for pair in pairs:
        a = second_source.get(pair.metadata.get("chosen_id", ""))
        b = second_source.get(pair.metadata.get("rejected_id", ""))
        if a is None or b is None or Verdict.SANDBOX_ERROR in (a.verdict, b.verdict):
            continue
        compared += 1
        sa, sb = effective_score(a), effective_score(b)
        disagreements += 1.0 if sb > sa else 0.5 if sb == sa else 0.0
    disagreement = disagreements / compared if compared else 0.0
    rate = flip_rate_from_disagreement(disagreement, assumption) if compared else 0.0
    return FlipEstimate(rate, disagreement, compared, disagreements, assumption)
