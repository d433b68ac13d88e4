"""cocotb testbenches in the verilog domain: CVDP's two no-commercial examples under every backend, graded
scores from cocotb's results files, and hostile designs contained as on the Verilog-testbench path. Real
Icarus, real cocotb 1.9 (the environment scripts/setup.sh installs), real sandboxes."""

import dataclasses
import time

import pytest

from codealign.domains.verilog import VerilogDomain, cocotb
from codealign.domains.verilog.cvdp import load_cvdp, oracle
from codealign.extraction import format_files
from codealign.types import Candidate, Task, Verdict

EXAMPLES = {"nonagentic": "cvdp_v1.0.4_example_nonagentic_code_generation_no_commercial_with_solutions.jsonl",
            "agentic": "cvdp_v1.0.4_example_agentic_code_generation_no_commercial_with_solutions.jsonl"}

ALU = """module alu(input [3:0] a, input [3:0] b, input [1:0] op, output reg [3:0] y);
  always @(*) case (op)
    2'd0: y = a + b;
    2'd1: y = a - b;
    default: y = a ^ b;
  endcase
endmodule
"""

ALU_TESTS = '''import cocotb
from cocotb.triggers import Timer


async def check(dut, op, fn):
    for a in range(16):
        for b in range(0, 16, 3):
            dut.a.value, dut.b.value, dut.op.value = a, b, op
            await Timer(1, units="ns")
            assert int(dut.y.value) == fn(a, b) & 15, f"op {op}: {a}, {b} gave {int(dut.y.value)}"


@cocotb.test()
async def test_add(dut):
    await check(dut, 0, lambda a, b: a + b)


@cocotb.test()
async def test_sub(dut):
    await check(dut, 1, lambda a, b: a - b)


@cocotb.test()
async def test_xor(dut):
    await check(dut, 2, lambda a, b: a ^ b)
'''

ALU_TASK = Task("alu", "verilog", "Write rtl/alu.sv.", assets={
    "format": "cocotb", "top_module": "alu", "module": "test_alu", "sources": ["rtl/alu.sv"],
    "outputs": ["rtl/alu.sv"], "tests": {"test_alu.py": ALU_TESTS}})


@pytest.fixture(scope="module")
def domain():
    problem = cocotb.environment_problem()
    if problem:
        pytest.fail(problem)
    return VerilogDomain()


@pytest.fixture(scope="module")
def examples(shared_data):
    return {name: load_cvdp(shared_data / "cvdp" / file)[0] for name, file in EXAMPLES.items()}


def judge(domain, task, text, backend):
    return domain.evaluate(task, Candidate(task.task_id, text), backend)


def alu(body: str) -> str:
    return format_files({"rtl/alu.sv": ALU.replace("endmodule", body + "\nendmodule")})


@pytest.mark.parametrize("example", sorted(EXAMPLES))
@pytest.mark.parametrize("backend_name", ["process", "bwrap", "docker"])
def test_cvdp_reference_passes_every_test_under_every_backend(domain, examples, example, backend_name):
    from codealign.sandbox.backends import get_backend
    from codealign.sandbox.docker import docker_problem
    from codealign.sandbox.process import process_problem

    if backend_name == "docker" and docker_problem():
        pytest.fail(f"the Docker backend is not usable (scripts/setup.sh sets it up): {docker_problem()}")
    if backend_name == "process" and process_problem():
        pytest.skip(f"process backend: {process_problem()}")
    task = examples[example]
    r = judge(domain, task, oracle(task), get_backend(backend_name))
    assert (r.verdict, r.score, r.details["backend"]) == (Verdict.PASS, 1.0, backend_name)
    assert r.details["tests"] == r.details["passed"] >= 1


def test_mutated_cvdp_reference_fails_with_score_below_one(domain, examples, backend):
    task = examples["nonagentic"]
    mutated = oracle(task).replace("assign q2 = lfsr_out[5] ^ lfsr_out[0];", "assign q2 = lfsr_out[5] ~^ lfsr_out[0];")
    assert mutated != oracle(task)
    r = judge(domain, task, mutated, backend)
    assert r.verdict is Verdict.FAIL and r.score < 1.0 and r.details["failure"] == "runtime_mismatch"


