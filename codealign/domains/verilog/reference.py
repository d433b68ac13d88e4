"""The candidate-free reference phase of VerilogEval-format tasks under Icarus, recorded once per task.

:mod:`codealign.domains.verilog.replay`'s phase 1 (the testbench simulated with the reference and the oracle,
and the oracle replayed through a harness that must reproduce every sample) holds no candidate code and gives
the same events for every candidate of a task. :func:`record` runs it as one sandbox job that holds no
candidate text; a :class:`Recording` keeps the events (stimulus and reference samples) or why the testbench
cannot be replayed (:attr:`Recording.fallback`). Each candidate job then gets a harness generated on the host
by :func:`replay_harness` with fresh random names and tag, so no job learns another's.

Recordings are keyed (:func:`recording_key`) by the task's assets, the judge's fingerprint
(:meth:`~codealign.domains.base.Domain.fingerprint`: the judge's code, the toolchain versions, the backend and
the domain's options, the simulator among them) and the simulator: a changed judge or simulator records
anew. :class:`References` keeps them in memory, records each key once however many threads ask, and keeps
them in a :class:`ReferenceStore` on disk. Only this harness writes the store (a root-only folder under
``$CODEALIGN_HOME``); no job binds it. An entry that cannot be read back whole and well-formed under its own
key is recorded again, never trusted.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import secrets
import shlex
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from codealign.domains.verilog.jobs import (_REPLAY, _SEND, RECORD_STEPS, _record_files, _renamed_reference,
                                            fill_script, parse_stages)
from codealign.domains.verilog.replay import decode_program, decode_trace, harness
from codealign.sandbox.job import Job, JobStatus
from codealign.sandbox.limits import Limits
from codealign.sandbox.single_flight import SingleFlight
from codealign.types import Task

_FORMAT = 3
RECORD_OUTPUT_BYTES = 16 << 20
"""The record job's output limit (its trusted channel carries the reference's events and trace)."""


@dataclass(frozen=True)
class Recording:
    """One task's recorded reference phase."""

    key: str
    """:func:`recording_key` of the task, judge and simulator it was recorded for."""
    fallback: str
    """Why the testbench cannot be replayed (``details["replay_fallback"]``); "" when it can."""
    inputs: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()
    timescale: str = ""
    stimulus: str = ""
    """The harness's statements and the port widths (:func:`~codealign.domains.verilog.replay.encode_program`):
    the reference's inputs, its sample instants, and where the testbench's own guard ended the simulation
    (every design that runs that long gets ``tb_timeout``), that end."""
    encoded_trace: str = ""
    """The reference's samples (:func:`~codealign.domains.verilog.replay.encode_trace`)."""
    keep: bool = True
    """False for a record job stopped at a limit (under load it may pass next time): used, never stored."""

    @functools.cached_property
    def trace(self) -> dict:
        """The reference's samples as :func:`~codealign.domains.verilog.replay.compare` takes them (any
        design's rows compare against these)."""
        return decode_trace(self.encoded_trace, list(self.outputs))

    @functools.cached_property
    def _program(self) -> tuple[list, dict[str, int]]:
        return decode_program(self.stimulus, list(self.inputs), list(self.outputs))

    def to_json(self) -> str:
        return json.dumps({"format": _FORMAT, "key": self.key, "fallback": self.fallback, "inputs": self.inputs,
                           "outputs": self.outputs, "timescale": self.timescale, "stimulus": self.stimulus,
                           "trace": self.encoded_trace})

    @classmethod
    def from_json(cls, text: str, key: str) -> "Recording":
        """The recording in ``text``; ValueError unless it is whole, well-formed and recorded for ``key``."""
        data = json.loads(text)
        names = [data.get("inputs"), data.get("outputs")]
        if (not isinstance(data, dict) or data.get("format") != _FORMAT or data.get("key") != key
                or not all(isinstance(data.get(k), str) for k in ("fallback", "timescale", "stimulus", "trace"))
                or not all(isinstance(n, list) and all(isinstance(x, str) for x in n) for n in names)):
            raise ValueError("not a recording of this key")
        recording = cls(key, data["fallback"], tuple(names[0]), tuple(names[1]), data["timescale"],
                        data["stimulus"], data["trace"])
        if not recording.fallback:
            recording.trace, recording._program  # noqa: B018 (decoded and checked against the ports now)
        return recording


def replay_harness(recording: Recording, designs: Sequence[tuple[str, str]], suffix: str | None = None,
                   finish: bool = True) -> str:
    """A harness replaying ``recording``'s stimulus into each design (``(top module name, tag)``): each has
    its own input and output nets and prints its samples behind its own tag. Every name it declares ends in
    ``suffix`` (fresh random by default); its module is ``replay_<suffix>``; ``finish`` as
    :func:`~codealign.domains.verilog.replay.harness`'s."""
    if recording.fallback:
        raise ValueError(f"the recording cannot be replayed ({recording.fallback})")
    steps, widths = recording._program
    return harness(steps, widths, list(recording.inputs), list(recording.outputs), list(designs),
                   recording.timescale, suffix or secrets.token_hex(6), finish)


