"""The ladder-diagram model: elements and the series/parallel rung tree.

A program is a sequence of rungs (and comment lines), evaluated top to bottom. Each rung is a tree
(:class:`Series` of elements and :class:`Parallel` groups of series branches): what the text form writes and
what the structural checks, the simulator and the graph edits work on. The parser flattens nested parallels
and single-branch groups, so its trees are canonical.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator, Union


CONTACT_KINDS = ("NO", "NC", "P", "N")
COMPARE_OPS = ("GT", "LT", "GE", "LE", "EQ", "NE")
COIL_KINDS = ("OUT", "NOUT", "SET", "RST")
TIMER_KINDS = ("TON", "TOF", "TP")
COUNTER_KINDS = ("CTU", "CTD")
BLOCK_KINDS = TIMER_KINDS + COUNTER_KINDS

TIME_UNITS = {"ms": 1, "s": 1000, "m": 60_000}


@dataclass(frozen=True)
class Duration:
    """A time literal such as ``500ms`` or ``2s``; the unit is kept so the text round-trips."""

    amount: int
    unit: str = "ms"

    @property
    def ms(self) -> int:
        return self.amount * TIME_UNITS[self.unit]

    def __str__(self) -> str:
        return f"{self.amount}{self.unit}"


Operand = Union[str, int, Duration]
"""A variable name (``str``), an integer literal (``int``) or a time literal (:class:`Duration`)."""


def operand_text(value: Operand) -> str:
    return str(value)


@dataclass(frozen=True, eq=True)
class Element:
    """Base of every rung element. ``pos`` is the (line, column) it was parsed from, if any; it takes no part
    in equality."""

    pos: tuple[int, int] | None = field(default=None, compare=False, repr=False, kw_only=True)

    kind: str = field(default="", init=False)

    def reads(self) -> tuple[str, ...]:
        return ()

    def writes(self) -> tuple[str, ...]:
        return ()

    def text(self) -> str:
        raise NotImplementedError


@dataclass(frozen=True)
class Contact(Element):
    """``NO(x)`` normally open, ``NC(x)`` normally closed, ``P(x)`` rising edge, ``N(x)`` falling edge."""

    kind: str = "NO"
    var: str = ""

    def reads(self) -> tuple[str, ...]:
        return (self.var,)

    def text(self) -> str:
        return f"{self.kind}({self.var})"


@dataclass(frozen=True)
class Compare(Element):
    """A compare contact ``GT(a, b)``: passes power when ``a op b``; operands are variables or integers."""

    kind: str = "GT"
    left: Operand = 0
    right: Operand = 0

    def reads(self) -> tuple[str, ...]:
        return tuple(v for v in (self.left, self.right) if isinstance(v, str))

    def text(self) -> str:
        return f"{self.kind}({operand_text(self.left)}, {operand_text(self.right)})"


@dataclass(frozen=True)
class Coil(Element):
    """``OUT(x)`` writes the power, ``NOUT(x)`` its negation, ``SET(x)``/``RST(x)`` latch when powered.
    Coils pass power through to what follows them."""

    kind: str = "OUT"
    var: str = ""

    def writes(self) -> tuple[str, ...]:
        return (self.var,)

    def text(self) -> str:
        return f"{self.kind}({self.var})"


@dataclass(frozen=True)
class Block(Element):
    """A function block in the power flow: timers ``TON/TOF/TP(name, PT=...)`` and counters
    ``CTU/CTD(name, PV=..., R=var)``. Its output power is the block's Q; ``name`` reads as Q elsewhere and
    ``name.ET`` / ``name.CV`` read as integers."""

    kind: str = "TON"
    name: str = ""
    preset: Operand = 0
    reset: str | None = None

    @property
    def preset_key(self) -> str:
        return "PT" if self.kind in TIMER_KINDS else "PV"

    def reads(self) -> tuple[str, ...]:
        out = []
        if isinstance(self.preset, str):
            out.append(self.preset)
        if self.reset is not None:
            out.append(self.reset)
        return tuple(out)

    def writes(self) -> tuple[str, ...]:
        extra = ".ET" if self.kind in TIMER_KINDS else ".CV"
        return (self.name, self.name + ".Q", self.name + extra)

    def text(self) -> str:
        parts = [self.name, f"{self.preset_key}={operand_text(self.preset)}"]
        if self.reset is not None:
            parts.append(f"R={self.reset}")
        return f"{self.kind}({', '.join(parts)})"


@dataclass(frozen=True)
class Series:
    """Elements and parallel groups side by side, left to right."""

    items: tuple["Node", ...]

    def text(self) -> str:
        return " ".join(item.text() for item in self.items)


@dataclass(frozen=True)
class Parallel:
    """Two or more series branches between the same two nets: ``[a | b c]``."""

    branches: tuple[Series, ...]

    def text(self) -> str:
        return "[" + " | ".join(b.text() for b in self.branches) + "]"


Node = Union[Element, Parallel]


@dataclass(frozen=True)
class Rung:
    body: Series

    def text(self) -> str:
        return self.body.text()


@dataclass(frozen=True)
class Comment:
    """A comment line ``(* text *)``; kept in program order so the text round-trips."""

    text_: str

    def text(self) -> str:
        return f"(* {self.text_} *)"


@dataclass(frozen=True)
class Program:
    items: tuple[Union[Rung, Comment], ...]

    @property
    def rungs(self) -> tuple[Rung, ...]:
        return tuple(i for i in self.items if isinstance(i, Rung))

    def text(self) -> str:
        return "\n".join(item.text() for item in self.items)

    def elements(self) -> Iterator[tuple[int, Element]]:
        """Every element with its rung index (0-based), in evaluation order."""
        for index, rung in enumerate(self.rungs):
            for element in iter_elements(rung.body):
                yield index, element

    def variables(self) -> tuple[set[str], set[str]]:
        """(read, written) variable names over the whole program."""
        read, written = set(), set()
        for _, element in self.elements():
            read.update(element.reads())
            written.update(element.writes())
        return read, written


def iter_elements(node: Series | Node) -> Iterator[Element]:
    if isinstance(node, Series):
        for item in node.items:
            yield from iter_elements(item)
    elif isinstance(node, Parallel):
        for branch in node.branches:
            yield from iter_elements(branch)
    else:
        yield node


def make_series(items: list[Node] | tuple[Node, ...]) -> Series:
    """A canonical series: nested series are spliced in."""
    flat: list[Node] = []
    for item in items:
        if isinstance(item, Series):
            flat.extend(item.items)
        else:
            flat.append(item)
    return Series(tuple(flat))


def make_parallel(branches: list[Series] | tuple[Series, ...]) -> Node | Series:
    """A canonical parallel: a branch that is itself one parallel group is spliced in; one branch left means
    no group at all (the branch's series is returned)."""
    flat: list[Series] = []
    for branch in branches:
        if len(branch.items) == 1 and isinstance(branch.items[0], Parallel):
            flat.extend(branch.items[0].branches)
        else:
            flat.append(branch)
    if len(flat) == 1:
        return flat[0]
    return Parallel(tuple(flat))
