"""The verilog domain: verdicts, graded score, failure taxonomy and bad input, on the bundled demo problems
(and RTLLM from the shared data), through the real iverilog / Verilator."""

import dataclasses
import random
import re
import subprocess
import time

import pytest

from codealign.domains.verilog.verilogeval import load_verilogeval
from codealign.domains.verilog import reference_solution
from codealign.domains import get_domain
from codealign.domains.verilog import VerilogDomain, VerilogJob, parse_stages, tag_displays, tagged_lines
from codealign.domains.verilog.jobs import without_dumps
from codealign.types import Candidate, Verdict


@pytest.fixture(scope="module")
def demo():
    return {t.task_id: t for t in load_verilogeval(None)}


@pytest.fixture(scope="module")
def domain():
    return VerilogDomain()


def judge(domain, task, text, backend):
    return domain.evaluate(task, Candidate(task.task_id, text), backend)


COUNTER_HEAD = "module TopModule(input clk, input reset, input en, output reg [3:0] q);\n"


def test_registry_builds_the_verilog_domain():
    assert isinstance(get_domain("verilog"), VerilogDomain)


def test_reference_passes_with_full_score(domain, demo, backend):
    task = demo["Demo03_count_en"]
    r = judge(domain, task, reference_solution(task), backend)
    assert r.verdict is Verdict.PASS and r.score == 1.0
    assert r.details["mismatches"] == 0 and r.details["samples"] > 100


def test_wrong_design_fails_with_score_one_minus_mismatch_fraction(domain, demo, backend):
    task = demo["Demo03_count_en"]
    wrong = COUNTER_HEAD + "always @(posedge clk) if (reset) q <= 0; else if (en) q <= (q == 4'd12) ? 0 : q + 1;\nendmodule"
    r = judge(domain, task, wrong, backend)
    assert r.verdict is Verdict.FAIL
    m, s = r.details["mismatches"], r.details["samples"]
    assert 0 < m < s
    assert r.score == pytest.approx(1 - m / s)
    assert r.details["failure"] == "runtime_mismatch"


def test_stdout_keeps_the_summary_without_the_per_job_tag(domain, demo, backend):
    task = demo["Demo01_mux4"]
    r = judge(domain, task, reference_solution(task), backend)
    assert "Mismatches: 0 in" in r.stdout and "<@" not in r.stdout


def test_empty_candidate_is_compile_error_without_running(domain, demo, backend):
    r = judge(domain, demo["Demo01_mux4"], "  \n\t", backend)
    assert r.verdict is Verdict.COMPILE_ERROR and r.details["failure"] == "empty" and r.wall_s == 0


def test_garbage_text_is_a_syntax_error(domain, demo, backend):
    r = judge(domain, demo["Demo01_mux4"], "Sure! Here is the module you asked for.", backend)
    assert r.verdict is Verdict.COMPILE_ERROR and r.details["failure"] == "syntax_error"
    assert "syntax error" in r.stderr


def test_non_utf8_candidate_is_a_clean_compile_error(domain, demo, backend):
    text = "module TopModule(input [3:0] a, output [3:0] out);\udcff\udcfe assign out = a; endmodule"
    r = judge(domain, demo["Demo01_mux4"], text, backend)
    assert r.verdict is Verdict.COMPILE_ERROR


def test_ten_megabyte_candidate_is_rejected_before_running(domain, demo, backend):
    t0 = time.monotonic()
    r = judge(domain, demo["Demo01_mux4"], "// " + "x" * (10 << 20), backend)
    assert r.verdict is Verdict.COMPILE_ERROR and r.details["failure"] == "too_large"
    assert time.monotonic() - t0 < 5


def test_missing_top_module_is_unknown_module(domain, demo, backend):
    r = judge(domain, demo["Demo01_mux4"], "module Other(input a, output b); assign b = a; endmodule", backend)
    assert r.verdict is Verdict.COMPILE_ERROR and r.details["failure"] == "unknown_module"


def test_undefined_signal_is_unbound_name(domain, demo, backend):
    text = "module TopModule(input [3:0] a, b, c, d, input [1:0] sel, output [3:0] out); assign out = e; endmodule"
    r = judge(domain, demo["Demo01_mux4"], text, backend)
    assert r.verdict is Verdict.COMPILE_ERROR and r.details["failure"] == "unbound_name"


