"""Graph edits of a correct ladder program: the hard negatives of the LD preset.

Operations (``OPS``), each applied at every place it fits:

* ``swap_no_nc`` — a normally-open contact becomes normally-closed or back;
* ``delete_contact`` — a contact or compare contact is removed (an emptied branch goes with it);
* ``delete_branch`` — one branch of a parallel group is removed;
* ``add_branch`` — a contact ``c`` becomes ``[c | NO(v)]`` for another variable ``v`` of the program;
* ``swap_coil_var`` — a coil writes another variable of the program;
* ``change_coil_type`` — a coil becomes each other kind of OUT/NOUT/SET/RST;
* ``change_preset`` — a timer preset is doubled or halved, a counter preset moved by one;
* ``reorder_rungs`` — two neighbouring rungs change places.

:func:`negatives` keeps an edit only when it leaves the program structurally valid and
:func:`~codealign.domains.ladder.equivalence.compare_programs` shows a difference on the outputs; an edit whose
behaviour is shown (or merely not shown to differ) to be the same is rejected with the reason. Choices of a
replacement variable come from ``rng``, so a seed gives the same edits.
"""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass
from typing import Callable

from codealign.domains.ladder.checks import Declarations, check_program, errors
from codealign.domains.ladder.equivalence import compare_programs
from codealign.domains.ladder.model import (
    COIL_KINDS,
    TIMER_KINDS,
    Block,
    Coil,
    Compare,
    Contact,
    Duration,
    Element,
    Parallel,
    Program,
    Rung,
    Series,
    make_parallel,
    make_series,
)
from codealign.domains.ladder.simulator import Trace

OPS = ("swap_no_nc", "delete_contact", "delete_branch", "add_branch", "swap_coil_var", "change_coil_type",
       "change_preset", "reorder_rungs")


@dataclass
class Edit:
    op: str
    description: str
    program: Program
    rung: int
    """1-based rung the edit touched (the upper one for ``reorder_rungs``)."""

    def metadata(self) -> dict:
        return {"op": self.op, "description": self.description, "rung": self.rung}


def _rewrite(series: Series, want: Callable[[object], bool], target: int,
             fn: Callable[[object], list]) -> Series | None:
    """``series`` with the ``target``-th node matching ``want`` (depth first, left to right) replaced by
    ``fn(node)``; emptied branches disappear and single-branch groups dissolve. None if nothing is left."""
    counter = [0]

    def walk(s: Series) -> Series | None:
        items: list = []
        for item in s.items:
            if want(item):
                hit = counter[0] == target
                counter[0] += 1
                if hit:
                    items.extend(fn(item))
                    continue
            if isinstance(item, Parallel):
                branches = [b for b in (walk(b) for b in item.branches) if b is not None]
                if branches:
                    items.append(make_parallel(branches))
            else:
                items.append(item)
        return make_series(items) if items else None

    return walk(series)


def _nodes(series: Series, want: Callable[[object], bool]) -> list:
    """The nodes matching ``want`` in the order :func:`_rewrite` counts them."""
    found = []
    for item in series.items:
        if want(item):
            found.append(item)
        if isinstance(item, Parallel):
            for branch in item.branches:
                found.extend(_nodes(branch, want))
    return found


def _count(series: Series, want: Callable[[object], bool]) -> int:
    return len(_nodes(series, want))


def _with_rung(program: Program, rung: int, body: Series | None) -> Program:
    items, k = [], -1
    for item in program.items:
        if isinstance(item, Rung):
            k += 1
            if k == rung:
                if body is not None:
                    items.append(Rung(body))
                continue
        items.append(item)
    return Program(tuple(items))


def _is(kind):
    return lambda node: isinstance(node, kind)