def recording_key(task: Task, fingerprint: str, simulator: str) -> str:
    """The key of ``task``'s recording under the judge of ``fingerprint`` and ``simulator``."""
    h = hashlib.sha256()
    for part in (json.dumps(task.assets, sort_keys=True, default=repr), fingerprint, simulator):
        h.update(part.encode("utf-8", "surrogatepass"))
        h.update(b"\0")
    return h.hexdigest()


def default_store() -> Path:
    """``$CODEALIGN_HOME/references`` (``~/.cache/codealign/references`` by default)."""
    home = Path(os.environ.get("CODEALIGN_HOME") or Path.home() / ".cache" / "codealign")
    return home / "references"


class ReferenceStore:
    """Recordings on disk, one file per key in ``folder`` (made mode 0700). Writes are atomic (a temporary
    file renamed over the entry); a read that fails for any reason is a miss."""

    def __init__(self, folder: str | os.PathLike | None = None):
        self.folder = Path(folder) if folder is not None else default_store()

    def _path(self, key: str) -> Path:
        return self.folder / f"{key}.json"

    def load(self, key: str) -> Recording | None:
        try:
            return Recording.from_json(self._path(key).read_text(encoding="utf-8"), key)
        except (OSError, ValueError, TypeError, AttributeError, KeyError):
            return None

    def save(self, recording: Recording) -> None:
        """Store ``recording``; a store that cannot be written is skipped (the memo still holds it)."""
        try:
            self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".rec-")
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(recording.to_json())
            os.replace(tmp, self._path(recording.key))
        except OSError:
            pass


class References:
    """Recordings in memory over a :class:`ReferenceStore`; thread-safe: each key is recorded at most once
    at a time, later callers wait for it. ``recorded`` counts the record jobs run."""

    def __init__(self, store: ReferenceStore):
        self.store = store
        self.recorded = 0
        self._memo: dict[str, Recording] = {}
        self._lock = threading.Lock()
        self._flight = SingleFlight(self._lock)

    def get(self, key: str, record: Callable[[], Recording | str]) -> tuple[Recording | str, float]:
        """The recording of ``key`` and the seconds this call spent recording it (0 when it was known);
        ``record()`` runs when neither memory nor the store holds it. A harness fault (``record`` returning a
        message) is returned, not kept."""

        def known() -> tuple[Recording, float] | None:
            return (self._memo[key], 0.0) if key in self._memo else None

        def load_or_record() -> tuple[Recording | str, float]:
            found = self.store.load(key)
            if found is not None:
                with self._lock:
                    self._memo[key] = found
                return found, 0.0
            start = time.perf_counter()
            made = record()
            spent = time.perf_counter() - start
            if isinstance(made, Recording) and made.keep:
                self.store.save(made)
                with self._lock:
                    self._memo[key] = made
                    self.recorded += 1
            return made, spent

        return self._flight.run(key, known, load_or_record)


def record(task: Task, key: str, backend, binds: tuple[str, ...], limits: Limits) -> Recording | str:
    """Run ``task``'s reference phase in one sandbox job holding no candidate code: the recording (a job
    stopped at a limit gives a fallback that is not kept), or a message when the sandbox failed (a harness
    fault, never kept: the candidate gets SANDBOX_ERROR)."""
    suffix, tag = secrets.token_hex(6), f"<@{secrets.token_hex(8)}@>"
    files: dict[str, str | bytes] = {}
    files["trusted/ref.sv"], tb = _renamed_reference(task, suffix)
    if not _record_files(files, tb, task, suffix, tag):
        return Recording(key, "testbench shape")
    config = json.loads(files["trusted/replay.json"])
    values = {"IV": shlex.quote(config["iverilog"]), "VVP": shlex.quote(config["vvp"]),
              "PY": shlex.quote(sys.executable), "REPLAY": shlex.quote(_REPLAY), "PROGRAM": "trusted/program"}
    script = _SEND + fill_script(RECORD_STEPS, values) + "[ $replay -eq 0 ] && send program 0 trusted/program\n"
    # no candidate runs here: the reference's events may be larger than a candidate job's output
    limits = dataclasses.replace(limits, output_bytes=max(limits.output_bytes, RECORD_OUTPUT_BYTES))
    outcome = backend.run(Job(script=script, files=files, limits=limits, binds=binds))
    stages = parse_stages(outcome.trusted)
    if outcome.status in (JobStatus.TIMEOUT, JobStatus.MEMORY, JobStatus.OUTPUT_LIMIT):
        # as in the cold job, the candidate then meets the testbench (and most likely the same limit)
        return Recording(key, f"record {outcome.status.value}", keep=False)
    if outcome.status is not JobStatus.EXITED or "trace" not in stages:
        return f"recording the reference failed ({outcome.status.value}): {outcome.error or 'no trace'}"
    rc, text, _ = stages["trace"]
    if rc != 0:
        return Recording(key, text.strip()[:200] or f"exit {rc}")
    if not (stages["trace"][2] and stages.get("program", (0, "", False))[2]):
        return Recording(key, "recording too large")
    recording = Recording(key, "", tuple(config["inputs"]), tuple(config["outputs"]), config["timescale"],
                          stages["program"][1], text.strip())
    try:
        recording.trace, recording._program  # noqa: B018 (decoded and checked against the ports now)
    except ValueError:
        return "recording the reference failed: the recorded trace did not arrive whole"
    return recording
