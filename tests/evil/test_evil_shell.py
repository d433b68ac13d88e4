"""Hostile programs run as generic shell / Python jobs, with the harness as root (as in CI).

Each test asserts the verdict (job status), a prompt kill, no surviving process and no write outside the job
dir, and names the mechanism that stops it. ``both`` = the process and bwrap backends; tests that need a
namespace run on bwrap only, because the process backend documents that it does not provide one.
"""

import os
import socket
import sys
import threading
import time
import uuid

import pytest

from leftovers import survivors

from codealign.sandbox.job import Job, JobStatus
from codealign.sandbox.limits import Limits
from codealign.sandbox.process import processes_of_uid

PY = sys.executable


def _run(backend, script, **limits):
    marker = f"m{uuid.uuid4().hex[:12]}"
    t0 = time.monotonic()
    result = backend.run(Job(script=script.replace("MARKER", marker), limits=Limits(**limits)))
    return result, time.monotonic() - t0, marker


def test_infinite_loop_is_killed_at_the_wall_deadline(any_backend):
    """Stopped by the wall-clock deadline and a kill of the whole job."""
    result, took, marker = _run(any_backend, "exec -a MARKER bash -c 'while :; do :; done'", wall_s=1)
    assert result.status is JobStatus.TIMEOUT
    assert took < 4
    assert survivors(marker) == []


@pytest.mark.slow
def test_fork_bomb_is_contained_even_as_root(any_backend):
    """Stopped by RLIMIT_NPROC under the per-slot uid and the pids cgroup; the harness stays responsive."""
    result, took, marker = _run(any_backend, "f() { f | f & }; f; sleep 1; exec -a MARKER sleep 30", wall_s=3, nproc=32)
    assert result.status in (JobStatus.TIMEOUT, JobStatus.EXITED)
    assert took < 8
    assert survivors(marker) == []
    assert result.uid is None or processes_of_uid(result.uid) == []


def test_memory_bomb_gives_memory(any_backend):
    """Stopped by the memory cgroup (resident size), or the resident-size watchdog where none is writable."""
    result, took, _ = _run(any_backend, f"{PY} -c 'b = bytearray(4 << 30)'", memory_mb=300, wall_s=20)
    assert result.status is JobStatus.MEMORY
    assert took < 15


def test_disk_fill_is_stopped_at_the_disk_cap(any_backend):
    """Stopped by the job-dir disk watchdog (and RLIMIT_FSIZE per file)."""
    script = "for i in $(seq 1 100); do head -c 20000000 /dev/zero > f$i || true; done"
    result, took, _ = _run(any_backend, script, disk_mb=50, file_size_mb=30, wall_s=30)
    assert result.status is JobStatus.OUTPUT_LIMIT
    assert took < 15


def test_single_huge_file_is_cut_by_fsize(any_backend):
    """RLIMIT_FSIZE: the write fails with SIGXFSZ/EFBIG at file_size_mb."""
    result, _, _ = _run(any_backend, "head -c 50000000 /dev/zero > big; echo rc=$? >&3", file_size_mb=5, disk_mb=200)
    assert result.trusted.strip() != b"rc=0"


def test_unbounded_output_gives_output_limit_promptly(any_backend):
    """Stopped by the stdout cap."""
    result, took, _ = _run(any_backend, "yes codealign", output_bytes=100_000)
    assert result.status is JobStatus.OUTPUT_LIMIT
    assert len(result.stdout) <= 100_000
    assert took < 5


def test_closed_stdout_does_not_confuse_the_harness(any_backend):
    result, _, _ = _run(any_backend, "exec 1>&- 2>&-; sleep 0.2; echo done >&3")
    assert result.status is JobStatus.EXITED
    assert result.trusted == b"done\n"


def test_sigterm_ignoring_process_is_killed(any_backend):
    """SIGKILL of the process group, the cgroup and the slot uid — a TERM handler cannot delay it."""
    result, took, marker = _run(any_backend, "trap '' TERM; exec -a MARKER bash -c \"trap '' TERM; sleep 60\"", wall_s=1)
    assert result.status is JobStatus.TIMEOUT
    assert took < 4
    assert survivors(marker) == []


