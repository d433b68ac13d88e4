"""Per-job control groups (v2 unified or v1 ``pids`` + ``memory``), used where the harness may write them.

A job joins its cgroup before it execs anything, so every descendant is counted: ``pids`` caps the number of
tasks (fork bombs, even as root), ``memory`` caps resident memory, and killing the group reaches processes
that left the session (``setsid`` daemons). Where no cgroup is writable, :func:`open_cgroup` returns None
and the backend falls back to rlimits, a per-slot uid and a resident-size watchdog.
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from pathlib import Path
from typing import Callable, Iterable

ROOT = Path(os.environ.get("CODEALIGN_CGROUP_ROOT", "/sys/fs/cgroup"))
_PARENT = "codealign"


def kill_until_gone(list_pids: Callable[[], Iterable[int]], timeout_s: float = 2.0) -> bool:
    """SIGKILL every pid ``list_pids()`` names, again and again (a process may fork while it is being killed),
    until it names none (True) or ``timeout_s`` pass (False)."""
    deadline = time.monotonic() + timeout_s
    while True:
        pids = list(list_pids())
        if not pids:
            return True
        if time.monotonic() >= deadline:
            return False
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        time.sleep(0.005)


def _writable(path: Path) -> bool:
    return path.is_dir() and os.access(path, os.W_OK)


def _layout() -> str | None:
    if (ROOT / "cgroup.controllers").exists():
        controllers = (ROOT / "cgroup.controllers").read_text().split()
        if {"memory", "pids"} <= set(controllers) and _writable(ROOT):
            return "v2"
        return None
    if _writable(ROOT / "pids") and _writable(ROOT / "memory"):
        return "v1"
    return None


_LAYOUT: str | None | bool = False


def layout() -> str | None:
    """'v1', 'v2' or None (no writable cgroup hierarchy)."""
    global _LAYOUT
    if _LAYOUT is False:
        try:
            _LAYOUT = _layout()
        except OSError:
            _LAYOUT = None
    return _LAYOUT  # type: ignore[return-value]


class JobCgroup:
    """One job's cgroup(s). ``procs_files`` are the files a launcher writes its pid into."""

    def __init__(self, kind: str, dirs: list[Path]):
        self.kind = kind
        self.dirs = dirs

    @property
    def procs_files(self) -> list[str]:
        return [str(d / "cgroup.procs") for d in self.dirs]

    def _mem(self) -> Path:
        return self.dirs[0] if self.kind == "v2" else self.dirs[1]

    def pids(self) -> list[int]:
        found: set[int] = set()
        for d in self.dirs:
            try:
                found.update(int(x) for x in (d / "cgroup.procs").read_text().split())
            except OSError:
                pass
        return sorted(found)

    def memory_bytes(self) -> int:
        name = "memory.current" if self.kind == "v2" else "memory.usage_in_bytes"
        try:
            return int((self._mem() / name).read_text())
        except (OSError, ValueError):
            return 0

    def peak_bytes(self) -> int:
        name = "memory.peak" if self.kind == "v2" else "memory.max_usage_in_bytes"
        try:
            return int((self._mem() / name).read_text())
        except (OSError, ValueError):
            return 0

    def oom_killed(self) -> bool:
        try:
            if self.kind == "v2":
                for line in (self._mem() / "memory.events").read_text().splitlines():
                    key, _, value = line.partition(" ")
                    if key in ("oom_kill", "oom") and int(value) > 0:
                        return True
                return False
            for line in (self._mem() / "memory.oom_control").read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill" and int(value) > 0:
                    return True
            return int((self._mem() / "memory.failcnt").read_text()) > 0
        except (OSError, ValueError):
            return False

    def kill(self) -> None:
        """SIGKILL every process in the group, repeatedly, until it is empty (or 2 s pass)."""
        if self.kind == "v2":
            try:
                (self.dirs[0] / "cgroup.kill").write_text("1")
            except OSError:
                pass
        kill_until_gone(self.pids)

    def remove(self) -> None:
        self.kill()
        for d in self.dirs:
            for _ in range(50):
                try:
                    d.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.01)


def open_cgroup(memory_bytes: int, max_pids: int, owner_uid: int | None = None) -> JobCgroup | None:
    """A fresh cgroup for one job with the given limits, or None where cgroups are not writable."""
    kind = layout()
    if kind is None:
        return None
    name = f"job-{os.getpid()}-{uuid.uuid4().hex[:10]}"
    try:
        if kind == "v2":
            parent = ROOT / _PARENT
            if not parent.exists():
                parent.mkdir(exist_ok=True)
                (ROOT / "cgroup.subtree_control").write_text("+memory +pids")
                (parent / "cgroup.subtree_control").write_text("+memory +pids")
            d = parent / name
            d.mkdir()
            (d / "memory.max").write_text(str(memory_bytes))
            (d / "memory.swap.max").write_text("0") if (d / "memory.swap.max").exists() else None
            (d / "pids.max").write_text(str(max_pids))
            dirs = [d]
        else:
            pid_dir = ROOT / "pids" / _PARENT / name
            mem_dir = ROOT / "memory" / _PARENT / name
            pid_dir.mkdir(parents=True)
            mem_dir.mkdir(parents=True)
            (pid_dir / "pids.max").write_text(str(max_pids))
            (mem_dir / "memory.limit_in_bytes").write_text(str(memory_bytes))
            memsw = mem_dir / "memory.memsw.limit_in_bytes"
            if memsw.exists():
                try:
                    memsw.write_text(str(memory_bytes))
                except OSError:
                    pass
            dirs = [pid_dir, mem_dir]
    except OSError:
        return None
    group = JobCgroup(kind, dirs)
    if owner_uid is not None:
        for f in group.procs_files:
            try:
                os.chown(f, owner_uid, -1)
            except OSError:
                pass
    return group
