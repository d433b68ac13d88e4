"""``codealign run`` with on-policy rounds, a method choice and matched controls (tiny model, ladder tasks, a few
optimizer steps): every round keeps its files and trains from the previous round's policy, a run killed inside
round 2 resumes there, controls train as many optimizer steps as the method, and bad choices are one-line errors
before any stage."""

import json
import time

import pytest
from test_pipeline import _kill_when, codealign

from codealign.errors import UserError
from codealign.jsonl import read_completed

# mutants_per_task=1 executes each task's reference too: a passing sample every round, so RFT has rows and DPO pairs.
TINY = ["--no-cache", "max_tasks=2", "sft_enabled=false", "sample.n=2", "sample.max_new_tokens=16",
        "eval.heldout_tasks=0", "eval.max_tasks=2", "eval.n=1", "eval.seeds=[1]", "eval.train_tasks=2", "round_steps=2",
        "probe_tasks=0", "mutants_per_task=1", "rounds=2", "round_tasks=unseen"]


def _weights(model_dir):
    from safetensors.torch import load_file

    return load_file(f"{model_dir}/model.safetensors")


def _marker(run_dir, stage):
    return json.loads((run_dir / "stages" / f"{stage}.json").read_text())


def _mtimes(run_dir, names):
    return {name: (run_dir / name).stat().st_mtime_ns for name in names}


@pytest.fixture(scope="module")
def rft_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("rft") / "run"
    proc = codealign("run", "ladder", "--run-dir", str(run_dir), *TINY, "method=rft", "control=sft")
    return run_dir, proc


@pytest.mark.slow
def test_each_round_keeps_its_verdicts_of_samples_from_its_starting_policy(rft_run):
    run_dir, _ = rft_run
    for folder, policy, seed in (("", _marker(run_dir, "sft")["model"], 0), ("round2/", _marker(run_dir, "rft")["model"], 1)):
        sampled = [c for c in read_completed(run_dir / folder / "candidates.jsonl") if "generator" in c["metadata"]]
        assert sampled and {(c["metadata"]["model"], c["metadata"]["seed"]) for c in sampled} == {(policy, seed)}
        verdicts = {r["candidate_id"] for r in read_completed(run_dir / folder / "verdicts.jsonl")}
        assert {c["candidate_id"] for c in sampled} <= verdicts


@pytest.mark.slow
def test_round_two_trains_from_round_ones_policy_and_changes_it(rft_run):
    import torch

    run_dir, _ = rft_run
    one, two = _marker(run_dir, "rft"), _marker(run_dir, "rft@2")
    assert one["steps"] == two["steps"] == 2 and one["rows"] > 0 and two["rows"] > 0
    assert two["start"] == one["model"] and _marker(run_dir, "generate@2") and (run_dir / "round2/rft/final").is_dir()
    before, after = _weights(one["model"]), _weights(two["model"])
    assert any(not torch.equal(before[k], after[k]) for k in before)


@pytest.mark.slow
def test_the_sft_control_trains_as_many_optimizer_steps_as_the_method(rft_run):
    run_dir, _ = rft_run
    report = json.loads((run_dir / "report.json").read_text())
    control = _marker(run_dir, "control-sft")
    assert control["steps"] == _marker(run_dir, "rft")["steps"] + _marker(run_dir, "rft@2")["steps"] == 4
    assert report["optimizer_steps"] == {"method": 4, "control": 4}


@pytest.mark.slow
def test_the_report_prints_start_method_and_control_with_paired_differences(rft_run):
    run_dir, proc = rft_run
    text = (run_dir / "report.md").read_text()
    for line in ("| before (start model) |", "| after (rft, 2 rounds, 4 optimizer steps) |",
                 "| control (sft, 4 optimizer steps) |", "* method − start: **", "* method − control: **"):
        assert line in text, line
    assert "pass@1 sft control" in proc.stdout and "method - control" in proc.stdout
    report = json.loads((run_dir / "report.json").read_text())
    assert "train_pass@1" in report["per_round"][-1] and report["method_vs_control"]["tasks"] == 2


@pytest.mark.slow
def test_raising_rounds_on_a_finished_run_runs_only_the_new_round(rft_run):
    run_dir, _ = rft_run
    kept = ["stages/rft.json", "stages/rft@2.json", "stages/generate@2.json", "round2/verdicts.jsonl"]
    before = _mtimes(run_dir, kept)
    proc = codealign("run", "ladder", "--run-dir", str(run_dir), *TINY, "method=rft", "control=sft", "rounds=3")
    assert _mtimes(run_dir, kept) == before
    assert "rft@2: done earlier, skipped" in proc.stderr and "rft@3: running" in proc.stderr
    assert _marker(run_dir, "rft@3")["start"] == _marker(run_dir, "rft@2")["model"]
    assert _marker(run_dir, "control-sft")["steps"] == 6


