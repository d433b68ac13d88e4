"""Preference pairs from execution verdicts: strategies, weights, curriculum and summaries.

Pair builders only read verdicts (``ExecResult`` rows with ``completion`` filled) plus prompts from the
tasks; they never run code. Every strategy shares the pool guarantees of :mod:`codealign.pairs.pool`
(no SANDBOX_ERROR, no ties, no pair whose two sides are equal after normalisation) and writes TRL's
``prompt/chosen/rejected`` columns plus ``margin``, ``weight``, ``rank``, ``stage``, ``source``, ``task_id``.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any, Callable, Iterable, NamedTuple

from codealign.errors import UserError
from codealign.pairs import execution, injection, ranked, rso
from codealign.pairs.pool import build_pools, candidate_metadata, normalize_text, resolve_prompts
from codealign.registry import Registry
from codealign.types import ExecResult, Pair

class Strategy(NamedTuple):
    """A pair strategy: its options dataclass and ``build(pool, config) -> list[Pair]``."""

    config: type
    build: Callable[..., list[Pair]]


STRATEGIES: Registry[Strategy] = Registry("pair strategy", "codealign.pair_strategies")
"""Strategy name → :class:`Strategy`; a plugin's entry point names a ``Strategy`` object."""
STRATEGIES.register(execution.NAME, Strategy(execution.ExecutionConfig, execution.build))
STRATEGIES.register(ranked.NAME, Strategy(ranked.RankedConfig, ranked.build))
STRATEGIES.register(rso.NAME, Strategy(rso.RSOConfig, rso.build))
STRATEGIES.register(injection.NAME, Strategy(injection.InjectionConfig, injection.build))


def strategy_config(strategy: str, **options):
    """The validated config dataclass of ``strategy``; unknown names and bad values raise UserError."""
    config_cls = STRATEGIES.get(strategy).config
    try:
        return config_cls(**options)
    except (TypeError, ValueError) as exc:
        raise UserError(f"strategy {strategy!r}: {exc}") from None


def build_pairs_report(
    results: Iterable[ExecResult],
    tasks: Any = None,
    strategy: str = "execution",
    *,
    candidates: Any = None,
    normalize: Callable[[str], str] = normalize_text,
    **options,
) -> tuple[list[Pair], dict[str, Any]]:
    """Pairs plus a report of what was built and dropped (for summaries). See :func:`build_pairs`."""
    config = strategy_config(strategy, **options)
    build = STRATEGIES.get(strategy).build
    results = list(results)
    prompts = resolve_prompts(results, tasks)
    pools, stats = build_pools(results, prompts, candidate_metadata(candidates), normalize)
    pairs: list[Pair] = []
    without_pair = 0
    for pool in pools:
        built = build(pool, config)
        without_pair += not built
        pairs.extend(built)
    report = {
        "strategy": strategy,
        "config": asdict(config),
        "results": stats.results,
        "sandbox_errors_dropped": stats.sandbox_errors,
        "refused_unrun_dropped": stats.refused_unrun,
        "duplicates_collapsed": stats.duplicates_collapsed,
        "conflicting_dropped": stats.conflicting_dropped,
        "prompts": len(pools),
        "prompts_without_pair": without_pair,
        "pairs": len(pairs),
    }
    return pairs, report


def build_pairs(
    results: Iterable[ExecResult],
    tasks: Any = None,
    strategy: str = "execution",
    **options,
) -> list[Pair]:
    """Preference pairs from verdicts with the named strategy (``execution``, ``ranked``, ``rso``,
    ``injection``).

    ``tasks`` supplies prompts: a list of Task, or a dict task_id → Task or prompt string. ``candidates``
    (a list of Candidate) supplies candidate metadata, which ``injection`` needs to find mutants.
    ``normalize`` decides when two completions are the same answer. Other keyword options go to the
    strategy's config (e.g. ``min_gap``, ``max_pairs_per_prompt``, ``selection``, ``beta``). Pairs come out
    grouped by task id in a deterministic order with ``weight`` 1.0 and ``stage`` 0; see
    :mod:`codealign.pairs.weights` and :mod:`codealign.pairs.curriculum` to set those.
    """
    return build_pairs_report(results, tasks, strategy, **options)[0]


__all__ = ["STRATEGIES", "Strategy", "build_pairs", "build_pairs_report", "strategy_config", "normalize_text"]
