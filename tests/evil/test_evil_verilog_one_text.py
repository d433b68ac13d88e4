"""Attacks that live between two readers of one text (slang and the compilers' preprocessors), between two
simulators and between two build contexts (the design alone, the design beside the testbench): each design
is wrong or defines no ``TopModule`` and, unless stopped, PASSes or reaches a trusted file. Each must be
refused before any compiler builds it, as ``disallowed_construct`` with the construct and its line, under
bwrap and docker (and under Verilator where the attack needs it).
"""

import pytest

from codealign.domains.verilog import VerilogDomain
from codealign.domains.verilog.rtllm import load_rtllm
from codealign.domains.verilog.verilogeval import load_verilogeval
from codealign.types import Candidate, Verdict

COUNTER = "module TopModule(input clk, input reset, input en, output [3:0] q);\n"
# Icarus's preprocessor reads (* ... *) as a comment without strings: after the inner *) it runs the
# directives that slang reads as part of a string (a backslash continues a string to the next line).
ATTRIBUTE_DEFINE = ('(* a = "*)\\\n`define timescale `define timescale `include <oracle.sv>\\\n" *)\n'
                    '(* b = "*)\\\n`timescale 1ns/1ps\\\n" *)\nmodule Decoy; endmodule\n')
LEXICAL = {
    "attribute_string_hiding_a_define": (ATTRIBUTE_DEFINE, "attribute (* *)", 1),
    "attribute_string_hiding_a_forced_match": (
        COUNTER + '(* a = "*) initial force tb.tb_match = 1; //" *)\nassign q = 0;\nendmodule\n', "attribute (* *)", 2),
    "redefined_predefined_timescale": (
        "`define timescale `include <oracle.sv>\n`timescale 1ps/1ps\nmodule Decoy; endmodule\n",
        "directive `define", 1),
    "undefined_predefined_macro_then_resetall": (
        "`undef timescale\n`resetall\n" + COUNTER + "assign q = 0;\nendmodule\n", "directive `undef", 1),
    # found attacking this judge: ivlpp expands a predefined macro inside an escaped identifier, so slang's
    # name and Icarus's differ (\\in`__ICARUS__ is \\in1 , the port in1, to Icarus)
    "escaped_identifier_a_preprocessor_expands": (
        COUNTER + "wire \\q`__ICARUS__ ;\nassign q = 0;\nendmodule\n",
        "text iverilog -E reads differently from the checker", 2),
    "directive_state_reaching_the_testbench": (
        "`unconnected_drive pull1\n`default_nettype none\n" + COUNTER + "assign q = 0;\nendmodule\n",
        "directive `unconnected_drive", 1),
}
# A named block whose name the testbench also uses (its reference instance, its top module), declared where
# the reference does not see it, so that the name is looked up upward, through the testbench.
HIDDEN_GOOD1 = "initial begin : hide begin : good1 end end\n"
CONSTANT_DIFFERENTIAL = (COUNTER + HIDDEN_GOOD1 +  # 'hffffffff + 1 is 0 in 32 bits (Verilator), 2**32 in Icarus
                         "if (('hffffffff + 1) == 0) begin : g\n  assign q = good1.q;\nend else begin : h\n"
                         "  assign q = 4'd0;\nend\nendmodule\n")
MULTIPLIER = ("`timescale 1ns/1ns\nmodule multi_pipe_4bit #(parameter size = 8) (input clk, input rst_n, "
              "input [size-1:0] mul_a, input [size-1:0] mul_b, output reg [size*2-1:0] mul_out = 0);\n")
# The testbench builds size = 4; the design alone (default 8) builds the decoy branch.
COPY_EXPECTED = "always @(multi_pipe_tb.perfect) mul_out <= #15 multi_pipe_tb.perfect;"
SCOPING = {
    "named_block_scoping": (MULTIPLIER + "initial begin : hide begin : multi_pipe_tb end end\n"
                            f"if (size == 4) begin : g\n  {COPY_EXPECTED}\nend else begin : h\n"
                            "  always @(posedge clk) mul_out <= 0;\nend\nendmodule\n", 5),
    "parameter_override_differential": (
        "module S; endmodule\n" + MULTIPLIER + "if (size == 8) begin : d\n  S multi_pipe_tb();\nend\n"
        f"if (size == 4) begin : g\n  {COPY_EXPECTED}\nend else begin : h\n"
        "  always @(posedge clk) mul_out <= 0;\nend\nendmodule\n", 8),
}


@pytest.fixture(scope="module")
def counter():
    return {t.task_id: t for t in load_verilogeval(None)}["Demo03_count_en"]