def test_score_is_the_fraction_of_cocotb_tests_passed(domain, backend):
    r = judge(domain, ALU_TASK, format_files({"rtl/alu.sv": ALU.replace("a - b", "a + b")}), backend)
    assert r.verdict is Verdict.FAIL and r.score == pytest.approx(2 / 3)
    assert (r.details["tests"], r.details["passed"]) == (3, 2)
    assert r.details["failed_tests"][0].startswith("test_sub")


def test_answer_without_file_names_is_the_one_output_file(domain, backend):
    r = judge(domain, ALU_TASK, f"Here it is:\n```verilog\n{ALU}```\n", backend)
    assert r.verdict is Verdict.PASS


def test_printed_results_do_not_pass_a_wrong_design(domain, backend):
    fake = ('initial begin $display("** TESTS=3 PASS=3 FAIL=0 SKIP=0 **"); '
            '$display("<testsuites><testsuite><testcase name=\\"test_sub\\"/></testsuite></testsuites>"); end')
    text = format_files({"rtl/alu.sv": ALU.replace("a - b", "a + b").replace("endmodule", fake + "\nendmodule")})
    r = judge(domain, ALU_TASK, text, backend)
    assert r.verdict is Verdict.FAIL and r.score == pytest.approx(2 / 3)


def test_finish_at_time_zero_is_refused_before_simulation(domain, backend):
    r = judge(domain, ALU_TASK, alu("initial $finish;"), backend)
    assert r.verdict is Verdict.COMPILE_ERROR and r.details["failure"] == "disallowed_construct"
    assert "sim" not in r.details.get("stage", "")


@pytest.mark.slow
def test_infinite_loop_times_out_within_the_deadline(domain, backend):
    task = dataclasses.replace(ALU_TASK, limits={"wall_s": 8})
    t0 = time.monotonic()
    r = judge(domain, task, alu("initial while (1) begin end"), backend)
    assert r.verdict is Verdict.TIMEOUT and r.details["failure"] == "sim_timeout"
    assert time.monotonic() - t0 < 8 + 3


def test_output_flood_gives_output_limit(domain, backend):
    task = dataclasses.replace(ALU_TASK, limits={"output_bytes": 200_000, "wall_s": 30})
    r = judge(domain, task, alu('initial forever $display("spam spam spam spam spam spam spam spam");'), backend)
    assert r.verdict is Verdict.OUTPUT_LIMIT


def test_missing_design_file_is_a_compile_error_without_running(domain, backend):
    r = judge(domain, ALU_TASK, format_files({"rtl/other.sv": ALU}), backend)
    assert r.verdict is Verdict.COMPILE_ERROR and r.details["failure"] == "missing_file"


def test_design_without_the_toplevel_module_is_a_build_error(domain, backend):
    r = judge(domain, ALU_TASK, format_files({"rtl/alu.sv": ALU.replace("module alu", "module alu2")}), backend)
    assert r.verdict is Verdict.COMPILE_ERROR and r.details["failure"] == "build_error"


def test_unmet_harness_requirement_is_skipped_never_failed(domain, backend):
    task = dataclasses.replace(ALU_TASK, assets={**ALU_TASK.assets, "requires": ["cocotbext-axi==0.1.28"]})
    r = judge(domain, task, format_files({"rtl/alu.sv": ALU}), backend)
    assert r.verdict is Verdict.SANDBOX_ERROR and "cocotbext-axi==0.1.28" in r.details["skipped"]


def test_results_file_parser_counts_failures_errors_and_skips():
    xml = ('<testsuites><testsuite name="all"><testcase name="a"/><testcase name="b"><failure message="x"/>'
           '</testcase><testcase name="c"><error message="boom"/></testcase><testcase name="d"><skipped/></testcase>'
           '</testsuite></testsuites>')
    got = [(t["name"], t["passed"], t["skipped"]) for t in cocotb.parse_results(xml)]
    assert got == [("a", True, False), ("b", False, False), ("c", False, False), ("d", False, True)]