@pytest.fixture(scope="module")
def killed_in_round_two(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("dpo") / "run"
    argv = ["run", "ladder", "--run-dir", str(run_dir), *TINY, "method=dpo", "control=none"]
    assert _kill_when(argv, lambda: (run_dir / "stages/generate@2.json").exists()), "never reached round 2"
    assert not (run_dir / "stages/eval_after.json").exists()
    round_one = ["candidates.jsonl", "verdicts.jsonl", "pairs.jsonl", "stages/dpo.json", "dpo/final.json",
                 "round2/candidates.jsonl"]
    before = _mtimes(run_dir, round_one)
    proc = codealign(*argv)
    return run_dir, before, _mtimes(run_dir, round_one), proc


@pytest.mark.slow
def test_a_run_killed_in_round_two_resumes_there_without_redoing_round_one(killed_in_round_two):
    run_dir, before, after, proc = killed_in_round_two
    for stage in ("generate", "execute", "pairs", "dpo", "generate@2"):
        assert f"{stage}: done earlier, skipped" in proc.stderr, proc.stderr[:2000]
    assert after == before
    assert "dpo@2: running" in proc.stderr and (run_dir / "report.json").is_file()


@pytest.mark.slow
def test_round_two_dpo_uses_round_ones_policy_as_its_reference(killed_in_round_two):
    run_dir = killed_in_round_two[0]
    one, two = _marker(run_dir, "dpo"), _marker(run_dir, "dpo@2")
    assert two["start"] == one["model"] and two["stages"][0]["reference"] == one["model"]
    assert one["stages"][0]["reference"] != one["model"]


@pytest.mark.slow
def test_an_rft_control_added_to_a_finished_run_trains_the_methods_step_count(killed_in_round_two):
    run_dir = killed_in_round_two[0]
    method = ["stages/dpo.json", "stages/dpo@2.json", "stages/eval_after.json"]
    before = _mtimes(run_dir, method)
    proc = codealign("run", "ladder", "--run-dir", str(run_dir), *TINY, "method=dpo", "--control", "rft")
    assert _mtimes(run_dir, method) == before
    control = [_marker(run_dir, s)["steps"] for s in ("control-rft", "control-rft@2")]
    dpo = [sum(s["steps"] for s in _marker(run_dir, s)["stages"]) for s in ("dpo", "dpo@2")]
    assert control == dpo == [2, 2]
    assert json.loads((run_dir / "report.json").read_text())["optimizer_steps"] == {"method": 4, "control": 4}
    assert "pass@1 rft control" in proc.stdout
    assert (run_dir / "control/round2/verdicts.jsonl").is_file() and not (run_dir / "control/verdicts.jsonl").exists()


@pytest.mark.parametrize("argv, message", [
    (["rounds=0"], "rounds must be >= 1, got 0"),
    (["method=rtf"], "unknown method 'rtf'; did you mean 'rft'?"),
    (["--control", "sfx"], "unknown control 'sfx'; did you mean 'sft'?"),
    (["method=rft+dpo", "round_steps=1"], "round_steps must be >= 2 for method 'rft+dpo'"),
    (["dpo.max_steps=5"], "dpo.max_steps: the pipeline trains round_steps optimizer steps per round"),
    (["mutants_per_task=1"], "mutants_per_task: mutants are made from reference solutions"),
    (["method=grpo", "sample.n=1"], "method=grpo compares each prompt's completions with each other"),
    (["method=grpo", "grpo.max_steps=5"], "grpo.max_steps: the pipeline trains round_steps optimizer steps"),
    (["method=grpo", "grpo.beta=-1"], "grpo.beta and grpo.save_steps >= 0"),
    (["eval.heldout_tasks=200"], "round_tasks=feedback keeps the first 144 held-out tasks of domain 'ladder'"),
])
def test_a_bad_round_method_or_control_is_one_line_before_any_stage(tmp_path, argv, message):
    run_dir = tmp_path / "run"
    t0 = time.monotonic()
    proc = codealign("run", "ladder", "--run-dir", str(run_dir), *argv, check=False)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and message in lines[0]
    assert not run_dir.exists() and time.monotonic() - t0 < 60


def test_unseen_round_tasks_share_no_prompt_with_the_warmup_tasks(tmp_path):
    from codealign.pipeline import Run, make_config, stage_tasks

    run = Run(make_config("verilog", overrides=["max_tasks=12", "round_tasks=unseen"]), tmp_path / "run")
    stage_tasks(run, None)
    warmup = {t.prompt for t in run.tasks("sft_tasks.jsonl")}
    rounds = run.tasks()
    assert len(rounds) == 12 and not warmup & {t.prompt for t in rounds}
    assert all(t.metadata["split"] == "train" for t in rounds)


def test_warmup_round_tasks_are_drawn_from_the_warmup_tasks(tmp_path):
    from codealign.pipeline import Run, make_config, stage_tasks

    run = Run(make_config("verilog", overrides=["max_tasks=12", "round_tasks=warmup"]), tmp_path / "run")
    stage_tasks(run, None)
    warmup = {t.prompt for t in run.tasks("sft_tasks.jsonl")}
    assert len(run.tasks()) == 12 and {t.prompt for t in run.tasks()} <= warmup


def test_unknown_round_tasks_is_a_one_line_error_naming_the_choice():
    from codealign.pipeline import make_config

    with pytest.raises(UserError, match="unknown round_tasks 'unseeen'; did you mean 'unseen'") as info:
        make_config("verilog", overrides=["round_tasks=unseeen"])
    assert "\n" not in str(info.value)


def test_a_domains_default_method_replaces_dpo_and_a_preset_or_override_restores_it():
    from codealign.pipeline import make_config, stage_plan

    assert {"rft", "dpo"} & set(stage_plan(make_config("verilog"))) == {"rft"}
    assert {"rft", "dpo"} & set(stage_plan(make_config("verilog", preset="veriprefer"))) == {"dpo"}
    assert {"rft", "dpo"} & set(stage_plan(make_config("verilog", overrides=["method=dpo"]))) == {"dpo"}


def test_every_alignment_effect_variant_is_a_distinct_run_with_the_same_optimizer_steps_per_round():
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from alignment_effect import VARIANTS, config_for

    from codealign.pipeline import METHODS, config_hash, stage_plan

    for domain in ("verilog", "ladder"):
        configs = {v: config_for(domain, v, 0, []) for v in VARIANTS}
        assert len({config_hash(c) for c in configs.values()}) == len(VARIANTS)
        assert {c.method for c in configs.values()} == set(METHODS)
        for config in configs.values():
            assert config.rounds >= 3 and config.eval.heldout_tasks >= 144 and not config.dpo.monitor
            steps = {}
            for stage in stage_plan(config).values():
                if stage.round and not stage.folder.startswith("control/"):
                    steps[stage.round] = steps.get(stage.round, 0) + stage.steps
            assert steps == {r: config.round_steps for r in range(1, config.rounds + 1)}


@pytest.mark.slow
def test_an_alignment_effect_variant_reuses_rfts_start_evaluation_and_round_one_samples(tmp_path):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from alignment_effect import report, run_one

    smoke = ["rounds=1", "round_steps=1", "max_tasks=3", "sample.n=2", "sample.max_new_tokens=24",
             "eval.heldout_tasks=4", "eval.n=1", "eval.seeds=[1]", "eval.train_tasks=2"]
    cache = tmp_path / "verdicts.sqlite"
    for variant in ("rft", "dpo+nll"):
        run_one(tmp_path, "ladder", variant, 0, smoke, cache)
    shared = ("eval_before", "generate", "execute")
    rft, dpo = (json.loads((tmp_path / f"{v}-s0" / "state.json").read_text()) for v in ("rft", "dpo+nll"))
    assert all(dpo[stage]["config_hash"] == rft[stage]["config_hash"] for stage in shared)
    rft_before = json.loads((tmp_path / "rft-s0" / "stages" / "eval_before.json").read_text())
    dpo_before = json.loads((tmp_path / "dpo+nll-s0" / "stages" / "eval_before.json").read_text())
    assert dpo_before["per_task"] == rft_before["per_task"] and str(tmp_path / "dpo+nll-s0") in dpo_before["model"]
    assert "| 1 | dpo+nll | 1 |" in report(tmp_path, "ladder", ["rft", "dpo+nll"], [0], smoke, None)


def test_alignment_effect_variance_parts_puts_an_eval_seed_spread_on_sampling_not_on_the_training_seed(tmp_path):
    import json
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from alignment_effect import variance_parts

    def write(folder, scores):  # scores: {eval seed: {task: pass rate over 4 samples}}
        folder.mkdir(parents=True, exist_ok=True)
        for seed, per_task in scores.items():
            rows = [{"task_id": t, "candidate_id": f"{t}-{i}", "verdict": "PASS" if i < 4 * p else "FAIL"}
                    for t, p in per_task.items() for i in range(4)]
            (folder / f"after_seed{seed}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        return folder, "after", list(scores)

    tasks = [f"t{i}" for i in range(12)]
    base = {t: 0.25 + 0.25 * (i % 3) for i, t in enumerate(tasks)}
    runs, starts = {}, {}
    for seed in (0, 1):  # the same on both training seeds; eval seed 1001 passes one sample more, 1002 one less
        runs[seed] = write(tmp_path / f"v{seed}", {1001: {t: b + 0.25 for t, b in base.items()},
                                                   1002: {t: b - 0.25 for t, b in base.items()}})
        starts[seed] = write(tmp_path / f"s{seed}", {1001: {t: 0.0 for t in tasks}, 1002: {t: 0.0 for t in tasks}})
    parts = variance_parts(runs, starts, "heldout")
    assert parts["sampling"] > 0.5 and parts["training seed"] == 0.0
