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