def candidate_edits(program: Program, rng: random.Random, ops: tuple[str, ...] = OPS) -> list[Edit]:
    """Every edit of ``program`` for the given operations, in a fixed order (rng picks replacement names)."""
    read, written = program.variables()
    bool_vars = sorted(v for v in read | written if "." not in v and not any(
        isinstance(e, Block) and e.name == v for _, e in program.elements()))
    coil_vars = sorted({e.var for _, e in program.elements() if isinstance(e, Coil)})
    edits: list[Edit] = []

    def add(op: str, desc: str, rung: int, body: Series | None) -> None:
        new = _with_rung(program, rung, body)
        if new.rungs and new != program:
            edits.append(Edit(op, desc, new, rung + 1))

    for r, rung in enumerate(program.rungs):
        body = rung.body
        contacts = _is(Contact)
        if "swap_no_nc" in ops:
            for k in range(_count(body, contacts)):
                def flip(c):
                    return [dataclasses.replace(c, kind={"NO": "NC", "NC": "NO"}.get(c.kind, c.kind))]
                new = _rewrite(body, lambda n: isinstance(n, Contact) and n.kind in ("NO", "NC"), k, flip)
                if new is not None:
                    add("swap_no_nc", f"rung {r + 1}: NO/NC swap of contact {k + 1}", r, new)
        if "delete_contact" in ops:
            want = _is((Contact, Compare))
            for k in range(_count(body, want)):
                new = _rewrite(body, want, k, lambda c: [])
                if new is not None:
                    add("delete_contact", f"rung {r + 1}: delete contact {k + 1}", r, new)
        if "delete_branch" in ops:
            for g, group in enumerate(_nodes(body, _is(Parallel))):
                for b in range(len(group.branches)):
                    def drop(p, b=b):
                        return [make_parallel([x for i, x in enumerate(p.branches) if i != b])]
                    add("delete_branch", f"rung {r + 1}: delete branch {b + 1} of group {g + 1}", r,
                        _rewrite(body, _is(Parallel), g, drop))
        if "add_branch" in ops:
            want = _is(Contact)
            for k in range(_count(body, want)):
                def branch(c):
                    others = [v for v in bool_vars if v != c.var]
                    if not others:
                        return [c]
                    extra = Contact("NO", rng.choice(others))
                    return [Parallel((Series((c,)), Series((extra,))))]
                new = _rewrite(body, want, k, branch)
                add("add_branch", f"rung {r + 1}: add a parallel branch to contact {k + 1}", r, new)
        if "swap_coil_var" in ops:
            want = _is(Coil)
            for k in range(_count(body, want)):
                def swap(c):
                    pool = [v for v in coil_vars if v != c.var] or [v for v in bool_vars if v != c.var]
                    return [dataclasses.replace(c, var=rng.choice(pool))] if pool else [c]
                add("swap_coil_var", f"rung {r + 1}: coil {k + 1} writes another variable", r,
                    _rewrite(body, want, k, swap))
        if "change_coil_type" in ops:
            want = _is(Coil)
            for k in range(_count(body, want)):
                for kind in COIL_KINDS:
                    def retype(c, kind=kind):
                        return [dataclasses.replace(c, kind=kind)]
                    add("change_coil_type", f"rung {r + 1}: coil {k + 1} becomes {kind}", r,
                        _rewrite(body, want, k, retype))
        if "change_preset" in ops:
            want = _is(Block)
            for k in range(_count(body, want)):
                for direction in ("up", "down"):
                    def preset(b, direction=direction):
                        return [_shift_preset(b, direction)]
                    add("change_preset", f"rung {r + 1}: block {k + 1} preset {direction}", r,
                        _rewrite(body, want, k, preset))
    if "reorder_rungs" in ops:
        rungs = program.rungs
        for r in range(len(rungs) - 1):
            items = list(program.items)
            i, j = items.index(rungs[r]), items.index(rungs[r + 1])
            items[i], items[j] = items[j], items[i]
            new = Program(tuple(items))
            if new != program:
                edits.append(Edit("reorder_rungs", f"swap rungs {r + 1} and {r + 2}", new, r + 1))
    return edits


def _shift_preset(block: Block, direction: str) -> Element:
    p = block.preset
    if isinstance(p, Duration):
        amount = p.amount * 2 if direction == "up" else p.amount // 2
        return dataclasses.replace(block, preset=Duration(amount, p.unit)) if amount > 0 else block
    if isinstance(p, int) and block.kind not in TIMER_KINDS:
        value = p + 1 if direction == "up" else p - 1
        return dataclasses.replace(block, preset=value) if value > 0 else block
    return block


@dataclass
class EditOutcome:
    kept: list[Edit]
    rejected: list[tuple[Edit, str]]


def negatives(program: Program, *, rng: random.Random, inputs: list[str] | None = None,
              outputs: list[str] | None = None, types: dict[str, str] | None = None, scan_ms: int = 100,
              traces: list[Trace] = (), seed: int = 0, ops: tuple[str, ...] = OPS,
              decl: Declarations | None = None) -> EditOutcome:
    """Edits of ``program`` (assumed correct) kept when valid and behaviourally different.

    Defaults: ``inputs`` = variables the program reads but never writes; ``outputs`` = variables its coils
    write. Rejection reasons: ``structural error: ...`` or ``behaviour-preserving (method)``.
    """
    read, written = program.variables()
    inputs = sorted(inputs if inputs is not None else read - written)
    outputs = sorted(outputs if outputs is not None else {e.var for _, e in program.elements()
                                                          if isinstance(e, Coil)})
    kept, rejected = [], []
    for edit in candidate_edits(program, rng, ops):
        found = errors(check_program(edit.program, decl or Declarations()))
        if found:
            rejected.append((edit, f"structural error: {found[0].message}"))
            continue
        eq = compare_programs(program, edit.program, inputs=inputs, outputs=outputs, types=types,
                              scan_ms=scan_ms, traces=list(traces), seed=seed, random_count=6)
        if eq.equivalent:
            rejected.append((edit, f"behaviour-preserving ({eq.method})"))
        else:
            kept.append(edit)
    return EditOutcome(kept, rejected)
