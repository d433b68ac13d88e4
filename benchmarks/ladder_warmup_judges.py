"""Held-out pass@1 of the shipped ladder warm-up under b2987a3's judge and under the current one.

Samples the shipped warm-up on the bundled held-out tasks exactly as its recipe measured it (``warmup.json``:
``eval.n`` samples per task for each of its seeds, its temperature and token budget), then judges every sample
in this process twice: on the task's fixed traces alone (the task's assets without ``reference``: b2987a3's
judge of every family task) and with the shipped task (reference, exhaustive search, per-job drawn traces).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/ladder_warmup_judges.py
"""

from __future__ import annotations

import json
import math
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from codealign.domains import get_domain  # noqa: E402
from codealign.domains.ladder.assets import LadderTask  # noqa: E402
from codealign.domains.ladder.scoring import DRAW_PURPOSE, score_candidate  # noqa: E402
from codealign.domains.draws import draw_seed  # noqa: E402
from codealign.pipeline import Run, make_config  # noqa: E402
from codealign.types import Task  # noqa: E402


def _mean_se(values: list[float]) -> tuple[float, float]:
    mean = sum(values) / len(values)
    var = sum((v - mean) ** 2 for v in values) / (len(values) - 1)
    return mean, math.sqrt(var / len(values))


def main() -> int:
    domain = get_domain("ladder")
    model = domain.warmup_checkpoint()
    recipe = json.loads((Path(model) / "warmup.json").read_text())["eval"]
    config = make_config("ladder", overrides=[f"eval.n={recipe['n']}", f"eval.seeds={recipe['seeds']}",
                                              f"eval.temperature={recipe['temperature']}",
                                              f"sample.max_new_tokens={recipe['max_new_tokens']}"])
    tasks = domain.demo_tasks("heldout")[: recipe["tasks"]]
    by_id = {t.task_id: t for t in tasks}
    judges = {
        "before": {t.task_id: LadderTask.from_task(Task(t.task_id, t.domain, t.prompt, assets={
            k: v for k, v in t.assets.items() if k != "reference"})) for t in tasks},
        "after": {t.task_id: LadderTask.from_task(t) for t in tasks},
    }
    passes = {name: {t.task_id: [] for t in tasks} for name in judges}
    with tempfile.TemporaryDirectory() as work:
        run = Run(config, Path(work), quiet=True)
        for seed in recipe["seeds"]:
            for cand in run.sample(model, tasks, recipe["n"], seed, recipe["temperature"]):
                task = by_id[cand.task_id]
                text = domain.normalize(cand.completion)
                for name, lts in judges.items():
                    verdict = score_candidate(lts[cand.task_id], text, seed=draw_seed(DRAW_PURPOSE, task, text))
                    passes[name][cand.task_id].append(verdict["verdict"] == "PASS")
    for name, per_task in passes.items():
        mean, se = _mean_se([sum(v) / len(v) for v in per_task.values()])
        samples = sum(len(v) for v in per_task.values())
        print(f"{name:6s} judge: held-out pass@1 {mean:.3f} ± {se:.3f} ({len(per_task)} tasks, {samples} samples)")
    flipped = sum(b and not a for tid in by_id for b, a in zip(passes["before"][tid], passes["after"][tid]))
    print(f"samples passing before and failing after: {flipped}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
