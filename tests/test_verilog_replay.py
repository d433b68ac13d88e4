"""Record and replay for VerilogEval-shaped tasks: the candidate runs with a generated harness, never with the
testbench, and the samples are compared in Python (``codealign.domains.verilog.replay``)."""

import re
import subprocess

import pytest

from codealign.domains.verilog import reference_solution
from codealign.domains.verilog import tasks as vt
from codealign.domains.verilog.replay import compare, instrument
from codealign.types import Candidate, Task, Verdict
from test_verilog import COUNTER_HEAD, demo, domain, judge  # noqa: F401 (fixtures)

WRONG = COUNTER_HEAD + "always @(posedge clk) if (reset) q <= 0; else if (en) q <= (q == 4'd12) ? 0 : q + 1;\nendmodule"


def sel_task() -> Task:
    """``y = sel ? a : 4'bx``: a reference whose output is X on half the samples."""
    d = vt.Design(inputs=(vt.Port("clk"), vt.Port("sel"), vt.Port("a", 4)), outputs=(vt.Port("y", 4),),
                  body="  assign y = sel ? a : 4'bx;",
                  stimulus="\t\trepeat (60) @(negedge clk) begin sel <= $random; a <= $random; end")
    return Task("sel_x", "verilog", "", assets={"format": "verilogeval", "test": vt.render_testbench(d),
                                                "ref": vt.render_reference(d), "top_module": "TopModule",
                                                "ref_module": "RefModule"})


SEL_HEAD = "module TopModule(input clk, input sel, input [3:0] a, output [3:0] y);\n"


def original_testbench_count(task, text, tmp_path) -> tuple[int, int, str]:
    """What the original testbench itself counts for ``text`` (tb + reference + design in one iverilog run):
    mismatches, samples, and its hint for output ``q``."""
    for name, body in (("tb.sv", task.assets["test"]), ("ref.sv", task.assets["ref"]), ("dut.sv", text)):
        (tmp_path / name).write_text(body)
    subprocess.run(["iverilog", "-g2012", "-o", "sim", "tb.sv", "ref.sv", "dut.sv"], cwd=tmp_path, check=True)
    out = subprocess.run(["vvp", "-n", "sim"], cwd=tmp_path, capture_output=True, text=True, check=True).stdout
    m = re.search(r"Mismatches: (\d+) in (\d+) samples", out)
    hint = re.search(r"Hint: Output 'q' has .*", out)
    return int(m.group(1)), int(m.group(2)), hint.group() if hint else ""


def test_reference_passes_through_the_replay_harness(domain, demo, backend):
    task = demo["Demo03_count_en"]
    r = judge(domain, task, reference_solution(task), backend)
    assert r.verdict is Verdict.PASS and "replay_fallback" not in r.details
    assert r.details["samples"] > 100 and r.details["outputs"]["q"]["mismatches"] == 0


def test_wrong_design_fails_with_the_testbench_s_own_mismatch_count(domain, demo, backend, tmp_path):
    task = demo["Demo03_count_en"]
    r = judge(domain, task, WRONG, backend)
    mismatches, samples, hint = original_testbench_count(task, WRONG, tmp_path)
    assert r.verdict is Verdict.FAIL and r.details["failure"] == "runtime_mismatch"
    assert (r.details["mismatches"], r.details["samples"]) == (mismatches, samples) and 0 < mismatches < samples
    assert r.score == pytest.approx(1 - mismatches / samples)
    assert hint in r.stdout and f"Mismatches: {mismatches} in {samples} samples" in r.stdout


@pytest.mark.parametrize("value", ["4'bx", "4'bz", "4'b10x1"])
def test_x_or_z_output_where_the_reference_is_0_or_1_fails(domain, demo, backend, value, tmp_path):
    """The right counter, except that its output is X/Z (partly) whenever the count is 5."""
    text = (COUNTER_HEAD.replace("output reg", "output") + "reg [3:0] count;\n"
            "always @(posedge clk) if (reset) count <= 0; else if (en) count <= (count == 4'd11) ? 0 : count + 1;\n"
            f"assign q = (count == 4'd5) ? {value} : count;\nendmodule")
    r = judge(domain, demo["Demo03_count_en"], text, backend)
    mismatches, _, _ = original_testbench_count(demo["Demo03_count_en"], text, tmp_path)
    assert r.verdict is Verdict.FAIL and r.details["mismatches"] == mismatches > 0


def test_x_in_the_reference_is_a_dont_care(domain, backend):
    task = sel_task()
    for other in ("4'b0110", "4'bz"):
        text = SEL_HEAD + f"assign y = sel ? a : {other};\nendmodule"
        r = judge(domain, task, text, backend)
        assert r.verdict is Verdict.PASS and r.details["samples"] > 100, r.details


def test_a_design_wrong_where_the_reference_is_not_x_fails_on_exactly_those_samples(domain, backend, tmp_path):
    task = sel_task()
    r = judge(domain, task, SEL_HEAD + "assign y = sel ? ~a : 4'b0;\nendmodule", backend)
    assert r.verdict is Verdict.FAIL and 0 < r.details["mismatches"] < r.details["samples"]


def test_compare_rules_per_bit():
    trace = {"outputs": ["y"], "times": [1, 2, 3, 4, 5], "samples": [["01"], ["x1"], ["z1"], ["01"], ["01"]]}
    result = compare(trace, [["01"], ["11"], ["z1"], ["0x"], ["0z"]])
    # x in the reference: don't-care; z in the reference: never matches; x/z in the design: mismatch
    assert result["mismatches"] == 3 and result["outputs"]["y"] == {"mismatches": 3, "first_time": 3}


def test_testbench_timeout_falls_back_to_the_testbench_path(domain, demo, backend):
    base = demo["Demo03_count_en"]
    test = base.assets["test"].replace("#1000000", "#50")
    task = Task(base.task_id, "verilog", "", assets=dict(base.assets, test=test))
    r = judge(domain, task, reference_solution(task), backend)
    assert r.verdict is Verdict.TIMEOUT and r.details["replay_fallback"] == "timeout"


def test_instrument_refuses_a_testbench_with_two_sampling_blocks(demo):
    tb = demo["Demo03_count_en"].assets["test"]
    assert instrument(tb, "RefModule", ["clk", "reset", "en"], ["q"]) is not None
    doubled = tb.replace("stats1.clocks++;", "stats1.clocks++; stats1.clocks++;")
    assert instrument(doubled, "RefModule", ["clk", "reset", "en"], ["q"]) is None


def test_candidate_simulation_gets_neither_testbench_nor_reference(domain, demo):
    task = demo["Demo03_count_en"]
    job = domain.prepare(task, Candidate(task.task_id, WRONG))
    build = job.script.index("send build")
    run = job.script.index("trusted/sim 3>&-")
    # every trusted file but the compiled simulation is deleted between the build and the run
    assert "find trusted -mindepth 1 -maxdepth 1 ! -name sim ! -name obj -exec rm -rf {} +" in job.script[build:run]
    assert 'srcs="cand.i trusted/harness.sv"' in job.script and job.tag not in job.script
