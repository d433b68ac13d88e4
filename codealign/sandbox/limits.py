"""Resource limits for one sandboxed job."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Limits:
    """What one job may use. Every limit is enforced by the harness, not by the job's cooperation."""

    wall_s: float = 30.0
    """Wall-clock deadline for the whole job (compile and run); the process group, the job's uid and its
    cgroup are killed when it passes."""

    cpu_s: float = 60.0
    """RLIMIT_CPU per process, in seconds of CPU time."""

    memory_mb: int = 2048
    """Resident memory of the whole job (all its processes): a cgroup limit where cgroups are writable,
    otherwise a watchdog that samples resident size every few milliseconds. Exceeding it gives MEMORY."""

    address_space_mb: int | None = None
    """RLIMIT_AS per process, or None. Off by default: some toolchains (solc-js, Verilator) reserve far more
    virtual memory than they touch, so resident size is the limit that means something."""

    file_size_mb: int = 64
    """RLIMIT_FSIZE: the largest single file a job may write."""

    disk_mb: int = 256
    """Total bytes in the job directory, every file, folder and link counted as at least 4 KiB (inodes are disk
    too); the watchdog kills the job when it is exceeded (OUTPUT_LIMIT)."""

    nproc: int = 64
    """Processes and threads the job may have at once (RLIMIT_NPROC under a per-slot uid, and a pids
    cgroup where available), which contains fork bombs even when the harness runs as root."""

    nofile: int = 256
    """RLIMIT_NOFILE: open file descriptors per process."""

    output_bytes: int = 1 << 20
    """Cap on each of stdout and stderr; the job is killed with OUTPUT_LIMIT when either overflows."""

    def __post_init__(self) -> None:
        for name in ("wall_s", "cpu_s", "memory_mb", "file_size_mb", "disk_mb", "nproc", "nofile", "output_bytes"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or value <= 0:
                raise ValueError(f"Limits.{name} must be a positive number, got {value!r}")
        if self.address_space_mb is not None and self.address_space_mb <= 0:
            raise ValueError(f"Limits.address_space_mb must be positive or None, got {self.address_space_mb!r}")

    def merged(self, overrides: dict[str, Any] | None) -> "Limits":
        """These limits with a task's overrides applied; unknown keys are an error."""
        if not overrides:
            return self
        names = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(overrides) - names)
        if unknown:
            raise ValueError(f"unknown limit(s): {', '.join(unknown)}; known: {', '.join(sorted(names))}")
        return dataclasses.replace(self, **overrides)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)
