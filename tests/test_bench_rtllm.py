"""RTLLM benchmark: the golden self-test on the shared data and the loader's input checks."""

import json

import pytest

from codealign import bench
from codealign.domains.verilog.rtllm import load_rtllm
from codealign.domains.verilog import reference_solution
from codealign.errors import UserError

# The references that fail under Icarus 11, as shared/data/rtllm/README.md lists.
ICARUS11_FAILING = {"ring_counter", "asyn_fifo", "clkgenerator"}


@pytest.mark.slow
def test_oracle_on_rtllm_passes_40_of_43_failing_exactly_the_listed_three(shared_data):
    summary = bench.run("rtllm", data=shared_data / "rtllm" / "problems.jsonl", oracle=True, screen=False).to_dict()
    rep = summary["report"]
    assert (rep["passed"], rep["total"]) == (40, 43)
    assert set(rep["failing"]) == ICARUS11_FAILING
    assert rep["failing"]["clkgenerator"]["verdict"] == "FAIL"
    assert rep["failing"]["asyn_fifo"]["verdict"] == "COMPILE_ERROR"


def test_reference_rename_targets_the_testbench_module(shared_data):
    task = {t.task_id: t for t in load_rtllm(shared_data / "rtllm" / "problems.jsonl")}["accu"]
    assert task.assets["ref_top_module"] == "verified_accu"
    assert "module accu" in reference_solution(task) and "verified_accu" not in reference_solution(task)


def test_aux_files_are_carried_in_the_task(shared_data):
    task = {t.task_id: t for t in load_rtllm(shared_data / "rtllm" / "problems.jsonl")}["alu"]
    assert "reference.dat" in task.assets["aux_files"]


def test_a_row_without_a_testbench_is_a_one_line_error(tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_text(json.dumps({"task_id": "x", "description": "d", "ref": "r", "top_module": "x",
                                "ref_top_module": "x"}) + "\n")
    with pytest.raises(UserError, match="lacks test"):
        load_rtllm(path)


def test_an_aux_file_escaping_the_job_dir_is_rejected(tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_text(json.dumps({"task_id": "x", "description": "d", "test": "t", "ref": "r", "top_module": "x",
                                "ref_top_module": "x", "aux_files": {"../evil.dat": "1"}}) + "\n")
    with pytest.raises(UserError, match="not allowed"):
        load_rtllm(path)


def test_rtllm_without_data_is_a_user_error():
    with pytest.raises(UserError, match="--data"):
        bench.run("rtllm", oracle=True)
