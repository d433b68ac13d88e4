"""The default rounds learn from the judge alone: ``round_tasks=feedback`` samples the family's feedback pool,
the judge reads the full tasks while every training stage reads stripped copies, and a user's tasks file
without references runs end to end (tiny model, ladder tasks, a few optimizer steps)."""

import json

import pytest
from test_pipeline import codealign

from codealign.domains import get_domain
from codealign.jsonl import read_completed, read_jsonl
from codealign.types import Task

pytestmark = pytest.mark.slow

TINY = ["--no-cache", "rounds=1", "max_tasks=4", "sample.n=2", "sample.max_new_tokens=24", "eval.heldout_tasks=0",
        "eval.max_tasks=2", "eval.n=1", "eval.seeds=[1]", "eval.train_tasks=0", "round_steps=2"]
DPO = ["method=rft+dpo", "probe_tasks=0"]


@pytest.fixture(scope="module")
def feedback_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("feedback") / "run"
    codealign("run", "ladder", "--run-dir", str(run_dir), *TINY, *DPO, "control=sft")
    return run_dir


def _references(tasks):
    domain = get_domain("ladder")
    return {ref for t in tasks if (ref := domain.reference_solution(t))}


def test_the_default_rounds_sample_the_feedback_pool_and_the_control_labelled_train_tasks(feedback_run):
    tasks = read_jsonl(feedback_run / "tasks.jsonl", Task.from_dict)
    control = read_jsonl(feedback_run / "control_tasks.jsonl", Task.from_dict)
    assert len(tasks) == 4 and {t.metadata["split"] for t in tasks} == {"feedback"}
    assert {t.metadata["split"] for t in control} == {"train"} and _references(tasks)


def test_no_training_row_derives_from_a_feedback_reference(feedback_run):
    from codealign.pipeline import Run, control_rows, make_config

    tasks = read_jsonl(feedback_run / "tasks.jsonl", Task.from_dict)
    references = _references(tasks)
    candidates = read_completed(feedback_run / "candidates.jsonl")
    sampled = {c["candidate_id"] for c in candidates if "generator" in c["metadata"]}
    assert candidates and {c["candidate_id"] for c in candidates} == sampled  # no reference, no mutant
    for pair in read_completed(feedback_run / "pairs.jsonl"):
        assert {pair["metadata"]["chosen_id"], pair["metadata"]["rejected_id"]} <= sampled
    run = Run(make_config("ladder", overrides=TINY[1:] + DPO), feedback_run)
    stripped = json.dumps([t.to_dict() for t in run.training_tasks()])
    assert not any(ref in stripped for ref in references) and '"assets": {}' in stripped
    rows = control_rows(run, run.tasks("control_tasks.jsonl"))
    assert rows and not {r["prompt"] for r in rows} & {t.prompt for t in tasks}
    assert not {r["completion"] for r in rows} & references


def test_a_user_tasks_file_without_references_runs_end_to_end(tmp_path):
    tasks = get_domain("ladder").generate_tasks(None, 3, 0, "feedback")
    for task in tasks:
        del task.metadata["solution"], task.assets["reference"]  # judged by its traces alone
    assert not _references(tasks)
    mine = tmp_path / "mine.jsonl"
    mine.write_text("".join(json.dumps(t.to_dict()) + "\n" for t in tasks))
    run_dir = tmp_path / "run"
    refused = codealign("run", "ladder", "--tasks", str(mine), "--run-dir", str(run_dir), *TINY, check=False)
    lines = refused.stderr.strip().splitlines()
    assert refused.returncode == 2 and len(lines) == 1 and "control=none" in lines[0] and not run_dir.exists()
    codealign("run", "ladder", "--tasks", str(mine), "--run-dir", str(run_dir), *TINY, "method=rft", "control=none")
    report = json.loads((run_dir / "report.json").read_text())
    assert report["stages"]["tasks"]["train_tasks"] == 3 and 0.0 <= report["after"]["pass@1"] <= 1.0
