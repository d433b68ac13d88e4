"""Fill-in-the-middle spans cut on tree-sitter syntax trees of every language whose domain has a
:class:`~codealign.domains.syntax.Syntax` (the node types of each kind are the syntax's).

A :class:`Span` is a character range ``[start, end)`` of a file; the file minus the span is the prefix and the
suffix, the span is the middle. Kinds:

==================  =========================================================  ==============================
kind                what the middle is                                         ExecRepoBench fill type
==================  =========================================================  ==============================
``expression``      one maximal expression (right-hand side, argument,         grammar-based: expression
                    condition, return value)
``statement``       one simple statement (assignment, call, return, raise)     grammar-based: statement
``block``           the body of an if/for/while/with/try/except clause          grammar-based: block
                    (e.g. a ``begin … end`` or ``{ … }`` statement)
``random_span``     a token-aligned range of 1–3 lines, starting and ending     random span
                    at token boundaries
``line``            one whole line of code after its indentation                random single-line
``lines``           2–5 consecutive lines of one body after the first           random multi-line
                    line's indentation
``function_body``   a function's body after its docstring (or what the          (none: SynthCoder only)
                    syntax calls one, e.g. an ``always`` body)
``line_remainder``  the rest of a line after a point where developers pause     (none: SynthCoder only)
                    (after ``=``, ``(``, ``.``, ``,``, ``return``, an operator)
==================  =========================================================  ==============================

Heuristics that imitate where developers stop typing: the grammar kinds start where the construct starts
(the indentation is already there, as an editor would have inserted it) and end where it ends, never in the
middle of a token; spans that end at the end of a line are preferred two to one; spans inside function bodies
are preferred over module-level code; very short (< 2 characters) and very long (> ``max_chars``) middles are
left out. Parsing is strict: a file with syntax errors raises :class:`~codealign.errors.UserError`.
"""

from __future__ import annotations

import functools
import random
from dataclasses import dataclass
from pathlib import PurePath

from codealign.domains import domain_class, domain_names
from codealign.domains.syntax import Syntax, walk
from codealign.errors import UserError

SPAN_KINDS = ("expression", "statement", "block", "random_span", "line", "lines", "function_body", "line_remainder")

_PAUSE_TOKENS = {"=", "(", "[", "{", ".", ",", "return", "+", "-", "*", "/", "==", "!=", "<", ">", "<=", ">=",
                 "and", "or", "not", "in", "if", "else", ":", "<=", "&&", "||", "?", "&", "|", "^", "yield"}


@dataclass(frozen=True)
class Span:
    """Characters ``[start, end)`` of a file; ``node_type`` names the syntax node it was cut on, if any."""

    kind: str
    start: int
    end: int
    node_type: str = ""

    def to_dict(self) -> dict:
        return {"kind": self.kind, "start": self.start, "end": self.end, "node_type": self.node_type}


def languages() -> tuple[str, ...]:
    """The registered domains whose language has a tree-sitter :class:`~codealign.domains.syntax.Syntax`."""
    return tuple(_syntaxes())


@functools.lru_cache(maxsize=1)
def _syntaxes() -> dict[str, Syntax]:
    found = {name: domain_class(name).syntax for name in domain_names()}
    return {name: syntax for name, syntax in found.items() if syntax is not None}


def syntax_for(language: str) -> Syntax:
    """The syntax of ``language`` (one of :func:`languages`)."""
    syntax = _syntaxes().get(language)
    if syntax is None:
        raise UserError(f"unknown language {language!r}; choose one of: {', '.join(languages())}")
    return syntax


def language_for(path: str) -> str | None:
    """The language of a file by its extension (see each syntax's ``extensions``), or None."""
    suffix = PurePath(path).suffix.lower()
    return next((name for name, syntax in _syntaxes().items() if suffix in syntax.extensions), None)


