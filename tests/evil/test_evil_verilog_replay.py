"""Designs that pass only where the testbench's names exist, run with the allowlist and the compile-alone check
taken out of the job: the replay harness alone must stop them (defence in depth). Each attack is first shown
to PASS on the in-testbench path (same job, replay forced to fall back), so the test cannot pass vacuously.
"""

import re

import pytest

from codealign.domains.verilog import VerilogDomain
from codealign.domains.verilog.verilogeval import load_verilogeval
from codealign.types import Candidate, Verdict

HEAD = "module TopModule(input clk, input reset, input en, output [3:0] q);\n"
REG_HEAD = "module TopModule(input clk, input reset, input en, output reg [3:0] q);\n"
WRONG = REG_HEAD + "always @(posedge clk) q <= reset ? 4'd0 : q + 4'd3;\n"
# The counter is wrong from its first count after reset: ending the run at the second clock edge hides that.
ATTACKS = {
    "copies_the_reference_output_from_the_testbench": HEAD + "assign q = tb.q_ref;\nendmodule",
    "copies_the_reference_instance_by_upward_name": HEAD + "assign q = good1.q;\nendmodule",
    "forces_the_match_flag": WRONG + "initial force tb.tb_match = 1'b1;\nendmodule",
    "ends_the_run_before_the_first_wrong_sample":
        WRONG + "initial begin repeat (2) @(posedge clk); $finish; end\nendmodule",
}
CLEAN_REPORT = """cp cand.sv cand.i; echo '{"violations": [], "preprocess": null}' > allow.json; allowed=0"""


@pytest.fixture(scope="module")
def task():
    return {t.task_id: t for t in load_verilogeval(None)}["Demo03_count_en"]


def run_without_checks(task, text, backend, replay: bool):
    """The real job with the allowlist and compile-alone steps replaced by no-ops; ``replay=False`` makes the
    trace generator fail so the job takes the in-testbench fallback."""
    domain = VerilogDomain()
    cand = Candidate(task.task_id, text)
    job = domain.prepare(task, cand)
    script = re.sub(r"^.*allowlist\.py.*$", lambda _: CLEAN_REPORT, job.script, count=1, flags=re.M)
    script = re.sub(r"^.* -o alone\.vvp cand\.i .*$", ": > alone.log; rc=0", script, count=1, flags=re.M)
    assert script.count("allowed=0") == 1 and "alone.log; rc=0" in script
    if not replay:
        script = script.replace("trusted/replay.json trusted/rec.log", "trusted/absent.json trusted/rec.log")
    job.script = script
    return domain.judge(task, cand, job, backend.run(job))


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_attack_that_passes_inside_the_testbench_fails_under_replay(task, bwrap_backend, attack):
    inside = run_without_checks(task, ATTACKS[attack], bwrap_backend, replay=False)
    assert inside.verdict is Verdict.PASS and inside.details["replay_fallback"], inside.details
    replayed = run_without_checks(task, ATTACKS[attack], bwrap_backend, replay=True)
    assert replayed.verdict is not Verdict.PASS and "replay_fallback" not in replayed.details, replayed.details


def test_fake_summary_and_untagged_sample_lines_are_ignored(task, bwrap_backend):
    text = WRONG + ('initial $display("Mismatches: 0 in 660 samples");\n'
                    'always @(clk) $display("S 0000");\nendmodule')
    r = run_without_checks(task, text, bwrap_backend, replay=True)
    assert r.verdict is Verdict.FAIL and r.details["mismatches"] > 0 and "replay_fallback" not in r.details
