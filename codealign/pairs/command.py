"""``codealign pairs`` as a library call: verdicts JSONL → pairs JSONL (+ weights, curriculum stages, summary,
histogram). The pairs file is written atomically, never half; :func:`make_pairs` does the work."""

from __future__ import annotations

import os
from typing import Any, Callable

from codealign.errors import UserError
from codealign.jsonl import read_jsonl, write_jsonl
from codealign.pairs.curriculum import CurriculumConfig
from codealign.pairs.stage import PairsConfig, flip_summary, make_pairs
from codealign.pairs.summary import gap_histogram, summarize
from codealign.pairs.weights import MadpoConfig
from codealign.types import Candidate, ExecResult, Task


def write_pairs(verdicts: str | os.PathLike, out: str | os.PathLike, config: PairsConfig, *,
                tasks: str | os.PathLike | None = None, candidates: str | os.PathLike | None = None,
                weights: MadpoConfig | None = None, stages: CurriculumConfig | None = None,
                histogram: str | os.PathLike | None = None,
                log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Pairs from the verdicts file (prompts from ``tasks``, candidate metadata from ``candidates``) written to
    ``out``; the summary: what the strategy built, contamination, flip rate, histogram, pair statistics.
    ``log`` receives the contamination report."""
    results = read_jsonl(verdicts, ExecResult.from_dict)
    if not results:
        raise UserError(f"{verdicts}: no verdicts")
    if all(not r.completion for r in results):
        raise UserError(f"{verdicts}: verdict rows carry no completion text (run `codealign execute`)")
    task_rows = read_jsonl(tasks, Task.from_dict) if tasks else None
    candidate_rows = read_jsonl(candidates, Candidate.from_dict) if candidates else None
    made = make_pairs(results, task_rows, config, candidates=candidate_rows, weights=weights, stages=stages,
                      log=log or (lambda message: None))
    pairs = made.pairs
    summary: dict[str, Any] = {"verdicts": verdicts, "out": out, "build": made.build}
    if made.contamination is not None:
        summary["contamination"] = made.contamination
    if made.flip_rate is not None:
        summary["flip_rate"] = flip_summary(made.flip_rate)
    write_jsonl(out, pairs)
    if histogram:
        summary["histogram"] = gap_histogram(pairs, histogram)
    summary["summary"] = summarize(pairs)
    return summary
