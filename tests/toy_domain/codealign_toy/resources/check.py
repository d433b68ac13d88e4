"""The toy domain's checker, run inside the sandbox job: ``python -I -S check.py task.json candidate.txt``.

It parses the candidate expression with its own recursive-descent parser (never ``eval``), evaluates it on
every case of the task with Python integers, and writes the verdict as one JSON object on fd 3, the trusted
channel (the candidate is data here, so nothing else could write there). Grammar::

    expr := term (("+" | "-") term)*      term := unary (("*" | "/" | "%") unary)*
    unary := "-" unary | atom             atom := INTEGER | NAME | "(" expr ")"

``/`` is floor division. Limits: 200 characters, nesting 32.
"""

import json
import os
import re
import sys

MAX_CHARS = 200
MAX_DEPTH = 32
_TOKEN = re.compile(r"\s*(?:(\d+)|([A-Za-z_]\w*)|(.))")


class ParseError(Exception):
    pass


def tokens(text):
    out = []
    for number, name, other in _TOKEN.findall(text):
        if number:
            out.append(("int", int(number)))
        elif name:
            out.append(("name", name))
        elif other.strip():
            if other not in "+-*/%()":
                raise ParseError(f"unexpected character {other!r}")
            out.append(("op", other))
    return out


class Parser:
    def __init__(self, text):
        self.toks = tokens(text)
        self.pos = 0

    def peek(self):
        return self.toks[self.pos] if self.pos < len(self.toks) else ("end", None)

    def take(self):
        tok = self.peek()
        self.pos += 1
        return tok

    def parse(self):
        if not self.toks:
            raise ParseError("empty expression")
        tree = self.expr(0)
        if self.peek()[0] != "end":
            raise ParseError(f"unexpected {self.peek()[1]!r}")
        return tree

    def expr(self, depth):
        tree = self.term(depth)
        while self.peek() in (("op", "+"), ("op", "-")):
            tree = (self.take()[1], tree, self.term(depth))
        return tree

    def term(self, depth):
        tree = self.unary(depth)
        while self.peek() in (("op", "*"), ("op", "/"), ("op", "%")):
            tree = (self.take()[1], tree, self.unary(depth))
        return tree

    def unary(self, depth):
        if depth > MAX_DEPTH:
            raise ParseError("nested too deeply")
        if self.peek() == ("op", "-"):
            self.take()
            return ("neg", self.unary(depth + 1))
        return self.atom(depth)

    def atom(self, depth):
        kind, value = self.take()
        if kind in ("int", "name"):
            return (kind, value)
        if (kind, value) == ("op", "("):
            tree = self.expr(depth + 1)
            if self.take() != ("op", ")"):
                raise ParseError("missing ')'")
            return tree
        raise ParseError(f"unexpected {value!r}" if kind != "end" else "unexpected end")


def names(tree):
    if tree[0] == "name":
        return {tree[1]}
    if tree[0] == "int":
        return set()
    return set().union(*(names(t) for t in tree[1:]))


def evaluate(tree, env):
    kind = tree[0]
    if kind == "int":
        return tree[1]
    if kind == "name":
        return env[tree[1]]
    if kind == "neg":
        return -evaluate(tree[1], env)
    a, b = evaluate(tree[1], env), evaluate(tree[2], env)
    if kind == "+":
        return a + b
    if kind == "-":
        return a - b
    if kind == "*":
        return a * b
    if b == 0:
        raise ZeroDivisionError
    return a // b if kind == "/" else a % b


def verdict(task, text):
    if len(text) > MAX_CHARS:
        return {"verdict": "COMPILE_ERROR", "score": 0.0, "details": {"error": f"longer than {MAX_CHARS} chars"}}
    try:
        tree = Parser(text).parse()
    except ParseError as exc:
        return {"verdict": "COMPILE_ERROR", "score": 0.0, "details": {"error": str(exc)}}
    unknown = sorted(names(tree) - set(task["variables"]))
    if unknown:
        return {"verdict": "COMPILE_ERROR", "score": 0.0, "details": {"error": f"unknown variable {unknown[0]}"}}
    matched = errors = 0
    for case in task["cases"]:
        try:
            matched += evaluate(tree, case["env"]) == case["expected"]
        except ZeroDivisionError:
            errors += 1
    total = len(task["cases"])
    if errors == total:
        return {"verdict": "RUNTIME_ERROR", "score": 0.0, "details": {"error": "division by zero in every case"}}
    details = {"matched": matched, "total": total, "division_by_zero": errors}
    return {"verdict": "PASS" if matched == total else "FAIL", "score": matched / total, "details": details}


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        task = json.load(f)
    with open(sys.argv[2], encoding="utf-8", errors="replace") as f:
        text = f.read()
    os.write(3, json.dumps(verdict(task, text)).encode("utf-8"))


if __name__ == "__main__":
    main()
