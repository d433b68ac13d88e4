"""Evaluates parsed expressions against variables and functions."""

import operator

from exprcalc.errors import EvalError
from exprcalc.functions import call
from exprcalc.parser import parse

ARITHMETIC = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "**": operator.pow,
    "<": operator.lt,
    ">": operator.gt,
    "<=": operator.le,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}


class Evaluator:
    def __init__(self, variables=None, functions=None, max_power=1000):
        self.variables = dict(variables or {})
        self.functions = dict(functions or {})
        self.max_power = max_power

    def evaluate(self, node):
        kind = node[0]
        if kind == "num":
            return node[1]
        if kind == "var":
            if node[1] not in self.variables:
                raise EvalError(f"undefined variable {node[1]!r}")
            return self.variables[node[1]]
        if kind == "neg":
            return -self.evaluate(node[1])
        if kind == "call":
            args = [self.evaluate(arg) for arg in node[2]]
            return call(node[1], args, self.functions)
        return self.binary(node[1], self.evaluate(node[2]), self.evaluate(node[3]))

    def binary(self, op, left, right):
        if op in ("/", "%"):
            if right == 0:
                raise EvalError("division by zero")
            return left / right if op == "/" else left % right
        if op == "**" and abs(right) > self.max_power:
            raise EvalError(f"exponent {right} is too large")
        result = ARITHMETIC[op](left, right)
        return int(result) if isinstance(result, bool) else result

    def run(self, text):
        return self.evaluate(parse(text))

    def assign(self, name, text):
        value = self.run(text)
        self.variables[name] = value
        return value


def calc(text, **variables):
    return Evaluator(variables).run(text)
