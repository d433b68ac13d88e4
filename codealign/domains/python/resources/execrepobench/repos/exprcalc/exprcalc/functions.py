"""Built-in functions, each with the number of arguments it accepts."""

import math

from exprcalc.errors import EvalError


def _avg(*values):
    if not values:
        raise EvalError("avg() needs at least one value")
    return sum(values) / len(values)


def _clamp(value, low, high):
    if low > high:
        raise EvalError("clamp() needs low <= high")
    return max(low, min(value, high))


def _sqrt(value):
    if value < 0:
        raise EvalError("sqrt() of a negative number")
    return math.sqrt(value)


BUILTINS = {
    "abs": (abs, 1, 1),
    "min": (min, 1, None),
    "max": (max, 1, None),
    "avg": (_avg, 1, None),
    "sqrt": (_sqrt, 1, 1),
    "round": (round, 1, 2),
    "clamp": (_clamp, 3, 3),
}


def call(name, args, extra=None):
    table = dict(BUILTINS, **(extra or {}))
    if name not in table:
        raise EvalError(f"unknown function {name!r}")
    func, least, most = table[name]
    if len(args) < least or (most is not None and len(args) > most):
        expected = str(least) if least == most else f"{least}+" if most is None else f"{least}-{most}"
        raise EvalError(f"{name}() takes {expected} arguments, got {len(args)}")
    return func(*args)
