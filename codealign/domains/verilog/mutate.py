"""RISE mutators for Verilog / SystemVerilog, working on the tree-sitter-verilog parse tree.

Operators (the ``operator`` of each description):

* ``operator_swap`` — a binary operator replaced by a related one (``+``↔``-``, ``&``↔``|``, ``==``↔``!=``,
  ``<``→``<=``, ``<<``↔``>>``, ...) or a ``~``/``!`` dropped;
* ``off_by_one`` — a numeric literal (plain, sized decimal/hex/octal/binary; in an expression or a range)
  moved by one, staying within its declared width;
* ``reset_polarity`` — ``posedge``↔``negedge`` on a reset in a sensitivity list, or an ``if`` on a reset
  negated (``if (rst)``↔``if (!rst)``);
* ``blocking_swap`` — ``<=`` ↔ ``=`` in procedural code (not in functions or tasks);
* ``drop_case_item`` — a non-default case item removed (cases with at least two items);
* ``negate_condition`` / ``drop_else`` / ``swap_ternary`` — an ``if`` condition negated, an ``else`` branch
  removed, the arms of ``?:`` exchanged;
* ``wrong_signal`` — an input read in an expression replaced by the next input port of the module;
* ``invert_output`` — the right-hand side of a continuous ``assign`` inverted (``~(...)``).

Each mutant differs from the solution by one edit and still parses as well as the solution did (no new
tree-sitter ERROR/MISSING nodes). Whether it compiles and whether it fails is for the sandbox to say.
"""

from __future__ import annotations

import random
import re

from codealign.domains.mutants import Edit, mutants_from_edits
from codealign.domains.syntax import walk
from codealign.domains.verilog.syntax import SYNTAX

BINARY_SWAPS = {
    "+": ("-",), "-": ("+",), "*": ("+",), "&": ("|",), "|": ("&",), "^": ("&",), "~^": ("^",), "^~": ("^",),
    "&&": ("||",), "||": ("&&",), "==": ("!=",), "!=": ("==",), "===": ("!==",), "!==": ("===",),
    "<": ("<=", ">"), "<=": ("<",), ">": (">=", "<"), ">=": (">",), "<<": (">>",), ">>": ("<<",),
    "<<<": (">>>",), ">>>": ("<<<",), "~&": ("&",), "~|": ("|",),
}
UNARY_SWAPS = {"~": "", "!": "", "~&": "&", "~|": "|", "~^": "^", "^~": "^", "&": "|", "|": "&", "^": "~^"}
NUMBER_TYPES = ("decimal_number", "hex_number", "binary_number", "octal_number")
_RADIX = {"d": 10, "h": 16, "b": 2, "o": 8}
_SIZED = re.compile(r"(\d*)\s*'([sS]?)([dDhHbBoO])\s*([0-9a-fA-F_]+)")
_RESET_WORDS = ("rst", "reset", "clr", "clear")
_NON_PROCEDURAL = ("function_declaration", "task_declaration", "function_body_declaration",
                   "task_body_declaration")


def _damage(tree) -> int:
    return sum(n.is_error or n.is_missing for n in walk(tree.root_node))


def _line(node) -> int:
    return node.start_point[0] + 1


def _has_ancestor(node, types) -> bool:
    node = node.parent
    while node is not None:
        if node.type in types:
            return True
        node = node.parent
    return False


def _is_reset_name(text: str) -> bool:
    lowered = text.lower()
    return any(word in lowered for word in _RESET_WORDS)


def _operator_swaps(node, edits: list[Edit]) -> None:
    kids = node.children
    if len(kids) == 3 and kids[1].type in BINARY_SWAPS and not kids[1].children:
        op = kids[1]
        for new in BINARY_SWAPS[op.type]:
            edits.append(Edit(op.start_byte, op.end_byte, new.encode(), "operator_swap",
                              f"'{op.type}' -> '{new}'", _line(op)))
    elif len(kids) == 2 and kids[0].type == "unary_operator" and kids[0].text.decode() in UNARY_SWAPS:
        op = kids[0]
        new = UNARY_SWAPS[op.text.decode()]
        edits.append(Edit(op.start_byte, op.end_byte, new.encode(), "operator_swap",
                          f"'{op.text.decode()}' -> '{new}'", _line(op)))


