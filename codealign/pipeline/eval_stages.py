"""Evaluation: sampled pass@1 of a policy on the evaluation tasks (:func:`evaluate_policy`) and the evaluation
stages (``eval_before``, ``eval@r``, ``eval_after``, ``eval_control``: :func:`stage_eval`), all with the run's
``eval`` settings, so every evaluation of a run is on the same tasks, seeds and budget."""

from __future__ import annotations

import math
from typing import Any

from codealign.jsonl import write_jsonl
from codealign.pipeline.plan import Stage
from codealign.pipeline.state import Run, select_tasks
from codealign.types import ExecResult, Task, Verdict


def evaluate_policy(run: Run, model: str, tasks: list[Task], tag: str) -> dict[str, Any]:
    """Sampled pass@1 of ``model`` on ``tasks`` with the run's ``eval`` settings (every seed of ``eval.seeds``,
    ``eval.n`` samples each), ± its SE over tasks, with truncation and compile-error rates; candidates and
    verdicts go to ``eval/<tag>_…`` in the run directory."""
    cfg = run.config
    per_task: dict[str, list[float]] = {t.task_id: [] for t in tasks}
    truncated = compile_errors = total = 0
    verdicts: dict[str, int] = {}
    skipped: dict[str, str] = {}
    for seed in cfg.eval.seeds:
        cands = run.sample(model, tasks, cfg.eval.n, seed, cfg.eval.temperature)
        # Kept for their finish reasons and raw text (benchmarks/dpo_compile_errors.py reads them).
        write_jsonl(run.path(f"eval/{tag}_candidates_seed{seed}.jsonl"), cands)
        results = run.execute(tasks, cands, run.path(f"eval/{tag}_seed{seed}.jsonl"))
        by_task: dict[str, list[ExecResult]] = {}
        for cand, res in zip(cands, results):
            if "skipped" in res.details:  # a harness that cannot run here (e.g. a commercial simulator): no score
                skipped[res.task_id] = res.details["skipped"]
                continue
            by_task.setdefault(res.task_id, []).append(res)
            truncated += cand.metadata.get("finish_reason") == "length"
            compile_errors += res.verdict is Verdict.COMPILE_ERROR
            verdicts[res.verdict.value] = verdicts.get(res.verdict.value, 0) + 1
            total += 1
        for task_id, rs in by_task.items():
            per_task[task_id].append(sum(r.passed for r in rs) / len(rs))
    scores = {k: sum(v) / len(v) for k, v in per_task.items() if k not in skipped}
    pass1 = sum(scores.values()) / max(1, len(scores))
    return {"model": model, "pass@1": pass1, "se": _se(list(scores.values())), "per_task": scores,
            "truncation_rate": truncated / max(1, total), "compile_error_rate": compile_errors / max(1, total),
            "samples": total, "verdicts": verdicts, "skipped": skipped}


def _se(values: list[float]) -> float:
    if len(values) < 2:
        return 0.0
    mean = sum(values) / len(values)
    return math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1) / len(values))


EVAL_TAGS = {"eval_before": "before", "eval_round": "round{round}", "eval_after": "after", "eval_control": "control"}
"""The prefix of each evaluation's files under ``eval/`` (``<tag>_seed<s>.jsonl``; ``<tag>_train_…`` for the
train tasks)."""


def stage_eval(run: Run, stage: Stage) -> dict[str, Any]:
    """Held-out pass@1 of the policy ``stage.start`` left and, with ``eval.train_tasks``, train pass@1 (key
    ``train``) on a fixed seeded sample of the run's train tasks."""
    cfg = run.config
    model = run.policy(stage.start)
    tag = EVAL_TAGS[stage.kind].format(round=stage.round)
    info = evaluate_policy(run, model, run.tasks("eval_tasks.jsonl"), tag)
    if cfg.eval.train_tasks:
        train = select_tasks(run.tasks(), cfg.eval.train_tasks, cfg.seed + 2)
        info["train"] = evaluate_policy(run, model, train, f"{tag}_train")
    return info
