"""The ``docker`` backend: one container per job, for machines with a Docker engine. It runs for real: setup
installs Debian's engine and starts it, ``scripts/docker_images.sh`` builds the image, and
``tests/test_containers.py`` judges golden, wrong and hostile candidates of every domain in containers.

What a container hides, beyond what the process backend guarantees:

* the host's filesystem: the container's root is the image (Debian 12 minbase plus the toolchains, read-only);
  of the host it sees only the job dir (read-write, at ``/job``) and, read-only at their own paths, the
  interpreter and virtual environment the harness runs on and the job's ``binds`` (the domain's harness
  code). Nothing else of the host — home folders, other jobs' folders, the harness's state — exists in it;
* the network: ``--network none`` (a job that asks for network gets the host's, as under bwrap);
* the host's processes: a PID namespace; every process of the job dies with the container;
* privileges: the entrypoint opens the trusted channel (fd 3, a root-owned 0600 file in a folder only root
  can enter) as root, then drops to uid 65534 with ``setpriv``; all capabilities but SETUID/SETGID are
  dropped and ``no-new-privileges`` is set, so nothing regains root;
* resources: memory (swap disabled) and pids are cgroup limits of the container, CPU time, file size and
  open files are rlimits, ``/tmp`` is a tmpfs capped in size and inodes; the harness kills the container at
  the wall deadline, when stdout or stderr passes ``Limits.output_bytes`` and when the job dir passes
  ``Limits.disk_mb``.

Persistent workers (:mod:`codealign.sandbox.worker`) are long-lived containers with the same configuration
(:meth:`DockerBackend.start_worker`); the backend starts no host process that runs job code (``launch`` is
absent). A worker's requests reach its stdin through ``docker start --attach --interactive`` (the engine's
command-line client, which Debian's ``docker.io`` ships); its responses come on fd 3, which the entrypoint
opens as root exactly as for a job, except that ``out`` is a FIFO the harness reads while the worker lives.
Killing a worker removes its container (forced); ``cancel_all`` does that for every worker.

Not hidden: the kernel (containers share it with the host; a kernel exploit escapes), the contents of the
bound folders (an interpreter and the codealign package folder hold no secret), and timing. Starting a
container costs about a third of a second (``benchmarks/sandbox_throughput.py`` measures it).
"""

from __future__ import annotations

import functools
import os
import shlex
import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codealign.sandbox.binds import host_binds
from codealign.sandbox.cgroup import JobCgroup
from codealign.sandbox.job import Job, JobResult, JobStatus
from codealign.sandbox.process import (INODE_BYTES, Backend, WorkerProcess, _rmtree, dir_bytes, is_root,
                                       read_nofollow, reap_within)

DEFAULT_IMAGE = os.environ.get("CODEALIGN_DOCKER_IMAGE", "codealign-sandbox:latest")
JOB_MOUNT = "/job"
TRUSTED_MOUNT = "/codealign-trusted"
UNPRIVILEGED_UID = 65534
_TICK_S = 0.02
_DISK_EVERY_S = 0.25
_CGROUP_ROOTS = ("/sys/fs/cgroup/{c}/docker/{id}", "/sys/fs/cgroup/docker/{id}",
                 "/sys/fs/cgroup/system.slice/docker-{id}.scope")


@functools.lru_cache(maxsize=4)
def docker_problem(image: str = DEFAULT_IMAGE) -> str | None:
    """None when a Docker engine answers and holds ``image``, else why not."""
    try:
        import docker
    except ImportError:
        return "the docker SDK is not installed (pip install 'codealign[docker]')"
    try:
        client = docker.from_env(timeout=5)
        client.ping()
    except Exception as exc:  # the SDK raises several unrelated types for "no engine"
        return f"no Docker engine reachable: {type(exc).__name__}: {str(exc)[:120]} (bash scripts/setup.sh starts one)"
    try:
        client.images.get(image)
    except Exception:
        return f"no image {image!r} in the engine (build it: bash scripts/docker_images.sh)"
    return None


