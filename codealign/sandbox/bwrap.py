"""The ``bwrap`` backend: the process backend's guarantees plus bubblewrap namespaces and an allowlisted root.

Adds: no network (a new network namespace; the host's loopback is unreachable), a PID namespace (the job sees
only its own processes; when the sandbox's init dies every process in it dies, ``setsid`` daemons included),
a private ``/tmp`` (tmpfs, size-capped), ``/dev`` and ``/run``, and a root that holds only what a job needs,
read-only: ``/usr`` (the toolchains), the parts of ``/etc`` they read (:data:`~codealign.sandbox.binds.SYSTEM_ETC`),
the harness's interpreter and virtual environment (even under a home folder), the job's ``binds`` (a domain's
package folder, the solc-js installs) and, writable, the job dir. Home folders, the checkout, other jobs'
folders and the harness's state (verdict cache, runs) do not exist inside. Everything of the job runs under
a seccomp filter at least as strict as Docker's default profile (:mod:`codealign.sandbox.seccomp`: no kernel
keyring, no mount or namespace calls, no ptrace) and starts with a fresh, empty session keyring, so nothing
a job stores in the kernel reaches a later job; the process backend's fresh session keyring is all it gets
(a slot uid's user keyring is reachable there).

As root (CI), bwrap itself runs as root, so it can bind an interpreter under a home folder that other users
cannot traverse (``/root`` is 0700 on a fresh machine), and the job then drops to its slot uid with
``setpriv`` (all capabilities and the bounding set cleared, ``no_new_privs``) before anything of the job runs.
Without root, bwrap runs as the harness's user in an unprivileged user namespace.
Not guaranteed: the kernel attack surface is the host's; the bound folders are readable (they hold no secret).
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys

from codealign.sandbox.binds import SYSTEM_DIRS, SYSTEM_ETC, SYSTEM_LINKS, host_binds
from codealign.sandbox.job import Job
from codealign.sandbox.process import Backend, is_root
from codealign.sandbox.seccomp import filter_fd, seccomp_problem

_PROBE_UID = 65534
SECCOMP_FD = 4
"""The descriptor bwrap reads the job's seccomp filter from (:meth:`Backend.launch` puts it there)."""
_MOUNTED = ("/", "/tmp", "/run", "/dev", "/proc")


def _probe(root_mode: bool) -> str | None:
    exe = shutil.which("bwrap")
    fd = filter_fd()
    argv = BwrapBackend.base_args("/", network=False, uid=_PROBE_UID if root_mode else None, seccomp_fd=fd)
    argv += [sys.executable, "-I", "-c", ""]
    try:
        probe = subprocess.run([exe, *argv], capture_output=True, text=True, timeout=20, pass_fds=(fd,),
                               user=_PROBE_UID if is_root() and not root_mode else None)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bwrap failed to start: {exc}"
    finally:
        os.close(fd)
    if probe.returncode != 0:
        return probe.stderr.strip()[:200] or f"exit status {probe.returncode}"
    return None


@functools.lru_cache(maxsize=1)
def bwrap_mode() -> tuple[bool, str | None]:
    """(``root_mode``, problem): ``root_mode`` when bwrap runs as root and drops to the slot uid inside;
    ``problem`` is None when bubblewrap can create the sandbox here, else the reason it cannot."""
    if shutil.which("bwrap") is None:
        return False, "bwrap not found on PATH (Debian/Ubuntu: apt-get install bubblewrap)"
    if shutil.which("setpriv") is None and is_root():
        return False, "setpriv not found on PATH (Debian/Ubuntu: apt-get install util-linux)"
    no_filter = seccomp_problem()
    if no_filter:
        return False, no_filter
    if is_root() and _probe(root_mode=True) is None:
        return True, None
    problem = _probe(root_mode=False)
    if problem is None:
        return False, None
    return False, f"bwrap cannot create the sandbox here: {problem}"


