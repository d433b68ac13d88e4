"""Verilog's syntax for the corpus tools: tree-sitter node types of spans (an ``always`` body is the function
body) and of the modules a call graph links by name."""

from __future__ import annotations

from codealign.domains.syntax import Syntax


def _compound(node, syntax: Syntax) -> bool:
    """A ``statement`` that holds a ``begin … end`` block or, through its ``statement_item``, a nested
    ``*_statement`` (an ``if``, ``case``, loop, ...)."""
    return node.type == "statement" and any(c.type in syntax.block or c.type == "statement_item" and
               any(g.type in syntax.block or g.type.endswith("_statement") for g in c.children)
               for c in node.children)


SYNTAX = Syntax(
    grammar="tree_sitter_verilog",
    extensions=(".v", ".sv", ".vh"),
    line_comment="//",
    expression=frozenset({"expression", "constant_expression"}),
    expression_parents=frozenset({
        "nonblocking_assignment", "blocking_assignment", "operator_assignment", "net_assignment",
        "net_decl_assignment", "cond_predicate", "case_statement", "case_item", "list_of_arguments"}),
    statement=frozenset({"statement", "continuous_assign"}),
    block=frozenset({"seq_block"}),
    block_parents=frozenset({"statement_item"}),
    function_body=frozenset({"statement_or_null"}),
    function_body_parents=frozenset({"procedural_timing_control_statement"}),
    compound=_compound,
    definitions=frozenset({"module_declaration"}),
    identifiers=frozenset({"identifier", "simple_identifier"}),
    declaration_headers=frozenset({"module_header", "module_ansi_header", "module_nonansi_header"}),
)
