"""The ``docker`` backend: one container per job through the Docker SDK, for cluster nodes with an engine.

Each job gets: ``--network none``, a read-only root filesystem, a size-capped tmpfs ``/tmp``, the job dir
bind-mounted read-write at ``/job``, ``pids_limit`` and ``mem_limit`` (swap disabled), all capabilities
dropped and ``no-new-privileges``, rlimits as ulimits, a hard wall deadline (the container is killed and
removed). The trusted channel (fd 3) is a root-owned 0600 file that the container's entrypoint opens as
root before it drops to an unprivileged uid with ``setpriv``; untrusted steps close fd 3 and cannot reopen
the file.

Not verified on this machine: no Docker engine runs here, so tests cover the container configuration and
the entrypoint, not a live container. The image must provide bash and util-linux's ``setpriv`` (the
``sandboxes/*`` images do).
"""

from __future__ import annotations

import functools
import os
import shlex
import tempfile
import time
from typing import Any

from codealign.sandbox.job import Job, JobResult, JobStatus
from codealign.sandbox.process import ProcessBackend, _rmtree, read_nofollow

DEFAULT_IMAGE = os.environ.get("CODEALIGN_DOCKER_IMAGE", "codealign:latest")
JOB_MOUNT = "/job"
TRUSTED_MOUNT = "/codealign-trusted"
UNPRIVILEGED_UID = 65534


@functools.lru_cache(maxsize=1)
def docker_problem() -> str | None:
    """None when a Docker engine answers, else why not."""
    try:
        import docker
    except ImportError:
        return "the docker SDK is not installed (pip install 'codealign[docker]')"
    try:
        docker.from_env(timeout=5).ping()
    except Exception as exc:  # the SDK raises several unrelated types for "no engine"
        return f"no Docker engine reachable: {type(exc).__name__}: {str(exc)[:120]}"
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


class DockerBackend(ProcessBackend):
    name = "docker"

    def __init__(self, image: str = DEFAULT_IMAGE, workdir: str | os.PathLike | None = None):
        super().__init__(workdir)
        self.image = image

    def describe(self) -> str:
        return (f"docker ({self.image}): network none, read-only root, tmpfs /tmp, caps dropped, "
                "pids and memory limits, unprivileged uid")

    def container_config(self, job: Job, jobdir: str, trusted_dir: str) -> dict[str, Any]:
        """Keyword arguments for ``client.containers.run`` (kept separate so they can be checked offline)."""
        lim = job.limits
        ulimits = [
            {"Name": "cpu", "Soft": int(lim.cpu_s + 0.999), "Hard": int(lim.cpu_s + 0.999)},
            {"Name": "fsize", "Soft": int(lim.file_size_mb) << 20, "Hard": int(lim.file_size_mb) << 20},
            {"Name": "nofile", "Soft": int(lim.nofile), "Hard": int(lim.nofile)},
            {"Name": "core", "Soft": 0, "Hard": 0},
        ]
        env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME": JOB_MOUNT,
               "TMPDIR": JOB_MOUNT, "LANG": "C.UTF-8", **job.env}
        return {
            "image": self.image,
            "command": entrypoint(job.script),
            "working_dir": JOB_MOUNT,
            "environment": env,
            "volumes": {jobdir: {"bind": JOB_MOUNT, "mode": "rw"}, trusted_dir: {"bind": TRUSTED_MOUNT, "mode": "rw"}},
            "network_mode": "bridge" if job.network else "none",
            "read_only": True,
            "tmpfs": {"/tmp": f"size={min(int(lim.disk_mb), 256)}m"},
            "pids_limit": int(lim.nproc),
            "mem_limit": int(lim.memory_mb) << 20,
            "memswap_limit": int(lim.memory_mb) << 20,
            "cap_drop": ["ALL"],
            "cap_add": ["SETUID", "SETGID", "CHOWN", "FOWNER"],
            "security_opt": ["no-new-privileges"],
            "ulimits": ulimits,
            "detach": True,
            "stdin_open": False,
        }

    def run(self, job: Job) -> JobResult:
        problem = docker_problem()
        if problem:
            return JobResult(JobStatus.SANDBOX_ERROR, error=problem, backend=self.name)
        import docker
        from docker.types import Ulimit

        t0 = time.monotonic()
        jobdir = tempfile.mkdtemp(prefix="codealign-job-", dir=self.workdir)
        trusted_dir = tempfile.mkdtemp(prefix="codealign-trusted-", dir=self.workdir)
        container = None
        try:
            self._write_files(job, jobdir, UNPRIVILEGED_UID if os.geteuid() == 0 else None)
            os.chmod(jobdir, 0o777)
            config = self.container_config(job, jobdir, trusted_dir)
            config["ulimits"] = [Ulimit(name=u["Name"], soft=u["Soft"], hard=u["Hard"]) for u in config["ulimits"]]
            client = docker.from_env()
            container = client.containers.run(**config)
            status = JobStatus.EXITED
            try:
                exit_info = container.wait(timeout=job.limits.wall_s)
                rc = int(exit_info.get("StatusCode", -1))
            except Exception:  # the SDK raises requests' timeout types here
                status, rc = JobStatus.TIMEOUT, None
                container.kill()
            container.reload()
            if container.attrs.get("State", {}).get("OOMKilled"):
                status = JobStatus.MEMORY
            cap = job.limits.output_bytes
            out = container.logs(stdout=True, stderr=False)
            err = container.logs(stdout=False, stderr=True)
            if status is JobStatus.EXITED and (len(out) > cap or len(err) > cap):
                status = JobStatus.OUTPUT_LIMIT
            trusted = read_nofollow(trusted_dir, "out", cap) or b""
            files = {rel: data for rel in job.collect if (data := read_nofollow(jobdir, rel, cap)) is not None}
            return JobResult(status, rc, out[:cap], err[:cap], trusted, files, time.monotonic() - t0,
                             backend=self.name)
        except Exception as exc:  # engine/API failure: the harness's fault
            return JobResult(JobStatus.SANDBOX_ERROR, error=f"docker: {type(exc).__name__}: {exc}", backend=self.name)
        finally:
            if container is not None:
                try:
                    container.remove(force=True)
                except Exception:
                    pass
            _rmtree(jobdir)
            _rmtree(trusted_dir)

