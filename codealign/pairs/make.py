"""The pairs stage as one library call: verdicts → pairs (strategy), weights (MADPO), contamination check
against benchmark tasks, curriculum stages, and the rDPO flip-rate estimate.

``codealign pairs`` and ``codealign run``'s ``pairs`` stage both call :func:`make_pairs`; they differ only in
where the inputs come from and where the outputs go.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from codealign.errors import UserError
from codealign.jsonl import read_jsonl
from codealign.pairs import STRATEGIES, build_pairs_report
from codealign.pairs.contamination import check_contamination
from codealign.pairs.curriculum import CurriculumConfig, curriculum
from codealign.pairs.weights import FLIP_ASSUMPTIONS, FlipEstimate, MadpoConfig, apply_weights, estimate_flip_rate
from codealign.types import Candidate, ExecResult, Pair, Task


@dataclass
class PairsConfig:
    """A pair strategy and its options. An option left at None takes the strategy's default; an option the
    strategy does not have is an error."""

    strategy: str = "execution"
    """execution, ranked, rso or injection (see :mod:`codealign.pairs`)."""
    min_gap: float | None = None
    """All strategies: smallest score gap that forms a pair."""
    max_pairs_per_prompt: int | None = None
    """execution, ranked, injection: per-prompt cap on pairs."""
    chosen_must_pass: bool | None = None
    """execution: only a PASS candidate may be chosen."""
    selection: str | None = None
    """ranked: which of the C(N, 2) pairs (all, best_vs_each, adjacent)."""
    beta: float | None = None
    """rso: temperature of the target policy."""
    num_samples: int | None = None
    """rso: candidates accepted per prompt."""
    seed: int | None = None
    """rso: sampler seed."""
    allow_compile_errors: bool | None = None
    """injection: mutants that do not compile may be rejected samples."""
    benchmarks: list[str] = field(default_factory=list)
    """Benchmark tasks JSONL files to check the pairs against for contamination (flagged in pair metadata)."""
    drop_contaminated: bool = False
    """Drop the pairs that overlap a benchmark task instead of only flagging them."""
    flip_verdicts: str = ""
    """Verdicts JSONL of a second source on (a sample of) the same candidates: estimates the rDPO flip rate
    (TRL's ``label_smoothing`` for ``loss_type: robust``)."""
    flip_assumption: str = "symmetric"
    """How disagreement becomes a flip rate: symmetric or reference_exact."""

    def __post_init__(self) -> None:
        STRATEGIES.get(self.strategy)
        if self.flip_assumption not in FLIP_ASSUMPTIONS:
            raise UserError(f"flip_assumption must be one of {', '.join(FLIP_ASSUMPTIONS)}, "
                            f"got {self.flip_assumption!r}")
        if isinstance(self.benchmarks, str):
            self.benchmarks = [self.benchmarks]
        self.strategy_config()

    def options(self) -> dict[str, Any]:
        """The strategy options that are set."""
        return {name: getattr(self, name) for name in strategy_options() if getattr(self, name) is not None}

    def strategy_config(self) -> Any:
        """The strategy's own validated config dataclass."""
        misplaced = misplaced_option(self.strategy, self.options())
        if misplaced:
            name, takers = misplaced
            raise UserError(f"{name} does not apply to strategy {self.strategy!r} (only {', '.join(takers)})")
        try:
            return STRATEGIES.get(self.strategy).config(**self.options())
        except (TypeError, ValueError) as exc:
            raise UserError(f"strategy {self.strategy!r}: {exc}") from None


def _fields_of(strategy: str) -> set[str]:
    return {f.name for f in dataclasses.fields(STRATEGIES.get(strategy).config)}


def strategy_options() -> list[str]:
    """The option fields of :class:`PairsConfig`: every field of every strategy's config."""
    names = set().union(*map(_fields_of, STRATEGIES))
    return [f.name for f in dataclasses.fields(PairsConfig) if f.name in names]


def misplaced_option(strategy: str, options: Sequence[str]) -> tuple[str, list[str]] | None:
    """The first of ``options`` that ``strategy`` does not take, with the strategies that do; None if none."""
    for name in options:
        if name not in _fields_of(strategy):
            return name, [s for s in STRATEGIES if name in _fields_of(s)]
    return None


@dataclass
class PairsResult:
    """What :func:`make_pairs` built: the pairs (weighted, flagged, staged) and what it found on the way."""

    pairs: list[Pair]
    build: dict[str, Any]
    """The strategy's report: counts of results, pools, drops and pairs."""
    contamination: dict[str, Any] | None = None
    """The contamination report (with ``dropped``) when benchmark tasks were given."""
    flip_rate: FlipEstimate | None = None
    """The rDPO flip-rate estimate when ``flip_verdicts`` was given."""


def make_pairs(
    results: Sequence[ExecResult],
    tasks: Sequence[Task] | None,
    config: PairsConfig,
    *,
    candidates: Sequence[Candidate] | None = None,
    weights: MadpoConfig | None = None,
    stages: CurriculumConfig | None = None,
    benchmark_tasks: Sequence[Any] = (),
    log: Callable[[str], None] = lambda message: None,
) -> PairsResult:
    """Pairs from verdicts: the strategy, then MADPO ``weights`` (None: every pair weighs 1), then the
    contamination check against ``benchmark_tasks`` plus ``config.benchmarks`` (a warning goes to ``log``),
    then curriculum ``stages`` (None: file order, stage 0), then the flip-rate estimate."""
    if config.strategy == "injection" and candidates is None:
        raise UserError("strategy 'injection' needs the candidates (--candidates): the mutation is recorded "
                        "in candidate metadata")
    pairs, build = build_pairs_report(results, tasks, config.strategy, candidates=candidates, **config.options())
    if weights is not None:
        pairs = apply_weights(pairs, weights)
    result = PairsResult(pairs, build)
    bench_rows = [*benchmark_tasks, *(row for path in config.benchmarks for row in read_jsonl(path))]
    if bench_rows:
        report = check_contamination(bench_rows, pairs=pairs)
        flagged = report.flagged("pairs")
        for i, overlap in flagged.items():
            pairs[i].metadata["contamination"] = f"{overlap.kind}:{overlap.field}:{overlap.benchmark_id}"
        if config.drop_contaminated:
            pairs = [p for i, p in enumerate(pairs) if i not in flagged]
        result.contamination = report.to_dict() | {"dropped": len(flagged) if config.drop_contaminated else 0}
        log(report.message())
    if stages is not None:
        pairs = curriculum(pairs, stages)
    if config.flip_verdicts:
        result.flip_rate = estimate_flip_rate(pairs, read_jsonl(config.flip_verdicts, ExecResult.from_dict),
                                              config.flip_assumption)
        if result.flip_rate.warning:
            log(result.flip_rate.warning)
    result.pairs = pairs
    return result


def flip_summary(estimate: FlipEstimate) -> dict[str, Any]:
    """The flip-rate estimate as summary fields (``label_smoothing`` is what TRL's robust loss takes)."""
    return {"label_smoothing": round(estimate.rate, 4), "compared": estimate.compared,
            "disagreement": round(estimate.disagreement, 4), "assumption": estimate.assumption,
            "ci95": [round(x, 4) for x in estimate.interval], "warning": estimate.warning}
