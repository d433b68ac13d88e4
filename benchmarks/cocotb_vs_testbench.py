"""Seconds per candidate: the cocotb harness against the Verilog-testbench path, on the same design.

The design is a 4-bit, 3-operation ALU; both harnesses apply the same 288 stimuli (every ``a``, every third
``b``, three operations) and compare with the same function: the cocotb task with three ``@cocotb.test``
coroutines (cocotb 1.9, pytest runner, as CVDP's harnesses), the VerilogEval-format task with a reference
module and a ``Mismatches: N in M samples`` testbench. Each candidate (the correct design) is judged
``--repeats`` times, one at a time, per backend; the median is reported, plus the two CVDP examples' references
through the cocotb harness. (Running the CVDP examples through their upstream docker-compose files is not
possible here: their simulator images are not published.)

    .venv/bin/python benchmarks/cocotb_vs_testbench.py --backends process bwrap docker
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

from codealign.domains import get_domain
from codealign.domains.verilog.cvdp import load_cvdp, oracle
from codealign.extraction import format_files
from codealign.sandbox.backends import get_backend
from codealign.sandbox.docker import docker_problem
from codealign.types import Candidate, Task, Verdict

ALU = """module {name}(input [3:0] a, input [3:0] b, input [1:0] op, output reg [3:0] y);
  always @(*) case (op)
    2'd0: y = a + b;
    2'd1: y = a - b;
    default: y = a ^ b;
  endcase
endmodule
"""

COCOTB_TESTS = '''import cocotb
from cocotb.triggers import Timer


async def check(dut, op, fn):
    for a in range(16):
        for b in range(0, 16, 3):
            dut.a.value, dut.b.value, dut.op.value = a, b, op
            await Timer(1, units="ns")
            assert int(dut.y.value) == fn(a, b) & 15


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

TESTBENCH = """`timescale 1ns/1ps
module tb;
  reg [3:0] a, b; reg [1:0] op; wire [3:0] y, y_ref;
  integer i, j, k, errors = 0, samples = 0;
  TopModule dut(.a(a), .b(b), .op(op), .y(y));
  RefModule ref_(.a(a), .b(b), .op(op), .y(y_ref));
  initial begin
    for (k = 0; k < 3; k = k + 1) for (i = 0; i < 16; i = i + 1) for (j = 0; j < 16; j = j + 3) begin
      a = i; b = j; op = k; #1;
      samples = samples + 1; if (y !== y_ref) errors = errors + 1;
    end
    $display("Mismatches: %0d in %0d samples", errors, samples);
    $finish;
  end
endmodule
"""


def tasks() -> tuple[Task, Task]:
    cocotb_task = Task("alu_cocotb", "verilog", "", assets={
        "format": "cocotb", "top_module": "alu", "module": "test_alu", "sources": ["rtl/alu.sv"],
        "outputs": ["rtl/alu.sv"], "tests": {"test_alu.py": COCOTB_TESTS}})
    tb_task = Task("alu_tb", "verilog", "", assets={
        "format": "verilogeval", "test": TESTBENCH, "ref": ALU.format(name="RefModule"), "top_module": "TopModule",
        "ref_module": "RefModule"})
    return cocotb_task, tb_task


def seconds(domain, task: Task, text: str, backend, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.monotonic()
        result = domain.evaluate(task, Candidate(task.task_id, text), backend)
        times.append(time.monotonic() - t0)
        if result.verdict is not Verdict.PASS:
            raise SystemExit(f"{task.task_id}: the correct design got {result.verdict.value} {result.details}")
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", nargs="+", default=["process", "bwrap", "docker"])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--cvdp", default=str(Path(__file__).resolve().parents[2] / "shared" / "data" / "cvdp"),
                        help="folder of the CVDP example files")
    args = parser.parse_args()
    domain = get_domain("verilog")
    cocotb_task, tb_task = tasks()
    examples = [t for f in sorted(Path(args.cvdp).glob("*no_commercial*.jsonl")) for t in load_cvdp(f)]
    print(f"load average {os.getloadavg()[0]:.2f}; median of {args.repeats} sequential runs, seconds per candidate")
    print(f"{'backend':<9}{'verilog tb':>12}{'cocotb':>10}{'ratio':>8}" + "".join(f"{t.task_id[:28]:>30}" for t in examples))
    for name in args.backends:
        if name == "docker" and docker_problem():
            print(f"{name:<9} skipped: {docker_problem()}")
            continue
        backend = get_backend(name)
        tb = seconds(domain, tb_task, ALU.format(name="TopModule"), backend, args.repeats)
        co = seconds(domain, cocotb_task, format_files({"rtl/alu.sv": ALU.format(name="alu")}), backend, args.repeats)
        cvdp = [seconds(domain, t, oracle(t), backend, args.repeats) for t in examples]
        print(f"{name:<9}{tb:>12.2f}{co:>10.2f}{co / tb:>7.1f}x" + "".join(f"{s:>30.2f}" for s in cvdp))
    print(f"load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
