"""Turns INI text into a flat list of tokens: sections, options and their continuation lines."""

from dataclasses import dataclass

from iniconf.errors import ParseError

COMMENT_PREFIXES = ("#", ";")
DELIMITERS = ("=", ":")


@dataclass
class Token:
    kind: str
    lineno: int
    name: str = ""
    value: str = ""


def split_option(line, lineno):
    positions = [line.find(d) for d in DELIMITERS if d in line]
    if not positions:
        raise ParseError(lineno, f"expected 'key = value', got {line.strip()!r}")
    cut = min(positions)
    key = line[:cut].strip()
    if not key:
        raise ParseError(lineno, "empty option name")
    return key.lower(), line[cut + 1:].strip()


def strip_inline_comment(value):
    for prefix in COMMENT_PREFIXES:
        marker = " " + prefix
        index = value.find(marker)
        if index != -1:
            value = value[:index]
    return value.rstrip()


def tokenize(text):
    tokens = []
    for lineno, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not stripped or stripped.startswith(COMMENT_PREFIXES):
            continue
        if raw[0] in " \t":
            if not tokens or tokens[-1].kind not in ("option", "continuation"):
                raise ParseError(lineno, "continuation line without an option")
            tokens.append(Token("continuation", lineno, value=strip_inline_comment(stripped)))
            continue
        if stripped.startswith("["):
            if not stripped.endswith("]"):
                raise ParseError(lineno, "unterminated section header")
            name = stripped[1:-1].strip()
            if not name:
                raise ParseError(lineno, "empty section name")
            tokens.append(Token("section", lineno, name=name))
            continue
        key, value = split_option(stripped, lineno)
        tokens.append(Token("option", lineno, name=key, value=strip_inline_comment(value)))
    return tokens
