"""Splits an expression into number, name, operator and punctuation tokens."""

from dataclasses import dataclass

from exprcalc.errors import SyntaxErr

OPERATORS = ("**", "==", "!=", "<=", ">=", "+", "-", "*", "/", "%", "<", ">", "(", ")", ",")


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    position: int


def read_number(text, start):
    end = start
    seen_dot = False
    while end < len(text) and (text[end].isdigit() or text[end] == "." and not seen_dot):
        seen_dot = seen_dot or text[end] == "."
        end += 1
    if text[start:end] == ".":
        raise SyntaxErr("lonely '.'", start)
    return end


def tokenize(text):
    tokens = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch.isspace():
            i += 1
        elif ch.isdigit() or ch == ".":
            end = read_number(text, i)
            tokens.append(Token("number", text[i:end], i))
            i = end
        elif ch.isalpha() or ch == "_":
            end = i
            while end < len(text) and (text[end].isalnum() or text[end] == "_"):
                end += 1
            tokens.append(Token("name", text[i:end], i))
            i = end
        else:
            for op in OPERATORS:
                if text.startswith(op, i):
                    tokens.append(Token("op", op, i))
                    i += len(op)
                    break
            else:
                raise SyntaxErr(f"unexpected character {ch!r}", i)
    tokens.append(Token("end", "", len(text)))
    return tokens
