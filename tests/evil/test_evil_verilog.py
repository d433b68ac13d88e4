"""Hostile Verilog designs run through the verilog domain, with the harness as root (as in CI).

Each test asserts the verdict, that the job ended promptly, that none of its processes survive and that
nothing was written outside the job dir, and names what stops it. ``both`` = the process and bwrap backends.
The candidate is a VerilogEval-shaped demo design plus the hostile part.
"""

import dataclasses
import os
import time
import uuid

import pytest

from codealign.domains.verilog.verilogeval import load_verilogeval
from codealign.domains.verilog import reference_solution
from codealign.domains.verilog import VerilogDomain
from codealign.sandbox.process import processes_of_uid
from codealign.types import Candidate, Verdict


@pytest.fixture(scope="module")
def task():
    return {t.task_id: t for t in load_verilogeval(None)}["Demo03_count_en"]


def hostile(task, body: str) -> str:
    return reference_solution(task).replace("endmodule", body + "\nendmodule")


def run(task, text, backend, **limits):
    """Prepare, run and judge one candidate; the job carries a marker in its environment so that any
    surviving process can be found."""
    domain = VerilogDomain()
    task = dataclasses.replace(task, limits=limits)
    cand = Candidate(task.task_id, text)
    job = domain.prepare(task, cand)
    marker = f"evil{uuid.uuid4().hex[:12]}"
    job.env = {**job.env, "CODEALIGN_EVIL_MARK": marker}
    t0 = time.monotonic()
    outcome = backend.run(job)
    took = time.monotonic() - t0
    return domain.judge(task, cand, job, outcome), outcome, took, marker


def survivors(marker: str) -> list[int]:
    found = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                with open(f"/proc/{entry.name}/environ", "rb") as fh:
                    if marker.encode() in fh.read():
                        found.append(int(entry.name))
            except OSError:
                pass
    return found


def assert_gone(outcome, marker):
    assert survivors(marker) == []
    assert outcome.uid is None or processes_of_uid(outcome.uid) == []


@pytest.mark.slow
@pytest.mark.parametrize("loop", ["initial while (1) begin end", "reg spin = 0;\nalways @(posedge clk) forever spin = !spin;"])
def test_zero_delay_loop_is_killed_at_the_wall_deadline(task, any_backend, loop):
    """both: the wall-clock deadline kills the whole job (process group, cgroup, slot uid / PID namespace)."""
    r, outcome, took, marker = run(task, hostile(task, loop), any_backend, wall_s=2)
    assert r.verdict is Verdict.TIMEOUT and r.details["failure"] == "sim_timeout"
    assert took < 2 + 2
    assert_gone(outcome, marker)


def test_dumpvars_blow_up_is_refused_before_simulation(task, any_backend):
    """both: ``$dumpfile``/``$dumpvars`` are outside the allowlist, so no design can write files (the job-dir
    disk watchdog and RLIMIT_FSIZE stay behind it)."""
    body = ("reg [4095:0] w0 = 0, w1 = 0, w2 = 0, w3 = 0;\nalways #1 begin w0 = ~w0; w1 = ~w1; w2 = ~w2; w3 = ~w3; end\n"
            'initial begin $dumpfile("blow.vcd"); $dumpvars(0); end')
    text = "`timescale 1ps/1ps\n" + hostile(task, body)
    r, outcome, took, marker = run(task, text, any_backend, disk_mb=8, file_size_mb=64, wall_s=20)
    assert r.verdict is Verdict.COMPILE_ERROR and r.details["constructs"] == ["$dumpfile", "$dumpvars"]
    assert took < 15
    assert_gone(outcome, marker)


def test_unbounded_display_gives_output_limit_promptly(task, any_backend):
    """both: the stdout cap (``output_bytes``) kills the job."""
    body = 'initial forever $display("spam spam spam spam spam spam spam spam spam spam");'
    r, outcome, took, marker = run(task, hostile(task, body), any_backend, output_bytes=200_000, wall_s=20)
    assert r.verdict is Verdict.OUTPUT_LIMIT
    assert len(outcome.stdout) <= 200_000
    assert took < 10
    assert_gone(outcome, marker)


def test_fopen_of_host_paths_writes_nothing_outside_the_job_dir(task, any_backend):
    """both: the design is rejected before simulation (``$fopen`` is not allowed, so vvp never runs it); behind
    that, the slot uid cannot write root-owned places and bwrap's root is read-only with a private /tmp."""
    tag = uuid.uuid4().hex[:8]
    targets = [f"/etc/codealign_pwned_{tag}", f"/tmp/codealign_pwned_{tag}", f"../codealign_escape_{tag}"]
    body = "integer f0, f1, f2;\ninitial begin\n" + "".join(
        f'  f{i} = $fopen("{p}", "w"); $fdisplay(f{i}, "pwned");\n' for i, p in enumerate(targets)) + "end"
    r, outcome, _, marker = run(task, hostile(task, body), any_backend)
    assert r.verdict is Verdict.COMPILE_ERROR and r.details["failure"] == "disallowed_construct"
    assert "build" not in r.details.get("stage", "")
    assert not os.path.exists(targets[0]) and not os.path.exists(targets[1])
    assert not any(p.name.startswith("codealign_escape_") for p in any_backend.workdir.iterdir())
    assert_gone(outcome, marker)


