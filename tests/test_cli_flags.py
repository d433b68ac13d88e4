"""Everything on the CLI: the domain's options (``--simulator``, ``--lint``) reach the domain from ``execute``
and ``bench``; every benchmark (``ladder`` included) takes ``--limit``. Real toolchains."""

import json
import os
import subprocess
import sys

import pytest

from codealign import bench
from codealign.domains.verilog import reference_solution
from codealign.domains.verilog.tasks import bundled_tasks
from codealign.jsonl import read_jsonl, write_jsonl
from codealign.types import Candidate, ExecResult

ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


def codealign(*argv, cwd=None):
    return subprocess.run([sys.executable, "-m", "codealign.cli", *argv], capture_output=True, text=True, env=ENV,
                          cwd=cwd, timeout=600)


@pytest.fixture
def golden(tmp_path):
    """One bundled Verilog task and its reference design, as files."""
    task = bundled_tasks("train")[0]
    write_jsonl(tmp_path / "tasks.jsonl", [task])
    write_jsonl(tmp_path / "cands.jsonl", [Candidate(task.task_id, reference_solution(task))])
    return tmp_path


def _execute(folder, *flags) -> ExecResult:
    [result] = _execute_all(folder, *flags)
    return result


@pytest.mark.slow
def test_execute_simulator_flag_simulates_with_verilator(golden):
    result = _execute(golden, "--simulator", "verilator")
    assert result.passed and result.details["simulator"] == "verilator", result.details


def test_execute_lint_flag_runs_verilator_lint(golden):
    result = _execute(golden, "--lint")
    assert result.passed and result.details["lint"]["errors"] == 0, result.details


@pytest.mark.slow
def test_bench_passes_domain_flags_to_the_domain_and_its_reproduce_line():
    proc = codealign("bench", "verilogeval", "--oracle", "--task", "spec-to-rtl", "--limit", "1", "--lint",
                     "--no-cache", "--json")
    report = json.loads(proc.stdout)
    assert proc.returncode == 0 and report["pass@1"] == 1.0, proc.stderr
    assert "--lint" in report["command"].split()


SHARED = {"rtllm": "rtllm/problems.jsonl", "smartbugs": "smartbugs/smartbugs_curated.jsonl",
          "cvdp": "cvdp/cvdp_v1.0.4_example_nonagentic_code_generation_no_commercial_with_solutions.jsonl"}
"""Data of the benchmarks that bundle none, under the shared data folder."""


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(bench.benchmarks()))
def test_every_bench_limit_scores_only_the_first_n_problems(name, shared_data):
    _, benchmark = bench.get_benchmark(name)
    data = ["--data", str(shared_data / SHARED[name])] if benchmark.default_data is None else []
    proc = codealign("bench", name, "--oracle", "--limit", "1", "--no-cache", "--json", *data)
    report = json.loads(proc.stdout)
    assert proc.returncode == 0, proc.stderr
    assert report["scored"] == max(1, len(benchmark.variants)), report
    assert "--limit 1" in report["command"]



def test_execute_no_batch_flag_judges_each_candidate_alone(tmp_path):
    task = bundled_tasks("train")[0]
    good = reference_solution(task)
    write_jsonl(tmp_path / "tasks.jsonl", [task])
    write_jsonl(tmp_path / "cands.jsonl", [Candidate(task.task_id, good), Candidate(task.task_id, "// b\n" + good)])
    batched = [r.details.get("batch") for r in _execute_all(tmp_path)]
    alone = [r.details.get("batch") for r in _execute_all(tmp_path, "--no-batch")]
    assert (batched, alone) == ([2, 2], [None, None])


def _execute_all(folder, *flags) -> list[ExecResult]:
    proc = codealign("execute", "--domain", "verilog", "--tasks", str(folder / "tasks.jsonl"), "--candidates",
                     str(folder / "cands.jsonl"), "--out", str(folder / "v.jsonl"), "--no-cache", "--quiet", *flags)
    assert proc.returncode == 0, proc.stderr
    return read_jsonl(folder / "v.jsonl", ExecResult.from_dict)
