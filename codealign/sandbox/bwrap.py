"""The ``bwrap`` backend: the process backend's guarantees plus bubblewrap namespaces.

Adds: no network (a new network namespace; the host's loopback is unreachable), a read-only root, a private
``/tmp`` (tmpfs, size-capped) and ``/dev``, only the job dir writable, a PID namespace (the job sees only its
own processes; when the sandbox's init dies every process in it dies, ``setsid`` daemons included).
Not guaranteed: the host filesystem stays readable (read-only); kernel attack surface is that of
unprivileged user namespaces.
"""

from __future__ import annotations

import functools
import shutil
import subprocess

from codealign.sandbox.job import Job
from codealign.sandbox.process import ProcessBackend, is_root


@functools.lru_cache(maxsize=1)
def bwrap_problem() -> str | None:
    """None when bubblewrap can create the sandbox here, else the reason it cannot."""
    exe = shutil.which("bwrap")
    if exe is None:
        return "bwrap not found on PATH (Debian/Ubuntu: apt-get install bubblewrap)"
    try:
        probe = subprocess.run([exe, *BwrapBackend.base_args("/tmp", network=False), "/bin/true"],
                               capture_output=True, text=True, timeout=20, user=65534 if is_root() else None)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bwrap failed to start: {exc}"
    if probe.returncode != 0:
        return f"bwrap cannot create namespaces here: {probe.stderr.strip()[:200]}"
    return None


class BwrapBackend(ProcessBackend):
    name = "bwrap"

    @staticmethod
    def harness_paths_under_tmp(binds: tuple[str, ...] = ()) -> list[str]:
        """Folders the jobs read (this interpreter's environment, the data home, the job's ``binds``) that
        live under /tmp, which the sandbox replaces by a private tmpfs: they are bound back read-only."""
        import os
        import sys

        wanted = {sys.prefix, sys.base_prefix, os.environ.get("CODEALIGN_HOME", ""), *binds}
        tmp = os.path.realpath("/tmp")
        found = []
        for path in sorted(p for p in wanted if p):
            real = os.path.realpath(path)
            if (real == tmp or real.startswith(tmp + "/")) and os.path.isdir(real):
                found.append(real)
        return found

    @staticmethod
    def base_args(jobdir: str, network: bool, tmp_bytes: int = 64 << 20, binds: tuple[str, ...] = ()) -> list[str]:
        args = ["--unshare-all"]
        if network:
            args.append("--share-net")
        args += [
            "--die-with-parent", "--new-session",
            "--ro-bind", "/", "/",
            "--dev", "/dev",
            "--proc", "/proc",
            "--size", str(tmp_bytes), "--tmpfs", "/tmp",
            "--tmpfs", "/dev/shm",
            "--tmpfs", "/run",
        ]
        for path in BwrapBackend.harness_paths_under_tmp(binds):
            args += ["--ro-bind", path, path]
        args += [
            "--bind", jobdir, jobdir,
            "--chdir", jobdir,
        ]
        return args

    def wrap(self, argv: list[str], jobdir: str, job: Job) -> list[str]:
        tmp_bytes = min(int(job.limits.disk_mb) << 20, 256 << 20)
        return [shutil.which("bwrap") or "bwrap", *self.base_args(jobdir, job.network, tmp_bytes, job.binds), "--",
                *argv]

    def describe(self) -> str:
        return ("bwrap: no network, read-only root, private /tmp and /dev, PID namespace, writable job dir only; "
                "plus the process backend's uid, rlimits, cgroup and watchdogs")