def test_reading_environment_secrets_reveals_nothing(task, any_backend, monkeypatch):
    """both: the harness environment is scrubbed (the job never sees it), Icarus has no ``$getenv``, and
    ``$fopen("/proc/self/environ")`` is denied before simulation."""
    secret = f"codealign-secret-{uuid.uuid4().hex}"
    monkeypatch.setenv("CODEALIGN_TEST_SECRET", secret)
    for body in ('initial $display("%s", $getenv("CODEALIGN_TEST_SECRET"));',
                 'integer fd; reg [8*256-1:0] s;\ninitial begin fd = $fopen("/proc/self/environ", "r");\n'
                 '  $fgets(s, fd); $display("%s", s); end'):
        r, outcome, _, marker = run(task, hostile(task, body), any_backend)
        assert r.verdict is Verdict.COMPILE_ERROR
        assert secret not in outcome.text("stdout") + outcome.text("stderr") + r.stdout + r.stderr
        assert_gone(outcome, marker)


def test_system_shell_command_is_rejected_and_never_runs(task, any_backend):
    """both: ``$system`` is not allowed (and undefined in Icarus 11, so vvp would refuse the design anyway)."""
    target = f"/tmp/codealign_system_{uuid.uuid4().hex[:8]}"
    r, outcome, _, marker = run(task, hostile(task, f'initial $system("touch {target}");'), any_backend)
    assert r.verdict is Verdict.COMPILE_ERROR and r.details["constructs"] == ["$system"]
    assert not os.path.exists(target)
    assert_gone(outcome, marker)


def test_memory_bomb_gives_memory(task, any_backend):
    """both: the memory cgroup (resident size), or the resident-size watchdog where none is writable."""
    body = "reg [63:0] mem [0:(1<<26)-1];\ninteger i;\ninitial for (i = 0; i < (1<<26); i = i + 1) mem[i] = i;"
    r, outcome, took, marker = run(task, hostile(task, body), any_backend, memory_mb=200, wall_s=30)
    assert r.verdict is Verdict.MEMORY
    assert took < 25
    assert_gone(outcome, marker)


# -- verdict forgery (issue 13): each class refused by the allowlist on slang's syntax tree, before simulation --
WRONG = ("module TopModule(input clk, input reset, input en, output reg [3:0] q);\n"
         "always @(posedge clk) q <= reset ? 4'd0 : q + 4'd3;\n")


def refused(r, construct: str) -> bool:
    return (r.verdict is Verdict.COMPILE_ERROR and r.details["failure"] == "disallowed_construct"
            and construct in r.details["constructs"])


@pytest.mark.parametrize("arming", [
    # the design's own defparam, resolved only in the full compile (into the testbench's instance)
    "defparam tb.top_module1.ARM = 1;",
    # an upward path from a second module
    "endmodule\nmodule arm_it;\ndefparam tb.top_module1.ARM = 1;",
    # a plain upward name, no testbench prefix
    "defparam top_module1.ARM = 1;",
])
@pytest.mark.parametrize("forced", ["tb.tb_match = 1'b1", "tb.stats1.errors = 0", "tb.q_dut = tb.q_ref"])
def test_defparam_arming_a_generate_branch_that_forces_testbench_signals_is_refused(task, any_backend, arming, forced):
    text = (WRONG.replace(");\n", ");\nparameter ARM = 0;\n", 1)
            + f"generate if (ARM) begin : armed\ninitial forever #1 force {forced};\nend endgenerate\n"
            + arming + "\nendmodule")
    r, outcome, _, marker = run(task, text, any_backend)
    assert refused(r, "defparam") and refused(r, "force")
    assert "build" not in r.details["stage"]
    assert_gone(outcome, marker)


@pytest.mark.parametrize("call", ["\\$finish ;", "\\$stop ;", "\\$fatal (0);", "\\$finish (0) ;"])
def test_escaped_identifier_system_task_ending_the_simulation_is_refused(task, any_backend, call):
    """The design is right only for the first samples; ending the run there would pass it."""
    name = call.split()[0].lstrip("\\")
    text = reference_solution(task).replace("endmodule", f"initial #60 {call}\nendmodule")
    r, outcome, _, marker = run(task, text, any_backend)
    assert refused(r, name)
    assert_gone(outcome, marker)


