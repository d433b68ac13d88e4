"""Persistent sandboxed workers: one long-lived process per worker for toolchains whose start-up costs
more than the work (a warm compiler, an analyser's imported Python API).

A worker is started by its backend (:meth:`Backend.start_worker`) with a job's isolation: its own
per-slot uid, its own cgroup, rlimits, a scrubbed environment, its own directory as HOME/TMPDIR/cwd and, with
the bwrap backend, no network, a root holding only the allowlisted binds, a private /tmp and a PID namespace.
With the docker backend it is a long-lived container configured like a job's (image root read-only, network
none, uid 65534, the container's memory and pids limits); its trusted channel is a FIFO in the root-only
folder where a job's trusted file lives. Killing a worker is the backend's :meth:`Backend.kill_worker`
(for a container: remove it, forced), and the backend's ``cancel_all`` kills every worker it started.
A worker lives until it is stopped or the harness exits, whichever thread first used it (the process
backends fork workers from one long-lived thread: bwrap's ``--die-with-parent`` follows the forking thread).

Protocol (line-delimited JSON):

* the harness writes one request per line to the worker's **stdin**;
* the worker writes ``{"ready": true}`` once warm, then exactly one response object per request, one per
  line, to **fd 3** (the trusted channel). stdout and stderr are logs: drained, capped, kept as a tail.
  A tool that prints to stdout therefore cannot corrupt the protocol;
* the worker exits when stdin closes.

Every request has a deadline. When it passes, when the worker's memory goes over ``Limits.memory_mb``,
when the worker dies, when its directory outgrows ``Limits.disk_mb`` or a response is not a JSON line, the
whole worker (process group, cgroup, every process of its uid) is killed and the request comes back as data
(:class:`WorkerReply` with TIMEOUT, MEMORY, OUTPUT_LIMIT or SANDBOX_ERROR); the next request starts a
fresh worker.

Isolation between requests of the same worker is weaker than between jobs: requests share the process, its
memory, its directory and its uid. That is safe only when requests are *data* to trusted code (a compiler or
analyser reading a contract), never when a request carries code the worker executes. A request that
crashes or hangs the worker cannot reach the next request (the worker is replaced), but a request that
changes the worker's state without crashing it could; workers should keep per-request files in a fresh
sub-directory and delete it. ``WorkerSpec.max_requests`` recycles a worker after that many requests.
``Limits.cpu_s`` is the RLIMIT_CPU of each worker process over its whole life (not per request): choose it
to cover ``max_requests`` requests; a worker killed by it is replaced like any other death.
"""

from __future__ import annotations

import json
import os
import queue
import selectors
import subprocess
import tempfile
import threading
import time
import weakref
from dataclasses import dataclass, field
from typing import Any

from codealign.sandbox.job import Job, JobStatus
from codealign.sandbox.limits import Limits
from codealign.sandbox.process import Backend, WorkerProcess, _reap, _rmtree, dir_bytes

_TICK_S = 0.02
_LOG_TAIL = 16384


@dataclass
class WorkerSpec:
    """How to start one worker."""

    script: str
    """Bash run in the worker's directory; it must ``exec`` (or run) a program that speaks the protocol."""

    files: dict[str, str | bytes] = field(default_factory=dict)
    """Files written into the worker's directory before it starts."""

    limits: Limits = field(default_factory=Limits)
    """``wall_s`` is the default per-request deadline; ``memory_mb``, ``nproc``, ``nofile``, ``file_size_mb``,
    ``disk_mb`` hold for the worker as a whole; ``cpu_s`` is each worker process's lifetime CPU cap;
    ``output_bytes`` caps one response line and the kept log tail."""

    env: dict[str, str] = field(default_factory=dict)
    """Added to the scrubbed environment."""

    start_timeout_s: float = 60.0
    """How long a new worker may take to report ready (not counted against any request's deadline)."""

    max_requests: int = 500
    """Replace the worker after this many requests."""

    network: bool = False
    """Allow network access (bwrap only; the process backend cannot deny it)."""

    binds: tuple[str, ...] = ()
    """Host paths the worker reads (see :attr:`codealign.sandbox.job.Job.binds`)."""

    def __post_init__(self) -> None:
        if self.start_timeout_s <= 0:
            raise ValueError(f"WorkerSpec.start_timeout_s must be positive, got {self.start_timeout_s!r}")
        if self.max_requests < 1:
            raise ValueError(f"WorkerSpec.max_requests must be at least 1, got {self.max_requests!r}")


@dataclass
class WorkerReply:
    """The outcome of one request: ``status`` is EXITED when ``response`` holds the worker's answer."""

    status: JobStatus
    response: dict[str, Any] | None = None
    error: str = ""
    wall_s: float = 0.0
    peak_memory_mb: float = 0.0
    log: str = ""
    """The tail of what the worker wrote to stdout/stderr while serving this request."""
    restarted: bool = False
    """True when a fresh worker had to be started for this request."""
    backend: str = ""
    """The backend the serving worker ran under (``WorkerProcess.backend``)."""
    worker: str = ""
    """Which worker served it (``WorkerProcess.ident``: a host pid or a container id); empty when none started."""

    @property
    def ok(self) -> bool:
        return self.status is JobStatus.EXITED and self.response is not None