def test_setsid_daemon_does_not_survive_the_job(any_backend):
    """A new session escapes the process group: the cgroup / slot-uid sweep (process) and the PID namespace
    (bwrap) still reach it."""
    result, took, marker = _run(any_backend, "setsid bash -c 'exec -a MARKER sleep 60' < /dev/null > /dev/null 2>&1 &\necho ok")
    assert result.status is JobStatus.EXITED
    time.sleep(0.2)
    assert survivors(marker) == []


def test_writes_outside_the_job_dir_fail(any_backend, tmp_path):
    """Host paths: the per-slot uid cannot write root-owned places (process); the root is read-only (bwrap)."""
    target = "/etc/codealign_pwned_" + uuid.uuid4().hex[:8]
    parent_escape = "../codealign_escape_" + uuid.uuid4().hex[:8]
    result, _, _ = _run(any_backend, f"echo x > {target}; echo x > {parent_escape}; echo x > /usr/codealign_pwn; true")
    assert result.status is JobStatus.EXITED
    assert not os.path.exists(target)
    assert not os.path.exists("/usr/codealign_pwn")
    assert not any(p.name.startswith("codealign_escape_") for p in any_backend.workdir.iterdir())


def test_tmp_writes_stay_private_under_bwrap(bwrap_backend):
    """bwrap's private /tmp: a job's /tmp write never reaches the host's /tmp."""
    name = "codealign_tmp_" + uuid.uuid4().hex[:8]
    result, _, _ = _run(bwrap_backend, f"echo x > /tmp/{name}")
    assert result.status is JobStatus.EXITED
    assert not os.path.exists(f"/tmp/{name}")


def test_symlink_exfiltration_reads_nothing(any_backend):
    """Collected files are opened with O_NOFOLLOW at every component."""
    job = Job(script="ln -s /etc/shadow result.txt; mkdir d; ln -s /etc d/sub; true",
              collect=("result.txt", "d/sub/passwd"))
    result = any_backend.run(job)
    assert result.files == {}


def test_environment_secrets_do_not_reach_the_job(any_backend, monkeypatch):
    """Scrubbed environment; the harness's /proc/<pid>/environ is unreadable to the slot uid (process) and
    invisible in the PID namespace (bwrap)."""
    monkeypatch.setenv("CODEALIGN_TEST_SECRET", "hunter2-secret")
    script = f"env; cat /proc/{os.getpid()}/environ 2>/dev/null; cat /proc/1/environ 2>/dev/null; true"
    result, _, _ = _run(any_backend, script)
    assert b"hunter2-secret" not in result.stdout + result.stderr


@pytest.mark.slow
def test_host_loopback_server_is_unreachable_under_bwrap(bwrap_backend):
    """A new network namespace: the host's 127.0.0.1 is another machine's loopback. (The process backend
    does not isolate the network; its docstring says so.)"""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    port = srv.getsockname()[1]
    hits = []

    def accept():
        srv.settimeout(3)
        try:
            conn, _ = srv.accept()
            hits.append(conn.recv(100))
        except OSError:
            pass

    th = threading.Thread(target=accept)
    th.start()
    code = f"import socket; s = socket.create_connection(('127.0.0.1', {port}), timeout=2); s.sendall(b'leak')"
    result, _, _ = _run(bwrap_backend, f"{PY} -c \"{code}\"; echo rc=$? >&3")
    th.join()
    srv.close()
    assert hits == []
    assert result.trusted.strip() != b"rc=0"


def test_job_cannot_write_the_trusted_channel_after_closing_it(any_backend):
    """Untrusted steps run with fd 3 closed: their writes to it fail."""
    result, _, _ = _run(any_backend, "bash -c 'echo forged >&3' 3>&- 2>/dev/null; echo real >&3")
    assert result.trusted == b"real\n"


def test_orphaned_zombies_do_not_poison_the_next_job(any_backend):
    """Orphans re-parent to the harness (a subreaper) and are reaped, and a slot uid with leftover processes
    is never handed out, so a fork bomb cannot exhaust the process limit of a later job."""
    _run(any_backend, "f() { f | f & }; f; sleep 1", wall_s=2, nproc=32)
    results = [any_backend.run(Job(script="for i in 1 2 3 4 5 6 7 8; do (sleep 0.1) & done; wait; echo ok >&3",
                                   limits=Limits(nproc=16))) for _ in range(3)]
    assert [r.trusted for r in results] == [b"ok\n"] * 3
