"""Verdicts a candidate cannot forge: every way a design can try to pass without being right must fail.

Each attack starts from a design that is wrong (or from the reference plus an early end), so a PASS would be
a forged verdict. The bundled demo problem ``Demo03_count_en`` is VerilogEval-shaped (``tb``, ``stats1``,
``good1``, ``q_ref``, ``RefModule``, a ``final`` summary); mutants are checked on VerilogEval references.
"""

import pytest

from codealign.domains.verilog.verilogeval import inverted_output_mutant, load_verilogeval
from codealign.domains.verilog import reference_solution
from codealign.domains.verilog import VerilogDomain
from codealign.types import Candidate, Verdict

HEAD = "module TopModule(input clk, input reset, input en, output reg [3:0] q);\n"
WIRE_HEAD = "module TopModule(input clk, input reset, input en, output [3:0] q);\n"
WRONG = HEAD + "always @(posedge clk) q <= reset ? 4'd0 : q + 4'd3;\n"


@pytest.fixture(scope="module")
def task():
    return {t.task_id: t for t in load_verilogeval(None)}["Demo03_count_en"]


@pytest.fixture(scope="module")
def domain():
    return VerilogDomain()


def verdict_of(domain, task, text, backend):
    return domain.evaluate(task, Candidate(task.task_id, text), backend)


def test_the_wrong_design_used_below_fails_on_its_own(domain, task, backend):
    assert verdict_of(domain, task, WRONG + "endmodule", backend).verdict is Verdict.FAIL


def test_printing_a_pass_line_does_not_pass(domain, task, backend):
    text = WRONG + 'initial $display("Mismatches: 0 in 661 samples");\n' \
                   'final $display("Mismatches: 0 in 661 samples");\nendmodule'
    r = verdict_of(domain, task, text, backend)
    assert r.verdict is Verdict.FAIL and r.details["mismatches"] > 0


def test_printing_a_tag_lookalike_does_not_pass(domain, task, backend):
    text = WRONG + 'final $display("<@0123456789abcdef@>Mismatches: 0 in 661 samples");\nendmodule'
    assert verdict_of(domain, task, text, backend).verdict is Verdict.FAIL


def test_writing_the_testbench_error_counter_fails(domain, task, backend):
    text = WRONG + "always @(posedge clk) tb.stats1.errors = 0;\nendmodule"
    r = verdict_of(domain, task, text, backend)
    assert r.verdict is Verdict.COMPILE_ERROR and r.details["failure"] == "disallowed_construct"


def test_upward_reference_to_the_error_counter_fails(domain, task, backend):
    text = WRONG + "always @(negedge clk) stats1.errors = 0;\nendmodule"
    r = verdict_of(domain, task, text, backend)
    assert r.verdict is Verdict.COMPILE_ERROR and r.details["failure"] == "disallowed_construct"


def test_copying_the_reference_output_fails(domain, task, backend):
    r = verdict_of(domain, task, WIRE_HEAD + "assign q = tb.q_ref;\nendmodule", backend)
    assert r.verdict is Verdict.COMPILE_ERROR and r.details["failure"] == "disallowed_construct"


def test_copying_the_reference_instance_upward_fails(domain, task, backend):
    r = verdict_of(domain, task, WIRE_HEAD + "assign q = good1.q;\nendmodule", backend)
    assert r.verdict is Verdict.COMPILE_ERROR and r.details["failure"] == "disallowed_construct"


def test_root_reference_is_forbidden(domain, task, backend):
    r = verdict_of(domain, task, WIRE_HEAD + "assign q = $root.tb.q_ref;\nendmodule", backend)
    assert r.verdict is Verdict.COMPILE_ERROR


def test_instantiating_the_reference_fails(domain, task, backend):
    text = WIRE_HEAD + "RefModule r(.clk(clk), .reset(reset), .en(en), .q(q));\nendmodule"
    r = verdict_of(domain, task, text, backend)
    assert r.verdict is Verdict.COMPILE_ERROR and r.details["failure"] == "unknown_module"


def test_including_the_reference_source_fails(domain, task, backend):
    r = verdict_of(domain, task, '`include "trusted/ref.sv"\n' + WRONG + "endmodule", backend)
    assert r.verdict is Verdict.COMPILE_ERROR and r.details["constructs"] == ["directive `include"]


def test_ending_the_simulation_early_is_forbidden(domain, task, backend):
    text = reference_solution(task).replace("endmodule", "initial #40 $finish;\nendmodule")
    r = verdict_of(domain, task, text, backend)
    assert r.verdict is Verdict.COMPILE_ERROR and r.details["constructs"] == ["$finish"]


def test_a_system_task_built_by_token_pasting_is_refused_with_the_macro(domain, task, backend):
    text = "`define F(x) $fin``x\n" + reference_solution(task).replace("endmodule", "initial #40 `F(ish);\nendmodule")
    r = verdict_of(domain, task, text, backend)
    assert r.verdict is Verdict.COMPILE_ERROR and r.details["constructs"] == ["directive `define", "directive `F"]


def test_a_denied_call_in_an_unelaborated_generate_branch_is_still_rejected(domain, task, backend):
    text = reference_solution(task).replace(
        "endmodule", "parameter P = 0;\ngenerate if (P) begin : g\ninitial $stop;\nend endgenerate\nendmodule")
    r = verdict_of(domain, task, text, backend)
    assert r.verdict is Verdict.COMPILE_ERROR and r.details["constructs"] == ["$stop"]


def test_reading_the_compiled_testbench_is_forbidden(domain, task, backend):
    text = WRONG + 'integer fd; initial fd = $fopen("trusted/sim", "r");\nendmodule'
    r = verdict_of(domain, task, text, backend)
    assert r.verdict is Verdict.COMPILE_ERROR and r.details["constructs"] == ["$fopen"]


def test_redefining_a_testbench_module_fails(domain, task, backend):
    r = verdict_of(domain, task, reference_solution(task) + "\nmodule tb; endmodule\n", backend)
    assert r.verdict is Verdict.COMPILE_ERROR and r.details["constructs"] == ["module name tb (taken by the testbench)"]


def test_defining_the_reference_name_does_not_replace_the_reference(domain, task, backend):
    fake_ref = WRONG.replace("TopModule", "RefModule") + "endmodule\n"
    r = verdict_of(domain, task, fake_ref + WRONG + "endmodule", backend)
    assert r.verdict is Verdict.FAIL


MUTANT_SAMPLE = ["Prob001_zero", "Prob030_popcount255", "Prob035_count1to10", "Prob050_kmap1",
                 "Prob090_circuit1", "Prob120_fsm3s"]


@pytest.mark.slow
@pytest.mark.parametrize("task_id", MUTANT_SAMPLE)
def test_a_mutant_of_a_reference_fails(task_id, shared_data, domain, backend):
    task = {t.task_id: t for t in load_verilogeval(shared_data / "verilogeval" / "problems.jsonl")}[task_id]
    ref = reference_solution(task)
    mutant = inverted_output_mutant(task)
    assert mutant is not None
    assert verdict_of(domain, task, ref, backend).verdict is Verdict.PASS
    assert verdict_of(domain, task, mutant, backend).verdict is Verdict.FAIL