class Source:
    """A file's text and syntax tree, with byte ↔ character offsets (tree-sitter counts bytes)."""

    def __init__(self, text: str, language: str, path: str = "<text>"):
        self.text, self.language, self.path = text, language, path
        self.data = text.encode("utf-8", "surrogatepass")
        self.syntax = syntax_for(language)
        self.tree = self.syntax.parser().parse(self.data)
        if self.tree.root_node.has_error:
            raise UserError(f"{path}: does not parse as {language} ({_first_error(self.tree.root_node)})")
        self._ascii = len(self.data) == len(text)
        self._chars: list[int] | None = None
        self.line_starts = [0] + [i + 1 for i, c in enumerate(text) if c == "\n"]

    def char(self, byte_offset: int) -> int:
        if self._ascii:
            return byte_offset
        if self._chars is None:
            chars = []
            for i, ch in enumerate(self.text):
                chars.extend([i] * len(ch.encode("utf-8", "surrogatepass")))
            chars.append(len(self.text))
            self._chars = chars
        return self._chars[byte_offset]

    def nodes(self):
        return walk(self.tree.root_node)


def _first_error(root) -> str:
    stack = [root]
    while stack:
        node = stack.pop()
        if node.type == "ERROR" or node.is_missing:
            what = f"missing {node.type}" if node.is_missing else "syntax error"
            return f"{what} at line {node.start_point[0] + 1}"
        stack.extend(reversed([c for c in node.children if c.has_error or c.is_missing or c.type == "ERROR"]))
    return "syntax error"


def cut(text: str, span: Span, path: str = "<text>") -> tuple[str, str, str]:
    """(prefix, middle, suffix) of ``text`` around ``span``; a span outside the file is a UserError."""
    if not (0 <= span.start <= span.end <= len(text)):
        raise UserError(f"{path}: span [{span.start}, {span.end}) is outside the file ({len(text)} characters)")
    return text[:span.start], text[span.start:span.end], text[span.end:]


def candidate_spans(source: Source, *, max_chars: int = 600) -> dict[str, list[Span]]:
    """Every span of every kind the heuristics allow in ``source``, by kind, in file order."""
    syntax = source.syntax
    found: dict[str, list[Span]] = {k: [] for k in SPAN_KINDS}
    text = source.text
    bodies: list[tuple[int, int]] = []
    leaves = []
    for node in source.nodes():
        parent = node.parent
        ptype = parent.type if parent is not None else ""
        start, end = source.char(node.start_byte), source.char(node.end_byte)
        if node.child_count == 0 and node.type not in syntax.comment:
            leaves.append((start, end, node.type))
        if node.type in syntax.function_body and ptype in syntax.function_body_parents:
            body = _function_body(source, node)
            if body is not None:
                bodies.append(body)
                found["function_body"].append(Span("function_body", *body, node.type))
        if not node.is_named:
            continue
        if node.type in syntax.expression and ptype in syntax.expression_parents and ptype not in syntax.expression:
            if not _is_assignment_target(node, parent):
                found["expression"].append(Span("expression", start, end, node.type))
        if (node.type in syntax.statement and not _is_docstring(node, syntax)
                and not (syntax.compound and syntax.compound(node, syntax))):
            found["statement"].append(Span("statement", start, end, node.type))
        if node.type in syntax.block and ptype in syntax.block_parents:
            found["block"].append(Span("block", start, end, node.type))
    lines = _code_lines(source)
    found["line"] = [Span("line", s, e) for s, e in lines if _inside(s, bodies)]
    found["lines"] = _multi_lines(text, lines, bodies)
    found["line_remainder"] = _line_remainders(text, leaves, bodies)
    found["random_span"] = _random_spans(text, leaves, bodies)
    for kind, spans in found.items():
        kept = {s for s in spans if 2 <= len(text[s.start:s.end].strip()) and s.end - s.start <= max_chars}
        found[kind] = sorted(kept, key=lambda s: (s.start, s.end))
    return found


