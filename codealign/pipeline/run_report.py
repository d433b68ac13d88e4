"""The run report: ``report.json``, ``report.md`` and PNG plots (pass@1 before/after, DPO curves, pair gaps).

Before/after figures are paired over the same evaluation tasks: ``diff`` is the mean over tasks of
(after - before) and ``diff_se`` its standard error, so a difference is meaningful only when it is well
outside ``± 2 diff_se``. With a control, ``control`` holds its figures and ``method_vs_control`` the paired
difference (method - control); ``per_round`` the held-out (and train) pass@1 after each evaluated round;
``pool_pass_rate`` the pass rate of the round tasks' own samples in each round of the method (its ``execute`` or
``grpo`` stage: with ``round_tasks=feedback``, the feedback pool's). ``rounds.png`` plots held-out pass@1 per
round for the method (± 2 SE band) and the control (evaluated from the shared start and once trained: two points
with ± 2 SE bars), beside the pool pass rate per round.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codealign.jsonl import read_completed, write_text_atomic

if TYPE_CHECKING:
    from codealign.pipeline.state import Run

def _dpo_logs(run: "Run") -> list[dict[str, Any]]:
    """The logged DPO steps of the method's rounds, in order."""
    rows = []
    for stage in run.plan.values():
        if stage.kind == "dpo" and not stage.name.startswith("control-"):
            for log in sorted(run.path(stage.outputs()[0]).glob("stage-*/train_log.jsonl")):
                rows += [r for r in read_completed(log) if "loss" in r]
    return rows


def _brief(info: dict[str, Any]) -> dict[str, Any]:
    """A stage summary without its per-task scores (also those of its train split)."""
    return {k: _brief(v) if k == "train" and isinstance(v, dict) else v for k, v in info.items() if k != "per_task"}


def _paired(before: dict[str, Any], after: dict[str, Any]) -> dict[str, float]:
    """after - before, paired over tasks (held-out, and train when both evaluations scored train tasks)."""
    from codealign.bench.report import paired_comparison

    held = paired_comparison(before["per_task"], after["per_task"])
    out = {"diff": held["delta"], "diff_se": held["se"], "tasks": held["problems"]}
    if "train" in before and "train" in after:
        train = paired_comparison(before["train"]["per_task"], after["train"]["per_task"])
        out.update(train_diff=train["delta"], train_diff_se=train["se"], train_tasks=train["problems"])
    return out


def _plots(run_dir: Path, before: dict[str, Any], after: dict[str, Any], logs: list[dict[str, Any]],
           control: dict[str, Any] | None = None, control_name: str = "") -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    fig, ax = plt.subplots(figsize=(4, 3.2))
    bars = [("before", before), ("after", after)] + ([(control_name, control)] if control else [])
    ax.bar([name for name, _ in bars], [e["pass@1"] for _, e in bars], yerr=[2 * e["se"] for _, e in bars],
           capsize=6, color=["#8896ab", "#3b6ea8", "#c0504d"][: len(bars)])
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


def _pool_pass_rates(run: "Run", stages: dict[str, Any]) -> list[dict[str, Any]]:
    """Per round of the method: the pass rate of the samples it trained from (``execute`` / ``grpo`` stages)."""
    return [{"round": stage.round, "pass_rate": (stages[name] or {}).get("pass_rate")}
            for name, stage in run.plan.items()
            if stage.kind in ("execute", "grpo") and not name.startswith("control-")]


def _rounds_plot(run_dir: Path, before: dict[str, Any], per_round: list[dict[str, Any]],
                 control: dict[str, Any] | None, control_name: str, rounds: int,
                 pool: list[dict[str, Any]]) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (held, own) = plt.subplots(1, 2, figsize=(8, 3.2))
    points = [(0, before["pass@1"], before["se"])] + [(r["round"], r["pass@1"], r["se"]) for r in per_round]
    xs, ys, ses = zip(*points)
    held.plot(xs, ys, marker="o", color="#3b6ea8", label="method")
    held.fill_between(xs, [y - 2 * e for y, e in zip(ys, ses)], [y + 2 * e for y, e in zip(ys, ses)],
                      color="#3b6ea8", alpha=0.2)
    if control:
        held.errorbar([0, rounds], [before["pass@1"], control["pass@1"]], yerr=[2 * before["se"], 2 * control["se"]],
                      marker="s", linestyle="--", color="#c0504d", capsize=4, label=control_name)
    held.set_xlabel("round")
    held.set_ylabel("held-out pass@1 (± 2 SE)")
    held.set_xticks(range(rounds + 1))
    held.legend(fontsize=8)
    rated = [(row["round"], row["pass_rate"]) for row in pool if row["pass_rate"] is not None]
    if rated:
        own.plot(*zip(*rated), marker="o", color="#4f8a3c")
    own.set_xlabel("round")
    own.set_ylabel("pass rate of the round's samples")
    own.set_xticks(range(1, rounds + 1))
    own.set_ylim(0, 1)
    fig.tight_layout()
    fig.savefig(run_dir / "rounds.png", dpi=110)
    plt.close(fig)
    return "rounds.png"


