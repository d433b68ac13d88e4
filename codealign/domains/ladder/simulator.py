"""Deterministic scan-cycle simulation of a ladder program, and I/O traces.

Semantics (those of ``shared/data/ladder/README.md``, extended to blocks):

* every variable starts FALSE (0 for INT and TIME variables); a trace step assigns its ``inputs`` (they
  persist until a later step or a coil changes them), then runs ``cycles`` scans; after **every** scan the
  ``watch`` variables are recorded (one row per scan);
* a scan evaluates the rungs top to bottom and each rung left to right (parallel branches in order, each fed
  the same power); a contact reads the current value, so a coil written in an earlier rung is visible to
  later rungs in the same scan; every element is evaluated even when unpowered (blocks see IN = FALSE,
  edge contacts update their memory);
* ``OUT`` writes the power, ``NOUT`` its negation, ``SET``/``RST`` act only when powered; coils pass power on;
* ``P(x)``/``N(x)`` pass power when ``x`` rose/fell since that contact's previous evaluation (its memory
  starts FALSE);
* timers run on a simulated clock that advances ``scan_ms`` per scan: a TON whose IN turns TRUE at scan k has
  ET = 0 at scan k, ET = scan_ms at k+1, ... and Q = ET >= PT; TOF holds Q for PT after IN falls; TP gives
  one pulse of length PT on a rising IN (not retriggered while it runs). ET is capped at PT;
* counters count rising edges of their power input: CTU: ``R`` TRUE sets CV = 0, else CV += 1, Q = CV >= PV;
  CTD: ``R`` TRUE loads CV = PV (IEC's LD input), else CV -= 1, Q = CV <= 0. A block instance ``C`` reads
  elsewhere as its Q; ``C.Q``, ``C.CV`` and ``T.ET`` read its outputs.

The simulator never runs more than ``max_scans`` scans between resets (:class:`BudgetError` otherwise),
and a program's size is bounded by the parser, so a simulation always ends.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from codealign.domains.ladder.model import (
    Block,
    Coil,
    Compare,
    Contact,
    Duration,
    Element,
    Parallel,
    Program,
    Series,
    iter_elements,
)
from codealign.errors import UserError

MAX_SCANS = 200_000
INT_MIN, INT_MAX = -32768, 32767

Value = Any  # bool for BOOL variables, int for INT and TIME (milliseconds)


class TraceError(UserError):
    """A malformed trace, or one that names a variable the task does not know."""


class BudgetError(UserError):
    """The simulation would run more scans than its budget allows."""


@dataclass
class Step:
    cycles: int
    inputs: dict[str, Value] = field(default_factory=dict)


@dataclass
class Trace:
    """Scan-cycle test vectors: the shape of the fixtures' ``test`` field. ``expected`` has one row per scan
    (``sum(cycles)`` rows) and one value per watched variable; it may be None when a reference program
    supplies the expected behaviour."""

    steps: list[Step]
    watch: list[str]
    expected: list[list[Value]] | None = None

    @property
    def scans(self) -> int:
        return sum(s.cycles for s in self.steps)

    def to_dict(self) -> dict[str, Any]:
        row: dict[str, Any] = {
            "steps": [{"cycles": s.cycles, "inputs": dict(s.inputs)} for s in self.steps],
            "watch": list(self.watch),
        }
        if self.expected is not None:
            row["expected"] = [list(r) for r in self.expected]
        return row

    @classmethod
    def from_dict(cls, row: Any, where: str = "trace") -> "Trace":
        """Validate and build a trace; every problem is a :class:`TraceError` naming ``where``."""
        if not isinstance(row, dict):
            raise TraceError(f"{where}: expected an object with steps and watch, got {type(row).__name__}")
        steps_raw, watch = row.get("steps"), row.get("watch")
        if not isinstance(steps_raw, list) or not steps_raw:
            raise TraceError(f"{where}: 'steps' must be a non-empty list")
        if not isinstance(watch, list) or not watch or not all(isinstance(w, str) and w for w in watch):
            raise TraceError(f"{where}: 'watch' must be a non-empty list of variable names")
        steps = []
        for i, step in enumerate(steps_raw, 1):
            if not isinstance(step, dict):
                raise TraceError(f"{where} step {i}: expected an object with cycles and inputs")
            cycles, inputs = step.get("cycles", 1), step.get("inputs", {})
            if not isinstance(cycles, int) or isinstance(cycles, bool) or cycles < 1:
                raise TraceError(f"{where} step {i}: 'cycles' must be a positive integer, got {cycles!r}")
            if not isinstance(inputs, dict):
                raise TraceError(f"{where} step {i}: 'inputs' must be an object")
            for name, value in inputs.items():
                if not isinstance(value, (bool, int)):
                    raise TraceError(f"{where} step {i}: input {name!r} must be a boolean or an integer")
            steps.append(Step(cycles, dict(inputs)))
        trace = cls(steps, list(watch), row.get("expected"))
        if trace.scans > MAX_SCANS:
            raise TraceError(f"{where}: {trace.scans} scans; the limit is {MAX_SCANS}")
        if trace.expected is not None:
            exp = trace.expected
            if not isinstance(exp, list) or len(exp) != trace.scans:
                got = len(exp) if isinstance(exp, list) else type(exp).__name__
                raise TraceError(f"{where}: 'expected' needs {trace.scans} rows (one per scan), got {got}")
            for r, values in enumerate(exp, 1):
                if not isinstance(values, list) or len(values) != len(watch):
                    raise TraceError(f"{where}: expected row {r} needs {len(watch)} values (one per watch)")
        return trace

    def names(self) -> tuple[set[str], set[str]]:
        """(variables the steps set, variables watched)."""
        set_vars = {name for s in self.steps for name in s.inputs}
        return set_vars, set(self.watch)

    def check_known(self, known: set[str], where: str = "trace") -> None:
        """Raise :class:`TraceError` when the trace sets or watches a variable outside ``known``."""
        set_vars, watched = self.names()
        for name in sorted(set_vars - known):
            raise TraceError(f"{where}: sets unknown variable {name!r}")
        for name in sorted(watched - known):
            raise TraceError(f"{where}: watches unknown variable {name!r}")


class Simulator:
    """Runs one program scan by scan. ``types`` maps variable names to BOOL/INT/TIME (default BOOL);
    the state is plain data, so :meth:`state` / :meth:`load` snapshot it (used by the equivalence check)."""

    def __init__(self, program: Program, *, scan_ms: int = 100, types: dict[str, str] | None = None,
                 max_scans: int = MAX_SCANS):
        if not isinstance(scan_ms, int) or isinstance(scan_ms, bool) or scan_ms <= 0:
            raise UserError(f"scan_ms must be a positive integer, got {scan_ms!r}")
        self.program = program
        self.scan_ms = scan_ms
        self.types = dict(types or {})
        self.max_scans = max_scans
        self._bodies = [rung.body for rung in program.rungs]
        self._edge_index: dict[int, int] = {}
        blocks: dict[str, Block] = {}
        for element in (e for body in self._bodies for e in iter_elements(body)):
            if isinstance(element, Contact) and element.kind in ("P", "N"):
                self._edge_index[id(element)] = len(self._edge_index)
            elif isinstance(element, Block):
                blocks.setdefault(element.name, element)
        self._blocks = list(blocks.values())
        self.reset()

    def reset(self) -> None:
        self.scans_run = 0
        self.values: dict[str, Value] = {}
        self._edges = [False] * len(self._edge_index)
        # per block instance: [elapsed or count, running, q, previous IN]
        self._block_state = {b.name: [0, False, b.kind == "CTD", False] for b in self._blocks}
        for block in self._blocks:
            self._publish(block, self._block_state[block.name])

    def default(self, name: str) -> Value:
        return 0 if self.types.get(name, "BOOL") in ("INT", "TIME") else False

    def read(self, name: str) -> Value:
        try:
            return self.values[name]
        except KeyError:
            return self.default(name)

    def assign(self, inputs: dict[str, Value]) -> None:
        self.values.update(inputs)

    def state(self) -> tuple:
        values = tuple(sorted((k, v) for k, v in self.values.items()))
        blocks = tuple((k, tuple(v)) for k, v in sorted(self._block_state.items()))
        return values, tuple(self._edges), blocks

    def load(self, state: tuple) -> None:
        values, edges, blocks = state
        self.values = dict(values)
        self._edges = list(edges)
        self._block_state = {k: list(v) for k, v in blocks}

    def scan(self) -> None:
        if self.scans_run >= self.max_scans:
            raise BudgetError(f"simulation budget of {self.max_scans} scans exhausted")
        self.scans_run += 1
        for body in self._bodies:
            self._series(body, True)

    def _series(self, series: Series, power: bool) -> bool:
        for item in series.items:
            if isinstance(item, Parallel):
                out = False
                for branch in item.branches:
                    out = self._series(branch, power) or out
                power = out
            else:
                power = self._element(item, power)
        return power

    def _operand(self, value) -> int:
        if isinstance(value, Duration):
            return value.ms
        if isinstance(value, str):
            return int(self.read(value))
        return int(value)

    def _element(self, e: Element, power: bool) -> bool:
        if isinstance(e, Contact):
            current = bool(self.read(e.var))
            if e.kind == "NO":
                return power and current
            if e.kind == "NC":
                return power and not current
            k = self._edge_index[id(e)]
            before, self._edges[k] = self._edges[k], current
            fired = (current and not before) if e.kind == "P" else (before and not current)
            return power and fired
        if isinstance(e, Coil):
            if e.kind == "OUT":
                self.values[e.var] = power
            elif e.kind == "NOUT":
                self.values[e.var] = not power
            elif power:
                self.values[e.var] = e.kind == "SET"
            return power
        if isinstance(e, Compare):
            a, b = self._operand(e.left), self._operand(e.right)
            ok = {"GT": a > b, "LT": a < b, "GE": a >= b, "LE": a <= b, "EQ": a == b, "NE": a != b}[e.kind]
            return power and ok
        if isinstance(e, Block):
            return self._block(e, power)
        raise TypeError(f"not a ladder element: {e!r}")

    def _block(self, b: Block, power: bool) -> bool:
        st = self._block_state[b.name]
        preset = self._operand(b.preset)
        acc, running, q, prev = st
        if b.kind == "TON":
            if power:
                acc = min(acc + self.scan_ms, preset) if running else 0
                running = True
                q = acc >= preset
            else:
                acc, running, q = 0, False, False
        elif b.kind == "TOF":
            if power:
                acc, running, q = 0, False, True
            else:
                if prev:
                    acc, running = 0, True
                elif running:
                    acc = min(acc + self.scan_ms, preset)
                if running and acc >= preset:
                    running = False
                q = running
        elif b.kind == "TP":
            if running:
                acc = min(acc + self.scan_ms, preset)
                running = acc < preset
            elif power and not prev:
                acc, running = 0, preset > 0
            if not running and not power:
                acc = 0
            q = running
        else:
            reset = bool(self.read(b.reset)) if b.reset is not None else False
            rising = power and not prev
            if b.kind == "CTU":
                if reset:
                    acc = 0
                elif rising:
                    acc = min(acc + 1, INT_MAX)
                q = acc >= preset
            else:
                if reset:
                    acc = preset
                elif rising:
                    acc = max(acc - 1, INT_MIN)
                q = acc <= 0
        st[:] = [acc, running, q, power]
        self._publish(b, st)
        return q

    def _publish(self, b: Block, st: list) -> None:
        self.values[b.name] = st[2]
        self.values[b.name + ".Q"] = st[2]
        self.values[b.name + (".CV" if b.kind in ("CTU", "CTD") else ".ET")] = st[0]

    def run(self, trace: Trace, visited: set | None = None) -> list[list[Value]]:
        """Rows of watched values, one per scan, from a fresh state; the :meth:`state` after every scan is
        added to ``visited`` when given."""
        if trace.scans > self.max_scans:
            raise BudgetError(f"trace needs {trace.scans} scans; the simulation budget is {self.max_scans}")
        self.reset()
        rows = []
        for step in trace.steps:
            self.assign(step.inputs)
            for _ in range(step.cycles):
                self.scan()
                rows.append([self.read(w) for w in trace.watch])
                if visited is not None:
                    visited.add(self.state())
        return rows


def same_value(expected: Value, got: Value) -> bool:
    """Equality that does not let TRUE pass for 1 (a BOOL must match a BOOL)."""
    if isinstance(expected, bool) or isinstance(got, bool):
        return isinstance(expected, bool) and isinstance(got, bool) and expected == got
    return expected == got


def compare_rows(expected: list[list[Value]], got: list[list[Value]]) -> tuple[int, int, list[tuple]]:
    """(matched, total, mismatches as (scan index, watch index, expected, got))."""
    matched, total, bad = 0, 0, []
    for scan, (want_row, got_row) in enumerate(zip(expected, got)):
        for col, (want, have) in enumerate(zip(want_row, got_row)):
            total += 1
            if same_value(want, have):
                matched += 1
            else:
                bad.append((scan, col, want, have))
    return matched, total, bad
