"""The LD task format: what a ladder task's ``assets`` hold, their defaults, and their validation.

``Task.assets`` keys (all optional except that a task needs ``traces`` or ``reference``):

=============  ==========================================================================================
key            meaning and default
=============  ==========================================================================================
``spec``       the specification in words (default: the task's prompt)
``inputs``     declared input variables. Default: the variables the traces' steps set; with no traces,
               unknown (then no variable is reported as read-but-never-written)
``outputs``    declared outputs, compared by the equivalence check. Default: the traces' watch lists,
               else the variables the reference writes with coils
``types``      ``{name: BOOL|INT|TIME}``. Default: inferred from use (contacts/coils BOOL, compare operands
               INT), so the shared fixtures, which declare nothing, are all booleans plus integer compares
``scan_ms``    simulated time per scan, for timers (default 100)
``traces``     a list of traces in the fixtures' ``test`` shape:
               ``{steps: [{cycles, inputs}], watch: [var], expected: [[value per watch] per scan]}``;
               ``expected`` may be left out when ``reference`` is given
``reference``  a reference program (rung text), kept for the judge (never in the prompt): candidates are then
               checked for equivalence with it on the traces plus random traces drawn per job from a seed
               the model cannot know (exhaustively when the inputs are few; see :mod:`.scoring`)
``seed``       seed of the random traces that filter graph-edit negatives (default 0); part of the task's
               content, so it also changes the judge's per-job draws
=============  ==========================================================================================

When ``inputs``, ``outputs`` or ``types`` is declared, every variable a trace sets or watches must be
declared; otherwise a trace may watch only variables that the reference uses or that the traces set. A task
that breaks these rules raises :class:`~codealign.errors.UserError` naming the task and the problem.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from codealign.domains.ladder.checks import TYPES, Declarations, check_program, errors, infer_types
from codealign.domains.ladder.model import Coil, Program
from codealign.domains.ladder.parser import parse_program
from codealign.domains.ladder.simulator import Simulator, Trace, TraceError, compare_rows
from codealign.errors import UserError
from codealign.types import Task

DEFAULT_SCAN_MS = 100


@dataclass
class LadderTask:
    task_id: str
    spec: str
    traces: list[Trace]
    inputs: list[str] | None = None
    outputs: list[str] | None = None
    types: dict[str, str] = field(default_factory=dict)
    scan_ms: int = DEFAULT_SCAN_MS
    reference: Program | None = None
    seed: int = 0

    @classmethod
    def from_task(cls, task: Task) -> "LadderTask":
        """Validate ``task.assets``; raises UserError naming the task and what is wrong."""
        try:
            return cls._build(task)
        except UserError as exc:
            raise UserError(f"task {task.task_id}: {exc}") from None

    @classmethod
    def _build(cls, task: Task) -> "LadderTask":
        a = task.assets
        if not isinstance(a, dict):
            raise UserError("assets must be an object")
        unknown = sorted(set(a) - {"spec", "inputs", "outputs", "types", "scan_ms", "traces", "reference", "seed"})
        if unknown:
            raise UserError(f"unknown asset key(s): {', '.join(unknown)}")
        inputs, outputs = _names(a, "inputs"), _names(a, "outputs")
        types = a.get("types") or {}
        if not isinstance(types, dict) or any(t not in TYPES for t in types.values()):
            raise UserError(f"'types' must map variable names to one of {', '.join(TYPES)}")
        scan_ms = a.get("scan_ms", DEFAULT_SCAN_MS)
        if not isinstance(scan_ms, int) or isinstance(scan_ms, bool) or scan_ms <= 0:
            raise UserError(f"'scan_ms' must be a positive integer, got {scan_ms!r}")
        seed = a.get("seed", 0)
        if not isinstance(seed, int):
            raise UserError(f"'seed' must be an integer, got {seed!r}")
        raw_traces = a.get("traces") or []
        if not isinstance(raw_traces, list):
            raise UserError("'traces' must be a list of traces")
        traces = [Trace.from_dict(t, f"trace {i}") for i, t in enumerate(raw_traces, 1)]
        reference = None
        if a.get("reference") is not None:
            try:
                reference = parse_program(a["reference"])
            except UserError as exc:
                raise UserError(f"reference: {exc}") from None
        if not traces and reference is None:
            raise UserError("needs 'traces' with expected values or a 'reference' program")
        if reference is None and any(t.expected is None for t in traces):
            raise UserError("a trace without 'expected' needs a 'reference' program")
        lt = cls(task.task_id, a.get("spec") or task.prompt, traces, inputs, outputs, dict(types), scan_ms,
                 reference, seed)
        lt._check_names()
        if reference is not None:
            found = errors(check_program(reference, lt.declarations()))
            if found:
                raise UserError(f"reference: {found[0]}")
            for i, trace in enumerate(lt.traces, 1):
                if trace.expected is not None:
                    matched, total, bad = compare_rows(trace.expected, lt.simulator(reference).run(trace))
                    if bad:
                        scan, col, want, got = bad[0]
                        raise UserError(f"reference disagrees with trace {i} at scan {scan + 1}: "
                                        f"{trace.watch[col]} expected {want!r}, reference gives {got!r}")
        return lt

    @property
    def declared(self) -> bool:
        return self.inputs is not None or self.outputs is not None or bool(self.types)

    def _check_names(self) -> None:
        if self.declared:
            known = set(self.inputs or ()) | set(self.outputs or ()) | set(self.types)
            for i, t in enumerate(self.traces, 1):
                t.check_known(known, f"trace {i}")
        elif self.reference is not None:
            read, written = self.reference.variables()
            set_vars = {n for t in self.traces for n in t.names()[0]}
            for i, t in enumerate(self.traces, 1):
                t.check_known(read | written | set_vars, f"trace {i}")

    def declarations(self) -> Declarations:
        """The declarations with the documented defaults filled in."""
        inputs = set(self.inputs) if self.inputs is not None else None
        if inputs is None and self.traces:
            inputs = {n for t in self.traces for n in t.names()[0]}
        outputs = set(self.outputs) if self.outputs is not None else None
        if outputs is None:
            if self.traces:
                outputs = {w for t in self.traces for w in t.watch}
            elif self.reference is not None:
                outputs = {e.var for _, e in self.reference.elements() if isinstance(e, Coil)}
        return Declarations(inputs, outputs, dict(self.types))

    def simulator(self, program: Program) -> Simulator:
        return Simulator(program, scan_ms=self.scan_ms, types={**infer_types(program, self.types)[0], **self.types})

    def equivalence_inputs(self, candidate: Program | None = None) -> list[str]:
        """Inputs the random traces drive: declared inputs, else the variables the traces set plus those the
        reference (and candidate) read without writing, minus the outputs."""
        if self.inputs is not None:
            return sorted(self.inputs)
        names = {n for t in self.traces for n in t.names()[0]}
        for program in (self.reference, candidate):
            if program is not None:
                read, written = program.variables()
                names |= read - written
        return sorted(names - (self.declarations().outputs or set()))


def _names(assets: dict[str, Any], key: str) -> list[str] | None:
    value = assets.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise UserError(f"'{key}' must be a list of variable names")
    return list(value)


def fixture_task(row: dict[str, Any]) -> Task:
    """A :class:`Task` from a record of the shared fixture format (``id``, ``ldt``, ``test``): its trace as the
    task's only trace, no declarations (the documented defaults apply)."""
    if not isinstance(row, dict) or "id" not in row or "ldt" not in row:
        raise TraceError("fixture record needs 'id' and 'ldt'")
    assets: dict[str, Any] = {"traces": [row["test"]] if row.get("test") else []}
    if not row.get("test"):
        assets["reference"] = "\n".join(row["ldt"])
    return Task(task_id=str(row["id"]), domain="ladder", prompt=f"Ladder program {row['id']}", assets=assets,
                metadata={"solution": "\n".join(row["ldt"])})


