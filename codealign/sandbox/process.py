"""The ``process`` backend: one job = one bash script in a fresh directory, under limits the harness enforces.

Guaranteed (when the harness runs as root, as in CI):

* the job runs as an unprivileged uid of its own (one per concurrent slot, allocated with a lock file), in a
  new session, with a scrubbed environment, stdin closed and a fresh job directory as HOME, TMPDIR and cwd;
  it cannot write host files that are not world-writable, nor read the harness's ``/proc/<pid>/environ``;
* rlimits (CPU, FSIZE, NOFILE, NPROC, optionally AS) are set by the launcher before the script runs, and
  the job cannot raise them; NPROC counts against the slot uid, so a fork bomb stops at ``Limits.nproc``;
* where a cgroup hierarchy is writable (v1 or v2) the job joins a cgroup of its own before it execs
  anything: ``pids.max`` and a resident-memory limit hold for every descendant; otherwise a watchdog
  samples the resident size of every process of the slot uid;
* a hard wall-clock deadline; stdout/stderr caps; a disk watchdog on the job directory (every entry counts at
  least :data:`INODE_BYTES`); at the end every process of the job is killed: process group, cgroup members,
  and every process owned by the slot uid (which reaches ``setsid`` daemons), and every process it left
  re-parented to the harness is reaped (no zombie accumulates in a long-lived harness);
* files are read back without following symlinks (``O_NOFOLLOW`` at every path component).

Job dirs live in a fresh folder per backend (one per ``execute``), inside a folder of the harness; both are
the harness's (mode 0711), so neither ``../`` nor ``../../`` from a job dir is writable, and a backend's jobs
never share a job root with another's.

Not guaranteed by this backend (use ``bwrap``): no network isolation (a job can reach the host's loopback),
the host filesystem stays readable (every world-readable file, home folders that others may traverse
included: this backend hides nothing of the filesystem), world-writable places (``/tmp``, ``/dev/shm``) stay
writable (a job can leave files there, e.g. above its job root, for later jobs), there is no seccomp
filter (a job starts with a fresh session keyring, but its slot uid's user keyring outlives it), and the disk
watchdog samples, so a job may overshoot ``disk_mb`` by what it writes in one sampling interval
(``file_size_mb`` still bounds each file). Run as a non-root user, the job keeps that user's uid:
RLIMIT_NPROC then counts all of that user's processes, and only the process group and cgroup are killed.
As root, jobs cannot run an interpreter below a folder others may not traverse (:func:`process_problem`).
"""

from __future__ import annotations

import concurrent.futures
import errno
import fcntl
import functools
import os
import queue
import selectors
import shlex
import shutil
import signal
import stat
import subprocess
import tempfile
import threading
import time
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from codealign.errors import UserError
from codealign.sandbox.binds import closed_ancestors, interpreter_paths
from codealign.sandbox.cgroup import JobCgroup, kill_until_gone, open_cgroup
from codealign.sandbox.job import Job, JobResult, JobStatus
from codealign.sandbox.limits import Limits

SAFE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_TICK_S = 0.01
_DISK_EVERY_S = 0.05
_DRAIN_S = 0.1
_UID_BASE = int(os.environ.get("CODEALIGN_UID_BASE", "61000"))
_UID_COUNT = 512
_LOCK_DIR = Path(tempfile.gettempdir()) / "codealign-uid-locks"


def is_root() -> bool:
    return os.geteuid() == 0


def process_problem() -> str | None:
    """None when this backend's jobs can run the harness's interpreter, else why not: as root, jobs run as
    unprivileged uids, which cannot reach an interpreter below a folder others may not traverse (a pyenv
    under ``/root``, 0700 on a fresh machine). Setup does not change those permissions; bwrap and docker
    show the interpreter to the job instead."""
    if not is_root():
        return None
    for path in interpreter_paths():
        closed = closed_ancestors(path)
        if closed:
            return (f"jobs run as unprivileged uids and cannot reach the interpreter {os.path.realpath(path)} "
                    f"({closed[0]} is not traversable by others); use --backend bwrap or docker")
    return None