def entrypoint(script: str, uid: int = UNPRIVILEGED_UID, trusted_dir: str = TRUSTED_MOUNT) -> list[str]:
    """The container command: open the trusted channel as root, drop privileges, run the job script."""
    inner = "set -u\n" + script
    outer = (
        f"exec 3>{trusted_dir}/out && chmod 600 {trusted_dir}/out && "
        f"exec setpriv --reuid={uid} --regid={uid} --clear-groups --inh-caps=-all "
        f"/bin/bash --noprofile --norc -c {shlex.quote(inner)}"
    )
    return ["/bin/bash", "--noprofile", "--norc", "-c", outer]


class _Streams:
    """stdout/stderr of an attached container, each kept up to ``cap`` bytes; ``overflow`` once either passed."""

    def __init__(self, frames, cap: int):
        self.out, self.err = bytearray(), bytearray()
        self.overflow = False
        self._frames, self._cap = frames, cap
        self.thread = threading.Thread(target=self._read, daemon=True)

    def _read(self) -> None:
        try:
            for out, err in self._frames:
                for buf, chunk in ((self.out, out), (self.err, err)):
                    if chunk:
                        room = self._cap - len(buf)
                        buf += chunk[:max(0, room)]
                        self.overflow |= len(chunk) > room
        except Exception:  # the connection drops when the container is killed
            pass


def _cgroup_usage(container_id: str) -> tuple[int, float] | None:
    """(peak memory bytes, CPU seconds) of a running container from its cgroup (v1 or v2), None once gone."""
    for pattern in _CGROUP_ROOTS:
        mem, cpu = Path(pattern.format(c="memory", id=container_id)), Path(pattern.format(c="cpuacct", id=container_id))
        try:
            if (mem / "memory.max_usage_in_bytes").exists():
                return (int((mem / "memory.max_usage_in_bytes").read_text()),
                        int((cpu / "cpuacct.usage").read_text()) / 1e9)
            if (mem / "memory.peak").exists():
                usec = next(int(line.split()[1]) for line in (mem / "cpu.stat").read_text().splitlines()
                            if line.startswith("usage_usec"))
                return int((mem / "memory.peak").read_text()), usec / 1e6
        except (OSError, ValueError, StopIteration):
            return None
    return None


def _container_cgroup(container_id: str) -> JobCgroup | None:
    """The cgroup of a running container (v1 or v2), None before it starts or once it is gone."""
    for pattern in _CGROUP_ROOTS:
        mem = Path(pattern.format(c="memory", id=container_id))
        if mem.is_dir():
            if "{c}" in pattern:
                return JobCgroup("v1", [Path(pattern.format(c="pids", id=container_id)), mem])
            return JobCgroup("v2", [mem])
    return None


@dataclass
class ContainerWorker(WorkerProcess):
    """A persistent worker in a container: ``proc`` is the client attached to it, ``ident`` its id."""

    container: Any = None
    trusted_dir: str = ""
    _cgroup: JobCgroup | None = field(default=None, init=False, repr=False)

    def memory_bytes(self) -> int:
        self._cgroup = self._cgroup or _container_cgroup(self.ident)
        return self._cgroup.memory_bytes() if self._cgroup else 0

    def killed_for_memory(self, cap_bytes: int) -> bool:
        try:
            self.container.reload()
        except Exception:  # removed already (cancel_all): not the memory limit's doing as far as we know
            return False
        return bool(self.container.attrs["State"].get("OOMKilled"))


