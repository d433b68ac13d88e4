"""``codealign run``: every preset (one per domain) on the tiny model with a smoke budget, resume after SIGKILL
in execution and in training, and bad input at the user boundary."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from codealign.domains import preset_names
from codealign.jsonl import read_completed
PRESETS = tuple(preset_names())

SMOKE = ["rounds=1", "max_tasks=3", "sft.max_steps=3", "sample.n=2", "sample.max_new_tokens=24",
         "eval.heldout_tasks=0", "eval.max_tasks=2", "eval.n=1", "eval.seeds=[1]", "round_steps=1", "probe_tasks=0",
         "mutants_per_task=1", "control=none"]
STAGES = ("tasks", "sft", "eval_before", "generate", "execute", "pairs", "dpo", "eval_after", "report")
"""The stages of a run with one round of DPO and no control."""
DOMAIN_OF = {"veriprefer": "verilog", "synthcoder": "python", "smart-llama-dpo": "solidity", "ladder": "ladder"}
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false", "HF_HUB_OFFLINE": "1"}


def codealign(*argv, check=True, timeout=600):
    proc = subprocess.run([sys.executable, "-m", "codealign.cli", *argv], capture_output=True, text=True,
                          env=ENV, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"exit {proc.returncode}: {proc.stderr[-2000:]}")
    return proc


@pytest.fixture(scope="module")
def preset_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    cache = root / "cache.sqlite"
    out = {}
    for preset in PRESETS:
        run_dir = root / preset
        proc = codealign("run", DOMAIN_OF[preset], "--preset", preset, "--run-dir", str(run_dir), "--cache",
                         str(cache), "--json", *SMOKE)
        out[preset] = (run_dir, json.loads(proc.stdout), proc)
    return out


@pytest.mark.slow
@pytest.mark.parametrize("preset", PRESETS)
def test_preset_runs_every_stage_and_writes_a_complete_report(preset_runs, preset):
    run_dir, report, _ = preset_runs[preset]
    assert sorted(p.stem for p in (run_dir / "stages").glob("*.json")) == sorted(STAGES)
    for name in ("report.json", "report.md", "pass_at_1.png", "manifest.json", "pairs.jsonl", "verdicts.jsonl"):
        assert (run_dir / name).is_file(), name
    assert 0.0 <= report["before"]["pass@1"] <= 1.0 and 0.0 <= report["after"]["pass@1"] <= 1.0
    assert report["stages"]["pairs"]["pairs"] > 0
    assert report["stages"]["dpo"].get("skipped") is not True


@pytest.mark.slow
@pytest.mark.parametrize("preset", PRESETS)
def test_json_mode_prints_exactly_one_object(preset_runs, preset):
    _, _, proc = preset_runs[preset]
    assert len(proc.stdout.strip().splitlines()) == 1


@pytest.mark.slow
def test_rerun_of_a_finished_run_recomputes_nothing(preset_runs):
    run_dir, report, _ = preset_runs["ladder"]
    before = {p.name: p.stat().st_mtime for p in (run_dir / "stages").glob("*.json")}
    t0 = time.monotonic()
    proc = codealign("run", "ladder", "--preset", "ladder", "--run-dir", str(run_dir), "--json", *SMOKE)
    assert json.loads(proc.stdout)["after"] == report["after"]
    assert {p.name: p.stat().st_mtime for p in (run_dir / "stages").glob("*.json")} == before
    assert time.monotonic() - t0 < 60


@pytest.mark.slow
def test_a_changed_dpo_config_reruns_dpo_and_the_stages_after_it_only(preset_runs):
    run_dir, _, _ = preset_runs["ladder"]
    markers = {p.stem: p.stat().st_mtime for p in (run_dir / "stages").glob("*.json")}
    proc = codealign("run", "ladder", "--preset", "ladder", "--run-dir", str(run_dir), *SMOKE, "dpo.beta=0.2")
    assert "dpo: config changed (dpo.beta 0.1 -> 0.2): rerunning dpo, eval_after, report" in proc.stderr
    after = {p.stem: p.stat().st_mtime for p in (run_dir / "stages").glob("*.json")}
    assert [s for s in STAGES if after[s] != markers[s]] == ["dpo", "eval_after", "report"]
    dpo = json.loads((run_dir / "stages/dpo.json").read_text())
    assert [(s["skipped"], s["resumed"], s["steps"]) for s in dpo["stages"]] == [(False, False, 1)]


def _kill_when(argv, ready, timeout=300):
    proc = subprocess.Popen([sys.executable, "-m", "codealign.cli", *argv], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=ENV)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if ready():
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                return True
            time.sleep(0.01)
        return False
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.slow
def test_sigkill_during_execution_then_rerun_keeps_the_verdicts_and_completes(tmp_path):
    run_dir, cache = tmp_path / "run", tmp_path / "cache.sqlite"
    argv = ["run", "verilog", "--run-dir", str(run_dir), "--cache", str(cache), "--workers", "1", "rounds=1",
            "max_tasks=6", "sft_enabled=false", "sample.n=8", "sample.max_new_tokens=16", "eval.max_tasks=2",
            "eval.n=1", "eval.seeds=[1]", "round_steps=1", "probe_tasks=0", "mutants_per_task=2", "control=none",
            "round_tasks=unseen"]
    verdicts = run_dir / "verdicts.jsonl"

    def mid_execute():
        return verdicts.is_file() and len(read_completed(verdicts)) >= 3 and not (run_dir / "stages/execute.json").exists()

    assert _kill_when(argv, mid_execute), "the run never reached the middle of execution"
    done_before = {(r["candidate_id"], r["verdict"]) for r in read_completed(verdicts)}
    codealign(*argv)
    final = read_completed(verdicts)
    assert done_before <= {(r["candidate_id"], r["verdict"]) for r in final}
    assert all(r["cached"] for r in final if (r["candidate_id"], r["verdict"]) in done_before)
    assert (run_dir / "report.json").is_file()


@pytest.mark.slow
def test_sigkill_during_training_then_rerun_resumes_from_the_checkpoint(tmp_path):
    run_dir = tmp_path / "run"
    argv = ["run", "ladder", "--run-dir", str(run_dir), "--no-cache", "rounds=1", "method=dpo", "max_tasks=3",
            "sft_enabled=false", "sample.n=2", "sample.max_new_tokens=16", "eval.heldout_tasks=0",
            "eval.max_tasks=2", "eval.n=1", "eval.seeds=[1]", "round_steps=6", "dpo.save_steps=1", "probe_tasks=0",
            "mutants_per_task=2", "control=none", "round_tasks=unseen"]

    def mid_training():
        return any((run_dir / "dpo").glob("stage-*/checkpoint-2")) and not (run_dir / "stages/dpo.json").exists()

    assert _kill_when(argv, mid_training), "the run never reached the middle of training"
    codealign(*argv)
    dpo = json.loads((run_dir / "stages/dpo.json").read_text())
    assert dpo["stages"][0]["resumed"] is True
    assert dpo["stages"][0]["steps"] == 6
    assert (run_dir / "report.json").is_file()


@pytest.mark.parametrize("argv, message", [
    (["run", "fortran"], "unknown domain"),
    (["run", "verilog", "--preset", "nope"], "unknown preset"),
    (["run", "verilog", "--preset", "ladder"], "is for domain"),
    (["run", "verilog", "--model", "/no/such/model"], "no such local folder"),
    (["run", "verilog", "--tasks", "/no/such/tasks.jsonl"], "no such tasks file"),
    (["run", "verilog", "--run-dir", "/dev/null/run"], "not writable"),
    (["run", "verilog", "sample.n=0"], "sample.n"),
    (["run", "verilog", "no_such_key=1"], "unknown config key"),
])
def test_bad_input_is_one_line_and_a_nonzero_exit(argv, message):
    proc = codealign(*argv, check=False)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and "Traceback" not in proc.stderr


def test_a_broken_tasks_row_is_named_with_file_and_line(tmp_path):
    tasks = tmp_path / "tasks.jsonl"
    tasks.write_text('{"task_id": "a", "domain": "verilog", "prompt": "x"}\n{"task_id": "b", \n')
    proc = codealign("run", "verilog", "--tasks", str(tasks), "--run-dir", str(tmp_path / "r"), check=False)
    assert proc.returncode == 2 and f"{tasks}:2" in proc.stderr
    assert not (tmp_path / "r" / "tasks.jsonl").exists()


@pytest.mark.slow
def test_the_default_sft_control_without_reference_solutions_is_one_line_before_tasks_are_written(tmp_path):
    tasks = tmp_path / "tasks.jsonl"
    tasks.write_text('{"task_id": "a", "domain": "verilog", "prompt": "module top(output y); // y = 1"}\n')
    argv = ["run", "verilog", "--tasks", str(tasks), "--stages", "tasks", "--no-cache"]
    proc = codealign(*argv, "--run-dir", str(tmp_path / "r"), check=False)
    errors = [line for line in proc.stderr.splitlines() if line.startswith("codealign: error:")]
    assert proc.returncode == 2 and len(errors) == 1 and "control=none" in errors[0] and "Traceback" not in proc.stderr
    assert not (tmp_path / "r" / "tasks.jsonl").exists()
    codealign(*argv, "--run-dir", str(tmp_path / "r2"), "control=none")
    assert (tmp_path / "r2" / "tasks.jsonl").is_file()


@pytest.mark.parametrize("argv, message", [
    (["dpo.bta=0.2"], "dpo.bta: unknown config key; did you mean dpo.beta?"),
    (["dpo.beta=-1"], "dpo: beta must be > 0"),
    (["pairs.strategy=nope"], "unknown pair strategy 'nope'"),
    (["--stages", "tasks,nope"], "unknown stage(s) nope"),
    (["--stages", "rft"], "stage 'rft' needs stage 'tasks'"),
    (["domain_options.simulatr=verilator"], "domain_options.simulatr: not an option of domain 'verilog'; did you "
                                            "mean 'simulator'?"),
    (["domain_options.simulator=nope"], "unknown simulator 'nope'"),
])
def test_a_bad_config_exits_2_before_any_stage_and_writes_nothing(tmp_path, argv, message):
    run_dir = tmp_path / "run"
    t0 = time.monotonic()
    proc = codealign("run", "verilog", "--run-dir", str(run_dir), *argv, check=False)
    assert proc.returncode == 2 and message in proc.stderr
    assert time.monotonic() - t0 < 60
    assert not run_dir.exists()


def test_a_changed_stage_config_is_logged_and_reruns_the_stage(tmp_path):
    from codealign.pipeline import make_config, run_pipeline

    logs = []
    run_pipeline(make_config("verilog", overrides=["max_tasks=3"]), tmp_path, stages=["tasks"], log=logs.append)
    run_pipeline(make_config("verilog", overrides=["max_tasks=2"]), tmp_path, stages=["tasks"], log=logs.append)
    assert "tasks: config changed (max_tasks 3 -> 2): rerunning tasks" in logs
    assert len((tmp_path / "tasks.jsonl").read_text().splitlines()) == 2


def test_eval_heldout_tasks_evaluates_on_a_larger_heldout_draw_that_holds_the_bundled_tasks(tmp_path):
    from codealign.domains import get_domain
    from codealign.jsonl import read_jsonl
    from codealign.pipeline import make_config, run_pipeline
    from codealign.types import Task

    config = make_config("verilog", overrides=["eval.heldout_tasks=96", "eval.max_tasks=0", "seed=3"])
    run_pipeline(config, tmp_path, stages=["tasks"])
    evals = read_jsonl(tmp_path / "eval_tasks.jsonl", Task.from_dict)
    train = read_jsonl(tmp_path / "tasks.jsonl", Task.from_dict)
    assert len({t.task_id for t in evals}) == 96
    assert {t.prompt for t in get_domain("verilog").demo_tasks("heldout")} <= {t.prompt for t in evals}
    assert not {t.prompt for t in evals} & {t.prompt for t in train}


def test_eval_heldout_tasks_draws_the_same_tasks_for_every_run_seed(tmp_path):
    from codealign.pipeline import make_config, run_pipeline

    drawn = []
    for seed in (1, 2):
        config = make_config("verilog", overrides=["eval.heldout_tasks=80", "eval.max_tasks=0", f"seed={seed}"])
        run_pipeline(config, tmp_path / str(seed), stages=["tasks"])
        drawn.append((tmp_path / str(seed) / "eval_tasks.jsonl").read_text())
    assert drawn[0] == drawn[1]


def test_an_unchanged_config_keeps_a_stage_done(tmp_path):
    from codealign.pipeline import make_config, run_pipeline

    logs = []
    for _ in range(2):
        run_pipeline(make_config("verilog", overrides=["max_tasks=3"]), tmp_path, stages=["tasks"],
                     log=logs.append)
    assert logs[-1] == "tasks: done earlier, skipped"


def _dpo_checkpoint_after_begin(tmp_path, recorded_dpo_hash):
    from codealign.pipeline import Run, make_config

    config = make_config("verilog", overrides=["method=dpo"])
    checkpoint = tmp_path / "dpo" / "stage-0" / "checkpoint-2"
    checkpoint.mkdir(parents=True)
    state = {"dpo": {"config_hash": recorded_dpo_hash or Run(config, tmp_path).hashes["dpo"], "config": {}}}
    (tmp_path / "state.json").write_text(json.dumps(state))
    Run(config, tmp_path).begin("dpo")
    return checkpoint.exists()


def test_outputs_of_a_stage_run_with_another_config_are_deleted_before_it_reruns(tmp_path):
    assert not _dpo_checkpoint_after_begin(tmp_path, "another-config")


def test_outputs_of_an_interrupted_stage_with_the_same_config_are_kept_to_resume(tmp_path):
    assert _dpo_checkpoint_after_begin(tmp_path, None)


def test_the_pipelines_pairs_stage_checks_contamination_and_estimates_the_flip_rate(tmp_path):
    from codealign.pipeline import Run, make_config, stage_pairs
    from codealign.types import Candidate, ExecResult, Task, Verdict

    def rows(name, items):
        (tmp_path / name).write_text("".join(json.dumps(i.to_dict() if hasattr(i, "to_dict") else i) + "\n"
                                             for i in items))
        return str(tmp_path / name)

    verdicts = [ExecResult(task_id="t1", candidate_id=c, verdict=Verdict(v), score=s, completion=f"module {c};")
                for c, v, s in (("a", "PASS", 1.0), ("b", "FAIL", 0.0))]
    rows("verdicts.jsonl", verdicts)
    rows("candidates.jsonl", [Candidate(task_id="t1", candidate_id=c, completion=f"module {c};") for c in "ab"])
    rows("tasks.jsonl", [Task("t1", "verilog", "write a module named top")])
    bench = rows("bench.jsonl", [{"task_id": "Prob001", "prompt": "write a module named top", "ref": ""}])
    second = rows("second.jsonl", [ExecResult(task_id="t1", candidate_id=c, verdict=Verdict("FAIL"), score=s,
                                              completion="") for c, s in (("a", 0.0), ("b", 1.0))])
    config = make_config("verilog", overrides=["method=dpo", f"pairs.benchmarks=[{bench}]",
                                               f"pairs.flip_verdicts={second}"])
    run = Run(config, tmp_path, quiet=True)
    info = stage_pairs(run, run.plan["pairs"])
    assert info["contamination"]["pairs_flagged"] == 1
    assert info["flip_rate"]["compared"] == 1 and info["flip_rate"]["disagreement"] == 1.0


def test_a_domain_flag_of_run_reaches_the_domain_options():
    from codealign.cli import build_parser
    from codealign.cli.common import option_values
    from codealign.domains import domain_class

    args = build_parser().parse_args(["run", "verilog", "--simulator", "verilator"])
    assert option_values(args, domain_class("verilog").options) == {"simulator": "verilator"}


def test_a_flag_of_another_domain_is_refused_by_run_before_any_stage(tmp_path):
    proc = codealign("run", "ladder", "--simulator", "verilator", "--run-dir", str(tmp_path / "r"), check=False)
    assert proc.returncode == 2 and "--simulator is not an option of domain 'ladder'" in proc.stderr
    assert not (tmp_path / "r").exists()


def test_domain_options_build_the_runs_domain(tmp_path):
    from codealign.pipeline import Run, make_config

    config = make_config("verilog", overrides=["domain_options.simulator=verilator"])
    assert Run(config, tmp_path).domain.simulator == "verilator"


def test_evaluate_policy_scores_every_sample_of_every_seed_and_keeps_its_files(tmp_path, tiny):
    from codealign.pipeline import Run, make_config
    from codealign.pipeline.eval_stages import evaluate_policy

    run = Run(make_config("ladder", overrides=["eval.n=2", "eval.seeds=[1,2]", "sample.max_new_tokens=8"]), tmp_path,
              quiet=True)
    tasks = run.domain.demo_tasks()[:2]
    info = evaluate_policy(run, tiny, tasks, "probe")
    assert info["samples"] == sum(info["verdicts"].values()) == 2 * 2 * 2
    assert set(info["per_task"]) == {t.task_id for t in tasks} and 0.0 <= info["pass@1"] <= 1.0
    assert all((tmp_path / f"eval/probe_seed{s}.jsonl").is_file() for s in (1, 2))
