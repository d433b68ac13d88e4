"""Structural and type checks of a ladder program, each finding with a severity.

``error`` findings make a candidate a COMPILE_ERROR; ``warning`` findings are reported and change nothing.

=====================  ========  ==========================================================================
code                   severity  finding
=====================  ========  ==========================================================================
no-coil                error     the rung drives nothing (no coil, no block)
contact-after-coil     error     a contact or compare stands after the last coil/block of its path
double-coil            error     the same variable is driven by OUT/NOUT in two places
mixed-coil             warning   a variable is driven by OUT/NOUT and also SET/RST
block-reused           error     one block instance name appears in two blocks
undriven               error     a variable is read, never written, and is not a declared input
drives-input           warning   a coil writes a declared input
type                   error     a use contradicts the variable's type (compare on a BOOL, a counter preset
                                 that is not an integer, a timer preset that is not a time, ...)
output-never-written   warning   a declared output is written by nothing
constant-compare       warning   a compare of two literals
=====================  ========  ==========================================================================

A rung read from text is a series/parallel tree between the two rails, so every element lies on a power path
from the left rail to the right one (importers refuse a graph without that shape,
:class:`~codealign.domains.ladder.model.GraphShapeError`). The checks walk the tree: their work grows linearly
with the program's size (a parallel group of n elements followed by one of m is n + m elements, never the
n × m wires of its graph).

Types are BOOL, INT and TIME (milliseconds). Undeclared variables take the type their uses imply (contacts
and coils: BOOL; compare operands: INT; timer presets: TIME; counter presets: INT); two uses that imply
different types are a ``type`` error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from codealign.domains.ladder.model import (
    TIMER_KINDS,
    Block,
    Coil,
    Compare,
    Contact,
    Duration,
    Parallel,
    Program,
    Series,
)

TYPES = ("BOOL", "INT", "TIME")


@dataclass(frozen=True)
class Issue:
    severity: str
    code: str
    message: str
    rung: int | None = None
    """1-based rung number."""
    pos: tuple[int, int] | None = None
    """(line, column) of the element in the text form, when known."""

    def to_dict(self) -> dict[str, Any]:
        return {"severity": self.severity, "code": self.code, "message": self.message, "rung": self.rung,
                "pos": list(self.pos) if self.pos else None}

    def __str__(self) -> str:
        where = f"line {self.pos[0]}, column {self.pos[1]}: " if self.pos else (
            f"rung {self.rung}: " if self.rung else "")
        return f"{self.severity}: {where}{self.message} [{self.code}]"


@dataclass
class Declarations:
    """What a task declares about its variables. ``inputs=None`` means unknown: then no variable is reported
    as undriven. ``types`` maps names to BOOL/INT/TIME; undeclared names are inferred from their uses."""

    inputs: set[str] | None = None
    outputs: set[str] | None = None
    types: dict[str, str] = field(default_factory=dict)


def rung_issues(body: Series, rung: int) -> list[Issue]:
    """``no-coil`` and ``contact-after-coil`` findings of one rung, in text order."""
    found: list[Issue] = []

    def walk(series: Series, drive_after: bool) -> bool:
        """Report the contacts of ``series`` that feed no coil or block (``drive_after``: one follows the
        series); returns whether the series holds a coil or block."""
        holds = False
        for item in reversed(series.items):
            if isinstance(item, Parallel):
                inside = False
                for branch in reversed(item.branches):
                    inside = walk(branch, drive_after or holds) or inside
                holds = holds or inside
            elif isinstance(item, (Coil, Block)):
                holds = True
            elif not (drive_after or holds):
                found.append(Issue("error", "contact-after-coil",
                                   f"{item.text()} stands after the last coil of its path and controls nothing",
                                   rung, item.pos))
        return holds

    if not walk(body, False):
        return [Issue("error", "no-coil", "rung drives nothing: it has no coil or block", rung)]
    return found[::-1]


def infer_types(program: Program, declared: dict[str, str] | None = None) -> tuple[dict[str, str], list[Issue]]:
    """The type of every variable the program uses, and the type errors found on the way."""
    declared = dict(declared or {})
    types: dict[str, str] = {}
    issues: list[Issue] = []
    seen_at: dict[str, tuple[int, Any]] = {}

    def use(name: str, wanted: tuple[str, ...], rung: int, element, what: str) -> None:
        have = declared.get(name) or types.get(name)
        if have is None:
            types[name] = wanted[0]
            seen_at[name] = (rung, element)
            return
        types.setdefault(name, have)
        if have not in wanted:
            origin = "declared" if name in declared else f"used as {have} in rung {seen_at[name][0]}"
            issues.append(Issue("error", "type", f"{what} {name!r} needs {'/'.join(wanted)} but it is {origin}",
                                rung, element.pos))

    for index, element in program.elements():
        rung = index + 1
        if isinstance(element, Contact):
            use(element.var, ("BOOL",), rung, element, f"contact {element.kind} on")
        elif isinstance(element, Coil):
            use(element.var, ("BOOL",), rung, element, f"coil {element.kind} on")
        elif isinstance(element, Compare):
            literals = 0
            for operand in (element.left, element.right):
                if isinstance(operand, str):
                    use(operand, ("INT", "TIME"), rung, element, f"compare {element.kind} on")
                elif isinstance(operand, Duration):
                    literals += 1
                else:
                    literals += 1
            if literals == 2:
                issues.append(Issue("warning", "constant-compare", f"{element.text()} compares two literals",
                                    rung, element.pos))
        elif isinstance(element, Block):
            use(element.name, ("BOOL",), rung, element, f"{element.kind} instance")
            sub = ".ET" if element.kind in TIMER_KINDS else ".CV"
            types[element.name + ".Q"] = "BOOL"
            types[element.name + sub] = "TIME" if element.kind in TIMER_KINDS else "INT"
            if element.reset is not None:
                use(element.reset, ("BOOL",), rung, element, f"{element.kind} reset")
            preset = element.preset
            if element.kind in TIMER_KINDS:
                if isinstance(preset, str):
                    use(preset, ("TIME",), rung, element, f"{element.kind} preset")
                elif not isinstance(preset, Duration):
                    issues.append(Issue("error", "type", f"{element.kind} preset {preset} is not a time (write e.g. "
                                        f"{preset}ms)", rung, element.pos))
            else:
                if isinstance(preset, str):
                    use(preset, ("INT",), rung, element, f"{element.kind} preset")
                elif not isinstance(preset, int):
                    issues.append(Issue("error", "type", f"{element.kind} preset {preset} is not an integer",
                                        rung, element.pos))
    for name, kind in declared.items():
        types.setdefault(name, kind)
    return types, issues


def check_program(program: Program, decl: Declarations | None = None) -> list[Issue]:
    """Every finding on ``program`` under ``decl``, in rung order within each kind of check."""
    decl = decl or Declarations()
    issues: list[Issue] = []
    for index, rung in enumerate(program.rungs):
        issues.extend(rung_issues(rung.body, index + 1))

    drivers: dict[str, list[tuple[int, Coil]]] = {}
    latches: dict[str, int] = {}
    blocks: dict[str, int] = {}
    for index, element in program.elements():
        if isinstance(element, Coil):
            if element.kind in ("OUT", "NOUT"):
                drivers.setdefault(element.var, []).append((index + 1, element))
            else:
                latches.setdefault(element.var, index + 1)
        elif isinstance(element, Block):
            if element.name in blocks:
                issues.append(Issue("error", "block-reused", f"block instance {element.name!r} is already used in "
                                    f"rung {blocks[element.name]}", index + 1, element.pos))
            else:
                blocks[element.name] = index + 1
    for var, uses in drivers.items():
        for rung, coil in uses[1:]:
            issues.append(Issue("error", "double-coil", f"{var!r} is already driven by {uses[0][1].text()} in rung "
                                f"{uses[0][0]}", rung, coil.pos))
        if var in latches:
            issues.append(Issue("warning", "mixed-coil", f"{var!r} is driven by {uses[0][1].kind} and also latched "
                                f"by SET/RST (rung {latches[var]})", uses[0][0], uses[0][1].pos))
    for name in blocks:
        if name in drivers or name in latches:
            issues.append(Issue("error", "type", f"block instance {name!r} is also written by a coil", blocks[name]))

    types, type_issues = infer_types(program, decl.types)
    issues.extend(type_issues)

    read, written = program.variables()
    if decl.inputs is not None:
        reported = set()
        for index, element in program.elements():
            for var in element.reads():
                if var not in written and var not in decl.inputs and var not in reported:
                    reported.add(var)
                    issues.append(Issue("error", "undriven", f"{var!r} is read but never written and is not a "
                                        f"declared input", index + 1, element.pos))
        for var in sorted(written & decl.inputs):
            issues.append(Issue("warning", "drives-input", f"a coil writes the declared input {var!r}"))
    if decl.outputs is not None:
        for var in sorted(decl.outputs - written):
            issues.append(Issue("warning", "output-never-written", f"declared output {var!r} is written by nothing"))
    return issues


def errors(issues: list[Issue]) -> list[Issue]:
    return [i for i in issues if i.severity == "error"]