def sample_spans(source: Source, rng: random.Random, *, per_kind: int = 1, kinds=SPAN_KINDS,
                 max_chars: int = 600) -> list[Span]:
    """Up to ``per_kind`` spans of each kind, drawn with ``rng`` (preferring spans that end a line and lie in
    function bodies); deterministic for a given seed and file."""
    unknown = [k for k in kinds if k not in SPAN_KINDS]
    if unknown:
        raise UserError(f"unknown span kind(s) {', '.join(unknown)}; choose from: {', '.join(SPAN_KINDS)}")
    candidates = candidate_spans(source, max_chars=max_chars)
    chosen: list[Span] = []
    for kind in kinds:
        pool = list(candidates[kind])
        weights = [_weight(source.text, s) for s in pool]
        for _ in range(min(per_kind, len(pool))):
            i = rng.choices(range(len(pool)), weights=weights)[0]
            chosen.append(pool.pop(i))
            weights.pop(i)
    return chosen


def _weight(text: str, span: Span) -> float:
    ends_line = span.end == len(text) or text[span.end] == "\n"
    return 2.0 if ends_line else 1.0


def _inside(pos: int, bodies: list[tuple[int, int]]) -> bool:
    return any(s <= pos < e for s, e in bodies)


def _is_docstring(node, syntax: Syntax) -> bool:
    return (syntax.docstring is not None and node.type == syntax.docstring[0] and node.named_child_count == 1
            and node.named_children[0].type == syntax.docstring[1])


def _is_assignment_target(node, parent) -> bool:
    left = parent.child_by_field_name("left")
    return left is not None and left.start_byte == node.start_byte and left.end_byte == node.end_byte


def _function_body(source: Source, node) -> tuple[int, int] | None:
    if not source.syntax.body_inside:
        return source.char(node.start_byte), source.char(node.end_byte)
    children = [c for c in node.named_children]
    if children and _is_docstring(children[0], source.syntax):
        children = children[1:]
    if not children:
        return None
    return source.char(children[0].start_byte), source.char(children[-1].end_byte)


def _code_lines(source: Source) -> list[tuple[int, int]]:
    """(start after indentation, end before newline) of every line holding code (no blank or comment-only)."""
    text = source.text
    comment_prefix = source.syntax.line_comment
    out = []
    for i, line_start in enumerate(source.line_starts):
        line_end = source.line_starts[i + 1] - 1 if i + 1 < len(source.line_starts) else len(text)
        line = text[line_start:line_end]
        stripped = line.strip()
        if not stripped or stripped.startswith(comment_prefix) or stripped[0] in "\"'":
            continue
        out.append((line_start + len(line) - len(line.lstrip()), line_start + len(line.rstrip())))
    return out


def _multi_lines(text: str, lines: list[tuple[int, int]], bodies: list[tuple[int, int]]) -> list[Span]:
    spans = []
    for body_start, body_end in bodies:
        inner = [ln for ln in lines if body_start <= ln[0] < body_end]
        for i in range(len(inner)):
            for n in (2, 3, 5):
                if i + n <= len(inner):
                    spans.append(Span("lines", inner[i][0], inner[i + n - 1][1]))
    return spans


def _line_remainders(text: str, leaves, bodies) -> list[Span]:
    spans = []
    for start, end, kind in leaves:
        if kind not in _PAUSE_TOKENS or not _inside(start, bodies):
            continue
        line_end = text.find("\n", end)
        line_end = len(text) if line_end < 0 else line_end
        cursor = end + 1 if end < line_end and text[end] == " " else end
        rest = text[cursor:line_end].rstrip()
        if rest and not rest.lstrip().startswith(("#", "//")):
            spans.append(Span("line_remainder", cursor, cursor + len(rest), kind))
    return spans


def _random_spans(text: str, leaves, bodies) -> list[Span]:
    leaves = [leaf for leaf in leaves if _inside(leaf[0], bodies) and leaf[1] > leaf[0]]
    spans = []
    for i, (start, _, _) in enumerate(leaves):
        for j in (i + 2, i + 5, i + 11):
            if j < len(leaves):
                end = leaves[j][1]
                if text.count("\n", start, end) <= 2:
                    spans.append(Span("random_span", start, end))
    return spans
