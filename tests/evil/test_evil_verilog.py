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


@pytest.mark.parametrize("loop", ["initial while (1) begin end", "reg spin = 0;\nalways @(posedge clk) forever spin = !spin;"])
def test_zero_delay_loop_is_killed_at_the_wall_deadline(task, any_backend, loop):
    """both: the wall-clock deadline kills the whole job (process group, cgroup, slot uid / PID namespace)."""
    r, outcome, took, marker = run(task, hostile(task, loop), any_backend, wall_s=2)
    assert r.verdict is Verdict.TIMEOUT and r.details["failure"] == "sim_timeout"
    assert took < 2 + 2
    assert_gone(outcome, marker)


def test_dumpvars_blow_up_is_stopped_at_the_disk_cap(task, any_backend):
    """both: the job-dir disk watchdog (``disk_mb``), with RLIMIT_FSIZE bounding each file."""
    body = ("reg [4095:0] w0 = 0, w1 = 0, w2 = 0, w3 = 0;\nalways #1 begin w0 = ~w0; w1 = ~w1; w2 = ~w2; w3 = ~w3; end\n"
            'initial begin $dumpfile("blow.vcd"); $dumpvars(0); end')
    text = "`timescale 1ps/1ps\n" + hostile(task, body)
    r, outcome, took, marker = run(task, text, any_backend, disk_mb=8, file_size_mb=64, wall_s=20)
    assert r.verdict is Verdict.OUTPUT_LIMIT
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
    """both: the design is rejected before simulation (``$fopen`` is denied, so vvp never runs it); behind
    that, the slot uid cannot write root-owned places and bwrap's root is read-only with a private /tmp."""
    tag = uuid.uuid4().hex[:8]
    targets = [f"/etc/codealign_pwned_{tag}", f"/tmp/codealign_pwned_{tag}", f"../codealign_escape_{tag}"]
    body = "integer f0, f1, f2;\ninitial begin\n" + "".join(
        f'  f{i} = $fopen("{p}", "w"); $fdisplay(f{i}, "pwned");\n' for i, p in enumerate(targets)) + "end"
    r, outcome, _, marker = run(task, hostile(task, body), any_backend)
    assert r.verdict is Verdict.COMPILE_ERROR and r.details["failure"] == "forbidden_construct"
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
    """both: ``$system`` is denied (and undefined in Icarus 11, so vvp would refuse the design anyway)."""
    target = f"/tmp/codealign_system_{uuid.uuid4().hex[:8]}"
    r, outcome, _, marker = run(task, hostile(task, f'initial $system("touch {target}");'), any_backend)
    assert r.verdict is Verdict.COMPILE_ERROR and r.details["forbidden"] == ["$system"]
    assert not os.path.exists(target)
    assert_gone(outcome, marker)


def test_memory_bomb_gives_memory(task, any_backend):
    """both: the memory cgroup (resident size), or the resident-size watchdog where none is writable."""
    body = "reg [63:0] mem [0:(1<<26)-1];\ninteger i;\ninitial for (i = 0; i < (1<<26); i = i + 1) mem[i] = i;"
    r, outcome, took, marker = run(task, hostile(task, body), any_backend, memory_mb=200, wall_s=30)
    assert r.verdict is Verdict.MEMORY
    assert took < 25
    assert_gone(outcome, marker)