class UidSlot:
    """An unprivileged uid reserved for one job at a time, across processes (flock on a lock file)."""

    _local = threading.Lock()

    def __init__(self) -> None:
        self.uid: int | None = None
        self._fd: int | None = None

    def acquire(self) -> "UidSlot":
        _LOCK_DIR.mkdir(mode=0o700, exist_ok=True)
        start = (os.getpid() * 7 + threading.get_ident()) % _UID_COUNT
        with self._local:
            for i in range(_UID_COUNT):
                uid = _UID_BASE + (start + i) % _UID_COUNT
                fd = os.open(_LOCK_DIR / str(uid), os.O_RDWR | os.O_CREAT, 0o600)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except OSError:
                    os.close(fd)
                    continue
                if any(True for _ in _proc_status(uid)):
                    os.close(fd)
                    continue
                self.uid, self._fd = uid, fd
                return self
        raise RuntimeError("no free sandbox uid slot")

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> "UidSlot":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def _proc_status(uid: int):
    """(pid, state, ppid) of every process whose real uid is ``uid`` (scans /proc)."""
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        state, ppid = b"", 0
        try:
            with open(f"/proc/{entry.name}/status", "rb") as fh:
                for line in fh:
                    if line.startswith(b"State:"):
                        state = line.split()[1]
                    elif line.startswith(b"PPid:"):
                        ppid = int(line.split()[1])
                    elif line.startswith(b"Uid:"):
                        if int(line.split()[1]) == uid:
                            yield int(entry.name), state, ppid
                        break
        except (OSError, ValueError, IndexError):
            continue


def processes_of_uid(uid: int) -> list[int]:
    """Live (non-zombie) pids whose real uid is ``uid``."""
    return [pid for pid, state, _ in _proc_status(uid) if state not in (b"Z", b"X")]


def _orphans() -> list[tuple[int, bytes, int, bool]]:
    """(pid, state, real uid, PID-namespace init?) of every child of this process: re-parented orphans and
    its own."""
    me = os.getpid()
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        fields: dict[bytes, list[bytes]] = {}
        try:
            with open(f"/proc/{entry.name}/status", "rb") as fh:
                for line in fh:
                    key, _, value = line.partition(b":")
                    fields[key] = value.split()
                    if key == b"NSpid" or (key == b"PPid" and int(value) != me):
                        break
            if int(fields[b"PPid"][0]) == me:
                nspid = fields.get(b"NSpid", [])
                found.append((int(entry.name), fields[b"State"][0], int(fields[b"Uid"][0]),
                              len(nspid) > 1 and nspid[-1] == b"1"))
        except (OSError, ValueError, IndexError, KeyError):
            continue
    return found


def zombie_children() -> list[int]:
    """Children of this process that have exited and are not reaped yet (the harness leaves none behind)."""
    return [pid for pid, state, _, _ in _orphans() if state == b"Z"]


def _reap_orphans(uid: int | None, timeout_s: float = 2.0) -> None:
    """Reap what jobs left re-parented to this process (a subreaper), pid by pid, never a child this process
    started itself (so no other thread's child status is taken): zombies of the slot ``uid``, and every
    sandbox's PID-namespace init (bwrap's, root-owned; bwrap exits on the job's exit status without waiting
    for it, so each bwrap job leaves one, a zombie unless reaped). An init found still running belongs to a
    sandbox whose bwrap is gone: it is killed, then reaped."""
    deadline = time.monotonic() + timeout_s
    for pid, state, owner, ns_init in _orphans():
        if not (ns_init or (owner == uid and state == b"Z")):
            continue
        if state != b"Z":
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        while True:
            try:
                if os.waitpid(pid, os.WNOHANG)[0] or time.monotonic() >= deadline:
                    break
            except ChildProcessError:
                break
            time.sleep(0.002)


def _join_fresh_session_keyring() -> None:
    """Give the calling thread (and so the job it is about to fork) a new, empty anonymous session keyring:
    a job never starts with the harness's or an earlier job's session keyring. Keyrings are per thread."""
    number = _KEYCTL.get(os.uname().machine)
    if number is not None:
        _libc().syscall(number, 1, None)  # KEYCTL_JOIN_SESSION_KEYRING, anonymous


_KEYCTL = {"x86_64": 250, "aarch64": 219}
"""The ``keyctl`` system call's number per machine."""


@functools.cache
def _libc():
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    return libc