class _Dead(Exception):
    def __init__(self, status: JobStatus, error: str):
        super().__init__(error)
        self.status = status
        self.error = error


class Worker:
    """One persistent sandboxed process. Not thread-safe: a :class:`WorkerPool` hands it to one caller at
    a time."""

    def __init__(self, backend: Backend, spec: WorkerSpec):
        self.backend = backend
        self.spec = spec
        self.served = 0
        self.starts = 0
        self._handle: WorkerProcess | None = None
        self._jobdir: str | None = None
        self._sel: selectors.BaseSelector | None = None
        self._buf = bytearray()
        self._log = bytearray()

    @property
    def proc(self) -> subprocess.Popen | None:
        return self._handle.proc if self._handle else None

    @property
    def alive(self) -> bool:
        return self.proc is not None and not _reap(self.proc)

    @property
    def uid(self) -> int | None:
        return self._handle.uid if self._handle else None

    # -- life cycle ------------------------------------------------------------------------------------
    def start(self) -> None:
        """Launch the worker and wait for its ready line; raises :class:`_Dead` when it does not come."""
        self.stop()
        spec = self.spec
        self._jobdir = tempfile.mkdtemp(prefix="codealign-worker-", dir=self.backend.workdir)
        job = Job(script=spec.script, files=spec.files, limits=spec.limits, env=spec.env, network=spec.network,
                  binds=spec.binds)
        try:
            self._handle = self.backend.start_worker(job, self._jobdir)
        except OSError as exc:
            self.stop()
            raise _Dead(JobStatus.SANDBOX_ERROR, f"cannot start worker: {exc}") from None
        self._sel = selectors.DefaultSelector()
        self._sel.register(self._handle.responses, selectors.EVENT_READ, "resp")
        self._sel.register(self.proc.stdout, selectors.EVENT_READ, "log")
        self._sel.register(self.proc.stderr, selectors.EVENT_READ, "log")
        self._buf.clear()
        self._log.clear()
        self.served = 0
        self.starts += 1
        try:
            ready, _ = self._await_line(time.monotonic() + spec.start_timeout_s)
        except _Dead as dead:
            log = self._log_text()
            self.stop()
            status = dead.status if dead.status is not JobStatus.TIMEOUT else JobStatus.SANDBOX_ERROR
            raise _Dead(status, f"worker did not start: {dead.error}; log: {log[-2000:]}") from None
        if not ready.get("ready"):
            self.stop()
            raise _Dead(JobStatus.SANDBOX_ERROR, f"worker's first line was not ready: {ready!r}")

    def stop(self) -> None:
        """Kill the worker (its backend's :meth:`~Backend.kill_worker`) and remove its directory."""
        if self._sel is not None:
            self._sel.close()
            self._sel = None
        if self._handle is not None:
            self.backend.kill_worker(self._handle)
            for stream in (self._handle.proc.stdin, self._handle.proc.stdout, self._handle.proc.stderr,
                           self._handle.responses):
                try:
                    stream.close()
                except OSError:
                    pass
            self._handle = None
        if self._jobdir is not None:
            _rmtree(self._jobdir)
            self._jobdir = None

    # -- requests --------------------------------------------------------------------------------------
    def request(self, payload: dict[str, Any], timeout_s: float | None = None) -> WorkerReply:
        """Send one request and wait for its response, at most ``timeout_s`` (default ``limits.wall_s``)
        after it was sent. Never raises for the worker's failures: they come back as the reply's status."""
        restarted = False
        if not self.alive or self.served >= self.spec.max_requests:
            try:
                self.start()
            except _Dead as dead:
                return WorkerReply(dead.status, error=dead.error, restarted=True, backend=self.backend.name)
            restarted = True
        where = {"backend": self._handle.backend, "worker": self._handle.ident}
        deadline_s = self.spec.limits.wall_s if timeout_s is None else timeout_s
        line = (json.dumps(payload) + "\n").encode("utf-8")
        self._log.clear()
        t0 = time.monotonic()
        try:
            try:
                self.proc.stdin.write(line)
                self.proc.stdin.flush()
            except (BrokenPipeError, OSError):
                raise _Dead(JobStatus.SANDBOX_ERROR, "worker closed its input") from None
            response, peak = self._await_line(t0 + deadline_s)
        except _Dead as dead:
            log = self._log_text()
            self.stop()
            return WorkerReply(dead.status, error=dead.error, wall_s=time.monotonic() - t0, log=log,
                               restarted=restarted, **where)
        self.served += 1
        disk_cap = int(self.spec.limits.disk_mb) << 20
        if self._jobdir and dir_bytes(self._jobdir, disk_cap) > disk_cap:
            log = self._log_text()
            self.stop()
            return WorkerReply(JobStatus.OUTPUT_LIMIT, error=f"worker directory grew past {self.spec.limits.disk_mb} MB",
                               wall_s=time.monotonic() - t0, log=log, restarted=restarted, **where)
        return WorkerReply(JobStatus.EXITED, response, wall_s=time.monotonic() - t0, peak_memory_mb=peak / 2**20,
                           log=self._log_text(), restarted=restarted, **where)

    def _log_text(self) -> str:
        return bytes(self._log[-_LOG_TAIL:]).decode("utf-8", errors="replace")

    def _await_line(self, deadline: float) -> tuple[dict, int]:
        """The next JSON line on fd 3, draining logs meanwhile; raises :class:`_Dead` on any failure."""
        limits = self.spec.limits
        cap = int(limits.memory_mb) << 20
        peak = 0
        exited = False
        while True:
            newline = self._buf.find(b"\n")
            if newline >= 0:
                raw = bytes(self._buf[:newline])
                del self._buf[:newline + 1]
                try:
                    obj = json.loads(raw)
                except (json.JSONDecodeError, UnicodeDecodeError):
                    raise _Dead(JobStatus.SANDBOX_ERROR, f"worker wrote a line that is not JSON: {raw[:200]!r}") from None
                if not isinstance(obj, dict):
                    raise _Dead(JobStatus.SANDBOX_ERROR, f"worker wrote {type(obj).__name__}, not an object")
                return obj, peak
            if len(self._buf) > limits.output_bytes:
                raise _Dead(JobStatus.OUTPUT_LIMIT, f"response longer than {limits.output_bytes} bytes")
            if exited:
                raise self._death()
            now = time.monotonic()
            if now >= deadline:
                raise _Dead(JobStatus.TIMEOUT, "deadline passed")
            for key, _ in self._sel.select(timeout=min(_TICK_S, deadline - now)):
                chunk = os.read(key.fileobj.fileno(), 1 << 16)
                if key.data == "resp":
                    if not chunk:
                        raise self._death()
                    self._buf += chunk
                elif chunk:
                    self._log += chunk
                    if len(self._log) > 2 * _LOG_TAIL:
                        del self._log[:-_LOG_TAIL]
                else:
                    self._sel.unregister(key.fileobj)
            used = self._handle.memory_bytes()
            peak = max(peak, used)
            if used > cap:
                raise _Dead(JobStatus.MEMORY, f"worker used more than {limits.memory_mb} MB")
            if _reap(self.proc):
                exited = True
                for key, _ in self._sel.select(timeout=0):
                    if key.data == "resp":
                        self._buf += os.read(key.fileobj.fileno(), 1 << 20)

    def _death(self) -> _Dead:
        _reap(self.proc) or time.sleep(0.05)
        _reap(self.proc)
        if self._handle.killed_for_memory(int(self.spec.limits.memory_mb) << 20):
            return _Dead(JobStatus.MEMORY, f"worker killed for memory (over {self.spec.limits.memory_mb} MB)")
        return _Dead(JobStatus.SANDBOX_ERROR, f"worker died (exit status {self.proc.returncode})")