def _bump(text: str) -> list[str]:
    """The literal moved by -1 and +1, where it stays a valid literal of the same width."""
    text = text.strip()
    if re.fullmatch(r"\d+", text):
        value = int(text)
        return [str(v) for v in (value - 1, value + 1) if v >= 0]
    match = _SIZED.fullmatch(text)
    if not match:
        return []
    size, signed, base, digits = match.groups()
    radix = _RADIX[base.lower()]
    try:
        value = int(digits.replace("_", ""), radix)
    except ValueError:
        return []
    limit = 2 ** int(size) if size else None
    out = []
    for v in (value - 1, value + 1):
        if v < 0 or (limit is not None and v >= limit):
            continue
        if radix == 10:
            body = str(v)
        else:
            body = format(v, {16: "x", 2: "b", 8: "o"}[radix])
            body = body.zfill(len(digits.replace("_", "")))
        out.append(f"{size}'{signed}{base}{body}")
    return out


def _off_by_one(node, edits: list[Edit]) -> None:
    if node.type not in NUMBER_TYPES or _has_ancestor(node, ("delay_value", "delay3", "delay2", "delay_control")):
        return
    for new in _bump(node.text.decode()):
        edits.append(Edit(node.start_byte, node.end_byte, new.encode(), "off_by_one",
                          f"{node.text.decode()} -> {new}", _line(node)))


def _reset_polarity(node, edits: list[Edit]) -> None:
    if node.type == "event_expression":
        kids = node.children
        if len(kids) == 2 and kids[0].type == "edge_identifier" and _is_reset_name(kids[1].text.decode()):
            edge = kids[0]
            new = b"negedge" if edge.text == b"posedge" else b"posedge"
            edits.append(Edit(edge.start_byte, edge.end_byte, new, "reset_polarity",
                              f"{edge.text.decode()} {kids[1].text.decode()} -> {new.decode()}", _line(edge)))
    elif node.type == "conditional_statement":
        cond = next((c for c in node.children if c.type == "cond_predicate"), None)
        if cond is None:
            return
        text = cond.text.decode().strip()
        bare = text.lstrip("!~").strip()
        if not re.fullmatch(r"[A-Za-z_]\w*", bare) or not _is_reset_name(bare):
            return
        new = bare if text != bare else f"!{bare}"
        edits.append(Edit(cond.start_byte, cond.end_byte, new.encode(), "reset_polarity",
                          f"if ({text}) -> if ({new})", _line(cond)))


def _blocking_swap(node, edits: list[Edit]) -> None:
    if _has_ancestor(node, _NON_PROCEDURAL):
        return
    if node.type in ("nonblocking_assignment", "clocking_drive"):
        op = next((c for c in node.children if c.type == "<="), None)
        if op is not None:
            edits.append(Edit(op.start_byte, op.end_byte, b"=", "blocking_swap", "'<=' -> '='", _line(op)))
    elif node.type == "blocking_assignment" and node.parent is not None and node.parent.type == "statement_item":
        assign = next((c for c in node.children if c.type == "operator_assignment"), None)
        op = assign and next((c for c in assign.children if c.type == "assignment_operator"), None)
        if op is not None and op.text == b"=":
            edits.append(Edit(op.start_byte, op.end_byte, b"<=", "blocking_swap", "'=' -> '<='", _line(op)))


def _drop_case_item(node, source: bytes, edits: list[Edit]) -> None:
    if node.type != "case_statement":
        return
    items = [c for c in node.children if c.type == "case_item"]
    if len(items) < 2:
        return
    for item in items:
        if item.children and item.children[0].type == "default":
            continue
        start, end = item.start_byte, item.end_byte
        while start > 0 and source[start - 1:start] in (b" ", b"\t"):
            start -= 1
        while end < len(source) and source[end:end + 1] in (b" ", b"\t"):
            end += 1
        if source[end:end + 1] == b"\n" and (start == 0 or source[start - 1:start] == b"\n"):
            end += 1
        else:
            start = item.start_byte
        label = item.children[0].text.decode() if item.children else "?"
        edits.append(Edit(start, end, b"", "drop_case_item", f"drop case item {label}", _line(item)))


