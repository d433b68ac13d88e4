"""The unbiased pass@k estimator (Chen et al., 2021): ``1 - C(n-c, k) / C(n, k)`` for ``n`` samples of which
``c`` passed, per problem and as the mean over problems. Shared by every benchmark."""

from __future__ import annotations

from math import comb
from typing import Iterable, Mapping

DEFAULT_KS = (1, 5, 10)


def pass_at_k(n: int, c: int, k: int) -> float:
    """Probability that at least one of ``k`` samples drawn without replacement from ``n`` (``c`` correct)
    passes. Exact (integer binomials), so it is 1.0 whenever ``n - c < k``."""
    if not 0 <= c <= n:
        raise ValueError(f"need 0 <= c <= n, got n={n}, c={c}")
    if not 1 <= k <= n:
        raise ValueError(f"need 1 <= k <= n, got k={k}, n={n}")
    if n - c < k:
        return 1.0
    return 1.0 - comb(n - c, k) / comb(n, k)


def usable_ks(counts: Iterable[int], ks: Iterable[int] = DEFAULT_KS) -> list[int]:
    """The ``k`` values every problem has enough samples for (k <= min n)."""
    counts = list(counts)
    if not counts:
        return []
    smallest = min(counts)
    return [k for k in ks if k <= smallest]


def pass_at_k_table(samples: Mapping[str, tuple[int, int]], ks: Iterable[int] = DEFAULT_KS) -> dict:
    """``samples`` maps problem id to ``(n, c)``. Returns ``{"ks": [...], "per_problem": {id: {"n", "c",
    "pass@k"...}}, "overall": {"pass@k": mean over problems}}`` for the ``k`` every problem allows."""
    ks = usable_ks((n for n, _ in samples.values()), ks)
    per_problem = {}
    for pid, (n, c) in samples.items():
        row = {"n": n, "c": c}
        row.update({f"pass@{k}": pass_at_k(n, c, k) for k in ks})
        per_problem[pid] = row
    overall = {f"pass@{k}": (sum(r[f"pass@{k}"] for r in per_problem.values()) / len(per_problem)) for k in ks}
    return {"ks": ks, "per_problem": per_problem, "overall": overall}