def write_report(run: "Run") -> dict[str, Any]:
    cfg = run.config
    before, after = run.done("eval_before"), run.done("eval_after")
    paired = _paired(before, after)
    stages = {name: run.done(name) for name in run.plan if name != "report"}
    trained = {"method": 0, "control": 0}
    for stage in run.plan.values():
        if stage.steps:
            trained["control" if stage.name.startswith("control-") else "method"] += (
                (stages[stage.name] or {}).get("steps", 0))
    per_round = [{"round": stage.round, **_summary(stages[name]), **_paired(before, stages[name])}
                 for name, stage in run.plan.items() if stage.kind == "eval_round"]
    per_round.append({"round": cfg.rounds, **_summary(after), **paired})
    control = stages.get("eval_control")
    logs = _dpo_logs(run)
    plots = _plots(run.dir, before, after, logs, control, f"{cfg.control} control")
    pool = _pool_pass_rates(run, stages)
    plots.append(_rounds_plot(run.dir, before, per_round, control, f"{cfg.control} control", cfg.rounds, pool))
    report = {
        "domain": cfg.domain,
        "run_dir": str(run.dir),
        "method": cfg.method,
        "rounds": cfg.rounds,
        "before": _brief(before),
        "after": _brief(after),
        "diff": paired["diff"],
        "diff_se": paired["diff_se"],
        "eval_tasks": paired["tasks"],
        "eval_seeds": cfg.eval.seeds,
        "warmup": {k: v for k, v in (stages.get("sft") or {}).items() if k.startswith("warmup") or k == "steps"},
        "per_round": per_round,
        "pool_pass_rate": pool,
        "control": None if control is None else {"kind": cfg.control, **_brief(control), **_paired(before, control)},
        "method_vs_control": None if control is None else _paired(control, after),
        "optimizer_steps": trained,
        "stages": {k: _brief(v or {}) for k, v in stages.items()},
        "dpo_last_log": logs[-1] if logs else None,
        "plots": plots,
        "report_md": str(run.dir / "report.md"),
        "report_json": str(run.dir / "report.json"),
    }
    write_text_atomic(run.dir / "report.json", json.dumps(report, indent=2, default=str))
    write_text_atomic(run.dir / "report.md", _markdown(report))
    return report


def _summary(info: dict[str, Any]) -> dict[str, Any]:
    out = {"pass@1": info["pass@1"], "se": info["se"]}
    if "train" in info:
        out.update({"train_pass@1": info["train"]["pass@1"], "train_se": info["train"]["se"]})
    return out


def _row(label: str, e: dict[str, Any]) -> str:
    train = f"{e['train']['pass@1']:.3f} ± {e['train']['se']:.3f}" if "train" in e else "-"
    return (f"| {label} | {e['pass@1']:.3f} | {e['se']:.3f} | {train} | {e['truncation_rate']:.3f} | "
            f"{e['compile_error_rate']:.3f} |")


def _diff(d: dict[str, Any]) -> str:
    train = f"; train {d['train_diff']:+.3f} ± {d['train_diff_se']:.3f}" if "train_diff" in d else ""
    return f"**{d['diff']:+.3f} ± {d['diff_se']:.3f}**{train}"


def _warmup(w: dict[str, Any]) -> str:
    """Which warm-up the run started from (the ``sft`` stage's summary)."""
    if w.get("warmup") == "ready-made":
        shipped = w.get("warmup_heldout_pass@1")
        return (f"ready-made SFT warm-up `{w['warmup_from']}` ({w.get('warmup_steps')} steps"
                + (f"; held-out pass@1 {shipped:.3f} when it was trained)" if shipped is not None else ")"))
    if w.get("warmup") == "none":
        return "the starting model (no warm-up)"
    return f"SFT warm-up trained in this run ({w.get('steps')} steps)"


def _markdown(r: dict[str, Any]) -> str:
    method = f"{r['method']}, {r['rounds']} round{'s' if r['rounds'] > 1 else ''}"
    steps = r["optimizer_steps"]
    lines = [
        f"# codealign run: {r['domain']}",
        "",
        f"Run directory: `{r['run_dir']}`",
        "",
        f"Start: {_warmup(r['warmup'])}",
        "",
        "| | held-out pass@1 | ± SE | train pass@1 | truncated | compile errors |",
        "|---|---|---|---|---|---|",
        _row("before (start model)", r["before"]),
        _row(f"after ({method}, {steps['method']} optimizer steps)", r["after"]),
    ]
    if r["control"]:
        lines.append(_row(f"control ({r['control']['kind']}, {steps['control']} optimizer steps)", r["control"]))
    lines += [
        "",
        f"Paired over {r['eval_tasks']} held-out tasks, seeds {r['eval_seeds']} (mean difference ± SE; a "
        "difference inside ± 2 SE is not evidence of an effect):",
        "",
        f"* method − start: {_diff(r)}",
    ]
    if r["control"]:
        lines += [f"* control − start: {_diff(r['control'])}",
                  f"* method − control: {_diff(r['method_vs_control'])}"]
    if len(r["per_round"]) > 1:
        lines += ["", "## After each round", "", "| round | held-out pass@1 | − start | train pass@1 | − start |",
                  "|---|---|---|---|---|"]
        for row in r["per_round"]:
            train = (f"{row['train_pass@1']:.3f} | {row['train_diff']:+.3f} ± {row['train_diff_se']:.3f}"
                     if "train_diff" in row else "- | -")
            lines.append(f"| {row['round']} | {row['pass@1']:.3f} | {row['diff']:+.3f} ± {row['diff_se']:.3f} | "
                         f"{train} |")
    lines += [
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
        lines.append(f"| {stage} | {(info or {}).get('seconds')} | {verdicts or '-'} | "
                     f"{json.dumps(short, default=str)[:160]} |")
    lines += ["", "## Plots", ""] + [f"![{p}]({p})" for p in r["plots"]]
    return "\n".join(lines) + "\n"
