"""PLCopen TC6 XML (``tc6_0201``) import and export of ``<LD>`` bodies.

Export writes one ``<LD>`` element: per rung a ``leftPowerRail``, its contacts, coils and blocks with
``connectionPointIn``/``connection refLocalId`` power-flow links in the rung graph's order, and a
``rightPowerRail``; comment lines become ``<comment>`` elements. Rung order is kept in the ``position``
``y`` coordinate (100 per line of the text form). Mapping:

* ``NO``/``NC``/``P``/``N`` → ``<contact negated=... edge="none|rising|falling">``;
* ``OUT``/``NOUT``/``SET``/``RST`` → ``<coil negated=... storage="none|set|reset">``;
* timers and counters → ``<block typeName="TON" instanceName="T1">`` with the power on ``IN`` (``CU`` for
  CTU, ``CD`` for CTD), ``PT``/``PV`` and ``R`` (CTU) / ``LD`` (CTD) fed by ``<inVariable>`` expressions,
  power continuing from ``Q``;
* compare contacts → ``<block typeName="GT">`` with the power on ``EN``, operands on ``IN1``/``IN2`` and the
  power continuing from ``OUT`` (read as EN AND the comparison, the way LD editors wire comparison blocks).

Import accepts an ``<LD>`` element alone or inside a full PLCopen project (the first ``<LD>`` is read), with
any number of power rails: rungs are the connected groups of elements, ordered by their smallest ``y``.
Anything else in the body (jumps, labels, variables wired outside blocks) is a :class:`UserError`, as is a
rung that has no series/parallel form.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from codealign.domains.ladder.model import (
    COUNTER_KINDS,
    LEFT,
    RIGHT,
    TIMER_KINDS,
    COMPARE_OPS,
    Block,
    Coil,
    Comment,
    Compare,
    Contact,
    Duration,
    Element,
    Operand,
    Program,
    program_from_links,
    tree_to_graph,
)
from codealign.errors import UserError

NS = "http://www.plcopen.org/xml/tc6_0201"
XHTML = "http://www.w3.org/1999/xhtml"
_EDGE = {"NO": "none", "NC": "none", "P": "rising", "N": "falling"}
_STORAGE = {"OUT": "none", "NOUT": "none", "SET": "set", "RST": "reset"}
_POWER_IN = {"TON": "IN", "TOF": "IN", "TP": "IN", "CTU": "CU", "CTD": "CD"}
_RESET_IN = {"CTU": "R", "CTD": "LD"}
_MAX_XML = 2_000_000


def _expression(value: Operand) -> str:
    return f"T#{value}" if isinstance(value, Duration) else str(value)


def _operand(text: str) -> Operand:
    text = text.strip()
    m = re.fullmatch(r"T#(\d+)(ms|s|m)", text)
    if m:
        return Duration(int(m.group(1)), m.group(2))
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    if re.fullmatch(r"%?[A-Za-z_][A-Za-z0-9_.]*", text):
        return text
    raise UserError(f"PLCopen: unsupported expression {text!r}")


def export_ld(program: Program) -> str:
    """The program as a PLCopen TC6 ``<LD>`` body (XML text)."""
    ET.register_namespace("", NS)
    ET.register_namespace("xhtml", XHTML)
    root = ET.Element(f"{{{NS}}}LD")
    next_id = [1]

    def new(tag: str, y: int, x: int, **attrs) -> ET.Element:
        el = ET.SubElement(root, f"{{{NS}}}{tag}", {"localId": str(next_id[0]), **attrs})
        next_id[0] += 1
        ET.SubElement(el, f"{{{NS}}}position", {"x": str(x), "y": str(y)})
        return el

    def connect(parent: ET.Element, refs: list[tuple[int, str | None]]) -> None:
        cpi = ET.SubElement(parent, f"{{{NS}}}connectionPointIn")
        for ref, formal in refs:
            attrs = {"refLocalId": str(ref)}
            if formal:
                attrs["formalParameter"] = formal
            ET.SubElement(cpi, f"{{{NS}}}connection", attrs)

    def in_variable(value: Operand, y: int, x: int) -> int:
        el = new("inVariable", y, x)
        ET.SubElement(el, f"{{{NS}}}connectionPointOut")
        ET.SubElement(el, f"{{{NS}}}expression").text = _expression(value)
        return int(el.get("localId"))

    for row, item in enumerate(program.items):
        y = 100 * row
        if isinstance(item, Comment):
            el = new("comment", y, 0, height="20", width="400")
            content = ET.SubElement(el, f"{{{NS}}}content")
            ET.SubElement(content, f"{{{XHTML}}}p").text = item.text_
            continue
        graph = tree_to_graph(item.body)
        left = new("leftPowerRail", y, 0)
        ET.SubElement(left, f"{{{NS}}}connectionPointOut", {"formalParameter": ""})
        ids: dict[int, tuple[int, str | None]] = {LEFT: (int(left.get("localId")), None)}
        for node in sorted(graph.nodes):
            e, x = graph.nodes[node], 40 * (node + 1)
            refs = [ids[p] for p in graph.predecessors(node)]
            if isinstance(e, (Contact, Coil)):
                if isinstance(e, Contact):
                    el = new("contact", y, x, negated=str(e.kind == "NC").lower(), edge=_EDGE[e.kind])
                else:
                    el = new("coil", y, x, negated=str(e.kind == "NOUT").lower(), storage=_STORAGE[e.kind])
                connect(el, refs)
                ET.SubElement(el, f"{{{NS}}}connectionPointOut")
                ET.SubElement(el, f"{{{NS}}}variable").text = e.var
                ids[node] = (int(el.get("localId")), None)
                continue
            if isinstance(e, Compare):
                data = [("IN1", e.left), ("IN2", e.right)]
                el = new("block", y, x, typeName=e.kind)
                power_in, outputs = "EN", ("ENO", "OUT")
            else:
                data = [(e.preset_key, e.preset)]
                if e.reset is not None:
                    data.append((_RESET_IN[e.kind], e.reset))
                el = new("block", y, x, typeName=e.kind, instanceName=e.name)
                power_in = _POWER_IN[e.kind]
                outputs = ("Q", "CV" if e.kind in COUNTER_KINDS else "ET")
            inputs = ET.SubElement(el, f"{{{NS}}}inputVariables")
            var = ET.SubElement(inputs, f"{{{NS}}}variable", {"formalParameter": power_in})
            connect(var, refs)
            for formal, value in data:
                var = ET.SubElement(inputs, f"{{{NS}}}variable", {"formalParameter": formal})
                connect(var, [(in_variable(value, y + 50, x), None)])
            ET.SubElement(el, f"{{{NS}}}inOutVariables")
            outs = ET.SubElement(el, f"{{{NS}}}outputVariables")
            for formal in outputs:
                var = ET.SubElement(outs, f"{{{NS}}}variable", {"formalParameter": formal})
                ET.SubElement(var, f"{{{NS}}}connectionPointOut")
            ids[node] = (int(el.get("localId")), "OUT" if isinstance(e, Compare) else "Q")
        right = new("rightPowerRail", y, 40 * (len(graph.nodes) + 1))
        connect(right, [ids[p] for p in graph.predecessors(RIGHT)])
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=False) + "\n"


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child(el: ET.Element, name: str) -> ET.Element | None:
    return next((c for c in el if _local(c.tag) == name), None)


def _refs(el: ET.Element | None) -> list[int]:
    if el is None:
        return []
    return [int(c.get("refLocalId")) for cpi in el if _local(cpi.tag) == "connectionPointIn"
            for c in cpi if _local(c.tag) == "connection"]


def import_ld(xml_text: str) -> Program:
    """A program from a PLCopen ``<LD>`` body or a project containing one; raises UserError."""
    if len(xml_text) > _MAX_XML:
        raise UserError(f"PLCopen: document is {len(xml_text)} characters; the limit is {_MAX_XML}")
    if "<!DOCTYPE" in xml_text or "<!ENTITY" in xml_text:
        raise UserError("PLCopen: DTDs and entities are not accepted")
    try:
        root = ET.fromstring(xml_text)
    except ET.ParseError as exc:
        raise UserError(f"PLCopen: malformed XML ({exc})") from None
    body = root if _local(root.tag) == "LD" else next((e for e in root.iter() if _local(e.tag) == "LD"), None)
    if body is None:
        raise UserError("PLCopen: no <LD> body in the document")
    by_id: dict[int, ET.Element] = {}
    for el in body:
        if el.get("localId") is None:
            raise UserError(f"PLCopen: <{_local(el.tag)}> lacks a localId")
        by_id[int(el.get("localId"))] = el

    def y_of(el: ET.Element) -> float:
        pos = _child(el, "position")
        return float(pos.get("y", 0)) if pos is not None else 0.0

    elements: dict[int, Element] = {}
    power_refs: dict[int, list[int]] = {}
    lefts, rights, comments = set(), {}, []
    for lid, el in by_id.items():
        tag = _local(el.tag)
        if tag == "leftPowerRail":
            lefts.add(lid)
        elif tag == "rightPowerRail":
            rights[lid] = _refs(el)
        elif tag == "comment":
            text = "".join(_child(el, "content").itertext()).strip() if _child(el, "content") is not None else ""
            comments.append((y_of(el), lid, Comment(text)))
        elif tag in ("contact", "coil"):
            name = (_child(el, "variable").text or "").strip() if _child(el, "variable") is not None else ""
            if not name:
                raise UserError(f"PLCopen: <{tag} localId={lid}> has no variable")
            if tag == "contact":
                kind = {"rising": "P", "falling": "N"}.get(el.get("edge", "none"))
                kind = kind or ("NC" if el.get("negated") == "true" else "NO")
                elements[lid] = Contact(kind, name)
            else:
                storage = el.get("storage", "none")
                kind = {"set": "SET", "reset": "RST"}.get(storage) or ("NOUT" if el.get("negated") == "true" else "OUT")
                elements[lid] = Coil(kind, name)
            power_refs[lid] = _refs(el)
        elif tag == "block":
            elements[lid], power_refs[lid] = _block(el, lid, by_id)
        elif tag != "inVariable":
            raise UserError(f"PLCopen: unsupported LD element <{tag}> (localId {lid})")

    feeds = {}
    for lid, refs in power_refs.items():
        for ref in refs:
            if ref not in elements and ref not in lefts:
                raise UserError(f"PLCopen: element {lid} is fed by {ref}, which is neither a rail nor an element")
        feeds[lid] = [LEFT if ref in lefts else ref for ref in refs]
    sinks = {ref for refs in rights.values() for ref in refs if ref in elements}
    if not elements:
        raise UserError("PLCopen: the <LD> body has no rungs")
    order = {lid: (y_of(by_id[lid]), lid) for lid in elements}
    return program_from_links(elements, feeds, sinks, order, [((y, lid), c) for y, lid, c in comments])


def _block(el: ET.Element, lid: int, by_id: dict[int, ET.Element]) -> tuple[Element, list[int]]:
    kind = el.get("typeName", "")
    inputs = _child(el, "inputVariables")
    formals = {v.get("formalParameter"): v for v in (inputs if inputs is not None else [])}

    def data(formal: str, required: bool = True) -> Operand | None:
        refs = _refs(formals.get(formal))
        if not refs:
            if required:
                raise UserError(f"PLCopen: block {kind} (localId {lid}) has nothing on {formal}")
            return None
        source = by_id.get(refs[0])
        expr = _child(source, "expression") if source is not None else None
        if source is None or _local(source.tag) != "inVariable" or expr is None:
            raise UserError(f"PLCopen: block {kind} (localId {lid}) input {formal} must come from an inVariable")
        return _operand(expr.text or "")

    if kind in COMPARE_OPS:
        return Compare(kind, data("IN1"), data("IN2")), _refs(formals.get("EN"))
    if kind in TIMER_KINDS + COUNTER_KINDS:
        name = el.get("instanceName")
        if not name:
            raise UserError(f"PLCopen: block {kind} (localId {lid}) has no instanceName")
        preset_key = "PT" if kind in TIMER_KINDS else "PV"
        reset = data(_RESET_IN[kind], required=False) if kind in COUNTER_KINDS else None
        if reset is not None and not isinstance(reset, str):
            raise UserError(f"PLCopen: block {kind} (localId {lid}) reset must be a variable")
        return Block(kind, name, data(preset_key), reset), _refs(formals.get(_POWER_IN[kind]))
    raise UserError(f"PLCopen: unsupported block type {kind!r} (localId {lid})")
