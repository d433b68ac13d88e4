"""The shared vocabulary of codealign: tasks, candidates, execution results and preference pairs.

Plain dataclasses with ``to_dict`` / ``from_dict`` so every stage can read and write JSONL. Nothing here
imports a toolchain or a training library.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any


class Verdict(str, enum.Enum):
    """Outcome of running one candidate.

    Everything except ``SANDBOX_ERROR`` is a property of the candidate. ``SANDBOX_ERROR`` means the harness or
    a toolchain failed (missing compiler, broken task asset): it is never cached and never enters a pair.
    """

    PASS = "PASS"
    FAIL = "FAIL"
    COMPILE_ERROR = "COMPILE_ERROR"
    RUNTIME_ERROR = "RUNTIME_ERROR"
    TIMEOUT = "TIMEOUT"
    MEMORY = "MEMORY"
    OUTPUT_LIMIT = "OUTPUT_LIMIT"
    SANDBOX_ERROR = "SANDBOX_ERROR"

    @property
    def is_candidate_failure(self) -> bool:
        """True for every verdict that blames the candidate (all but PASS and SANDBOX_ERROR)."""
        return self not in (Verdict.PASS, Verdict.SANDBOX_ERROR)


@dataclass
class Task:
    """One problem: what the model is asked and what the checker needs.

    ``assets`` holds the files and facts the domain's checker needs (testbench, reference, tests, labels);
    each domain documents the keys it reads. ``limits`` overrides the domain's default sandbox limits
    (keys of :class:`codealign.sandbox.limits.Limits`).
    """

    task_id: str
    domain: str
    prompt: str
    assets: dict[str, Any] = field(default_factory=dict)
    limits: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, row: dict[str, Any]) -> "Task":
        return _from_dict(cls, row, required=("task_id", "domain", "prompt"))

    def asset_hash(self) -> str:
        """Stable hash of everything the checker reads (assets and limits), for cache keys."""
        payload = json.dumps({"assets": self.assets, "limits": self.limits}, sort_keys=True, default=str)
        return hashlib.sha256(payload.encode()).hexdigest()


@dataclass
class Candidate:
    """One model output for a task. ``completion`` is what the model wrote (raw or extracted code);
    ``metadata`` records where it came from (model, sample index, seed, mutation applied, extraction notes).
    """

    task_id: str
    completion: str
    candidate_id: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.candidate_id:
            digest = hashlib.sha256(f"{self.task_id}\0{self.completion}".encode("utf-8", "surrogatepass"))
            self.candidate_id = digest.hexdigest()[:16]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, row: dict[str, Any]) -> "Candidate":
        return _from_dict(cls, row, required=("task_id", "completion"))


@dataclass
class ExecResult:
    """The verdict on one candidate, as data. ``score`` is graded in [0, 1] (e.g. matched / total samples);
    ``details`` holds the domain's failure taxonomy and signals; ``stdout``/``stderr`` are capped."""

    task_id: str
    candidate_id: str
    verdict: Verdict
    score: float = 0.0
    details: dict[str, Any] = field(default_factory=dict)
    stdout: str = ""
    stderr: str = ""
    wall_s: float = 0.0
    cpu_s: float = 0.0
    peak_memory_mb: float = 0.0
    cached: bool = False
    completion: str = ""

    def __post_init__(self) -> None:
        self.verdict = Verdict(self.verdict)
        if not 0.0 <= self.score <= 1.0:
            raise ValueError(f"score must be in [0, 1], got {self.score}")

    @property
    def passed(self) -> bool:
        return self.verdict is Verdict.PASS

    def to_dict(self) -> dict[str, Any]:
        row = dataclasses.asdict(self)
        row["verdict"] = self.verdict.value
        return row

    @classmethod
    def from_dict(cls, row: dict[str, Any]) -> "ExecResult":
        return _from_dict(cls, row, required=("task_id", "candidate_id", "verdict"))


@dataclass
class Pair:
    """One preference pair in TRL's ``prompt/chosen/rejected`` columns plus codealign's extras.

    ``margin`` is the graded-score gap (chosen - rejected), ``weight`` the per-pair loss weight (MADPO),
    ``rank`` the (chosen, rejected) rank positions among the prompt's candidates, ``stage`` the curriculum
    stage, ``source`` the strategy that built the pair.
    """

    prompt: str
    chosen: str
    rejected: str
    task_id: str = ""
    margin: float = 0.0
    weight: float = 1.0
    rank: list[int] = field(default_factory=list)
    stage: int = 0
    source: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, row: dict[str, Any]) -> "Pair":
        return _from_dict(cls, row, required=("prompt", "chosen", "rejected"))


_JSON_TYPES = {"str": str, "float": (int, float), "int": int, "bool": bool, "dict": dict, "list": list}
"""Field annotations → the JSON values a row may give them (a bool is never a number here)."""
_JSON_NAMES = {str: "a string", (int, float): "a number", int: "an integer", bool: "true or false",
               dict: "an object", list: "a list"}


def _from_dict(cls, row: dict[str, Any], required: tuple[str, ...]):
    if not isinstance(row, dict):
        raise ValueError(f"expected a JSON object for {cls.__name__}, got {type(row).__name__}")
    missing = [k for k in required if k not in row]
    if missing:
        raise ValueError(f"{cls.__name__} row lacks field(s): {', '.join(missing)}")
    types = {f.name: f.type for f in dataclasses.fields(cls)}
    known = {k: v for k, v in row.items() if k in types}
    for key, value in known.items():
        expected = _JSON_TYPES.get(str(types[key]).split("[")[0])
        if expected and not (isinstance(value, expected) and not isinstance(value, bool) or expected is bool
                             and isinstance(value, bool)):
            raise ValueError(f"{cls.__name__} field {key!r} must be {_JSON_NAMES[expected]}, "
                             f"got {type(value).__name__} {str(value)[:40]!r}")
    extra = {k: v for k, v in row.items() if k not in types}
    obj = cls(**known)
    if extra and hasattr(obj, "metadata"):
        obj.metadata.update(extra)
    return obj
