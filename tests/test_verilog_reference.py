"""The reference phase recorded once per task (``codealign.domains.verilog.reference``): one record job per
task however many candidates and threads, none on a later run with the store, a corrupt entry recorded again,
keys that follow the judge and the simulator, and a harness that replays the recording into several designs."""

import subprocess

import pytest

from codealign.domains.verilog import VerilogDomain, reference_solution, tagged_lines
from codealign.domains.verilog.reference import ReferenceStore, recording_key, replay_harness
from codealign.domains.verilog.replay import compare, read_samples
from codealign.domains.verilog.verilogeval import load_verilogeval
from codealign.execution.executor import execute
from codealign.types import Candidate, Verdict

WRONG = ("module TopModule(input clk, input reset, input en, output reg [3:0] q);\n"
         "always @(posedge clk) q <= reset ? 4'd0 : q + 4'd3;\nendmodule\n")


@pytest.fixture(scope="module")
def task():
    return {t.task_id: t for t in load_verilogeval(None)}["Demo03_count_en"]


def candidates(task, n: int) -> list[Candidate]:
    ref = reference_solution(task)
    return [Candidate(task.task_id, f"{ref}\n// {i}\n" if i % 2 else f"{WRONG}// {i}\n") for i in range(n)]


def test_one_record_job_per_task_and_none_on_a_run_with_the_store(task, backend, tmp_path):
    first = VerilogDomain(reference_store=str(tmp_path))
    try:
        results = execute(first, [task], candidates(task, 6), backend=backend, progress=False, workers=3)
        assert [r.verdict for r in results] == [Verdict.FAIL, Verdict.PASS] * 3
        assert first._references.recorded == 1
    finally:
        first.close()
    second = VerilogDomain(reference_store=str(tmp_path))
    try:
        results = execute(second, [task], candidates(task, 2), backend=backend, progress=False)
        assert [r.verdict for r in results] == [Verdict.FAIL, Verdict.PASS]
        assert second._references.recorded == 0
        assert all(r.details["phase_s"]["reference"] == 0.0 for r in results)
    finally:
        second.close()


def test_a_corrupt_store_entry_is_recorded_again(task, backend, tmp_path):
    domain = VerilogDomain(reference_store=str(tmp_path))
    good = Candidate(task.task_id, reference_solution(task))
    try:
        assert domain.evaluate(task, good, backend).verdict is Verdict.PASS
        (entry,) = tmp_path.glob("*.json")
        text = entry.read_text()
        # a truncated file, then a whole one whose samples were edited (its stimulus no longer decodes)
        for broken in (text[: len(text) // 2], text.replace('"stimulus": "', '"stimulus": "AAAA')):
            entry.write_text(broken)
            again = VerilogDomain(reference_store=str(tmp_path))
            try:
                assert again.evaluate(task, good, backend).verdict is Verdict.PASS
                assert again._references.recorded == 1
            finally:
                again.close()
            assert entry.read_text() != broken
    finally:
        domain.close()


def test_recording_keys_follow_the_judge_and_the_simulator(task):
    keys = {recording_key(task, fp, sim) for fp in ("judge-a", "judge-b") for sim in ("iverilog", "verilator")}
    assert len(keys) == 4
    assert recording_key(task, "judge-a", "iverilog") == recording_key(task, "judge-a", "iverilog")


def test_store_ignores_an_entry_recorded_for_another_key(task, backend, tmp_path):
    domain = VerilogDomain(reference_store=str(tmp_path))
    try:
        domain.evaluate(task, Candidate(task.task_id, reference_solution(task)), backend)
    finally:
        domain.close()
    (entry,) = tmp_path.glob("*.json")
    other = "0" * 64
    (tmp_path / f"{other}.json").write_text(entry.read_text())
    assert ReferenceStore(tmp_path).load(other) is None
    assert ReferenceStore(tmp_path).load(entry.stem) is not None


def test_one_harness_replays_the_recording_into_each_design_behind_its_own_tag(task, backend, tmp_path):
    domain = VerilogDomain(reference_store=str(tmp_path / "store"))
    try:
        recording, _ = domain._recording(task, backend)
    finally:
        domain.close()
    designs = {"A": reference_solution(task).replace("TopModule", "design_a"), "B": WRONG.replace("TopModule", "design_b")}
    harness = replay_harness(recording, [("design_a", "<@a@>"), ("design_b", "<@b@>")])
    (tmp_path / "all.sv").write_text(designs["A"] + designs["B"] + harness)
    subprocess.run(["iverilog", "-g2012", "-o", "sim", "all.sv"], cwd=tmp_path, check=True)
    out = subprocess.run(["vvp", "-n", "sim"], cwd=tmp_path, capture_output=True, text=True, check=True).stdout
    widths = [len(bits) for bits in recording.trace["samples"][0]]
    rows = {tag: read_samples(tagged_lines(out, tag), widths) for tag in ("<@a@>", "<@b@>")}
    assert compare(recording.trace, rows["<@a@>"])["mismatches"] == 0
    assert compare(recording.trace, rows["<@b@>"])["mismatches"] > 0
