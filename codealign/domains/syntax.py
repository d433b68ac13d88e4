"""What the tree-sitter tools above the domains need to know about a language's syntax: the grammar, the node
types that fill-in-the-middle spans are cut on (:mod:`codealign.data.spans`), the declarations a call graph
links (:mod:`codealign.data.callgraph`) and, for a language whose files import each other's names, how to
resolve those imports. A domain exposes one :class:`Syntax` as ``Domain.syntax`` (None: no tree-sitter
grammar); the code that reads it finds it through the registry and never names a language."""

from __future__ import annotations

import functools
import importlib
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping


@functools.lru_cache(maxsize=None)
def tree_sitter_parser(grammar: str):
    """A tree-sitter parser for a grammar wheel (``tree_sitter_python``, ``tree_sitter_verilog``, ...), one per
    grammar per process (the spans, call graph and mutators share it)."""
    import tree_sitter

    pointer = importlib.import_module(grammar).language()
    with warnings.catch_warnings():
        # Some grammar wheels still hand out an int pointer, which tree-sitter 0.26 accepts with a warning.
        warnings.simplefilter("ignore", DeprecationWarning)
        return tree_sitter.Parser(tree_sitter.Language(pointer))


def walk(node):
    """Every node of a tree-sitter tree below ``node``, in source order (pre-order)."""
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        stack.extend(reversed(n.children))


@dataclass(frozen=True)
class ImportResolver:
    """How a language's files reach other files' definitions through imports of dotted module names.

    The call graph maps every file of the language to :attr:`module_name` (and each of its dotted suffixes),
    reads each file's :attr:`bindings` and resolves every callee of :attr:`calls` against them: a name bound
    to a symbol of a module yields that module's top-level definition of the symbol; a name bound to a module,
    followed by attributes, yields the definition the last attribute names in the module the others name."""

    module_name: Callable[[str], str]
    """Dotted module name of a repository-relative path."""
    bindings: Callable[[Any, bytes, str], Mapping[str, tuple[str, str | None]]]
    """``(root node, file bytes, path)`` → local name → (absolute module, imported symbol, or None when the
    name binds the module itself)."""
    calls: Callable[[Any, bytes], Iterable[tuple[str, int]]]
    """``(root node, file bytes)`` → (dotted callee text, start byte of the call) of every call, in file order."""


@dataclass(frozen=True)
class Syntax:
    """A language's tree-sitter grammar and the node types the corpus tools cut and link on.

    Span kinds (see :mod:`codealign.data.spans`): a node of a type in ``expression`` whose parent is in
    ``expression_parents`` (and not itself an expression) is an expression; a node in ``statement`` is a
    statement unless it is a docstring or :attr:`compound` says it holds others; a node in ``block`` under a
    parent in ``block_parents`` is a block; a node in ``function_body`` under a parent in
    ``function_body_parents`` is a function body."""

    grammar: str
    """The grammar wheel's module (``tree_sitter_python``)."""
    extensions: tuple[str, ...]
    """File suffixes of the language, lower case with the dot (``.py``)."""
    line_comment: str
    """What starts a comment that runs to the end of the line (``#``, ``//``)."""
    expression: frozenset[str]
    """Node types of expressions."""
    expression_parents: frozenset[str]
    """Node types whose expression children are spans (right-hand sides, arguments, conditions)."""
    statement: frozenset[str]
    """Node types of simple statements."""
    block: frozenset[str]
    """Node types of the bodies of compound statements."""
    block_parents: frozenset[str]
    """Node types whose ``block`` children are spans."""
    function_body: frozenset[str]
    """Node types of function bodies."""
    function_body_parents: frozenset[str]
    """Node types whose ``function_body`` children are function bodies."""
    comment: frozenset[str] = frozenset({"comment"})
    """Node types of comments (never part of a token-aligned span)."""
    body_inside: bool = False
    """A function body span runs from its first to its last named child (inside the braces, after the
    docstring); False: it is the whole body node."""
    docstring: tuple[str, str] | None = None
    """``(statement type, string type)``: a statement whose only named child is such a string is a docstring
    (never a statement span, skipped at the start of a function body); None: the language has none."""
    compound: Callable[[Any, "Syntax"], bool] | None = None
    """``compound(node, syntax)``: a ``statement`` node that holds a block or other statements (not a span);
    None: every ``statement`` node is simple."""
    definitions: frozenset[str] = frozenset()
    """Node types of declarations other files use (functions, classes, modules, contracts)."""
    top_level_definitions: bool = False
    """Only the file's top-level nodes are declarations; False: any node of the tree."""
    definition_wrappers: frozenset[str] = frozenset()
    """Node types whose ``definition`` field is a declaration they dress (decorators); the wrapper's text is
    the declaration's text."""
    identifiers: frozenset[str] = frozenset({"identifier"})
    """Leaf node types of names (what a call graph without imports matches declarations by)."""
    declaration_headers: frozenset[str] = frozenset()
    """Node types inside a declaration, without a ``name`` field, that hold its name."""
    imports: ImportResolver | None = None
    """How files import each other's names; None: the call graph links declarations by name."""

    def __post_init__(self) -> None:
        bad = [e for e in self.extensions if not e.startswith(".") or e != e.lower()]
        if bad:
            raise ValueError(f"Syntax({self.grammar}): extensions must be lower case and start with '.': {bad}")

    def parser(self):
        """The shared tree-sitter parser of :attr:`grammar`."""
        return tree_sitter_parser(self.grammar)
