"""The run report: ``report.json``, ``report.md`` and PNG plots (pass@1 before/after, DPO curves, pair gaps).

Before/after figures are paired over the same evaluation tasks: ``diff`` is the mean over tasks of
(after - before) and ``diff_se`` its standard error, so a difference is meaningful only when it is well
outside ``± 2 diff_se``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codealign.jsonl import read_completed, write_text_atomic

if TYPE_CHECKING:
    from codealign.pipeline import Run

STAGE_ORDER = ("tasks", "sft", "eval_before", "generate", "execute", "pairs", "dpo", "eval_after")
"""The stages the report's table lists, in run order (every stage before ``report``)."""


def _dpo_logs(run_dir: Path) -> list[dict[str, Any]]:
    rows = []
    for log in sorted((run_dir / "dpo").glob("stage-*/train_log.jsonl")):
        rows += [r for r in read_completed(log) if "loss" in r]
    return rows


def _plots(run_dir: Path, before: dict[str, Any], after: dict[str, Any], logs: list[dict[str, Any]]) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    fig, ax = plt.subplots(figsize=(4, 3.2))
    values = [before["pass@1"], after["pass@1"]]
    errors = [2 * before["se"], 2 * after["se"]]
    ax.bar(["before", "after DPO"], values, yerr=errors, capsize=6, color=["#8896ab", "#3b6ea8"])
    ax.set_ylabel("sampled pass@1 (± 2 SE)")
    ax.set_ylim(0, 1)
    ax.set_title("evaluation tasks")
    fig.tight_layout()
    fig.savefig(run_dir / "pass_at_1.png", dpi=110)
    plt.close(fig)
    written.append("pass_at_1.png")
    if logs:
        fig, axes = plt.subplots(1, 2, figsize=(8, 3.2))
        steps = list(range(1, len(logs) + 1))
        # Markers: a run stopped (or resumed) after one logged step still shows its point.
        axes[0].plot(steps, [r["loss"] for r in logs], marker="o", markersize=3)
        axes[0].set_title("DPO loss")
        axes[0].set_xlabel("logged step")
        margins = [r.get("rewards/margins") for r in logs]
        if any(m is not None for m in margins):
            axes[1].plot(steps, [m if m is not None else float("nan") for m in margins], color="#c0504d",
                         marker="o", markersize=3)
        axes[1].set_title("reward margin (chosen - rejected)")
        axes[1].set_xlabel("logged step")
        fig.tight_layout()
        fig.savefig(run_dir / "dpo_curves.png", dpi=110)
        plt.close(fig)
        written.append("dpo_curves.png")
    if (run_dir / "pair_gaps.png").is_file():
        written.append("pair_gaps.png")
    return written


def write_report(run: "Run") -> dict[str, Any]:
    before, after = run.done("eval_before"), run.done("eval_after")
    from codealign.bench.report import paired_comparison

    paired = paired_comparison(before["per_task"], after["per_task"])
    diff, diff_se, n = paired["delta"], paired["se"], paired["problems"]
    stages = {s: run.done(s) for s in STAGE_ORDER}
    logs = _dpo_logs(run.dir)
    plots = _plots(run.dir, before, after, logs)
    report = {
        "domain": run.config.domain,
        "run_dir": str(run.dir),
        "before": {k: v for k, v in before.items() if k != "per_task"},
        "after": {k: v for k, v in after.items() if k != "per_task"},
        "diff": diff,
        "diff_se": diff_se,
        "eval_tasks": n,
        "eval_seeds": run.config.eval.seeds,
        "stages": {k: {kk: vv for kk, vv in (v or {}).items() if kk != "per_task"} for k, v in stages.items()},
        "dpo_last_log": logs[-1] if logs else None,
        "plots": plots,
        "report_md": str(run.dir / "report.md"),
        "report_json": str(run.dir / "report.json"),
    }
    write_text_atomic(run.dir / "report.json", json.dumps(report, indent=2, default=str))
    write_text_atomic(run.dir / "report.md", _markdown(report))
    return report


def _markdown(r: dict[str, Any]) -> str:
    b, a = r["before"], r["after"]
    seconds = {k: (v or {}).get("seconds") for k, v in r["stages"].items()}
    lines = [
        f"# codealign run: {r['domain']}",
        "",
        f"Run directory: `{r['run_dir']}`",
        "",
        "| | pass@1 | ± SE | truncated | compile errors |",
        "|---|---|---|---|---|",
        f"| before (start model) | {b['pass@1']:.3f} | {b['se']:.3f} | {b['truncation_rate']:.3f} | "
        f"{b['compile_error_rate']:.3f} |",
        f"| after DPO | {a['pass@1']:.3f} | {a['se']:.3f} | {a['truncation_rate']:.3f} | "
        f"{a['compile_error_rate']:.3f} |",
        "",
        f"Paired difference over {r['eval_tasks']} tasks, seeds {r['eval_seeds']}: **{r['diff']:+.3f} ± "
        f"{r['diff_se']:.3f}** (SE). A difference inside ± 2 SE is not evidence of an effect.",
        "",
        "## Stages",
        "",
        "| stage | seconds | verdicts | summary |",
        "|---|---|---|---|",
    ]
    for stage, info in r["stages"].items():
        short = {k: v for k, v in (info or {}).items() if isinstance(v, (int, float, str)) and k != "seconds"}
        counts = (info or {}).get("verdicts") or {}
        verdicts = ", ".join(f"{name} {n}" for name, n in sorted(counts.items(), key=lambda kv: -kv[1]))
        lines.append(f"| {stage} | {seconds.get(stage)} | {verdicts or '-'} | "
                     f"{json.dumps(short, default=str)[:160]} |")
    lines += ["", "## Plots", ""] + [f"![{p}]({p})" for p in r["plots"]]
    return "\n".join(lines) + "\n"