_FORMAT_HELP = (
    "Answer with the ladder program in rung text: one rung per line, evaluated top to bottom; elements side by "
    "side are in series, [a | b] is a parallel branch. Contacts NO(x), NC(x), P(x) (rising edge), N(x) "
    "(falling edge); compare contacts GT/LT/GE/LE/EQ/NE(a, b); coils OUT(x), NOUT(x), SET(x), RST(x); timers "
    "TON/TOF/TP(T1, PT=500ms); counters CTU/CTD(C1, PV=3, R=reset). Example: [NO(Start) | NO(Run)] NC(Stop) OUT(Run)"
)


BRIEF_FORMAT_HELP = "Answer in rung text, one rung per line, e.g. [NO(Start) | NO(Run)] NC(Stop) OUT(Run)"
"""The one-line format help of the procedural tasks, whose prompts must stay short for the tiny model."""


def task_prompt(spec: str, inputs: list[str], outputs: list[str], types: dict[str, str], scan_ms: int, *,
                brief: bool = False) -> str:
    """The prompt a model sees for a ladder task: the spec, the interface and the text form in brief.
    ``brief``: the short form of :mod:`.tasks` — types only where not BOOL, no scan time (its specs state
    durations), :data:`BRIEF_FORMAT_HELP`."""
    def names(vs):
        return ", ".join(v if brief and types.get(v, "BOOL") == "BOOL" else f"{v} ({types.get(v, 'BOOL')})"
                         for v in vs)

    if brief:
        return f"{spec.strip()}\nInputs: {names(inputs)}\nOutputs: {names(outputs)}\n{BRIEF_FORMAT_HELP}\n"
    return (f"{spec.strip()}\n\nInputs: {names(inputs)}\nOutputs: {names(outputs)}\nScan time: {scan_ms} ms\n\n"
            f"{_FORMAT_HELP}\n")