def test_undefined_system_task_is_refused_by_the_allowlist(domain, demo, backend):
    task = demo["Demo01_mux4"]
    text = reference_solution(task).replace("endmodule", "initial $no_such_task;\nendmodule")
    r = judge(domain, task, text, backend)
    assert r.verdict is Verdict.COMPILE_ERROR and r.details["failure"] == "disallowed_construct"
    assert r.details["constructs"] == ["$no_such_task"]


def test_always_block_without_delay_is_a_compile_error(domain, demo, backend):
    task = demo["Demo01_mux4"]
    text = reference_solution(task).replace("endmodule", "reg spin = 0;\nalways spin = !spin;\nendmodule")
    r = judge(domain, task, text, backend)
    assert r.verdict is Verdict.COMPILE_ERROR and r.details["failure"] == "zero_delay_loop"


@pytest.mark.slow
def test_design_that_never_lets_simulation_finish_times_out_within_its_deadline(domain, demo, backend):
    task = dataclasses.replace(demo["Demo01_mux4"], limits={"wall_s": 3})
    text = reference_solution(task).replace("endmodule", "initial while (1) begin end\nendmodule")
    t0 = time.monotonic()
    r = judge(domain, task, text, backend)
    assert r.verdict is Verdict.TIMEOUT and r.details["failure"] == "sim_timeout"
    assert time.monotonic() - t0 < 3 + 2


def test_testbench_timeout_line_gives_timeout(domain, demo, backend):
    base = demo["Demo03_count_en"]
    assets = dict(base.assets, test=base.assets["test"].replace("#1000000", "#50"))
    task = dataclasses.replace(base, assets=assets)
    r = judge(domain, task, reference_solution(task), backend)
    assert r.verdict is Verdict.TIMEOUT and r.details["failure"] == "tb_timeout" and r.score == 0


def test_code_complete_body_gets_the_module_header(domain, backend):
    task = {t.task_id: t for t in load_verilogeval(None, "code-complete")}["Demo02_bin2gray"]
    r = judge(domain, task, "  assign gray = bin ^ (bin >> 1);\nendmodule\n", backend)
    assert r.verdict is Verdict.PASS


def test_design_ignoring_reset_fails_with_its_first_mismatch_time(domain, demo, backend):
    task = demo["Demo03_count_en"]
    text = COUNTER_HEAD + "always @(posedge clk) if (en) q <= (q == 4'd11) ? 0 : q + 1;\nendmodule"
    r = judge(domain, task, text, backend)
    assert r.verdict is Verdict.FAIL and r.details["failure"] == "runtime_mismatch"
    assert r.details["outputs"]["q"]["mismatches"] == r.details["mismatches"] > 0
    assert r.details["outputs"]["q"]["first_time"] > 0


def test_lint_is_recorded_as_a_signal_when_enabled(demo, backend):
    task = demo["Demo01_mux4"]
    text = reference_solution(task).replace("endmodule", "wire [3:0] spare;\nendmodule")
    r = judge(VerilogDomain(lint=True), task, text, backend)
    assert r.verdict is Verdict.PASS
    assert r.details["lint"]["warnings"] >= 1


@pytest.mark.slow
def test_verilator_simulator_passes_the_reference(demo, backend):
    task = demo["Demo02_bin2gray"]
    r = judge(VerilogDomain(simulator="verilator"), task, reference_solution(task), backend)
    assert r.verdict is Verdict.PASS and r.details["simulator"] == "verilator"


def test_rtllm_failures_over_checks_is_the_score(domain, shared_data, backend):
    from codealign.domains.verilog.rtllm import load_rtllm
    from codealign.domains.verilog import reference_solution as rtllm_ref

    task = {t.task_id: t for t in load_rtllm(shared_data / "rtllm" / "problems.jsonl")}["adder_8bit"]
    good = rtllm_ref(task)
    assert judge(domain, task, good, backend).verdict is Verdict.PASS
    bad = "module adder_8bit(input [7:0] a, b, input cin, output [7:0] sum, output cout);\n" \
          "assign {cout, sum} = a + b;\nendmodule\n"
    r = judge(domain, task, bad, backend)
    assert r.verdict is Verdict.FAIL and r.details["checks"] == 100
    assert 0 < r.details["failures"] < 100
    assert r.score == pytest.approx(1 - r.details["failures"] / 100)


