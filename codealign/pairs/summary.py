"""What a pairs file holds: counts per strategy and stage, margins, weights, length bias, a gap histogram.

Length bias is reported, not corrected: when chosen completions are systematically longer (or shorter)
than rejected ones, DPO can learn length instead of correctness, and the user should know.
"""

from __future__ import annotations

import os
from collections import Counter
from statistics import mean
from typing import Any, Sequence

from codealign.types import Pair


def _stats(values: list[float]) -> dict[str, float]:
    if not values:
        return {"mean": 0.0, "min": 0.0, "max": 0.0}
    return {"mean": round(mean(values), 4), "min": round(min(values), 4), "max": round(max(values), 4)}


def summarize(pairs: Sequence[Pair]) -> dict[str, Any]:
    """A JSON-able summary of ``pairs``."""
    chosen = [len(p.chosen) for p in pairs]
    rejected = [len(p.rejected) for p in pairs]
    per_prompt = Counter(p.task_id for p in pairs)
    mean_chosen = mean(chosen) if pairs else 0.0
    mean_rejected = mean(rejected) if pairs else 0.0
    return {
        "pairs": len(pairs),
        "prompts": len(per_prompt),
        "pairs_per_prompt_max": max(per_prompt.values(), default=0),
        "by_source": dict(sorted(Counter(p.source for p in pairs).items())),
        "by_stage": {str(k): v for k, v in sorted(Counter(p.stage for p in pairs).items())},
        "margin": _stats([p.margin for p in pairs]),
        "weight": _stats([p.weight for p in pairs]),
        "length_bias": {
            "mean_chosen_chars": round(mean_chosen, 1),
            "mean_rejected_chars": round(mean_rejected, 1),
            "chosen_over_rejected": round(mean_chosen / mean_rejected, 4) if mean_rejected else 0.0,
            "chosen_longer_fraction": round(sum(c > r for c, r in zip(chosen, rejected)) / len(pairs), 4)
            if pairs else 0.0,
        },
    }


def format_summary(summary: dict[str, Any]) -> str:
    """The summary as a small fixed-width table."""
    lb = summary["length_bias"]
    rows = [("pairs", summary["pairs"]), ("prompts", summary["prompts"]),
            ("max pairs / prompt", summary["pairs_per_prompt_max"])]
    rows += [(f"  source {k}", v) for k, v in summary["by_source"].items()]
    rows += [(f"  stage {k}", v) for k, v in summary["by_stage"].items()]
    m, w = summary["margin"], summary["weight"]
    rows += [
        ("margin mean [min, max]", f"{m['mean']:.3f} [{m['min']:.3f}, {m['max']:.3f}]"),
        ("weight mean [min, max]", f"{w['mean']:.3f} [{w['min']:.3f}, {w['max']:.3f}]"),
        ("mean chars chosen / rejected", f"{lb['mean_chosen_chars']} / {lb['mean_rejected_chars']}"
                                         f" (x{lb['chosen_over_rejected']})"),
        ("chosen longer than rejected", f"{100 * lb['chosen_longer_fraction']:.1f} %"),
    ]
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)


def gap_histogram(pairs: Sequence[Pair], path: str | os.PathLike, bins: int = 20) -> str:
    """Write a PNG histogram of the pairs' score gaps (per strategy) to ``path``; returns the path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    by_source: dict[str, list[float]] = {}
    for p in pairs:
        by_source.setdefault(p.source or "?", []).append(p.margin)
    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=100)
    if by_source:
        ax.hist(list(by_source.values()), bins=bins, range=(0.0, 1.0), label=list(by_source), stacked=True)
        ax.legend()
    ax.set_xlabel("score gap (chosen - rejected)")
    ax.set_ylabel("pairs")
    ax.set_title(f"score gaps of {len(pairs)} pairs")
    fig.tight_layout()
    path = os.fspath(path)
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    tmp = f"{path}.tmp.png"
    fig.savefig(tmp, format="png")
    plt.close(fig)
    os.replace(tmp, path)
    return path