def _control_flow(node, edits: list[Edit]) -> None:
    if node.type == "conditional_statement":
        cond = next((c for c in node.children if c.type == "cond_predicate"), None)
        if cond is not None:
            text = cond.text.decode()
            edits.append(Edit(cond.start_byte, cond.end_byte, f"!({text})".encode(), "negate_condition",
                              f"if ({text}) -> if (!({text}))", _line(cond)))
        kids = node.children
        for i, kid in enumerate(kids):
            if kid.type == "else" and i + 1 < len(kids):
                edits.append(Edit(kid.start_byte, kids[i + 1].end_byte, b"", "drop_else", "drop else branch",
                                  _line(kid)))
    elif node.type == "conditional_expression":
        kids = node.children
        if len(kids) == 5 and kids[1].type == "?" and kids[3].type == ":":
            a, b = kids[2], kids[4]
            middle = node.text[a.end_byte - node.start_byte: b.start_byte - node.start_byte]
            edits.append(Edit(a.start_byte, b.end_byte, b.text + middle + a.text, "swap_ternary",
                              "swap the arms of ?:", _line(a)))


def _input_ports(root) -> list[str]:
    names = []
    for node in walk(root):
        if node.type == "ansi_port_declaration" and b"input" in (
                c.text for n in walk(node) for c in n.children if c.type == "port_direction"):
            ident = next((c for c in node.children if c.type == "port_identifier"), None)
            if ident is not None and ident.text.decode() not in names:
                names.append(ident.text.decode())
    return names


def _wrong_signal(node, inputs: list[str], edits: list[Edit]) -> None:
    if node.type != "primary" or len(inputs) < 2 or len(node.children) != 1:
        return
    ident = node.children[0]
    name = ident.text.decode()
    if ident.type != "simple_identifier" or name not in inputs or node.parent is None \
            or node.parent.type != "expression":
        return
    other = inputs[(inputs.index(name) + 1) % len(inputs)]
    edits.append(Edit(ident.start_byte, ident.end_byte, other.encode(), "wrong_signal", f"{name} -> {other}",
                      _line(ident)))


def _invert_output(node, edits: list[Edit]) -> None:
    if node.type != "net_assignment":
        return
    rhs = next((c for c in node.children if c.type == "expression"), None)
    if rhs is not None:
        text = rhs.text.decode()
        edits.append(Edit(rhs.start_byte, rhs.end_byte, f"~({text})".encode(), "invert_output",
                          f"{text} -> ~({text})", _line(rhs)))


def edits(source: str) -> list[Edit]:
    """Every single-edit mutation site of ``source``."""
    data = source.encode("utf-8", "surrogateescape")
    tree = SYNTAX.parser().parse(data)
    inputs = _input_ports(tree.root_node)
    found: list[Edit] = []
    for node in walk(tree.root_node):
        _wrong_signal(node, inputs, found)
        _invert_output(node, found)
        if node.type == "expression":
            _operator_swaps(node, found)
        _off_by_one(node, found)
        _reset_polarity(node, found)
        _blocking_swap(node, found)
        _drop_case_item(node, data, found)
        _control_flow(node, found)
    return found


def mutate(solution: str, rng: random.Random) -> list[tuple[str, dict]]:
    """Single-edit mutants of ``solution``, round-robin over operators in ``rng``'s order (see module doc)."""
    baseline = _damage(SYNTAX.parser().parse(solution.encode("utf-8", "surrogateescape")))

    def still_parses(text: str) -> bool:
        return _damage(SYNTAX.parser().parse(text.encode("utf-8", "surrogateescape"))) <= baseline

    return mutants_from_edits(solution, edits(solution), rng, still_parses)
