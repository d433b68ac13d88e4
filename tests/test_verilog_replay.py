"""Record and replay for VerilogEval-shaped tasks: the candidate runs with a generated harness, never with the
testbench, and the samples are compared in Python (``codealign.domains.verilog.replay``)."""

import dataclasses
import random
import re
import subprocess

import pytest

from codealign.domains.verilog import reference_solution
from codealign.domains.verilog import tasks as vt
from codealign.domains.verilog import replay
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
    (tmp_path / "out").write_text(out)
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


def guarded_task(demo) -> Task:
    """Demo03 with its own guard (``#1000000 ... TIMEOUT``) moved before the stimulus ends."""
    base = demo["Demo03_count_en"]
    test = base.assets["test"].replace("#1000000", "#50")
    return Task(base.task_id, "verilog", "", assets=dict(base.assets, test=test))


def test_a_testbench_whose_own_guard_fires_gives_tb_timeout_by_replay(domain, demo, backend, tmp_path):
    task = guarded_task(demo)
    for k, text in enumerate([reference_solution(task), WRONG]):
        r = judge(domain, task, text, backend)
        assert r.verdict is Verdict.TIMEOUT and r.details["failure"] == "tb_timeout"
        assert "replay_fallback" not in r.details
        folder = tmp_path / str(k)
        folder.mkdir()
        original_testbench_count(task, text, folder)
        assert "TIMEOUT" in (folder / "out").read_text()  # the testbench itself says so, for either design


def test_a_guard_replay_still_fails_a_design_that_stalls_the_clock(domain, demo, backend):
    task = dataclasses.replace(guarded_task(demo), limits={"wall_s": 5.0, "cpu_s": 10.0})
    stall = COUNTER_HEAD + "always @(posedge clk) while (1) q = q;\nendmodule"
    r = judge(domain, task, stall, backend)
    assert r.verdict is Verdict.TIMEOUT and r.details["failure"] == "sim_timeout"


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


def _unfold(items) -> list:
    out = []
    for item in items:
        out += _unfold(item[2]) * item[1] if item[0] == "repeat" else [tuple(item)]
    return out


def test_folding_a_program_keeps_every_statement_in_order():
    rng = random.Random(0)
    clock = [("delay", 5), ("inputs", ("1", "0")), ("sample",), ("delay", 5), ("inputs", ("0", "0")), ("sample",)]
    noise = [(rng.choice(["delay", "inputs", "sample", "zero"]),) for _ in range(200)]
    noise = [("delay", rng.randint(1, 3)) if s[0] == "delay" else ("inputs", (str(rng.randint(0, 1)), "0"))
             if s[0] == "inputs" else s for s in noise]
    for steps in (clock * 1000, noise + clock * 50 + noise, noise):
        folded = replay._fold(steps)
        assert _unfold(folded) == steps
    assert replay._fold(clock * 1000) == [("repeat", 1000, tuple(clock))]


def test_a_guard_recording_replays_its_clock_as_a_loop_without_samples():
    events = [(kind, t, bits) for k in range(5000) for kind, t, bits in
              (("I", 5 * k, ["1" if k % 2 == 0 else "0"]), ("S", 5 * k, ["0101"]))] + [("E", 25000, [])]
    steps = replay.program(events)
    assert ("sample",) not in _unfold(steps) and _unfold(steps)[-1] == ("end",)
    text = replay.harness(steps, replay.port_widths(events, ["clk"], ["q"]), ["clk"], ["q"], [("TopModule", "<@t@>")],
                          "1 ps/1 ps", "abc")
    assert text.count("\n") < 40 and "repeat (" in text and "wire [3:0] o_q_0_abc;" in text


def test_a_stored_program_that_does_not_fit_its_ports_is_refused():
    good = replay.encode_program([["delay", 5], ["inputs", ["1"]]], {"clk": 1, "q": 4})
    assert replay.decode_program(good, ["clk"], ["q"])[1] == {"clk": 1, "q": 4}
    for steps, widths in (([["inputs", ["1", "0"]]], {"clk": 1, "q": 4}),  # two values for one input
                          ([["repeat", 2, [["repeat", 2, [["delay", 1]]]]]], {"clk": 1, "q": 4}),  # nested loops
                          ([["delay", 0]], {"clk": 1, "q": 4}),
                          ([["inputs", ["11"]]], {"clk": 1, "q": 4}),  # wider than its port
                          ([["delay", 5]], {"clk": 1})):  # an output without a width
        with pytest.raises(ValueError):
            replay.decode_program(replay.encode_program(steps, widths), ["clk"], ["q"])
