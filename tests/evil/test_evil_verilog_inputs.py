"""A design that drives its own input port drives the testbench's stimulus net: Icarus coerces the port to
``inout``, and where the testbench feeds the design through a wire (``wire [3:0] a = a_r;``) the net
resolves to X, the reference (the testbench's expression, the RTLLM shadow) sees X, and checks that ignore
X (``!=``) pass a wrong design. The allowlist refuses every driver of an input it knows; these are the
drivers it did not see (found attacking the judge of issue 27): through a net declaration assignment, an
implicit ``.a`` or ``.*`` connection, a struct member or a second ``buf`` output, a constant-0 adder
PASSed on b2987a3 and 4368b97. The checker also missed an explicit port (``.a(x)``) whose name is an
input of the reference and whose net is an output, or is driven inside (here the RTLLM shadow's
``dut.a`` stops the build; a testbench without one would not), and Icarus does not build an ``alias`` or a
streaming l-value today: these are refused for the same reason. Each must be ``disallowed_construct``
with its line, under bwrap and docker. Verilator refuses such designs itself (``ASSIGNIN``).
"""

import pytest

from codealign.domains.verilog import VerilogDomain, reference_solution
from codealign.types import Candidate, Task, Verdict

REF = "module adder_ref(input [3:0] a, input [3:0] b, output [4:0] s);\nassign s = a + b;\nendmodule\n"
# RTLLM style: the stimulus reaches the design through wires; the check uses != (an X never counts).
TB = """`timescale 1ns/1ns
module adder_tb;
  reg [3:0] a_r, b_r;
  wire [3:0] a = a_r;
  wire [3:0] b = b_r;
  wire [4:0] s;
  integer i, failures = 0;
  adder dut(.a(a), .b(b), .s(s));
  initial begin
    for (i = 0; i < 20; i = i + 1) begin
      a_r = $random; b_r = $random; #10;
      if (s != a + b) failures = failures + 1;
    end
    if (failures == 0) $display("===========Your Design Passed===========");
    else $display("===========Test completed with %d / 20 failures===========", failures);
    $finish;
  end
endmodule
"""
TASK = Task(task_id="adder_wired_inputs", domain="verilog", prompt="a 4-bit adder",
            assets={"format": "rtllm", "test": TB, "ref": REF, "top_module": "adder", "ref_top_module": "adder_ref"})
HEAD = "module adder(input [3:0] a, input [3:0] b, output [4:0] s);\n"
X_SOURCE = "module xs(output [3:0] a);\nassign a = 4'bx;\nendmodule\n"
DRIVERS = {
    "net_declaration_assignment": (
        "module adder(a, b, s);\ninput [3:0] a;\ninput [3:0] b;\noutput [4:0] s;\nwire [3:0] a = 4'bx;\n"
        "assign s = 0;\nendmodule\n", "drives its own input a", 5),
    "implicit_named_port_connection": (X_SOURCE + HEAD + "xs x(.a);\nassign s = 0;\nendmodule\n",
                                       "drives its own input a", 5),
    "wildcard_port_connection": (X_SOURCE + HEAD + "xs x( .* );\nassign s = 0;\nendmodule\n",
                                 "drives its own input a", 5),
    "struct_member_of_an_input": (
        "typedef struct packed { logic [3:0] v; } nib;\nmodule adder(input nib a, input [3:0] b, output [4:0] s);\n"
        "assign a.v = 4'bx;\nassign s = 0;\nendmodule\n", "drives its own input a", 3),
    "streaming_concatenation": (HEAD + "assign {>>{a}} = 4'bx;\nassign s = 0;\nendmodule\n",
                                "drives its own input a", 2),
    "explicit_port_of_an_output": (
        "module adder(.a(x), .b(b), .s(s));\noutput [3:0] x;\ninput [3:0] b;\noutput [4:0] s;\nassign x = 4'bx;\n"
        "assign s = 0;\nendmodule\n", "port a declared output (an input)", 1),
    "explicit_port_driven_inside": (
        "module adder(.a(x), .b(b), .s(s));\ninput [3:0] x;\ninput [3:0] b;\noutput [4:0] s;\n"
        "xs d(.a(x));\nassign s = 0;\nendmodule\n" + X_SOURCE, "drives its own input x", 5),
    "second_output_of_a_buf": (HEAD + "wire [3:0] x = 4'bx;\nbuf g[3:0] (s[3:0], a, x);\nassign s[4] = 0;\nendmodule\n",
                               "drives its own input a", 3),
    "net_alias": (HEAD + "wire [3:0] z = 4'bx;\nalias a = z;\nassign s = 0;\nendmodule\n", "alias", 3),
}


def judge(text, backend):
    domain = VerilogDomain()
    cand = Candidate(TASK.task_id, text)
    job = domain.prepare(TASK, cand)
    return domain.judge(TASK, cand, job, backend.run(job))


@pytest.mark.parametrize("driver", sorted(DRIVERS))
def test_a_design_driving_its_own_input_is_refused_by_construct_and_line(hiding_backend, driver):
    text, construct, line = DRIVERS[driver]
    result = judge(text, hiding_backend)
    assert result.verdict is Verdict.COMPILE_ERROR, result.details
    assert result.details["failure"] == "disallowed_construct", result.details
    assert result.details["lines"][result.details["constructs"].index(construct)] == line, result.details


def test_the_wired_testbench_passes_the_reference_and_fails_the_same_wrong_design_that_drives_nothing(
        bwrap_backend):
    assert judge(reference_solution(TASK), bwrap_backend).verdict is Verdict.PASS
    wrong = judge(HEAD + "assign s = 0;\nendmodule\n", bwrap_backend)
    assert wrong.verdict is Verdict.FAIL and wrong.details["failure"] == "runtime_mismatch", wrong.details


def test_an_input_name_declared_again_inside_a_function_or_a_connection_to_an_input_port_is_not_a_driver():
    from codealign.domains.verilog.allowlist import check_design

    sub = "module sub(input [3:0] a, output [3:0] y);\nassign y = a;\nendmodule\n"
    text = (sub + HEAD + "function automatic [3:0] f(input [3:0] x);\nreg [3:0] a = 4'd1;\nf = x + a;\nendfunction\n"
            "wire [3:0] y;\nsub u(.a, .y);\nsub w( .* );\nassign s = f(a) + y;\nendmodule\n")
    assert check_design({"cand.sv": text}, top="adder", inputs=frozenset({"a", "b"})) == []


def test_an_input_the_compiler_coerces_to_inout_is_refused_with_the_allowlist_taken_out(hiding_backend):
    """Second wall, by the compiler's own finding rather than a spelling: with the allowlist and the
    compile-alone step replaced by no-ops, Icarus's coercion of a driven input still refuses the design."""
    from test_evil_verilog_replay import run_without_checks

    result = run_without_checks(TASK, DRIVERS["wildcard_port_connection"][0], hiding_backend, replay=True)
    assert result.verdict is Verdict.COMPILE_ERROR, result.details
    assert result.details["failure"] == "disallowed_construct", result.details
    assert result.details["constructs"] == ["drives its own input a"], result.details