@pytest.mark.parametrize("drive", [
    "initial force en = 1'bx;",
    "initial force reset = 1'bz;",
    "assign en = 1'bx;",
    "buf (reset, 1'bz);",
    "drive_x d(.o(en));",
])
def test_a_design_driving_its_own_input_to_x_is_refused(task, any_backend, drive):
    """X on the shared input would make the reference's output X, a don't-care for the testbench."""
    sub = "module drive_x(output o); assign o = 1'bx; endmodule\n" if "drive_x" in drive else ""
    text = sub + WRONG + drive + "\nendmodule"
    r, outcome, _, marker = run(task, text, any_backend)
    assert r.verdict is Verdict.COMPILE_ERROR and r.details["failure"] == "disallowed_construct"
    assert any(c.startswith("drives its own input") for c in r.details["constructs"])
    assert_gone(outcome, marker)


@pytest.fixture
def host_secret():
    """A world-readable file in the home folder holding a fresh secret."""
    from pathlib import Path

    secret = f"codealign-host-secret-{uuid.uuid4().hex}"
    path = Path.home() / f".codealign_secret_{uuid.uuid4().hex[:8]}.v"
    path.write_text(f"// {secret}\n{secret} {secret};\n")
    path.chmod(0o644)
    yield path, secret
    path.unlink()


@pytest.mark.parametrize("include", [
    '`include "{p}"\n',
    '`define SRC "{p}"\n`include `SRC\n',
    '`define GET `include "{p}"\n`GET\n',
    '`define GET(f) `include f\n`GET("{p}")\n',
])
def test_include_of_a_host_file_is_refused_and_its_text_appears_nowhere(task, any_backend, host_secret, include):
    path, secret = host_secret
    text = include.format(p=path) + WRONG + "endmodule"
    r, outcome, _, marker = run(task, text, any_backend)
    assert refused(r, "directive `include")
    seen = outcome.stdout + outcome.stderr + outcome.trusted
    assert secret.encode() not in seen
    assert secret not in r.stdout + r.stderr + repr(r.details)
    assert_gone(outcome, marker)


@pytest.fixture(scope="module")
def comparator(shared_data):
    from codealign.domains.verilog.rtllm import load_rtllm

    return {t.task_id: t for t in load_rtllm(shared_data / "rtllm" / "problems.jsonl")}["comparator_3bit"]


@pytest.mark.parametrize("outputs", [
    "assign A_greater = 1'bx; assign A_equal = 1'bx; assign A_less = 1'bx;",
    "",  # undriven: Z
    "assign A_greater = A > B ? 1'b1 : 1'bx; assign A_equal = A == B ? 1'b1 : 1'bz; assign A_less = 1'bx;",
])
def test_x_outputs_never_pass_an_rtllm_testbench_that_compares_with_logical_operators(comparator, bwrap_backend,
                                                                                       outputs):
    """``if (A > B && !A_greater)`` is never true for X: the shadow reference's X rule fails the design."""
    text = ("module comparator_3bit(input [2:0] A, input [2:0] B, output A_greater, output A_equal, "
            f"output A_less);\n{outputs}\nendmodule")
    r, outcome, _, marker = run(comparator, text, bwrap_backend)
    assert r.verdict is Verdict.FAIL and r.details["failure"] == "x_output"
    assert_gone(outcome, marker)


@pytest.mark.parametrize("payload", [
    'initial $c("std::system(\\"touch {t}\\");");',
    'initial \\$c ("std::system(\\"touch {t}\\");");',
    'wire [31:0] w = $c32("std::system(\\"touch {t}\\")");',
    '`systemc_implementation\n#include <cstdlib>\nstatic int x = std::system("touch {t}");\n`verilog\n',
])
def test_verilator_c_code_in_the_design_is_refused_before_verilator_runs(task, any_backend, payload):
    target = f"/tmp/codealign_vl_{uuid.uuid4().hex[:8]}"
    domain = VerilogDomain(simulator="verilator")
    text = reference_solution(task).replace("endmodule", payload.format(t=target) + "\nendmodule")
    cand = Candidate(task.task_id, text)
    job = domain.prepare(task, cand)
    outcome = any_backend.run(job)
    r = domain.judge(task, cand, job, outcome)
    assert r.verdict is Verdict.COMPILE_ERROR and r.details["failure"] == "disallowed_construct"
    assert r.details["stage"] == "allowlist"
    assert not os.path.exists(target)


@pytest.mark.parametrize("direction", ["output", "inout"])
def test_a_design_declaring_an_input_as_a_driver_is_refused(task, any_backend, direction):
    """Declared ``output``/``inout``, the port would drive the testbench's stimulus net that the reference
    reads too (Verilator resolves the multiple drivers instead of refusing them)."""
    text = (f"module TopModule(input clk, input reset, {direction} en, output reg [3:0] q);\n"
            "assign en = 1'b0;\nalways @(posedge clk) q <= reset ? 4'd0 : q;\nendmodule")
    r, outcome, _, marker = run(task, text, any_backend)
    assert refused(r, f"port en declared {direction} (an input)")
    assert_gone(outcome, marker)