def bwrap_problem() -> str | None:
    """None when bubblewrap can create the sandbox here, else the reason it cannot."""
    return bwrap_mode()[1]


def _dirs_above(dests: list[str]) -> list[str]:
    """The folders above ``dests`` that bwrap must create (as 0755: it would make them 0700, which the slot
    uid cannot traverse when they belong to root), outermost first."""
    made: list[str] = []
    for dest in dests:
        chain = []
        parent = os.path.dirname(dest)
        while parent not in _MOUNTED and not any(parent == s or parent.startswith(s + "/") for s in SYSTEM_DIRS):
            chain.append(parent)
            parent = os.path.dirname(parent)
        made += [d for d in reversed(chain) if d not in made]
    return made


class BwrapBackend(Backend):
    name = "bwrap"
    tool = ("bwrap", "--version")
    problem = staticmethod(bwrap_problem)

    @property
    def drops_privileges(self) -> bool:
        return is_root() and bwrap_mode()[0]

    @staticmethod
    def base_args(jobdir: str, network: bool, tmp_bytes: int = 64 << 20, binds: tuple[str, ...] = (),
                  uid: int | None = None, seccomp_fd: int = SECCOMP_FD) -> list[str]:
        """bwrap's options for one job; with ``uid`` (root mode) the command after them runs as ``uid``; the
        command runs under the seccomp filter bwrap reads from ``seccomp_fd``."""
        if uid is None:
            args = ["--unshare-all"] + (["--share-net"] if network else [])
        else:
            args = ["--unshare-ipc", "--unshare-pid", "--unshare-uts", "--unshare-cgroup-try"]
            args += [] if network else ["--unshare-net"]
        args += ["--die-with-parent", "--new-session", "--seccomp", str(seccomp_fd)]
        for link in SYSTEM_LINKS:
            if os.path.islink(link):
                args += ["--symlink", os.readlink(link), link]
            elif os.path.isdir(link):
                args += ["--ro-bind", link, link]
        for path in SYSTEM_DIRS:
            args += ["--ro-bind", path, path]
        args += ["--dev", "/dev", "--proc", "/proc",
                 "--perms", "1777", "--size", str(tmp_bytes), "--tmpfs", "/tmp",
                 "--perms", "1777", "--tmpfs", "/dev/shm",
                 "--tmpfs", "/run"]
        shown = [p for p in host_binds(binds)
                 if not any(p == s or p.startswith(s + "/") for s in SYSTEM_DIRS)]
        if jobdir != "/":
            shown.append(jobdir)
        for path in _dirs_above([*SYSTEM_ETC, *shown]):
            args += ["--perms", "0755", "--dir", path]
        for path in SYSTEM_ETC:
            args += ["--ro-bind-try", path, path]
        for path in shown:
            args += ["--bind" if path == jobdir else "--ro-bind", path, path]
        args += ["--chdir", jobdir, "--"]
        if uid is not None:
            args += [shutil.which("setpriv") or "setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
                     "--inh-caps=-all", "--bounding-set=-all", "--nnp"]
        return args

    def launch_fds(self) -> dict[int, int]:
        return {SECCOMP_FD: filter_fd()}

    def wrap(self, argv: list[str], jobdir: str, job: Job, uid: int | None = None) -> list[str]:
        tmp_bytes = min(int(job.limits.disk_mb) << 20, 256 << 20)
        return [shutil.which("bwrap") or "bwrap",
                *self.base_args(jobdir, job.network, tmp_bytes, job.binds, uid if self.drops_privileges else None),
                *argv]

    def describe(self) -> str:
        return ("bwrap: no network, PID namespace, Docker's seccomp profile (no keyring, mount, namespaces, "
                "ptrace), private /tmp, /dev and /run, a root holding only /usr, the "
                "loader's and alternatives' /etc files, the interpreter, the domain's binds (read-only) and "
                "the job dir (writable); plus the process backend's uid, rlimits, cgroup and watchdogs")
