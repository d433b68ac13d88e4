"""RISE mutators for Python, working on the tree-sitter-python parse tree.

Operators (the ``operator`` of each description):

* ``comparison_flip`` — a comparison replaced by its negation (``<``↔``>=``, ``==``↔``!=``, ``in``↔``not in``,
  ``is``↔``is not``);
* ``off_by_one`` — an integer literal moved by one (never below zero);
* ``wrong_variable`` — a local variable read inside a function replaced by another local of that function
  (parameters and assigned names; the next one in order of first appearance);
* ``dropped_branch`` — an ``elif``/``else`` clause removed, or an ``if`` without ``else`` removed when its
  block has other statements;
* ``operator_swap`` — ``+``↔``-``, ``*``→``+``, ``//``→``/``, ``and``↔``or``.

Each mutant differs from the solution by one edit and compiles (``compile()`` accepts it). Whether it fails
the task's tests is for the sandbox to say.
"""

from __future__ import annotations

import random

from codealign.domains.mutants import Edit, mutants_from_edits
from codealign.domains.python.syntax import SYNTAX
from codealign.domains.syntax import walk

COMPARISON_FLIPS = {"<": ">=", ">=": "<", ">": "<=", "<=": ">", "==": "!=", "!=": "==", "in": "not in",
                    "not in": "in", "is": "is not", "is not": "is"}
BINARY_SWAPS = {"+": "-", "-": "+", "*": "+", "//": "/", "and": "or", "or": "and"}
_STORE_FIELDS = {("assignment", "left"), ("augmented_assignment", "left"), ("for_statement", "left"),
                 ("keyword_argument", "name"), ("attribute", "attribute"), ("call", "function"),
                 ("default_parameter", "name"), ("typed_parameter", None), ("typed_default_parameter", "name")}


def _walk_scope(node):
    """Nodes of one function's own scope: nested functions, classes and lambdas are not entered."""
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        stack.extend(reversed([c for c in n.children
                               if c.type not in ("function_definition", "class_definition", "lambda")]))


def _line(node) -> int:
    return node.start_point[0] + 1


def _field(node) -> str | None:
    parent = node.parent
    for i, child in enumerate(parent.children):
        if child.id == node.id:
            return parent.field_name_for_child(i)
    return None


def _comparisons(node, edits: list[Edit]) -> None:
    if node.type != "comparison_operator":
        return
    for i, child in enumerate(node.children):
        if node.field_name_for_child(i) == "operators" and child.type in COMPARISON_FLIPS:
            new = COMPARISON_FLIPS[child.type]
            edits.append(Edit(child.start_byte, child.end_byte, new.encode(), "comparison_flip",
                              f"'{child.type}' -> '{new}'", _line(child)))


def _off_by_one(node, edits: list[Edit]) -> None:
    if node.type != "integer" or not node.text.isdigit():
        return
    value = int(node.text)
    for new in (value - 1, value + 1):
        if new >= 0:
            edits.append(Edit(node.start_byte, node.end_byte, str(new).encode(), "off_by_one",
                              f"{value} -> {new}", _line(node)))


def _operator_swaps(node, edits: list[Edit]) -> None:
    if node.type not in ("binary_operator", "boolean_operator"):
        return
    op = node.child_by_field_name("operator")
    if op is not None and op.type in BINARY_SWAPS:
        new = BINARY_SWAPS[op.type]
        edits.append(Edit(op.start_byte, op.end_byte, new.encode(), "operator_swap", f"'{op.type}' -> '{new}'",
                          _line(op)))


def _is_store(node) -> bool:
    parent = node.parent
    if parent is None or parent.type in ("parameters", "lambda_parameters", "global_statement",
                                         "nonlocal_statement", "function_definition", "class_definition"):
        return True
    field = _field(node)
    return (parent.type, field) in _STORE_FIELDS or (parent.type, None) in _STORE_FIELDS


def _wrong_variable(func, edits: list[Edit]) -> None:
    body = func.child_by_field_name("body")
    params = func.child_by_field_name("parameters")
    if body is None:
        return
    names: list[str] = []
    for scope in (params, body):
        for node in _walk_scope(scope) if scope is not None else ():
            if node.type == "identifier" and _is_store(node) and _field(node) not in ("attribute", "function") \
                    and node.text.decode() not in names:
                names.append(node.text.decode())
    if len(names) < 2:
        return
    for node in _walk_scope(body):
        if node.type != "identifier" or _is_store(node):
            continue
        name = node.text.decode()
        if name in names:
            other = names[(names.index(name) + 1) % len(names)]
            edits.append(Edit(node.start_byte, node.end_byte, other.encode(), "wrong_variable",
                              f"{name} -> {other}", _line(node)))


def _dropped_branch(node, source: bytes, edits: list[Edit]) -> None:
    if node.type != "if_statement":
        return
    clauses = [c for c in node.children if c.type in ("elif_clause", "else_clause")]
    for clause in clauses:
        start = clause.start_byte
        while start > 0 and source[start - 1:start] in (b" ", b"\t"):
            start -= 1
        edits.append(Edit(start, clause.end_byte, b"", "dropped_branch", f"drop {clause.type.split('_')[0]}",
                          _line(clause)))
    if not clauses and node.parent is not None and node.parent.type in ("block", "module") \
            and len(node.parent.named_children) > 1:
        edits.append(Edit(node.start_byte, node.end_byte, b"pass", "dropped_branch", "drop if", _line(node)))


def edits(source: str) -> list[Edit]:
    """Every single-edit mutation site of ``source``."""
    data = source.encode("utf-8", "surrogateescape")
    found: list[Edit] = []
    for node in walk(SYNTAX.parser().parse(data).root_node):
        _comparisons(node, found)
        _off_by_one(node, found)
        _operator_swaps(node, found)
        _dropped_branch(node, data, found)
        if node.type == "function_definition":
            _wrong_variable(node, found)
    return found


def _compiles(text: str) -> bool:
    try:
        compile(text, "<mutant>", "exec", dont_inherit=True)
    except (SyntaxError, ValueError):
        return False
    return True


_FRAGMENT_HEAD = "def _fragment():\n"


def mutate(solution: str, rng: random.Random) -> list[tuple[str, dict]]:
    """Single-edit mutants of ``solution`` that compile, round-robin over operators in ``rng``'s order. A
    solution that compiles only as the body of a function (a fill-in-the-middle span of indented lines, or
    one with ``return``) is mutated inside a stand-in function and given back at its own indentation."""
    if _compiles(solution):
        return mutants_from_edits(solution, edits(solution), rng, _compiles)
    lines = solution.splitlines(keepends=True)
    first = next((line for line in lines if line.strip()), "")
    margin = first[: len(first) - len(first.lstrip(" \t"))]
    if not all(line.startswith(margin) or not line.strip() for line in lines):
        return []
    body = "".join("    " + line[len(margin):] if line.strip() else line for line in lines)
    wrapped = _FRAGMENT_HEAD + body
    if not _compiles(wrapped):
        return []
    out = []
    for text, description in mutants_from_edits(wrapped, edits(wrapped), rng, _compiles):
        mutant = "".join(margin + line[4:] if line.strip() else line
                         for line in text[len(_FRAGMENT_HEAD):].splitlines(keepends=True))
        out.append((mutant, {**description, "line": description["line"] - 1}))
    return out
