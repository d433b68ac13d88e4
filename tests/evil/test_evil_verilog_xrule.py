"""X/Z glitches at an RTLLM testbench's check instants: the shadow reference's X rule sees every change of a
design output, not only the samples 0.37 time units after events.

comparator_3bit's testbench checks ``(A > B && !A_greater) || ...`` 10 ns after each input change, which an
X never fails. The design below drives 0 (wrong for every input) and turns X/Z 0.2 ns before each check;
the next input change, right after the check, brings 0 back before any 0.37-later sample.
"""

import pytest

from codealign.domains.verilog import VerilogDomain
from codealign.types import Candidate, Verdict

GLITCH = """`timescale 1ns/1ps
module comparator_3bit(input [2:0] A, input [2:0] B, output reg A_greater, output reg A_equal, output reg A_less);
  always @(A or B) begin
    {{A_greater, A_equal, A_less}} = 3'b000;
    #9.8 {{A_greater, A_equal, A_less}} = 3'b{bits};
  end
endmodule
"""


@pytest.fixture(scope="module")
def comparator(shared_data):
    from codealign.domains.verilog.rtllm import load_rtllm

    return {t.task_id: t for t in load_rtllm(shared_data / "rtllm" / "problems.jsonl")}["comparator_3bit"]



@pytest.mark.parametrize("bits", ["xxx", "zzz"])
def test_outputs_unknown_only_at_the_check_instants_fail_the_x_rule(comparator, hiding_backend, bits):
    text = GLITCH.format(bits=bits)
    r = VerilogDomain().evaluate(comparator, Candidate(comparator.task_id, text), hiding_backend)
    assert (r.verdict, r.details["failure"]) == (Verdict.FAIL, "x_output"), r.details
    assert r.details["x_samples"] > 0


# Found attacking this judge: the shadow reads ``dut.A_greater``, the net of that name, which an explicit
# port (``.A_greater(g)``) need not be; with all-X outputs behind constant-0 decoys this PASSed on 4368b97.
DECOY = """module comparator_3bit(.A(A), .B(B), .A_greater(g), .A_equal(e), .A_less(l));
input [2:0] A;
input [2:0] B;
output g, e, l;
assign {g, e, l} = 3'bxxx;
wire A_greater = 0, A_equal = 0, A_less = 0;
endmodule
"""


def test_a_top_module_port_that_is_not_the_net_of_its_name_is_refused(comparator, hiding_backend):
    r = VerilogDomain().evaluate(comparator, Candidate(comparator.task_id, DECOY), hiding_backend)
    assert (r.verdict, r.details["failure"]) == (Verdict.COMPILE_ERROR, "disallowed_construct"), r.details
    assert r.details["constructs"][0] == "top-module port A_greater that is not the net A_greater", r.details
    assert r.details["lines"][0] == 1