class DockerBackend(Backend):
    name = "docker"
    tool = ("docker", "--version")
    problem = staticmethod(docker_problem)

    def __init__(self, image: str = DEFAULT_IMAGE, workdir: str | os.PathLike | None = None,
                 labels: dict[str, str] | None = None):
        """``labels``: added to every container this backend creates (jobs' and workers'), beside
        ``org.codealign.job=1``, so that a caller can find exactly the containers it started (the tests filter
        on a label of their own); they change no verdict."""
        super().__init__(workdir)
        self.image = image
        self.labels = dict(labels or {})
        self._containers: dict[str, Any] = {}

    @property
    def launch(self):
        raise AttributeError("the docker backend starts no host process that runs job code (workers: start_worker)")

    @functools.cached_property
    def _image_id(self) -> str:
        try:
            import docker

            return docker.from_env(timeout=10).images.get(self.image).id
        except Exception:  # no engine or image: its jobs are SANDBOX_ERROR, which is never cached
            return "absent"

    def identity(self) -> str:
        return f"docker {self.image} {self._image_id}"

    def describe(self) -> str:
        return (f"docker ({self.image}): only the job dir and the interpreter of the host visible, network none, "
                "read-only root, tmpfs /tmp, PID namespace, caps dropped, pids and memory limits, uid 65534; "
                "persistent workers in containers alike")

    def container_config(self, job: Job, jobdir: str, trusted_dir: str) -> dict[str, Any]:
        """Keyword arguments for ``client.containers.create`` (kept separate so they can be checked offline)."""
        from docker.types import Ulimit

        lim = job.limits
        cpu, fsize, tmp_mb = int(lim.cpu_s + 0.999), int(lim.file_size_mb) << 20, min(int(lim.disk_mb), 256)
        ulimits = [Ulimit(name="cpu", soft=cpu, hard=cpu), Ulimit(name="fsize", soft=fsize, hard=fsize),
                   Ulimit(name="nofile", soft=int(lim.nofile), hard=int(lim.nofile)),
                   Ulimit(name="core", soft=0, hard=0)]
        env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME": JOB_MOUNT,
               "TMPDIR": JOB_MOUNT, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", **job.env}
        volumes = {path: {"bind": path, "mode": "ro"} for path in host_binds(job.binds)}
        volumes[jobdir] = {"bind": JOB_MOUNT, "mode": "rw"}
        volumes[trusted_dir] = {"bind": TRUSTED_MOUNT, "mode": "rw"}
        return {
            "image": self.image,
            "command": entrypoint(job.script),
            "working_dir": JOB_MOUNT,
            "environment": env,
            "volumes": volumes,
            "network_mode": "host" if job.network else "none",
            "read_only": True,
            "tmpfs": {"/tmp": f"size={tmp_mb}m,nr_inodes={(tmp_mb << 20) // INODE_BYTES}"},
            "pids_limit": int(lim.nproc),
            "mem_limit": int(lim.memory_mb) << 20,
            "memswap_limit": int(lim.memory_mb) << 20,
            "cap_drop": ["ALL"],
            "cap_add": ["SETUID", "SETGID"],
            "security_opt": ["no-new-privileges"],
            "ulimits": ulimits,
            "log_config": {"type": "none"},
            "labels": {**self.labels, "org.codealign.job": "1"},
            "stdin_open": False,
        }

    def cancel_all(self) -> None:
        for container in list(self._containers.values()):
            try:
                container.kill()
            except Exception:  # already gone
                pass
        super().cancel_all()

    def start_worker(self, job: Job, jobdir: str) -> ContainerWorker:
        """A persistent worker in a long-lived container configured like a job's (:meth:`container_config`),
        its stdin attached through the engine's client; raises OSError when it cannot start."""
        problem = docker_problem(self.image)
        client = shutil.which("docker")
        if problem or client is None:
            raise OSError(problem or "the docker command-line client is not on PATH (Debian's docker.io ships it)")
        import docker

        trusted_dir = tempfile.mkdtemp(prefix="codealign-trusted-", dir=self.workdir)
        responses = container = None
        try:
            os.mkfifo(os.path.join(trusted_dir, "out"), 0o600)
            # Read-write: the harness holds a writer too, so the channel shows no end-of-file before the
            # container opens it; the worker's death shows as the attached client's exit instead.
            responses = os.fdopen(os.open(os.path.join(trusted_dir, "out"), os.O_RDWR), "rb", buffering=0)
            self._write_files(job, jobdir, UNPRIVILEGED_UID if is_root() else None)
            if not is_root():
                os.chmod(jobdir, 0o777)
            config = {**self.container_config(job, jobdir, trusted_dir), "stdin_open": True}
            container = docker.from_env().containers.create(**config)
            proc = subprocess.Popen([client, "start", "--attach", "--interactive", container.id],
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    start_new_session=True)
        except Exception as exc:
            if responses is not None:
                responses.close()
            if container is not None:
                _remove(container)
            _rmtree(trusted_dir)
            raise OSError(f"docker: {type(exc).__name__}: {exc}") from None
        worker = ContainerWorker(proc, responses, self.name, container.id, container=container, trusted_dir=trusted_dir)
        with self._live_lock:
            self._workers[id(worker)] = worker
        return worker

    def kill_worker(self, worker: ContainerWorker) -> None:
        """Remove the worker's container (forced: its processes die with it) and its trusted folder."""
        with self._live_lock:
            if self._workers.pop(id(worker), None) is None:
                return
        _remove(worker.container)
        if not reap_within(worker.proc, 10):
            worker.proc.kill()
            reap_within(worker.proc, 5)
        _rmtree(worker.trusted_dir)

    def run(self, job: Job) -> JobResult:
        problem = docker_problem(self.image)
        if problem:
            return JobResult(JobStatus.SANDBOX_ERROR, error=problem, backend=self.name)
        import docker

        t0 = time.monotonic()
        jobdir = tempfile.mkdtemp(prefix="codealign-job-", dir=self.workdir)
        trusted_dir = tempfile.mkdtemp(prefix="codealign-trusted-", dir=self.workdir)
        container = None
        try:
            self._write_files(job, jobdir, UNPRIVILEGED_UID if is_root() else None)
            if not is_root():
                os.chmod(jobdir, 0o777)
            container = docker.from_env().containers.create(**self.container_config(job, jobdir, trusted_dir))
            self._containers[container.id] = container
            streams = _Streams(container.attach(stdout=True, stderr=True, stream=True, demux=True),
                               job.limits.output_bytes)
            streams.thread.start()
            container.start()
            status, usage = self._supervise(container, streams, jobdir, job, t0)
            rc = int(container.wait(timeout=10).get("StatusCode", -1))
            streams.thread.join(timeout=5)
            container.reload()
            peak, cpu = usage or (0, 0.0)
            if status is JobStatus.EXITED and (container.attrs["State"].get("OOMKilled")
                                              or (rc != 0 and peak >= (int(job.limits.memory_mb) << 20) * 0.95)):
                status = JobStatus.MEMORY
            cap = job.limits.output_bytes
            trusted = read_nofollow(trusted_dir, "out", cap) or b""
            files = {rel: data for rel in job.collect if (data := read_nofollow(jobdir, rel, cap)) is not None}
            return JobResult(status, None if status is JobStatus.TIMEOUT else rc, bytes(streams.out),
                             bytes(streams.err), trusted, files, time.monotonic() - t0, cpu, peak / 2**20,
                             backend=self.name, uid=UNPRIVILEGED_UID)
        except Exception as exc:  # engine/API failure: the harness's fault
            return JobResult(JobStatus.SANDBOX_ERROR, error=f"docker: {type(exc).__name__}: {exc}", backend=self.name,
                             wall_s=time.monotonic() - t0)
        finally:
            if container is not None:
                self._containers.pop(container.id, None)
                _remove(container)
            _rmtree(jobdir)
            _rmtree(trusted_dir)

    @staticmethod
    def _supervise(container, streams: _Streams, jobdir: str, job: Job, t0: float):
        """Wait for the container to end; kill it at the wall deadline or an output/disk overflow."""
        deadline = t0 + job.limits.wall_s
        disk_cap = int(job.limits.disk_mb) << 20
        status, usage, next_disk = JobStatus.EXITED, None, 0.0
        while streams.thread.is_alive():
            streams.thread.join(_TICK_S)
            now = time.monotonic()
            usage = _cgroup_usage(container.id) or usage
            if now >= deadline:
                status = JobStatus.TIMEOUT
            elif streams.overflow:
                status = JobStatus.OUTPUT_LIMIT
            elif now >= next_disk:
                next_disk = now + _DISK_EVERY_S
                if dir_bytes(jobdir, disk_cap) > disk_cap:
                    status = JobStatus.OUTPUT_LIMIT
            if status is not JobStatus.EXITED:
                try:
                    container.kill()
                except Exception:  # it ended by itself meanwhile
                    pass
                break
        return status, usage


def _remove(container, attempts: int = 5) -> None:
    """Remove the container (forced), retrying: on a loaded machine a call can fail or time out, and a container
    left behind outlives the run."""
    import docker

    for attempt in range(attempts):
        try:
            container.remove(force=True)
            return
        except docker.errors.NotFound:  # removed already (by the engine or cancel_all)
            return
        except Exception:
            time.sleep(0.2 * (attempt + 1))
