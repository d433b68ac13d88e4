"""Solidity's syntax for the corpus tools: tree-sitter node types of spans (a function body is what lies
inside its braces) and of the contracts, libraries, interfaces and functions a call graph links by name."""

from __future__ import annotations

from codealign.domains.syntax import Syntax

SYNTAX = Syntax(
    grammar="tree_sitter_solidity",
    extensions=(".sol",),
    line_comment="//",
    expression=frozenset({"expression"}),
    expression_parents=frozenset({
        "variable_declaration_statement", "return_statement", "call_argument", "if_statement",
        "assignment_expression", "augmented_assignment_expression", "binary_expression",
        "while_statement", "for_statement"}),
    statement=frozenset({
        "expression_statement", "return_statement", "variable_declaration_statement", "emit_statement",
        "revert_statement", "break_statement", "continue_statement"}),
    block=frozenset({"block_statement"}),
    block_parents=frozenset({"statement"}),
    function_body=frozenset({"function_body"}),
    function_body_parents=frozenset({"function_definition", "constructor_definition", "modifier_definition"}),
    body_inside=True,
    definitions=frozenset({
        "contract_declaration", "library_declaration", "interface_declaration", "function_definition"}),
    identifiers=frozenset({"identifier", "simple_identifier"}),
)
