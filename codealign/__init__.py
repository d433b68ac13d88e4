"""codealign: align code and hardware language models with execution feedback.

The library surface is small and stable: the types, and one function per stage (``codealign.bench(name, ...)``
is the benchmark package itself, callable). Heavy dependencies (torch, trl, ray, slither) are imported only when
the function that needs them runs.
"""

from __future__ import annotations

from typing import Any, Sequence

from codealign import bench
from codealign.errors import UserError
from codealign.types import Candidate, ExecResult, Pair, Task, Verdict

__version__ = "0.1.0"
__all__ = ["Task", "Candidate", "ExecResult", "Pair", "Verdict", "UserError", "execute", "build_pairs",
           "curriculum", "train_sft", "train_dpo", "bench"]


def execute(tasks: Sequence[Task], candidates: Sequence[Candidate], *, domain: str, backend: str = "auto",
            **options: Any) -> list[ExecResult]:
    """Judge candidates of ``domain`` (a registered domain's name) in the sandbox; see
    :func:`codealign.execution.executor.execute` for the options."""
    from codealign.execution.executor import execute as _execute

    return _execute(domain, tasks, candidates, backend=backend, **options)


def build_pairs(results: Sequence[ExecResult], strategy: str = "execution", **options: Any) -> list[Pair]:
    """Preference pairs from verdicts; see :mod:`codealign.pairs` for the strategies."""
    from codealign.pairs import build_pairs as _build_pairs

    return _build_pairs(results, strategy=strategy, **options)


def curriculum(pairs: Sequence[Pair], **options: Any) -> list[Pair]:
    """Pairs ordered easy to hard and split into stages; see :mod:`codealign.pairs.curriculum`."""
    from codealign.pairs.curriculum import curriculum as _curriculum

    return _curriculum(pairs, **options)


def train_sft(config: Any, **options: Any) -> Any:
    """Curriculum SFT / RFT on TRL; see :mod:`codealign.train.sft`."""
    from codealign.train.sft import train_sft as _train_sft

    return _train_sft(config, **options)


def train_dpo(config: Any, **options: Any) -> Any:
    """DPO on TRL with per-pair weights, stages and code-aware objectives; see :mod:`codealign.train.dpo`."""
    from codealign.train.dpo import train_dpo as _train_dpo

    return _train_dpo(config, **options)
