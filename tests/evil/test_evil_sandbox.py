"""Hostile jobs against the sandbox itself, whatever the domain: state kept in the kernel keyring for a later
job, zombies piling up in the harness, a flood of empty files, files planted next to the job root, and a
verdict of a weaker backend served from the cache to a stronger one."""

import os
import sys
import threading
import uuid

import pytest

from codealign.execution.executor import execute
from codealign.sandbox.backends import get_backend
from codealign.sandbox.job import Job, JobStatus
from codealign.sandbox.limits import Limits
from codealign.sandbox.process import zombie_children
from codealign.types import Candidate, Task, Verdict

sys.path.insert(0, os.path.dirname(os.path.dirname(__file__)))
from shell_domain import ShellDomain  # noqa: E402

# add_key(2) into the caller's user keyring, or keyctl(2) SEARCH for it and READ it: the syscalls themselves,
# so no keyutils binary is needed in the sandbox.
KEYRING = """
import ctypes, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
USER_KEYRING = ctypes.c_long(-4)
name = sys.argv[2].encode()
if sys.argv[1] == "store":
    key = libc.syscall(248, b"user", name, b"left-by-an-earlier-job", 22, USER_KEYRING)
    if key > 0:
        libc.syscall(250, 15, ctypes.c_long(key), 60)  # KEYCTL_SET_TIMEOUT: gone within a minute
    print("stored" if key > 0 else "refused")
else:
    key = libc.syscall(250, 10, USER_KEYRING, b"user", name, 0)  # KEYCTL_SEARCH
    buf = ctypes.create_string_buffer(64)
    n = libc.syscall(250, 11, ctypes.c_long(key), buf, 64) if key > 0 else -1  # KEYCTL_READ
    print(buf.raw[:n].decode() if n > 0 else "nothing")
"""


# Calls Docker's default seccomp profile refuses (x86-64 numbers), each with arguments that would otherwise
# reach the kernel: the keyring, new namespaces, mounts, eBPF, perf events, kexec, userfaultfd.
REFUSED = {"add_key": (248, b"user", b"k", b"v", 1, -4), "request_key": (249, b"user", b"k", 0, -4),
           "keyctl": (250, 0, -4, 0), "unshare": (272, 0x10000000), "mount": (165, b"none", b"/tmp", b"tmpfs", 0, 0),
           "bpf": (321, 0, 0, 0), "perf_event_open": (298, 0, 0, -1, -1, 0), "setns": (308, 0, 0),
           "kexec_load": (246, 0, 0, 0, 0), "userfaultfd": (323, 0)}
PROBE = """
import ctypes, json, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
out = {}
for name, (nr, *args) in json.loads(sys.argv[1]).items():
    args = [a.encode() if isinstance(a, str) else ctypes.c_long(a) for a in args]
    ctypes.set_errno(0)
    out[name] = ctypes.get_errno() if libc.syscall(nr, *args) < 0 else 0
print(json.dumps(out))
"""


@pytest.fixture(params=["bwrap", "docker"])
def strong_backend(request):
    if request.param == "docker":
        from codealign.sandbox.docker import docker_problem

        if docker_problem():
            pytest.fail(f"docker backend unusable: {docker_problem()} (a setup bug)")
    return get_backend(request.param)


@pytest.fixture(params=["process", "bwrap", "docker"])
def every_backend(request):
    if request.param == "docker":
        from codealign.sandbox.docker import docker_problem

        if docker_problem():
            pytest.fail(f"docker backend unusable: {docker_problem()} (a setup bug)")
    return get_backend(request.param)


def test_a_key_one_job_stores_in_the_kernel_keyring_is_not_readable_by_the_next(strong_backend):
    name = f"codealign-evil-{uuid.uuid4().hex[:8]}"
    script = f"{sys.executable} -I -c '{KEYRING}' {{}} {name}"
    strong_backend.run(Job(script=script.format("store")))
    later = strong_backend.run(Job(script=script.format("read")))
    assert later.status is JobStatus.EXITED and later.stdout.strip() == b"nothing"


def test_every_call_dockers_profile_refuses_is_refused(strong_backend):
    import errno
    import json
    import shlex

    calls = {name: [a.decode() if isinstance(a, bytes) else a for a in spec] for name, spec in REFUSED.items()}
    result = strong_backend.run(Job(script=f"{sys.executable} -I -c {shlex.quote(PROBE)} "
                                           f"{shlex.quote(json.dumps(calls))}"))
    assert json.loads(result.stdout) == {name: errno.EPERM for name in REFUSED}


def test_jobs_leave_no_zombie_in_the_harness(strong_backend):
    before = set(zombie_children())
    for _ in range(3):
        assert strong_backend.run(Job(script="true")).status is JobStatus.EXITED
    assert set(zombie_children()) - before == set()


@pytest.mark.slow
def test_reward_server_requests_leave_no_zombie():
    import json
    import urllib.request

    from codealign.domains.verilog import reference_solution
    from codealign.domains.verilog.tasks import bundled_tasks
    from codealign.reward import Scorer, make_reward_server

    task = bundled_tasks("train")[0]
    server = make_reward_server(Scorer("verilog", [task], backend="bwrap", workers=1))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    before = set(zombie_children())
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/get_reward"
        for _ in range(3):
            body = json.dumps({"query": [reference_solution(task)], "labels": [task.task_id]}).encode()
            with urllib.request.urlopen(urllib.request.Request(url, body), timeout=120) as reply:
                assert json.loads(reply.read())["rewards"] == [1.0]
    finally:
        server.shutdown()
        server.server_close()
    assert set(zombie_children()) - before == set()


@pytest.mark.slow
def test_a_flood_of_empty_files_is_stopped_by_the_disk_limit(every_backend):
    result = every_backend.run(Job(script="mkdir d && cd d && seq 100000 | xargs touch",
                                   limits=Limits(disk_mb=64, wall_s=60)))
    assert result.status is JobStatus.OUTPUT_LIMIT


def test_a_process_job_cannot_plant_files_beside_its_job_root():
    backend = get_backend("process")
    name = f"codealign-planted-{uuid.uuid4().hex[:8]}"
    backend.run(Job(script=f"echo evil > ../../{name} 2>/dev/null; echo evil > ../{name} 2>/dev/null; true"))
    assert not (backend.workdir.parent / name).exists() and not (backend.workdir / name).exists()


def test_two_backends_never_share_a_job_root():
    first, second = get_backend("process"), get_backend("process")
    assert first.workdir != second.workdir


def test_a_verdict_of_the_process_backend_is_not_served_to_a_bwrap_run(tmp_path):
    # PASS only outside a PID namespace: the script's own pid is small inside bwrap's.
    task, cand = Task("t", "shell", "p"), Candidate("t", "test $$ -gt 100\n")
    cache = tmp_path / "c.sqlite"
    weak = execute(ShellDomain(), [task], [cand], backend="process", cache=cache, progress=False)
    strong = execute(ShellDomain(), [task], [cand], backend="bwrap", cache=cache, progress=False)
    assert weak[0].verdict is Verdict.PASS
    assert strong[0].verdict is Verdict.FAIL and not strong[0].cached
