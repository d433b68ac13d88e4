"""The rung text parser: one rung per line, errors that name line and column.

Grammar (the full description with examples is in ``docs/ladder.md``)::

    program   := line ( "\\n" line )*
    line      := blank | comment | rung [comment]
    comment   := "(*" any text without "*)" "*)"
    rung      := series
    series    := item ( item )*
    item      := element | "[" series ( "|" series )+ "]"
    element   := contact | compare | coil | block
    contact   := ("NO" | "NC" | "P" | "N") "(" var ")"
    compare   := ("GT" | "LT" | "GE" | "LE" | "EQ" | "NE") "(" operand "," operand ")"
    coil      := ("OUT" | "NOUT" | "SET" | "RST") "(" var ")"
    block     := ("TON" | "TOF" | "TP") "(" var "," "PT" "=" operand ")"
               | ("CTU" | "CTD") "(" var "," "PV" "=" operand [ "," "R" "=" var ] ")"
    operand   := var | integer | duration
    var       := ["%"] letter_or_underscore ( letter | digit | "_" | "." )*
    integer   := ["-"] digit+
    duration  := ["T#"] digit+ ("ms" | "s" | "m")

A comment after a rung on the same line is moved to its own line before the rung (the canonical form).
``[a]`` (one branch) is a group with no effect and is read as ``a``; a branch that is itself one group
``[[a | b] | c]`` is flattened to ``[a | b | c]``.

Guarantees: the parser never recurses deeper than :data:`MAX_DEPTH` groups, never reads more than
:data:`MAX_CHARS` characters nor builds more than :data:`MAX_ELEMENTS` elements; every rejection is a
:class:`LadderSyntaxError` (a :class:`~codealign.errors.UserError`) whose message starts with
``line L, column C:`` (1-based).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from codealign.domains.ladder.model import (
    BLOCK_KINDS,
    COIL_KINDS,
    COMPARE_OPS,
    CONTACT_KINDS,
    COUNTER_KINDS,
    Block,
    Coil,
    Comment,
    Compare,
    Contact,
    Duration,
    Element,
    Node,
    Operand,
    Program,
    Rung,
    Series,
    make_parallel,
    make_series,
)
from codealign.errors import UserError

MAX_CHARS = 200_000
MAX_DEPTH = 16
MAX_ELEMENTS = 5_000


class LadderSyntaxError(UserError):
    """A malformed program; ``line`` and ``column`` are 1-based."""

    def __init__(self, line: int, column: int, message: str):
        super().__init__(f"line {line}, column {column}: {message}")
        self.line = line
        self.column = column
        self.reason = message


_TOKEN = re.compile(
    r"""
    (?P<ws>[ \t]+)
  | (?P<comment>\(\*)
  | (?P<duration>(?:T\#)?\d+(?:ms|s|m)(?![A-Za-z0-9_]))
  | (?P<int>-?\d+(?![A-Za-z_]))
  | (?P<name>%?[A-Za-z_][A-Za-z0-9_.]*)
  | (?P<punct>[()\[\]|,=])
    """,
    re.VERBOSE,
)


@dataclass
class _Tok:
    kind: str
    text: str
    col: int


def _tokenize(line: str, lineno: int) -> tuple[list[_Tok], str | None]:
    """Tokens of one line and the text of a trailing comment, if any."""
    toks: list[_Tok] = []
    i = 0
    comment = None
    while i < len(line):
        m = _TOKEN.match(line, i)
        if not m:
            raise LadderSyntaxError(lineno, i + 1, f"unexpected character {line[i]!r}")
        kind = m.lastgroup
        if kind == "comment":
            end = line.find("*)", i + 2)
            if end < 0:
                raise LadderSyntaxError(lineno, i + 1, "comment '(*' is not closed by '*)' on the same line")
            if line[end + 2 :].strip():
                raise LadderSyntaxError(lineno, end + 3, "text after a comment; a comment ends its line")
            comment = line[i + 2 : end].strip()
            break
        if kind != "ws":
            toks.append(_Tok(kind, m.group(), i + 1))
        i = m.end()
    return toks, comment


class _LineParser:
    def __init__(self, toks: list[_Tok], lineno: int, line_len: int, budget: list[int]):
        self.toks = toks
        self.i = 0
        self.lineno = lineno
        self.end_col = line_len + 1
        self.budget = budget

    def error(self, message: str, tok: _Tok | None = None) -> LadderSyntaxError:
        col = tok.col if tok else (self.peek().col if self.peek() else self.end_col)
        return LadderSyntaxError(self.lineno, col, message)

    def peek(self) -> _Tok | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self) -> _Tok:
        tok = self.peek()
        if tok is None:
            raise LadderSyntaxError(self.lineno, self.end_col, "unexpected end of line")
        self.i += 1
        return tok

    def expect(self, text: str, what: str) -> _Tok:
        tok = self.peek()
        if tok is None:
            raise LadderSyntaxError(self.lineno, self.end_col, f"expected {what}, found end of line")
        if tok.text != text:
            raise self.error(f"expected {what}, found {tok.text!r}", tok)
        return self.take()

    def series(self, depth: int, closers: tuple[str, ...]) -> Series:
        items: list[Node] = []
        while True:
            tok = self.peek()
            if tok is None or tok.text in closers:
                break
            items.append(self.item(depth))
        if not items:
            where = "branch" if closers else "rung"
            raise self.error(f"empty {where}: expected an element")
        return make_series(items)

    def item(self, depth: int) -> Node | Series:
        tok = self.peek()
        if tok.text == "[":
            if depth >= MAX_DEPTH:
                raise self.error(f"branches nested deeper than {MAX_DEPTH} levels", tok)
            self.take()
            branches = [self.series(depth + 1, ("|", "]"))]
            while True:
                nxt = self.peek()
                if nxt is None:
                    raise LadderSyntaxError(self.lineno, self.end_col, "'[' is not closed by ']'")
                if nxt.text == "]":
                    self.take()
                    break
                self.take()
                branches.append(self.series(depth + 1, ("|", "]")))
            return make_parallel(branches)
        if tok.text in ("]", "|"):
            raise self.error(f"{tok.text!r} outside a branch group", tok)
        return self.element()

    def element(self) -> Element:
        tok = self.take()
        if tok.kind != "name":
            raise self.error(f"expected an element such as NO(x) or OUT(y), found {tok.text!r}", tok)
        kind = tok.text
        if kind not in CONTACT_KINDS + COMPARE_OPS + COIL_KINDS + BLOCK_KINDS:
            raise self.error(f"unknown element {kind!r}", tok)
        self.budget[0] -= 1
        if self.budget[0] < 0:
            raise self.error(f"program has more than {MAX_ELEMENTS} elements", tok)
        self.expect("(", f"'(' after {kind}")
        pos = (self.lineno, tok.col)
        if kind in CONTACT_KINDS:
            element: Element = Contact(kind, self.var(), pos=pos)
        elif kind in COIL_KINDS:
            element = Coil(kind, self.var(), pos=pos)
        elif kind in COMPARE_OPS:
            left = self.operand()
            self.expect(",", f"',' between the two operands of {kind}")
            element = Compare(kind, left, self.operand(), pos=pos)
        else:
            name = self.var()
            key = "PV" if kind in COUNTER_KINDS else "PT"
            self.expect(",", f"',' then {key}= in {kind}")
            self.keyword(key)
            preset = self.operand()
            reset = None
            if kind in COUNTER_KINDS and self.peek() is not None and self.peek().text == ",":
                self.take()
                self.keyword("R")
                reset = self.var()
            element = Block(kind, name, preset, reset, pos=pos)
        self.expect(")", f"')' to close {kind}(")
        return element

    def keyword(self, key: str) -> None:
        tok = self.peek()
        if tok is None or tok.text != key:
            raise self.error(f"expected {key}=", tok)
        self.take()
        self.expect("=", f"'=' after {key}")

    def var(self) -> str:
        tok = self.peek()
        if tok is None or tok.kind != "name":
            found = "end of line" if tok is None else repr(tok.text)
            raise self.error(f"expected a variable name, found {found}", tok)
        return self.take().text

    def operand(self) -> Operand:
        tok = self.peek()
        if tok is None:
            raise LadderSyntaxError(self.lineno, self.end_col, "expected an operand, found end of line")
        if tok.kind == "int":
            self.take()
            return int(tok.text)
        if tok.kind == "duration":
            self.take()
            m = re.fullmatch(r"(?:T#)?(\d+)(ms|s|m)", tok.text)
            return Duration(int(m.group(1)), m.group(2))
        if tok.kind == "name":
            return self.take().text
        raise self.error(f"expected an operand (a variable, an integer or a time such as 500ms), found {tok.text!r}", tok)


def parse_program(text: str) -> Program:
    """Parse the rung text form into a :class:`Program`. Raises :class:`LadderSyntaxError`."""
    if not isinstance(text, str):
        raise UserError(f"ladder program must be text, got {type(text).__name__}")
    if len(text) > MAX_CHARS:
        raise LadderSyntaxError(1, 1, f"program is {len(text)} characters; the limit is {MAX_CHARS}")
    items: list[Rung | Comment] = []
    budget = [MAX_ELEMENTS]
    for lineno, line in enumerate(text.split("\n"), 1):
        line = line.rstrip("\r")
        toks, comment = _tokenize(line, lineno)
        if comment is not None:
            items.append(Comment(comment))
        if not toks:
            continue
        parser = _LineParser(toks, lineno, len(line), budget)
        body = parser.series(0, ())
        if parser.peek() is not None:
            tok = parser.peek()
            raise parser.error(f"unexpected {tok.text!r}", tok)
        items.append(Rung(body))
    if not any(isinstance(i, Rung) for i in items):
        raise LadderSyntaxError(1, 1, "program has no rungs")
    return Program(tuple(items))
