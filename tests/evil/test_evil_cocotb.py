"""Hostile designs on the cocotb path: the verdict comes only from what the trusted side records.

The allowlist refuses the file tasks these designs use; each test removes that wall from the job (the
check then only preprocesses, as if a construct had got past it, the way issue 27's attribute differential
got ``final`` and ``$fopen`` past b2987a3's) to show that the results channel holds on its own. The design is
tests/test_cocotb.py's ALU with ``a - b`` computing ``a + b``: the honest verdict is FAIL with 2 of 3 cocotb tests
passed.
"""

import re
import shutil

import pytest

from test_cocotb import ALU, ALU_TASK as TASK

from codealign.domains.verilog import VerilogDomain, cocotb
from codealign.extraction import format_files
from codealign.types import Candidate, Verdict

PASSING_XML = ('<testsuites name="results"><testsuite name="all" package="all">'
               + "".join(f'<testcase name="test_{n}" classname="test_alu"/>' for n in ("add", "sub", "xor"))
               + "</testsuite></testsuites>")
RESULTS = "test_cocotb_module.None"
# longer than cocotb's own file, so that written over it from offset 0 it leaves nothing of it
FORGED = (PASSING_XML + "<!--" + "x" * 3000 + "-->").replace('"', '\\"')
RECORD = f"@t000_xml 0 {len(PASSING_XML)}\\n{PASSING_XML}@sim 0 0\\n".replace('"', '\\"')

HOSTILE = {
    # cocotb writes its results file (under pytest: <test name>.None in the simulator's folder) at its
    # tear-down; final blocks would run after it
    "final_rewrites_the_results_file": f'final begin : forge integer fd; fd = $fopen("{RESULTS}", "w"); '
                                       f'$fwrite(fd, "{FORGED}"); $fclose(fd); end',
    # opened at time 0, left unflushed: the C library writes the buffer over cocotb's file when the
    # simulator exits
    "buffered_write_flushed_at_exit": f'initial begin : forge integer fd; fd = $fopen("{RESULTS}", "w"); '
                                      f'$fwrite(fd, "{FORGED}"); end',
    # the results socket and the trusted channel (fd 3) of every process in reach, by path
    "final_writes_every_descriptor_in_reach": (
        'final begin : forge integer pid, n, fd; for (pid = 0; pid < 64; pid = pid + 1) '
        'for (n = 0; n < 24; n = n + 1) begin '
        'fd = pid == 0 ? $fopen($sformatf("/proc/self/fd/%0d", n), "a") '
        ': $fopen($sformatf("/proc/%0d/fd/%0d", pid, n), "a"); '
        f'if (fd != 0) begin $fwrite(fd, "{RECORD}"); $fclose(fd); end end end'),
}


def without_allowlist(job):
    """The job with its allowlist step reduced to preprocessing: what a construct that got past it sees."""
    iverilog = shutil.which("iverilog")
    step = (f"{iverilog} -E -o cand.i cand.sv && "
            "printf '{\"violations\": [], \"preprocess\": {\"rc\": 0, \"log\": \"\"}}' > allow.json; allowed=$?")
    job.script, count = re.subn(r"^.*> allow\.json 2> allow\.log.*$", lambda _: step, job.script, flags=re.M)
    assert count == 1, "the job script's allowlist step changed shape: update this test"
    return job



@pytest.mark.parametrize("hostile", sorted(HOSTILE))
def test_a_design_past_the_allowlist_cannot_forge_cocotb_results(hiding_backend, hostile):
    problem = cocotb.environment_problem()
    if problem:
        pytest.fail(problem)
    domain = VerilogDomain()
    wrong = ALU.replace("a - b", "a + b").replace("endmodule", HOSTILE[hostile] + "\nendmodule")
    cand = Candidate(TASK.task_id, format_files({"rtl/alu.sv": wrong}))
    job = without_allowlist(domain.prepare(TASK, cand))
    r = domain.judge(TASK, cand, job, hiding_backend.run(job))
    assert (r.verdict, r.details["failure"], r.details["tests"], r.details["passed"]) == \
        (Verdict.FAIL, "runtime_mismatch", 3, 2), r.details
