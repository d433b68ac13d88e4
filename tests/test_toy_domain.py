"""A fifth domain is one package: ``tests/toy_domain/codealign_toy`` (integer arithmetic expressions, judged by a
parser in a sandbox job) is registered from outside codealign — a temporary ``*.dist-info`` with an
``entry_points.txt`` on ``PYTHONPATH``, nothing installed into the venv — and the real CLI runs ``execute``,
``pairs``, ``bench`` and ``run`` on it in subprocesses."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from codealign.jsonl import read_jsonl, write_jsonl
from codealign.types import Candidate, ExecResult, Pair, Task

TOY_ROOT = Path(__file__).parent / "toy_domain"
ADDITION = Task(task_id="toy/add", domain="toy", prompt="x + y", assets={
    "variables": ["x", "y"], "reference": "x + y",
    "cases": [{"env": {"x": x, "y": y}, "expected": x + y} for x, y in ((0, 0), (1, 0), (0, 1), (2, 2))]})
ANSWERS = {"exact": "x + y", "three_of_four": "x*y + x + y", "one_of_four": "x / (x - y)",
           "all_divide_by_zero": "x / 0", "unparsable": "(x +", "unknown_name": "z + 1",
           "python_code": "__import__('os').system('touch pwned')"}


@pytest.fixture(scope="module")
def toy_env(tmp_path_factory):
    """The environment of a Python that sees the toy domain only through its entry point."""
    site = tmp_path_factory.mktemp("site")
    info = site / "codealign_toy-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: codealign-toy\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[codealign.domains]\ntoy = codealign_toy:ToyDomain\n")
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(TOY_ROOT)]), "HF_HUB_OFFLINE": "1",
            "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}


def codealign(env, *argv, check=True):
    proc = subprocess.run([sys.executable, "-m", "codealign.cli", *argv], capture_output=True, text=True, env=env,
                          timeout=600)
    if check and proc.returncode != 0:
        raise AssertionError(f"exit {proc.returncode}: {proc.stderr[-3000:]}")
    return proc


@pytest.fixture(scope="module")
def verdicts(toy_env, tmp_path_factory):
    """``codealign execute --domain toy`` on graded candidates of one task."""
    root = tmp_path_factory.mktemp("execute")
    candidates = [Candidate(ADDITION.task_id, text, candidate_id=name) for name, text in ANSWERS.items()]
    write_jsonl(root / "tasks.jsonl", [ADDITION])
    write_jsonl(root / "candidates.jsonl", candidates)
    codealign(toy_env, "execute", "--domain", "toy", "--tasks", str(root / "tasks.jsonl"), "--candidates",
              str(root / "candidates.jsonl"), "--out", str(root / "verdicts.jsonl"), "--no-cache", "--json")
    return root, {r.candidate_id: r for r in read_jsonl(root / "verdicts.jsonl", ExecResult.from_dict)}


def test_entry_point_registers_the_toy_domain(toy_env):
    code = "from codealign.domains import domain_names, get_domain; print(domain_names()[-1], type(get_domain('toy')).__module__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=toy_env, timeout=120)
    assert out.stdout.split() == ["toy", "codealign_toy"], out.stderr


def test_unknown_domain_names_the_closest_registered_one(toy_env, tmp_path):
    proc = codealign(toy_env, "execute", "--domain", "tyo", "--tasks", "t", "--candidates", "c", "--out",
                     str(tmp_path / "v"), check=False)
    assert proc.returncode == 2 and "did you mean 'toy'" in proc.stderr


@pytest.mark.slow
def test_execute_scores_the_fraction_of_cases_matched(verdicts):
    _, by_id = verdicts
    scores = {name: (r.verdict.value, r.score) for name, r in by_id.items()
              if name in ("exact", "three_of_four", "one_of_four")}
    assert scores == {"exact": ("PASS", 1.0), "three_of_four": ("FAIL", 0.75), "one_of_four": ("FAIL", 0.25)}


@pytest.mark.slow
def test_execute_reports_compile_and_runtime_errors(verdicts):
    _, by_id = verdicts
    assert [by_id[n].verdict.value for n in ("all_divide_by_zero", "unparsable", "unknown_name")] == [
        "RUNTIME_ERROR", "COMPILE_ERROR", "COMPILE_ERROR"]


@pytest.mark.slow
def test_judge_parses_the_candidate_and_never_runs_it(verdicts):
    _, by_id = verdicts
    result = by_id["python_code"]
    assert result.verdict.value == "COMPILE_ERROR" and "unexpected character" in result.details["error"]


@pytest.mark.slow
def test_pairs_choose_the_exact_expression_over_each_worse_one(verdicts, toy_env):
    root, _ = verdicts
    codealign(toy_env, "pairs", "--verdicts", str(root / "verdicts.jsonl"), "--tasks", str(root / "tasks.jsonl"),
              "--strategy", "ranked", "--selection", "best_vs_each", "--out", str(root / "pairs.jsonl"), "--json")
    pairs = read_jsonl(root / "pairs.jsonl", Pair.from_dict)
    assert {p.chosen for p in pairs} == {ANSWERS["exact"]}
    assert {p.rejected for p in pairs} == set(ANSWERS.values()) - {ANSWERS["exact"]}


def test_bench_oracle_passes_every_toy_reference(toy_env, tmp_path):
    proc = codealign(toy_env, "bench", "toybench", "--oracle", "--no-cache", "--json")
    summary = json.loads(proc.stdout)
    assert summary["pass@1"] == 1.0, summary


@pytest.mark.slow
def test_run_chains_the_stages_on_the_toy_domain(toy_env, tmp_path):
    run_dir = tmp_path / "run"
    codealign(toy_env, "run", "toy", "--run-dir", str(run_dir), "--no-cache", "--json",
              "--stages", "tasks,sft,eval_before,generate,execute,pairs",
              "max_tasks=3", "sft.max_steps=2", "sample.n=1", "eval.max_tasks=1", "mutants_per_task=2",
              "round_tasks=unseen")
    done = sorted(p.stem for p in (run_dir / "stages").glob("*.json"))
    assert done == sorted(["tasks", "sft", "eval_before", "generate", "execute", "pairs"])
    pairs = read_jsonl(run_dir / "pairs.jsonl", Pair.from_dict)
    references = {t.assets["reference"] for t in read_jsonl(run_dir / "tasks.jsonl", Task.from_dict)}
    assert pairs and {p.chosen for p in pairs} <= references
