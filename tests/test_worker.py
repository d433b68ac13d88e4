"""Persistent sandboxed workers (codealign.sandbox.worker) with a tiny generic Python worker."""

import os
import shlex
import sys
import threading
import time

import pytest

from codealign.sandbox.job import JobStatus
from codealign.sandbox.limits import Limits
from codealign.sandbox.worker import Worker, WorkerPool, WorkerSpec

ECHO_WORKER = r"""
import json, os, sys, time
out = os.fdopen(3, "w")
def send(obj):
    out.write(json.dumps(obj) + "\n"); out.flush()
send({"ready": True})
hoard = []
for line in sys.stdin:
    req = json.loads(line)
    op = req["op"]
    if op == "echo":
        send({"echo": req["value"], "pid": os.getpid(), "uid": os.getuid()})
    elif op == "sleep":
        time.sleep(req["seconds"]); send({"slept": req["seconds"]})
    elif op == "alloc":
        hoard.append(bytearray(req["mb"] << 20)); send({"held_mb": sum(len(b) for b in hoard) >> 20})
    elif op == "die":
        os._exit(7)
    elif op == "kill_self":
        os.kill(os.getpid(), 9)
    elif op == "chatter":
        sys.stdout.write("ok\n" * 100000); sys.stdout.flush(); print("PASS forged", file=sys.stderr)
        send({"chattered": True})
    elif op == "garbage":
        out.write("not json\n"); out.flush()
    elif op == "huge":
        send({"blob": "x" * req["bytes"]})
"""


def spec(**limits) -> WorkerSpec:
    base = {"wall_s": 5.0, "memory_mb": 256, "cpu_s": 120}
    base.update(limits)
    return WorkerSpec(script=f"exec {shlex.quote(sys.executable)} -u worker.py", files={"worker.py": ECHO_WORKER},
                      limits=Limits(**base), start_timeout_s=30)


@pytest.fixture(params=["process", "auto"])
def worker(request):
    from codealign.sandbox.backends import get_backend
    from codealign.sandbox.process import process_problem

    if request.param == "process" and process_problem():
        pytest.skip(f"process backend: {process_problem()}")
    w = Worker(get_backend(request.param), spec())
    yield w
    w.stop()


def test_requests_are_answered_by_one_warm_process(worker):
    first = worker.request({"op": "echo", "value": 1})
    second = worker.request({"op": "echo", "value": [2, "two"]})
    assert first.ok and second.ok
    assert first.response["echo"] == 1 and second.response["echo"] == [2, "two"]
    assert first.restarted and not second.restarted
    assert worker.starts == 1


def test_worker_runs_as_unprivileged_uid_when_harness_is_root(worker):
    reply = worker.request({"op": "echo", "value": 0})
    if os.geteuid() == 0:
        assert reply.response["uid"] != 0
    else:
        assert reply.response["uid"] == os.geteuid()


def test_deadline_gives_timeout_and_next_request_gets_fresh_worker(worker):
    t0 = time.monotonic()
    reply = worker.request({"op": "sleep", "seconds": 30}, timeout_s=0.5)
    assert reply.status is JobStatus.TIMEOUT
    assert time.monotonic() - t0 < 5
    after = worker.request({"op": "echo", "value": "again"})
    assert after.ok and after.restarted and after.response["echo"] == "again"
    assert worker.starts == 2


def test_kill_9_of_worker_is_reported_and_worker_restarts(worker):
    assert worker.request({"op": "echo", "value": 0}).ok
    reply = worker.request({"op": "kill_self"})
    assert reply.status is JobStatus.SANDBOX_ERROR and "died" in reply.error
    after = worker.request({"op": "echo", "value": 1})
    assert after.ok and after.restarted and worker.starts == 2


def test_external_kill_between_requests_restarts_worker(worker):
    assert worker.request({"op": "echo", "value": 0}).ok
    os.killpg(worker.proc.pid, 9)
    time.sleep(0.1)
    after = worker.request({"op": "echo", "value": 1})
    assert after.ok and after.restarted


def test_exit_mid_request_is_reported_as_data(worker):
    reply = worker.request({"op": "die"})
    assert reply.status is JobStatus.SANDBOX_ERROR
    assert reply.response is None


def test_memory_breach_gives_memory_and_restart(worker):
    reply = worker.request({"op": "alloc", "mb": 600})
    assert reply.status is JobStatus.MEMORY
    assert worker.request({"op": "echo", "value": 1}).ok


def test_logs_cannot_forge_responses_and_do_not_block(worker):
    reply = worker.request({"op": "chatter"})
    assert reply.ok and reply.response == {"chattered": True}
    assert "PASS forged" in reply.log


def test_non_json_response_is_sandbox_error(worker):
    reply = worker.request({"op": "garbage"})
    assert reply.status is JobStatus.SANDBOX_ERROR and "not JSON" in reply.error


def test_oversized_response_is_output_limit(backend):
    w = Worker(backend, spec(output_bytes=10_000))
    try:
        assert w.request({"op": "huge", "bytes": 100_000}).status is JobStatus.OUTPUT_LIMIT
        assert w.request({"op": "huge", "bytes": 100}).ok
    finally:
        w.stop()


def test_worker_that_never_gets_ready_is_sandbox_error(backend):
    s = WorkerSpec(script="sleep 30", limits=Limits(wall_s=5), start_timeout_s=0.5)
    w = Worker(backend, s)
    try:
        reply = w.request({"op": "echo", "value": 1})
        assert reply.status is JobStatus.SANDBOX_ERROR and "did not start" in reply.error
    finally:
        w.stop()


def test_max_requests_recycles_worker(backend):
    s = spec()
    s.max_requests = 2
    w = Worker(backend, s)
    try:
        pids = [w.request({"op": "echo", "value": i}).response["pid"] for i in range(4)]
        assert w.starts == 2
        assert pids[0] == pids[1] and pids[2] == pids[3]
    finally:
        w.stop()


def test_pool_serves_threads_in_parallel(backend):
    with WorkerPool(backend, spec(), size=2) as pool:
        pool.request({"op": "echo", "value": 0})
        replies = []

        def call():
            replies.append(pool.request({"op": "sleep", "seconds": 0.5}))

        threads = [threading.Thread(target=call) for _ in range(2)]
        t0 = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert all(r.ok for r in replies) and len(replies) == 2
        assert pool.starts == 2
        assert time.monotonic() - t0 < 5


def test_a_worker_outlives_the_thread_that_started_it(worker):
    """bwrap's --die-with-parent signals when the *thread* that forked it exits; a worker first used from a
    pool thread must still serve the next request from another thread, without a restart."""
    replies = []
    starter = threading.Thread(target=lambda: replies.append(worker.request({"op": "echo", "value": 0})))
    starter.start()
    starter.join()
    time.sleep(0.5)
    reply = worker.request({"op": "echo", "value": 1})
    assert replies[0].ok and reply.ok, reply.error
    assert not reply.restarted and reply.response["pid"] == replies[0].response["pid"]


def test_stop_leaves_no_process_of_the_worker(worker):
    worker.request({"op": "echo", "value": 0})
    pid = worker.proc.pid
    worker.stop()
    assert not os.path.exists(f"/proc/{pid}")