def _become_subreaper() -> None:
    """Orphans of jobs re-parent to the harness instead of pid 1 (which, in some containers, never reaps
    them: their zombies would count against the slot uid's RLIMIT_NPROC for later jobs)."""
    try:
        _libc().prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        pass


class _LastingThread:
    """One daemon thread per process that runs the calls given to :meth:`call`, in order. Workers are forked
    from it because bwrap's ``--die-with-parent`` (``PR_SET_PDEATHSIG``) fires when the *thread* that forked a
    process exits, not the process: a worker started from a pool thread would die with that thread, and a
    request sent to it meanwhile would come back SANDBOX_ERROR. A worker still dies with the harness. A forked
    child gets its own thread on its first call."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: queue.SimpleQueue | None = None
        self._pid: int | None = None

    def call(self, fn, *args, **kwargs):
        with self._lock:
            if self._pid != os.getpid():
                self._queue, self._pid = queue.SimpleQueue(), os.getpid()
                threading.Thread(target=self._serve, args=(self._queue,), name="codealign-worker-starter",
                                 daemon=True).start()
            calls = self._queue
        done: concurrent.futures.Future = concurrent.futures.Future()
        calls.put((done, fn, args, kwargs))
        return done.result()

    @staticmethod
    def _serve(calls: queue.SimpleQueue) -> None:
        while True:
            done, fn, args, kwargs = calls.get()
            try:
                done.set_result(fn(*args, **kwargs))
            except BaseException as exc:
                done.set_exception(exc)


_WORKER_STARTER = _LastingThread()


def resident_bytes(pids: list[int]) -> int:
    page = os.sysconf("SC_PAGE_SIZE")
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/statm", "rb") as fh:
                total += int(fh.read().split()[1]) * page
        except (OSError, ValueError, IndexError):
            continue
    return total


INODE_BYTES = 4096
"""What one file, folder or link costs at least against ``Limits.disk_mb``: an inode and its directory entry
are disk too, so 100,000 empty files count as 400 MB, not 0."""


def dir_bytes(root: str, stop_above: int | None = None) -> int:
    """The bytes under ``root`` (allocated blocks, each entry counted as at least :data:`INODE_BYTES`); the walk
    stops once the total passes ``stop_above``, so a flood of entries costs the watchdog no more than the cap."""
    total = 0
    stack = [root]
    while stack:
        path = stack.pop()
        try:
            with os.scandir(path) as it:
                for entry in it:
                    try:
                        st = entry.stat(follow_symlinks=False)
                    except OSError:
                        continue
                    total += max(st.st_blocks * 512, INODE_BYTES)
                    if stop_above is not None and total > stop_above:
                        return total
                    if stat.S_ISDIR(st.st_mode):
                        stack.append(entry.path)
        except OSError:
            continue
    return total


def read_nofollow(root: str, rel: str, cap: int) -> bytes | None:
    """Read ``root/rel`` without following a symlink at any component; None when absent or not a file."""
    parts = rel.split("/")
    dirfd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        for part in parts[:-1]:
            nxt = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=dirfd)
            os.close(dirfd)
            dirfd = nxt
        try:
            fd = os.open(parts[-1], os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=dirfd)
        except OSError as exc:
            if exc.errno in (errno.ENOENT, errno.ELOOP, errno.ENOTDIR):
                return None
            raise
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                return None
            with os.fdopen(os.dup(fd), "rb") as fh:
                return fh.read(cap)
        finally:
            os.close(fd)
    except OSError:
        return None
    finally:
        os.close(dirfd)


def _rmtree(path: str) -> None:
    """Remove a job dir even where the job left unreadable folders behind."""
    for dirpath, dirnames, _ in os.walk(path):
        for name in dirnames:
            sub = os.path.join(dirpath, name)
            if not os.path.islink(sub):
                try:
                    os.chmod(sub, 0o700)
                except OSError:
                    pass
    shutil.rmtree(path, ignore_errors=True)


def _rlimit_lines(limits: Limits) -> str:
    lines = [
        f"ulimit -t {max(1, int(limits.cpu_s + 0.999))}",
        f"ulimit -f {int(limits.file_size_mb) * 1024 * 2}",
        f"ulimit -n {int(limits.nofile)}",
        "ulimit -c 0",
    ]
    if limits.address_space_mb:
        lines.append(f"ulimit -v {int(limits.address_space_mb) * 1024}")
    return "\n".join(lines)


@dataclass
class WorkerProcess:
    """A persistent worker as its backend started it (:meth:`Backend.start_worker`); the same backend's
    :meth:`Backend.kill_worker` ends it."""

    proc: subprocess.Popen
    """The process whose stdin takes requests, whose stdout/stderr are logs, and whose exit is the worker's
    death (under docker: the client attached to the container)."""
    responses: BinaryIO
    """The read end of the trusted channel (the worker's fd 3)."""
    backend: str
    """The name of the backend it runs under, for verdicts."""
    ident: str
    """Which worker this is: its pid on the host, or its container's id."""
    uid: int | None = None
    cgroup: JobCgroup | None = None
    slot: UidSlot | None = None

    def memory_bytes(self) -> int:
        if self.cgroup is not None:
            return self.cgroup.memory_bytes()
        if self.uid is not None:
            return resident_bytes(processes_of_uid(self.uid))
        return resident_bytes(_group_pids(self.proc.pid))

    def killed_for_memory(self, cap_bytes: int) -> bool:
        """After its death: whether the memory limit killed it."""
        return self.cgroup is not None and (self.cgroup.oom_killed() or self.cgroup.peak_bytes() >= cap_bytes * 0.95)


def _fresh_job_root(base: Path) -> Path:
    """A new folder for one backend's job dirs (removed with the backend), inside ``base/codealign-jobs-<euid>``:
    both belong to the harness (mode 0711), so no job can write next to its job dir nor next to the job root,
    and no job of one backend (one ``execute``) sees a folder another's jobs wrote."""
    parent = base / f"codealign-jobs-{os.geteuid()}"
    parent.mkdir(mode=0o711, parents=True, exist_ok=True)
    info = os.lstat(parent)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid():
        raise UserError(f"{parent} is not a folder of uid {os.geteuid()}: jobs may have planted it; remove it")
    os.chmod(parent, 0o711)
    root = Path(tempfile.mkdtemp(prefix="jobs-", dir=parent))
    os.chmod(root, 0o711)
    return root


class Backend:
    """What every backend is: runs jobs as local processes under the guarantees in the module docstring, and
    starts persistent workers; :class:`ProcessBackend`, ``BwrapBackend`` and ``DockerBackend`` say how a job's
    process is launched."""

    name = ""
    tool: tuple[str, ...] = ()
    """The command that prints the version of the tool this backend runs jobs through (``codealign doctor``
    lists it); empty: none."""

    @staticmethod
    def problem() -> str | None:
        """Why this backend cannot run jobs here when it is asked for by name; None when it can."""
        return None

    def __init__(self, workdir: str | os.PathLike | None = None):
        base = Path(workdir or os.environ.get("CODEALIGN_JOB_ROOT") or tempfile.gettempdir())
        if is_root():
            _become_subreaper()
        self.workdir = _fresh_job_root(base)
        self._cleanup = weakref.finalize(self, _rmtree, str(self.workdir))
        self._live: dict[int, tuple[subprocess.Popen, int | None, JobCgroup | None]] = {}
        self._workers: dict[int, WorkerProcess] = {}
        self._live_lock = threading.Lock()

    def __getstate__(self) -> dict:
        # Shipped to other processes (Ray workers): the running jobs and workers and their lock stay here.
        return {k: v for k, v in self.__dict__.items() if k not in ("_live", "_workers", "_live_lock", "_cleanup")}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._live = {}
        self._workers = {}
        self._live_lock = threading.Lock()

    def cancel_all(self) -> None:
        """SIGKILL every job this backend is running now (e.g. on Ctrl-C); each job's own thread then sees it
        end, reaps it and cleans up as after any kill, so its result is a normal (failed) JobResult. Every
        persistent worker is killed too (a request in flight comes back as a dead worker's reply)."""
        with self._live_lock:
            live, workers = list(self._live.values()), list(self._workers.values())
        for proc, uid, cgroup in live:
            self._kill_job(proc, uid, cgroup, uid_timeout_s=0.5)
        for worker in workers:
            self.kill_worker(worker)

    # -- hooks for subclasses -------------------------------------------------------------------------
    drops_privileges = False
    """True when :meth:`wrap`'s command starts as root and itself drops to the slot uid before the job runs
    (so the launcher stays root); False when the launcher is started as the slot uid."""

    def wrap(self, argv: list[str], jobdir: str, job: Job, uid: int | None = None) -> list[str]:
        """The command that runs ``argv`` inside this backend's isolation (identity here); ``uid`` is the
        job's slot uid (None when the harness is not root)."""
        return argv

    def identity(self) -> str:
        """What of this backend a verdict depends on (part of the judge's fingerprint): its name, and for a
        container backend the image."""
        return self.name

    def launch_fds(self) -> dict[int, int]:
        """Descriptors the wrapped command gets at fixed numbers (>= 4): number -> a descriptor opened for this
        one launch (numbered 10 or above), which :meth:`launch` closes once the job has it. None here."""
        return {}

    def describe(self) -> str:
        """One line: what this backend's isolation holds and hides (``codealign doctor`` prints it)."""
        raise NotImplementedError

    # -- the run -------------------------------------------------------------------------------------------
    def run(self, job: Job) -> JobResult:
        t0 = time.monotonic()
        try:
            jobdir = tempfile.mkdtemp(prefix="codealign-job-", dir=self.workdir)
        except OSError as exc:
            return JobResult(JobStatus.SANDBOX_ERROR, error=f"cannot create job dir in {self.workdir}: {exc}",
                             backend=self.name)
        slot = UidSlot() if is_root() else None
        try:
            if slot is not None:
                slot.acquire()
            return self._run_in(job, jobdir, slot.uid if slot else None, t0)
        except Exception as exc:  # harness fault, never the candidate's
            return JobResult(JobStatus.SANDBOX_ERROR, error=f"{type(exc).__name__}: {exc}", backend=self.name,
                             wall_s=time.monotonic() - t0)
        finally:
            if slot is not None:
                slot.release()
            _rmtree(jobdir)

    def _write_files(self, job: Job, jobdir: str, uid: int | None) -> None:
        for rel, content in job.files.items():
            path = Path(jobdir, rel)
            path.parent.mkdir(parents=True, exist_ok=True)
            data = content.encode("utf-8", "surrogateescape") if isinstance(content, str) else content
            path.write_bytes(data)
        if uid is not None:
            for dirpath, dirnames, filenames in os.walk(jobdir):
                os.chown(dirpath, uid, uid)
                for name in filenames:
                    os.chown(os.path.join(dirpath, name), uid, uid)
        os.chmod(jobdir, 0o700)

    def launch(self, job: Job, jobdir: str, uid: int | None, cgroup: JobCgroup | None,
               stdin=subprocess.DEVNULL, trusted_fd: int | None = None) -> subprocess.Popen:
        """Start ``job.script`` in ``jobdir``; shared by one-shot jobs and persistent workers."""
        limits = job.limits
        join = "".join(f"echo $$ > {shlex.quote(f)} || exit 97\n" for f in (cgroup.procs_files if cgroup else []))
        nproc = f"ulimit -u {int(limits.nproc)}\n" if uid is not None else ""
        move_fd = f"exec 3>&{trusted_fd} {trusted_fd}>&-\n" if trusted_fd is not None and trusted_fd != 3 else ""
        extra = self.launch_fds()
        move_fd += "".join(f"exec {target}<&{fd} {fd}<&-\n" for target, fd in extra.items())
        launcher = f"{move_fd}{join}{_rlimit_lines(limits)}\n{nproc}exec \"$@\"\n"
        inner = ["/bin/bash", "--noprofile", "--norc", "-c", "set -u\n" + job.script]
        try:
            argv = ["/bin/bash", "--noprofile", "--norc", "-c", launcher, "codealign-launch",
                    *self.wrap(inner, jobdir, job, uid)]
            env = {"PATH": SAFE_PATH, "HOME": jobdir, "TMPDIR": jobdir, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}
            env.update(job.env)
            pass_fds = ((trusted_fd,) if trusted_fd is not None else ()) + tuple(extra.values())
            kwargs = {}
            if uid is not None and not self.drops_privileges:
                kwargs = {"user": uid, "group": uid, "extra_groups": []}
            _join_fresh_session_keyring()
            return subprocess.Popen(
                argv, cwd=jobdir, env=env, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                pass_fds=pass_fds, start_new_session=True, close_fds=True, **kwargs,
            )
        finally:
            for fd in extra.values():
                os.close(fd)

    def start_worker(self, job: Job, jobdir: str) -> WorkerProcess:
        """Start ``job.script`` in ``jobdir`` as a persistent worker (:mod:`codealign.sandbox.worker`): isolated
        like a job, stdin a pipe, fd 3 the trusted channel. Raises OSError when it cannot start."""
        slot = UidSlot().acquire() if is_root() else None
        uid = slot.uid if slot else None
        cgroup = None
        r_resp, w_resp = os.pipe()
        try:
            self._write_files(job, jobdir, uid)
            cgroup = open_cgroup(int(job.limits.memory_mb) << 20, int(job.limits.nproc) + 8, owner_uid=uid)
            proc = _WORKER_STARTER.call(self.launch, job, jobdir, uid, cgroup, stdin=subprocess.PIPE,
                                        trusted_fd=w_resp)
        except BaseException:
            os.close(r_resp)
            if cgroup is not None:
                cgroup.remove()
            if slot is not None:
                slot.release()
            raise
        finally:
            os.close(w_resp)
        worker = WorkerProcess(proc, os.fdopen(r_resp, "rb", buffering=0), self.name, f"pid {proc.pid}", uid, cgroup,
                               slot)
        with self._live_lock:
            self._workers[id(worker)] = worker
        return worker

    def kill_worker(self, worker: WorkerProcess) -> None:
        """Kill every process of a worker this backend started and free its cgroup and uid. Only the first call
        acts: once the uid is free, another job may hold it."""
        with self._live_lock:
            if self._workers.pop(id(worker), None) is None:
                return
        self._kill_all(worker.proc, worker.uid, worker.cgroup)
        if worker.cgroup is not None:
            worker.cgroup.remove()
        if worker.slot is not None:
            worker.slot.release()

    def _run_in(self, job: Job, jobdir: str, uid: int | None, t0: float) -> JobResult:
        limits = job.limits
        self._write_files(job, jobdir, uid)
        cgroup = open_cgroup(int(limits.memory_mb) << 20, int(limits.nproc) + 8, owner_uid=uid)
        r_trusted, w_trusted = os.pipe()
        try:
            proc = self.launch(job, jobdir, uid, cgroup, trusted_fd=w_trusted)
        except OSError as exc:
            os.close(r_trusted)
            os.close(w_trusted)
            if cgroup:
                cgroup.remove()
            return JobResult(JobStatus.SANDBOX_ERROR, error=f"cannot start job: {exc}", backend=self.name)
        os.close(w_trusted)
        with self._live_lock:
            self._live[proc.pid] = (proc, uid, cgroup)
        try:
            status, out, err, trusted, peak = self._supervise(proc, r_trusted, jobdir, uid, cgroup, limits, t0)
        finally:
            with self._live_lock:
                self._live.pop(proc.pid, None)
        wall = time.monotonic() - t0
        rc, cpu = proc.returncode, getattr(proc, "cpu_s", 0.0)
        if cgroup is not None:
            peak = max(peak, cgroup.peak_bytes())
            if status is JobStatus.EXITED and cgroup.oom_killed():
                status = JobStatus.MEMORY
            cgroup.remove()
        if status is JobStatus.EXITED and rc != 0 and peak >= (int(limits.memory_mb) << 20) * 0.95:
            status = JobStatus.MEMORY
        files = {}
        for rel in job.collect:
            data = read_nofollow(jobdir, rel, limits.output_bytes)
            if data is not None:
                files[rel] = data
        return JobResult(status, rc, out, err, trusted, files, wall, cpu, peak / 2**20, backend=self.name, uid=uid)

    def _supervise(self, proc, r_trusted, jobdir, uid, cgroup, limits, t0):
        sel = selectors.DefaultSelector()
        bufs = {"out": bytearray(), "err": bytearray(), "trusted": bytearray()}
        sel.register(proc.stdout, selectors.EVENT_READ, "out")
        sel.register(proc.stderr, selectors.EVENT_READ, "err")
        trusted_file = os.fdopen(r_trusted, "rb", buffering=0)
        sel.register(trusted_file, selectors.EVENT_READ, "trusted")
        status = JobStatus.EXITED
        deadline = t0 + limits.wall_s
        mem_cap = int(limits.memory_mb) << 20
        disk_cap = int(limits.disk_mb) << 20
        peak = 0
        next_disk = 0.0
        open_streams = 3
        exited_at = 0.0
        try:
            while True:
                now = time.monotonic()
                if now >= deadline:
                    status = JobStatus.TIMEOUT
                    break
                for key, _ in sel.select(timeout=min(_TICK_S * 5, max(0.0, deadline - now))):
                    chunk = os.read(key.fileobj.fileno(), 65536)
                    if not chunk:
                        sel.unregister(key.fileobj)
                        open_streams -= 1
                        continue
                    buf = bufs[key.data]
                    room = limits.output_bytes - len(buf)
                    buf += chunk[:max(0, room)]
                    if len(chunk) > room and key.data != "trusted":
                        status = JobStatus.OUTPUT_LIMIT
                if status is not JobStatus.EXITED:
                    break
                if cgroup is not None:
                    used = cgroup.memory_bytes()
                elif uid is not None:
                    used = resident_bytes(processes_of_uid(uid)) if now >= next_disk else 0
                else:
                    used = resident_bytes(_group_pids(proc.pid)) if now >= next_disk else 0
                peak = max(peak, used)
                if used > mem_cap:
                    status = JobStatus.MEMORY
                    break
                if now >= next_disk:
                    next_disk = now + _DISK_EVERY_S
                    if dir_bytes(jobdir, disk_cap) > disk_cap:
                        status = JobStatus.OUTPUT_LIMIT
                        break
                if _reap(proc):
                    exited_at = exited_at or now
                    if open_streams == 0 or now - exited_at > _DRAIN_S:
                        break
                elif open_streams == 0:
                    time.sleep(_TICK_S)
        finally:
            self._kill_all(proc, uid, cgroup)
            sel.close()
            proc.stdout.close()
            proc.stderr.close()
            trusted_file.close()
        return status, bytes(bufs["out"]), bytes(bufs["err"]), bytes(bufs["trusted"]), peak

    @staticmethod
    def _kill_job(proc: subprocess.Popen, uid: int | None, cgroup: JobCgroup | None,
                  uid_timeout_s: float = 2.0) -> None:
        """SIGKILL the job's process group, its cgroup and, with a per-slot uid, every process of that uid."""
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            pass
        if cgroup is not None:
            cgroup.kill()
        if uid is not None:
            kill_until_gone(lambda: processes_of_uid(uid), timeout_s=uid_timeout_s)

    @staticmethod
    def _kill_all(proc: subprocess.Popen, uid: int | None, cgroup: JobCgroup | None) -> None:
        Backend._kill_job(proc, uid, cgroup)
        reap_within(proc, 5)
        _reap_orphans(uid)


class ProcessBackend(Backend):
    """The ``process`` backend: each job a local process with what :class:`Backend` gives and no namespace of its
    own (bwrap and docker add those)."""

    name = "process"

    def describe(self) -> str:
        return ("process: session, rlimits, scrubbed env, per-slot uid (as root), cgroup where writable; hides "
                "nothing of the host filesystem (every world-readable file is readable by jobs)")


def _reap(proc: subprocess.Popen) -> bool:
    """Reap the launcher with ``wait4`` (which also reports the CPU time of everything it waited for)."""
    if proc.returncode is not None:
        return True
    try:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
    except ChildProcessError:
        proc.returncode = proc.returncode if proc.returncode is not None else -1
        return True
    if pid == 0:
        return False
    proc.returncode = os.waitstatus_to_exitcode(status)
    proc.cpu_s = usage.ru_utime + usage.ru_stime
    return True


def reap_within(proc: subprocess.Popen, timeout_s: float) -> bool:
    """Wait up to ``timeout_s`` for a killed process to be reaped (:func:`_reap`); True once it is."""
    end = time.monotonic() + timeout_s
    while not _reap(proc):
        if time.monotonic() >= end:
            return False
        time.sleep(0.002)
    return True


def _group_pids(pgid: int) -> list[int]:
    pids = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                if os.getpgid(int(entry.name)) == pgid:
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids
