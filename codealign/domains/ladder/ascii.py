"""Import of plain-text ASCII ladder drawings (the ``ascii`` field of the shared fixtures, IEC style).

Reads: the left rail in column 0 (``|`` and ``+``); horizontal wires ``-``, vertical wires ``|``, junctions
``+`` (a ``|`` crossing a ``-`` is *not* a junction); contacts ``[ ]`` NO, ``[/]`` NC, ``[P]``/``[N]`` edge,
``[>]``/``[<]`` compare (GT/LT) with the first operand written above and the second *below* the contact (the
``BottomOperandContext`` pragma); coils ``( )``, ``(/)``, ``(S)``, ``(R)`` with their variable written above.
A horizontal wire that ends in blank space is wired to the (implicit) right rail. ``(* ... *)`` lines are
comments. Function-block boxes are not read (:class:`UserError`).

The drawing becomes a graph of elements and nets, then the text form through
:func:`~codealign.domains.ladder.model.program_from_links`, so a drawing whose wiring is not
series/parallel is refused with the element that cannot be placed.
"""

from __future__ import annotations

import re

from codealign.domains.ladder.model import (
    LEFT,
    Coil,
    Compare,
    Contact,
    Element,
    Program,
    UnionFind,
    program_from_links,
)
from codealign.errors import UserError

_ELEMENT = re.compile(r"\[[ /<>PN]\]|\([ /SR]\)")
_LABEL = re.compile(r"%?[A-Za-z_][A-Za-z0-9_.]*|-?\d+")
_CONTACTS = {" ": "NO", "/": "NC", "P": "P", "N": "N"}
_COILS = {" ": "OUT", "/": "NOUT", "S": "SET", "R": "RST"}
_WIRE = "-|+"


def _label(lines: list[str], row: int, c0: int, c1: int, where: str) -> str:
    """The name or number written on ``row`` over the columns ``c0..c1`` of an element."""
    if 0 <= row < len(lines):
        for m in _LABEL.finditer(lines[row]):
            if m.start() <= c1 and m.end() - 1 >= c0:
                return m.group()
    raise UserError(f"ASCII ladder: element at line {where} has no name or operand on line {row + 1}")


def import_ascii(drawing: str) -> Program:
    """The program drawn in ``drawing``; raises UserError naming the line of what it cannot read."""
    lines = ["" if line.lstrip().startswith("(*") else line.rstrip() for line in drawing.split("\n")]
    if any("+-----+" in line or "|IN" in line for line in lines):
        raise UserError("ASCII ladder: function-block boxes are not supported")
    width = max((len(line) for line in lines), default=0) + 2
    grid = [line.ljust(width) for line in lines]

    elements: dict[int, Element] = {}
    spans: dict[int, tuple[int, int, int]] = {}
    owned: set[tuple[int, int]] = set()
    for r, line in enumerate(grid):
        for m in _ELEMENT.finditer(line):
            c0, c1 = m.start(), m.end() - 1
            mark, where = m.group()[1], f"{r + 1}, column {c0 + 1}"
            name = _label(grid, r - 1, c0, c1, where)
            if m.group()[0] == "(":
                element: Element = Coil(_COILS[mark], name)
            elif mark in "<>":
                element = Compare("GT" if mark == ">" else "LT", name, _operand(_label(grid, r + 1, c0, c1, where)))
            else:
                element = Contact(_CONTACTS[mark], name)
            ident = len(elements)
            elements[ident], spans[ident] = element, (r, c0, c1)
            owned.update((r, c) for c in range(c0, c1 + 1))

    nets = UnionFind()
    find, union = nets.find, nets.union

    def at(r, c):
        if (r, c) in owned or not (0 <= r < len(grid) and 0 <= c < width):
            return " "
        return grid[r][c]

    rail = (-1, -1)
    for r in range(len(grid)):
        for c in range(width):
            ch = at(r, c)
            if ch not in _WIRE:
                continue
            if c == 0:
                union((r, c), rail)
            if ch in "-+":
                nxt = c + 1
                while at(r, nxt) == "|":
                    nxt += 1
                if at(r, nxt) in "-+":
                    union((r, c), (r, nxt))
            if ch in "|+":
                below = r + 1
                while at(below, c) == "-":
                    below += 1
                if at(below, c) in "|+":
                    union((r, c), (below, c))
    right_ends = {find((r, c)) for r in range(len(grid)) for c in range(width)
                  if at(r, c) == "-" and at(r, c + 1) not in _WIRE and (r, c + 1) not in owned}

    def net(r, c, side, ident):
        if at(r, c) not in "-+":
            raise UserError(f"ASCII ladder: {elements[ident].text()} at line {r + 1} has no wire on its {side}")
        return find((r, c))

    ins = {i: net(r, c0 - 1, "left", i) for i, (r, c0, c1) in spans.items()}
    outs = {i: net(r, c1 + 1, "right", i) for i, (r, c0, c1) in spans.items()}
    rail_net = find(rail)
    feeds = {i: ([LEFT] if ins[i] == rail_net else []) + [j for j in elements if outs[j] == ins[i]]
             for i in elements}
    sinks = {i for i in elements if outs[i] in right_ends}
    order = {i: (spans[i][0], spans[i][1]) for i in elements}
    if not elements:
        raise UserError("ASCII ladder: no elements found")
    return program_from_links(elements, feeds, sinks, order)


def _operand(text: str):
    return int(text) if re.fullmatch(r"-?\d+", text) else text
