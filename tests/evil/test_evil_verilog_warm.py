"""Hostile Verilog designs through the warm path (``VerilogDomain.evaluate``: the check in a persistent worker,
the reference recorded once per task) give the verdicts of the cold one-job path (``prepare`` + ``judge``),
and a checker worker that dies or hangs on a design gives that design the documented verdict without
reaching the next request."""

import dataclasses
import os
import threading
import time

import pytest

from codealign.domains.base import Domain
from codealign.domains.verilog import VerilogDomain, reference_solution
from codealign.domains.verilog.verilogeval import load_verilogeval
from codealign.types import Candidate, Verdict

WRONG = ("module TopModule(input clk, input reset, input en, output reg [3:0] q);\n"
         "always @(posedge clk) q <= reset ? 4'd0 : q + 4'd3;\n")
NESTED = "(" * 1500 + "en" + ")" * 1500
# (name, body added before the reference's endmodule, or a whole text when it starts with "module"/"`")
DESIGNS = [
    ("defparam and force", WRONG + "parameter ARM = 0;\ngenerate if (ARM) begin : armed\n"
     "initial forever #1 force tb.tb_match = 1'b1;\nend endgenerate\ndefparam tb.top_module1.ARM = 1;\nendmodule"),
    ("escaped $finish", "initial #60 \\$finish ;"),
    ("$fopen", 'integer f; initial begin f = $fopen("/tmp/x", "w"); $fdisplay(f, "pwned"); end'),
    ("$system", 'initial $system("touch /tmp/codealign_warm");'),
    ("$dumpvars", 'initial begin $dumpfile("blow.vcd"); $dumpvars(0); end'),
    ("include", '`include "/etc/passwd"\n'),
    ("macro", "`define ONE 1\nwire w = `ONE;"),
    ("attribute read apart", '(* a = "*)" *) wire w;'),
    ("drives its input", WRONG + "assign en = 1'bx;\nendmodule"),
    ("upward name", "initial #5 $display(tb.stats1.errors);"),
    ("checker cannot parse", f"wire deep = {NESTED};"),
    ("syntax error", "wire w = ;"),
    ("wrong design", WRONG + "endmodule"),
    pytest.param("zero-delay loop", "initial while (1) begin end", marks=pytest.mark.slow),
    ("output flood", 'initial forever $display("spam spam spam spam spam spam spam spam");'),
]


@pytest.fixture(scope="module")
def task():
    task = {t.task_id: t for t in load_verilogeval(None)}["Demo03_count_en"]
    return dataclasses.replace(task, limits={"wall_s": 3, "output_bytes": 200_000})


def text_of(task, body: str) -> str:
    if body.startswith("module"):
        return body
    return reference_solution(task).replace("endmodule", body + "\nendmodule")


def same(a, b) -> bool:
    return (a.verdict, a.details.get("failure"), a.score, a.details.get("constructs")) == \
        (b.verdict, b.details.get("failure"), b.score, b.details.get("constructs"))


@pytest.mark.parametrize("name,body", DESIGNS, ids=[getattr(d, "values", d)[0] for d in DESIGNS])
def test_warm_path_verdict_equals_the_cold_jobs(task, bwrap_backend, tmp_path, name, body):
    domain = VerilogDomain(reference_store=str(tmp_path))
    cand = Candidate(task.task_id, text_of(task, body))
    try:
        warm = domain.evaluate(task, cand, bwrap_backend)
    finally:
        domain.close()
    cold = Domain.evaluate(domain, task, cand, bwrap_backend)
    assert "phase_s" in warm.details and "phase_s" not in cold.details  # the two paths ran
    assert same(warm, cold), (warm.verdict, warm.details, cold.verdict, cold.details)


def test_refusals_under_docker_equal_bwraps(task, bwrap_backend, tmp_path):
    from codealign.sandbox.backends import get_backend
    from codealign.sandbox.docker import docker_problem

    if docker_problem():
        pytest.fail(f"the Docker backend is not usable: {docker_problem()}")
    docker = get_backend("docker")
    domain = VerilogDomain(reference_store=str(tmp_path))
    try:
        for _, body in (DESIGNS[1], DESIGNS[6], DESIGNS[12]):
            cand = Candidate(task.task_id, text_of(task, body))
            inside, outside = domain.evaluate(task, cand, docker), domain.evaluate(task, cand, bwrap_backend)
            assert inside.details["backend"] == "docker"
            assert same(inside, outside), (inside.details, outside.details)
    finally:
        domain.close()


def slow_design(lines: int = 20000) -> str:
    """A design of about 500 KB whose check takes seconds."""
    wires = "".join(f"wire w{i} = en ^ w{i - 1};\n" if i else "wire w0 = en;\n" for i in range(lines))
    return WRONG + wires + "endmodule"


def test_a_checker_killed_mid_request_fails_that_design_and_the_next_request_works(task, bwrap_backend, tmp_path):
    domain = VerilogDomain(reference_store=str(tmp_path))
    good = Candidate(task.task_id, reference_solution(task))
    try:
        assert domain.evaluate(task, good, bwrap_backend).verdict is Verdict.PASS
        pool = domain._checker(bwrap_backend)
        (worker,) = [w for w in pool.workers if w.alive]

        def kill() -> None:
            time.sleep(0.5)
            os.kill(worker.proc.pid, 9)

        killer = threading.Thread(target=kill)
        killer.start()
        crashed = domain.evaluate(dataclasses.replace(task, limits={"wall_s": 60}),
                                  Candidate(task.task_id, slow_design()), bwrap_backend)
        killer.join()
        assert crashed.verdict is Verdict.COMPILE_ERROR and crashed.details["failure"] == "disallowed_construct"
        assert crashed.details["constructs"] == ["a design the checker fails on"]
        assert domain.evaluate(task, good, bwrap_backend).verdict is Verdict.PASS
        assert pool.starts == 2
    finally:
        domain.close()


@pytest.mark.slow
def test_a_design_that_outlasts_the_check_deadline_times_out_as_in_the_cold_job(task, bwrap_backend, tmp_path):
    domain = VerilogDomain(reference_store=str(tmp_path))
    slow = dataclasses.replace(task, limits={"wall_s": 1})
    cand = Candidate(task.task_id, slow_design())
    try:
        warm = domain.evaluate(slow, cand, bwrap_backend)
        assert (warm.verdict, warm.details["failure"]) == (Verdict.TIMEOUT, "compile_timeout")
        assert domain.evaluate(task, Candidate(task.task_id, reference_solution(task)), bwrap_backend).verdict \
            is Verdict.PASS
    finally:
        domain.close()
    cold = Domain.evaluate(domain, slow, cand, bwrap_backend)
    assert (cold.verdict, cold.details["failure"]) == (Verdict.TIMEOUT, "compile_timeout")
