"""The ladder-diagram model: elements, the series/parallel rung tree, and the rung graph.

A program is a sequence of rungs (and comment lines), evaluated top to bottom. Each rung has two equivalent
views:

* the **tree** (:class:`Series` of elements and :class:`Parallel` groups of series branches), which is what the
  text form writes and what the simulator and the graph edits work on;
* the **graph** (:class:`RungGraph`): typed element nodes between a left and a right power rail, joined by
  directed power-flow edges. Wires are electrical nets, so the graph is read through its nets: every element
  is an edge from the net at its input to the net at its output. PLCopen XML uses this view (the structural
  checks walk the tree); :func:`graph_to_tree` recovers the tree when the graph is series-parallel (it raises
  :class:`GraphShapeError` naming the first element it cannot place otherwise).

Round trip guarantee: ``graph_to_tree(tree_to_graph(t)) == t`` for every tree the parser builds (the parser
flattens nested parallels and single-branch groups, so its trees are canonical).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator, Union

from codealign.errors import UserError

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


# ----------------------------------------------------------------------------------------------- graph view

LEFT = -1
RIGHT = -2


class GraphShapeError(UserError):
    """A rung graph that has no series/parallel text form (a bridge, a cycle, a dangling element)."""


@dataclass
class RungGraph:
    """One rung as a graph: ``nodes`` maps an id (0, 1, ... in text order) to its element; ``edges`` are
    power-flow connections ``(from, to)`` where ``from`` is an id or :data:`LEFT` and ``to`` an id or
    :data:`RIGHT`."""

    nodes: dict[int, Element] = field(default_factory=dict)
    edges: set[tuple[int, int]] = field(default_factory=set)

    def predecessors(self, node: int) -> list[int]:
        return sorted(a for a, b in self.edges if b == node)


class UnionFind:
    """Groups of joined items (the wire ends of one net): ``union(a, b)`` joins a's group to b's, ``find(a)``
    names a's group by one of its items; an item not seen before is a group of its own."""

    def __init__(self) -> None:
        self._parent: dict = {}

    def find(self, item):
        parent = self._parent
        parent.setdefault(item, item)
        while parent[item] != item:
            parent[item] = parent[parent[item]]
            item = parent[item]
        return item

    def union(self, a, b) -> None:
        self._parent[self.find(a)] = self.find(b)


def tree_to_graph(body: Series) -> RungGraph:
    graph = RungGraph()

    def build(node: Series | Node, preds: list[int]) -> list[int]:
        if isinstance(node, Series):
            for item in node.items:
                preds = build(item, preds)
            return preds
        if isinstance(node, Parallel):
            outs: dict[int, None] = {}
            for branch in node.branches:
                outs.update(dict.fromkeys(build(branch, preds)))
            return list(outs)
        ident = len(graph.nodes)
        graph.nodes[ident] = node
        graph.edges.update((p, ident) for p in preds)
        return [ident]

    for last in build(body, [LEFT]):
        graph.edges.add((last, RIGHT))
    return graph


def graph_to_tree(graph: RungGraph) -> Series:
    """The series/parallel tree of a rung graph, read through its nets; branch order follows node ids."""
    # Union-find over ports: ("in", id) and ("out", id); LEFT's output and RIGHT's input are the rails.
    nets = UnionFind()
    find = nets.find
    for a, b in graph.edges:
        nets.union(("out", a), ("in", b))
    left, right = find(("out", LEFT)), find(("in", RIGHT))
    if left == right:
        raise GraphShapeError("rung shorts the left rail to the right rail")
    # Edge list of the net multigraph: (from net, to net, tree, min node id for ordering).
    edges: list[tuple[tuple, tuple, Series, int]] = []
    for ident in sorted(graph.nodes):
        a, b = find(("in", ident)), find(("out", ident))
        edges.append((a, b, Series((graph.nodes[ident],)), ident))
    changed = True
    while changed and not (len(edges) == 1 and edges[0][0] == left and edges[0][1] == right):
        changed = False
        groups: dict[tuple, list[int]] = {}
        for i, (a, b, _, _) in enumerate(edges):
            groups.setdefault((a, b), []).append(i)
        for (a, b), members in groups.items():
            if len(members) > 1:
                branches = sorted((edges[i] for i in members), key=lambda e: e[3])
                merged = make_parallel([e[2] for e in branches])
                merged_series = merged if isinstance(merged, Series) else Series((merged,))
                keep = [e for i, e in enumerate(edges) if i not in members]
                edges = keep + [(a, b, merged_series, branches[0][3])]
                changed = True
                break
        if changed:
            continue
        indeg: dict[tuple, list[int]] = {}
        outdeg: dict[tuple, list[int]] = {}
        for i, (a, b, _, _) in enumerate(edges):
            outdeg.setdefault(a, []).append(i)
            indeg.setdefault(b, []).append(i)
        for net in sorted(set(indeg) | set(outdeg), key=str):
            if net in (left, right):
                continue
            ins, outs = indeg.get(net, []), outdeg.get(net, [])
            if len(ins) == 1 and len(outs) == 1 and ins[0] != outs[0]:
                first, second = edges[ins[0]], edges[outs[0]]
                joined = (first[0], second[1], make_series([first[2], second[2]]), min(first[3], second[3]))
                edges = [e for i, e in enumerate(edges) if i not in (ins[0], outs[0])] + [joined]
                changed = True
                break
    if len(edges) == 1 and edges[0][0] == left and edges[0][1] == right:
        return edges[0][2]
    stuck = min(e[3] for e in edges) if edges else None
    where = f" (first unplaced element: {graph.nodes[stuck].text()})" if stuck is not None else ""
    raise GraphShapeError(f"rung graph is not a series/parallel network between the rails{where}")


def program_from_links(elements: dict[int, Element], feeds: dict[int, list[int]], sinks: set[int],
                       order: dict[int, tuple], comments: list[tuple[tuple, Comment]] = ()) -> Program:
    """A program from elements linked by power flow, as importers find them.

    ``feeds[e]`` lists what powers element ``e``: other element ids, or :data:`LEFT` for the left rail;
    ``sinks`` are the elements wired to the right rail. A rung is a group of elements connected through
    power links (the rails do not join rungs); rungs and ``comments`` are ordered by ``order`` (the smallest
    key of a rung's elements), elements within a rung by their keys. Raises :class:`GraphShapeError` for a
    rung with no series/parallel form.
    """
    linked = UnionFind()
    for e, sources in feeds.items():
        for s in sources:
            if s != LEFT:
                linked.union(s, e)
    groups: dict[int, list[int]] = {}
    for e in sorted(elements, key=lambda e: order[e]):
        groups.setdefault(linked.find(e), []).append(e)
    rows: list[tuple[tuple, Rung | Comment]] = list(comments)
    for members in groups.values():
        index = {e: i for i, e in enumerate(members)}
        graph = RungGraph({index[e]: elements[e] for e in members})
        for e in members:
            graph.edges.update((LEFT if s == LEFT else index[s], index[e]) for s in feeds.get(e, ()))
            if e in sinks:
                graph.edges.add((index[e], RIGHT))
        rows.append((order[members[0]], Rung(graph_to_tree(graph))))
    rows.sort(key=lambda r: r[0])
    return Program(tuple(r[1] for r in rows))