class WorkerPool:
    """Up to ``size`` workers of one spec, started on first use, shared by threads: each request takes a
    free worker (waiting when all are busy), and a worker that failed is replaced on its next request.
    ``requests`` counts the requests sent so far, ``starts`` the worker processes started."""

    def __init__(self, backend: Backend, spec: WorkerSpec, size: int = 1):
        if size < 1:
            raise ValueError(f"WorkerPool size must be at least 1, got {size!r}")
        self.backend = backend
        self.spec = spec
        self.size = size
        self._free: queue.LifoQueue[Worker] = queue.LifoQueue()
        self._all: list[Worker] = []
        self._lock = threading.Lock()
        self._closed = False
        self.requests = 0
        self._finalizer = weakref.finalize(self, _stop_all, self._all)

    def request(self, payload: dict[str, Any], timeout_s: float | None = None) -> WorkerReply:
        with self._lock:
            self.requests += 1
        worker = self._take()
        try:
            return worker.request(payload, timeout_s)
        finally:
            self._free.put(worker)

    def _take(self) -> Worker:
        with self._lock:
            if self._closed:
                raise RuntimeError("worker pool is closed")
            try:
                return self._free.get_nowait()
            except queue.Empty:
                if len(self._all) < self.size:
                    worker = Worker(self.backend, self.spec)
                    self._all.append(worker)
                    return worker
        return self._free.get()

    @property
    def workers(self) -> tuple[Worker, ...]:
        """The workers made so far (each alive or waiting to be started again on its next request)."""
        return tuple(self._all)

    @property
    def starts(self) -> int:
        """How many worker processes were started so far (restarts included)."""
        return sum(w.starts for w in self._all)

    def close(self) -> None:
        """Stop every worker (also done when the pool is garbage-collected or the interpreter exits)."""
        with self._lock:
            self._closed = True
        self._finalizer()

    def __enter__(self) -> "WorkerPool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _stop_all(workers: list[Worker]) -> None:
    for worker in list(workers):
        worker.stop()
