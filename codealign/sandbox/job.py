"""What a backend runs (:class:`Job`) and what it reports (:class:`JobResult`)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from codealign.sandbox.limits import Limits


class JobStatus(str, enum.Enum):
    """How a job ended, as the harness saw it (not what the job printed)."""

    EXITED = "EXITED"
    """The script ran to its end; look at ``returncode``."""
    TIMEOUT = "TIMEOUT"
    MEMORY = "MEMORY"
    OUTPUT_LIMIT = "OUTPUT_LIMIT"
    """stdout or stderr overflowed ``Limits.output_bytes``, or the job dir grew past ``Limits.disk_mb``."""
    SANDBOX_ERROR = "SANDBOX_ERROR"
    """The harness could not run the job (backend missing, job dir not writable, ...)."""


@dataclass
class Job:
    """One sandbox launch: a bash script run with the job directory as its working directory.

    The script is trusted harness code; it runs the untrusted steps (the candidate's simulation, tests,
    ...). File descriptor 3 is a **trusted channel**: whatever the script writes to fd 3 comes back as
    :attr:`JobResult.trusted`. Scripts close it for untrusted steps (``cmd 3>&-``), so a candidate cannot
    write there. Compile and run happen in one script: one launch per job.
    """

    script: str
    """Bash source; runs with ``set -u`` and the job dir as cwd."""

    files: dict[str, str | bytes] = field(default_factory=dict)
    """Files written into the job dir before the script starts (relative paths, no ``..``)."""

    limits: Limits = field(default_factory=Limits)
    """Resource limits for the whole job."""

    collect: tuple[str, ...] = ()
    """Job-dir files read back after the run, never following symlinks; capped at ``Limits.output_bytes``."""

    env: dict[str, str] = field(default_factory=dict)
    """Added to the scrubbed environment (PATH, HOME and TMPDIR = job dir, LANG)."""

    network: bool = False
    """Allow network access. Only bwrap/docker can deny it; the process backend cannot (documented there)."""

    binds: tuple[str, ...] = ()
    """Host paths the script reads (harness code, e.g. a domain's package folder; see
    ``Domain.sandbox_binds``). The bwrap and docker backends show a job exactly these (read-only, at their own
    paths), the harness's interpreter, the toolchains and the job dir; nothing else of the host."""

    def __post_init__(self) -> None:
        for name in list(self.files) + list(self.collect):
            parts = name.split("/")
            if name.startswith("/") or ".." in parts or not name:
                raise ValueError(f"job file name must be relative without '..': {name!r}")


@dataclass
class JobResult:
    """What happened to a :class:`Job`. Output fields are capped bytes; decode with ``errors="replace"``."""

    status: JobStatus
    returncode: int | None = None
    stdout: bytes = b""
    stderr: bytes = b""
    trusted: bytes = b""
    files: dict[str, bytes] = field(default_factory=dict)
    wall_s: float = 0.0
    cpu_s: float = 0.0
    peak_memory_mb: float = 0.0
    error: str = ""
    backend: str = ""
    uid: int | None = None
    """The unprivileged uid the job ran as (None when the harness is not root)."""

    def text(self, stream: str = "stdout") -> str:
        return getattr(self, stream).decode("utf-8", errors="replace")