@pytest.fixture(scope="module")
def multiplier(shared_data):
    return {t.task_id: t for t in load_rtllm(shared_data / "rtllm" / "problems.jsonl")}["multi_pipe_4bit"]


def judge(task, text, backend, simulator="iverilog"):
    domain = VerilogDomain(simulator=simulator)
    cand = Candidate(task.task_id, text)
    job = domain.prepare(task, cand)
    return domain.judge(task, cand, job, backend.run(job))


def assert_refused(result, construct: str, line: int):
    assert result.verdict is Verdict.COMPILE_ERROR, result.details
    assert result.details["failure"] == "disallowed_construct", result.details
    assert construct in result.details["constructs"], result.details
    assert result.details["lines"][result.details["constructs"].index(construct)] == line
    assert f"line {result.details['lines'][0]}:" in result.details["error"] and "\n" not in result.details["error"]


@pytest.mark.parametrize("simulator", ["iverilog", "verilator"])
@pytest.mark.parametrize("attack", sorted(LEXICAL))
def test_text_two_readers_could_read_apart_is_refused_by_construct_and_line(counter, hiding_backend, attack,
                                                                            simulator):
    text, construct, line = LEXICAL[attack]
    assert_refused(judge(counter, text, hiding_backend, simulator), construct, line)


def test_constant_that_icarus_and_verilator_evaluate_apart_cannot_hide_an_upward_name(counter, hiding_backend):
    result = judge(counter, CONSTANT_DIFFERENTIAL, hiding_backend, simulator="verilator")
    assert_refused(result, "hierarchical name good1.q", 4)


@pytest.mark.parametrize("simulator", ["iverilog", "verilator"])
@pytest.mark.parametrize("attack", sorted(SCOPING))
def test_upward_name_in_the_branch_the_testbench_builds_is_refused(multiplier, hiding_backend, attack, simulator):
    text, line = SCOPING[attack]
    result = judge(multiplier, text, hiding_backend, simulator)
    assert_refused(result, "hierarchical name multi_pipe_tb.perfect", line)


def refused(text: str) -> list[str]:
    from codealign.domains.verilog.allowlist import check_design

    return [v.construct for v in check_design({"cand.sv": text})]


SUB = "module S(output o); assign o = 1; wire w; if (1) begin : g wire x; end endmodule\n"


def test_a_task_called_or_a_block_disabled_by_a_name_the_design_does_not_declare_is_refused():
    """Simple task names are looked up upward (a testbench task could bump its own counters)."""
    assert refused(COUNTER + "initial begin wavedrom_start(); wavedrom_stop; disable stim; end\nendmodule") == [
        "call of wavedrom_start (not declared where it is used)",
        "call of wavedrom_stop (not declared where it is used)", "disable of stim (not declared where it is used)"]
    assert refused(COUNTER + "task t; endtask\ninitial begin : b t; disable b; end\nassign q = 0;\nendmodule") == []


def test_a_name_declared_in_one_generate_branch_is_not_visible_from_another_or_from_outside():
    assert refused(SUB + COUNTER + "if (1) S good1(); else begin : e assign q = good1.o; end\nendmodule") == \
        ["hierarchical name good1.o"]
    loop = "for (genvar i = 0; i < 2; i++) begin : l S u(); end\nassign q = l[0].u.o;\nendmodule"
    assert refused(SUB + COUNTER + loop) == ["hierarchical name l[0].u.o"]
    assert refused(SUB + COUNTER + "if (1) begin : g S u(); assign q = u.o; end\nendmodule") == []


def test_an_instance_name_reaches_only_the_top_level_names_of_its_module():
    assert refused(SUB + COUNTER + "S u(); S v[1:0](); assign q = {u.o, u.w, u.g.x, v.o};\nendmodule") == \
        ["hierarchical name u.g.x", "hierarchical name v.o"]


@pytest.mark.parametrize("draw, construct", [("$random", "$random without a seed argument"),
                                             ("\\$random ", "$random without a seed argument"),
                                             ("$urandom", "$urandom"), ("$urandom_range(7)", "$urandom_range")])
def test_a_design_drawing_from_the_generator_the_testbench_draws_its_stimulus_from_is_refused(
        multiplier, hiding_backend, draw, construct):
    """Found attacking this judge: Icarus has one generator for all ``$random`` calls without a seed, so a
    design that draws at chosen times chooses which stimulus the testbench sends next."""
    text = MULTIPLIER + f"integer skip;\nalways @(posedge clk) skip = {draw};\nalways @(posedge clk) mul_out <= 0;\n"
    assert_refused(judge(multiplier, text + "endmodule\n", hiding_backend), construct, 4)
