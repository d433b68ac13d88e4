"""A Pratt parser producing tuples: ("num", v), ("var", name), ("neg", x), ("bin", op, a, b),
("call", name, [args])."""

from exprcalc.errors import SyntaxErr
from exprcalc.tokens import tokenize

BINDING = {
    "==": 10, "!=": 10, "<": 10, ">": 10, "<=": 10, ">=": 10,
    "+": 20, "-": 20,
    "*": 30, "/": 30, "%": 30,
    "**": 40,
}
RIGHT_ASSOCIATIVE = {"**"}
PREFIX_BINDING = 35


class Parser:
    def __init__(self, text):
        self.tokens = tokenize(text)
        self.index = 0

    @property
    def current(self):
        return self.tokens[self.index]

    def advance(self):
        token = self.current
        self.index += 1
        return token

    def expect(self, text):
        token = self.advance()
        if token.text != text:
            raise SyntaxErr(f"expected {text!r}, found {token.text or 'end of input'!r}", token.position)
        return token

    def parse(self):
        node = self.expression(0)
        if self.current.kind != "end":
            raise SyntaxErr(f"unexpected {self.current.text!r}", self.current.position)
        return node

    def expression(self, min_binding):
        left = self.prefix()
        while True:
            token = self.current
            binding = BINDING.get(token.text) if token.kind == "op" else None
            if binding is None or binding <= min_binding:
                break
            self.advance()
            right_binding = binding - 1 if token.text in RIGHT_ASSOCIATIVE else binding
            right = self.expression(right_binding)
            left = ("bin", token.text, left, right)
        return left

    def prefix(self):
        token = self.advance()
        if token.kind == "number":
            return ("num", float(token.text) if "." in token.text else int(token.text))
        if token.kind == "name":
            if self.current.text == "(":
                return ("call", token.text, self.arguments())
            return ("var", token.text)
        if token.text == "-":
            return ("neg", self.expression(PREFIX_BINDING))
        if token.text == "+":
            return self.expression(PREFIX_BINDING)
        if token.text == "(":
            inner = self.expression(0)
            self.expect(")")
            return inner
        raise SyntaxErr(f"unexpected {token.text or 'end of input'!r}", token.position)

    def arguments(self):
        self.expect("(")
        args = []
        if self.current.text != ")":
            args.append(self.expression(0))
            while self.current.text == ",":
                self.advance()
                args.append(self.expression(0))
        self.expect(")")
        return args


def parse(text):
    return Parser(text).parse()