def test_iverilog_missing_from_path_is_sandbox_error(domain, demo, backend, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    r = judge(domain, demo["Demo01_mux4"], "module TopModule; endmodule", backend)
    assert r.verdict is Verdict.SANDBOX_ERROR and "iverilog" in r.details["error"]


def test_unknown_asset_format_is_sandbox_error_not_a_crash(domain, demo):
    from codealign.execution.executor import execute

    task = dataclasses.replace(demo["Demo01_mux4"], task_id="weird", assets={"format": "vhdl"})
    [r] = execute(domain, [task], [Candidate("weird", "module TopModule; endmodule")], progress=False)
    assert r.verdict is Verdict.SANDBOX_ERROR and "vhdl" in r.details["error"]


def test_unknown_simulator_is_rejected():
    with pytest.raises(ValueError, match="simulator"):
        VerilogDomain(simulator="modelsim")


def test_job_script_is_the_same_for_every_job_and_holds_no_tag(domain, demo):
    task = demo["Demo01_mux4"]
    a = domain.prepare(task, Candidate(task.task_id, "module TopModule; endmodule"))
    b = domain.prepare(task, Candidate(task.task_id, "module TopModule; endmodule // other"))
    assert isinstance(a, VerilogJob) and isinstance(b, VerilogJob)
    assert a.tag != b.tag
    assert a.script == b.script and a.tag not in a.script
    assert a.tag in a.files["trusted/tb.sv"] and "RefModule(" not in a.files["trusted/ref.sv"].replace(" ", "")


def test_tagging_prefixes_every_testbench_print():
    tb = 'initial begin $display("a %d", x); $write(y); $display(); $strobe ( "b" ); end'
    out = tag_displays(tb, "<T>")
    assert '$display("<T>a %d", x)' in out and '$write("<T>", y)' in out
    assert "$display()" in out and '$strobe ( "<T>b" )' in out
    assert tagged_lines("junk<T>Mismatches: 0 in 3 samples\nMismatches: 0 in 9 samples\n", "<T>") == \
        ["Mismatches: 0 in 3 samples"]


def test_the_job_testbench_writes_no_waveform(tmp_path):
    tb = ('module tb; reg clk = 0;\ninitial begin $dumpfile("w.vcd"); $dumpvars(1, clk, tb.clk); end\n'
          'initial $dumpvars;\nalways #5 clk = ~clk;\ninitial #20 $finish;\nendmodule\n')
    for name, text in (("as_given", tb), ("job", without_dumps(tb))):
        folder = tmp_path / name
        folder.mkdir()
        (folder / "tb.sv").write_text(text)
        subprocess.run(["iverilog", "-g2012", "-o", "sim", "tb.sv"], cwd=folder, check=True)
        subprocess.run(["vvp", "-n", "sim"], cwd=folder, check=True, capture_output=True)
    assert (tmp_path / "as_given" / "w.vcd").exists() and not (tmp_path / "job" / "w.vcd").exists()
    assert "$dump" not in without_dumps(tb)


def test_truncated_trusted_record_is_marked_incomplete():
    stages = parse_stages(b"@pre 0 3\nabc@text 0 10\nshort")
    assert stages["pre"] == (0, "abc", True)
    assert stages["text"][2] is False


def test_mutate_delegates_to_the_mutation_module(domain, demo):
    ref = reference_solution(demo["Demo03_count_en"])
    mutants = domain.mutate(ref, random.Random(0))
    assert mutants and all(isinstance(text, str) and text != ref for text, _ in mutants)


def test_toolchain_version_names_icarus(domain):
    assert re.search(r"Icarus Verilog version \d+", domain.toolchain_version())


# -- the allowlist on slang's syntax tree (no sandbox: the check itself) ------------------------------------------
def refused(text: str, reserved=frozenset()) -> list[str]:
    from codealign.domains.verilog.allowlist import check_design

    return [v.construct for v in check_design({"cand.sv": text}, frozenset(reserved))]


def test_allowlist_accepts_every_reference_of_the_benchmarks_and_the_procedural_family(shared_data):
    from codealign.domains.verilog.rtllm import load_rtllm
    from codealign.domains.verilog.tasks import bundled_tasks

    tasks = [t for v in ("spec-to-rtl", "code-complete")
             for t in load_verilogeval(shared_data / "verilogeval" / "problems.jsonl", v)]
    tasks += load_rtllm(shared_data / "rtllm" / "problems.jsonl") + bundled_tasks("train") + bundled_tasks("heldout")
    assert len(tasks) > 156 + 43
    assert {t.task_id: refused(reference_solution(t)) for t in tasks if refused(reference_solution(t))} == {}


def test_allowlist_names_an_escaped_system_task_by_its_name():
    assert refused("module T; initial #5 \\$finish ; endmodule") == ["$finish"]


def test_allowlist_refuses_every_directive_and_macro_use_but_a_plain_timescale():
    assert refused("`define F(x) $fin``x\nmodule T; initial `F(ish); endmodule") == ["directive `define", "directive `F"]
    assert refused("`timescale 1ns/1ps\nmodule T; endmodule") == []
    assert refused("`timescale 1ns/1ps module T; endmodule") == ["directive `timescale"]
    assert refused("`resetall\n`default_nettype none\nmodule T; endmodule") == \
        ["directive `resetall", "directive `default_nettype"]


def test_allowlist_refuses_a_dotted_name_starting_at_a_plain_variable():
    assert refused("module T(output y); reg tb; assign y = tb.secret; endmodule") == ["hierarchical name tb.secret"]


def test_allowlist_accepts_dotted_names_into_own_instances_and_struct_members():
    text = ("module S(output o); assign o = 1; endmodule\n"
            "module T(output y, output z); typedef struct packed { logic f; } s_t; s_t s;\n"
            "S u(); assign y = u.o; assign z = s.f; endmodule")
    assert refused(text) == []


def test_allowlist_refuses_driving_an_input_that_shares_its_direction_with_the_previous_port():
    assert refused("module T(input a, b, output y); assign b = 1'bx; assign y = a; endmodule") == \
        ["drives its own input b"]


def test_allowlist_refuses_attributes_but_not_an_implicit_event_list():
    assert refused("module T(input a, output reg y); (* keep *) wire w; always @(*) y = a; endmodule") == \
        ["attribute (* *)"]
    assert refused("module T(input a, output reg y); always @(*) y = a; always @( * ) y = a; endmodule") == []


def test_allowlist_refuses_bind_dpi_and_testbench_module_names():
    assert refused("module T; endmodule\nbind tb T t();") == ["bind"]
    assert refused('module T; import "DPI-C" function int f(); endmodule') == ["DPI import"]
    assert refused("module T; endmodule\nmodule tb; endmodule", {"tb"}) == ["module name tb (taken by the testbench)"]


def test_allowlist_include_check_reads_no_file(tmp_path):
    """The include target is a FIFO nobody writes: reading it would block forever."""
    import os

    fifo = tmp_path / "fifo.v"
    os.mkfifo(fifo)
    assert refused(f'`include "{fifo}"\nmodule T; endmodule') == ["directive `include"]


def test_rtllm_shadow_reference_is_fed_the_design_instance_inputs(domain, shared_data):
    from codealign.domains.verilog import x_rule_shadow
    from codealign.domains.verilog.rtllm import load_rtllm

    task = {t.task_id: t for t in load_rtllm(shared_data / "rtllm" / "problems.jsonl")}["comparator_3bit"]
    tb, ref = x_rule_shadow(task.assets["test"], task.assets, "abc", "<T>")
    assert "module comparator_3bit_abc" in ref and "module comparator_3bit " not in ref
    assert "comparator_3bit_abc  xrule_abc(.A(uut.A), .B(uut.B));" in tb
    assert tb.index("xrule_abc_samples") < tb.rindex("endmodule")


def test_allowlist_checks_compilation_unit_declarations_and_packages_like_module_bodies():
    assert refused("function automatic int f(); $finish; return 1; endfunction\nmodule T; endmodule") == ["$finish"]
    assert refused('package p; function automatic int f(); return $fopen("x"); endfunction endpackage') == ["$fopen"]


def test_allowlist_refuses_importing_a_package_the_design_does_not_define():
    assert refused("module T; import tb_pkg::*; endmodule") == ["import of package tb_pkg"]
    assert refused("package p; localparam int W = 1; endpackage\nmodule T; import p::*; endmodule") == []
