"""``method=grpo``: TRL's GRPOTrainer with the domain's execution reward inside ``codealign run`` (tiny model,
ladder feedback tasks, a few optimizer steps): the budget matches rft's, rounds chain their policies, verdicts go
through the run's cache, and a run killed inside a round resumes there."""

import json
import sqlite3

import pytest
from test_pipeline import _kill_when, codealign

pytestmark = pytest.mark.slow

TINY = ["rounds=1", "max_tasks=4", "sample.n=2", "sample.max_new_tokens=16", "eval.heldout_tasks=0", "eval.max_tasks=2",
        "eval.n=1", "eval.seeds=[1]", "eval.train_tasks=0", "probe_tasks=0", "method=grpo", "control=none"]


def _marker(run_dir, stage):
    return json.loads((run_dir / "stages" / f"{stage}.json").read_text())


@pytest.fixture(scope="module")
def grpo_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("grpo")
    codealign("run", "ladder", "--run-dir", str(root / "run"), "--cache", str(root / "cache.sqlite"), *TINY,
              "rounds=2", "round_steps=2")
    return root


def test_each_round_samples_every_task_s_completions_once_in_round_steps_steps(grpo_run):
    for stage in ("grpo", "grpo@2"):
        info = _marker(grpo_run / "run", stage)
        assert info["steps"] == 2 and info["prompts_per_step"] == 2 and info["completions"] == 4 * 2
    assert _marker(grpo_run / "run", "grpo@2")["start"] == _marker(grpo_run / "run", "grpo")["model"]


def test_the_reward_verdicts_go_through_the_run_s_verdict_cache(tmp_path):
    cache = tmp_path / "cache.sqlite"
    codealign("run", "ladder", "--run-dir", str(tmp_path / "run"), "--cache", str(cache), "--stages",
              "tasks,sft,grpo", *TINY, "round_steps=1")
    with sqlite3.connect(cache) as db:
        tables = [row[0] for row in db.execute("select name from sqlite_master where type='table'")]
        stored = sum(db.execute(f"select count(*) from {table}").fetchone()[0] for table in tables)
    assert _marker(tmp_path / "run", "grpo")["completions"] == 4 * 2 and stored > 0


def test_a_run_killed_inside_a_grpo_round_resumes_from_its_checkpoint(tmp_path):
    run_dir = tmp_path / "run"
    argv = ["run", "ladder", "--run-dir", str(run_dir), "--no-cache", *TINY, "round_steps=3", "grpo.save_steps=1"]

    def mid_training():
        return (run_dir / "grpo/checkpoint-1/trainer_state.json").is_file() and not (run_dir / "stages/grpo.json").exists()

    assert _kill_when(argv, mid_training), "the run never reached the middle of GRPO"
    codealign(*argv)
    info = _marker(run_dir, "grpo")
    assert info["steps"] == 3 and "checkpoint-" in (info["resumed_from"] or "")
