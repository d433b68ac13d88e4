import math

import pytest

from exprcalc import EvalError, Evaluator, calc


def test_arithmetic():
    assert calc("1 + 2 * 3") == 7
    assert calc("(1 + 2) * 3") == 9
    assert calc("7 / 2") == 3.5
    assert calc("7 % 4") == 3
    assert calc("2 ** 10") == 1024
    assert calc("-3 + 5") == 2


def test_comparisons_give_integers():
    assert calc("1 < 2") == 1
    assert calc("2 <= 1") == 0
    assert calc("3 == 3") == 1 and calc("3 != 3") == 0
    assert type(calc("1 > 0")) is int


def test_variables_and_assignment():
    assert calc("x * y + 1", x=3, y=4) == 13
    ev = Evaluator({"a": 2})
    assert ev.assign("b", "a ** 3") == 8
    assert ev.run("b - a") == 6
    with pytest.raises(EvalError, match="undefined variable 'z'"):
        ev.run("z")


def test_builtin_functions():
    assert calc("max(1, 5, 3) + min(4, 2)") == 7
    assert calc("abs(-4)") == 4
    assert calc("avg(1, 2, 3, 4)") == 2.5
    assert calc("sqrt(16)") == 4.0
    assert calc("round(2.567, 2)") == 2.57
    assert calc("clamp(15, 0, 10)") == 10
    assert calc("clamp(-1, 0, 10)") == 0


def test_function_errors():
    with pytest.raises(EvalError, match="unknown function"):
        calc("nope(1)")
    with pytest.raises(EvalError, match="takes 1 arguments, got 2"):
        calc("abs(1, 2)")
    with pytest.raises(EvalError, match="takes 3 arguments"):
        calc("clamp(1)")
    with pytest.raises(EvalError, match="takes 1-2 arguments, got 3"):
        calc("round(1, 2, 3)")
    with pytest.raises(EvalError, match="negative"):
        calc("sqrt(-1)")
    with pytest.raises(EvalError, match="low <= high"):
        calc("clamp(1, 5, 0)")


def test_custom_functions():
    ev = Evaluator(functions={"hyp": (math.hypot, 2, 2)})
    assert ev.run("hyp(3, 4)") == 5.0


def test_division_by_zero_and_huge_powers():
    with pytest.raises(EvalError, match="division by zero"):
        calc("1 / (2 - 2)")
    with pytest.raises(EvalError, match="division by zero"):
        calc("5 % 0")
    with pytest.raises(EvalError, match="too large"):
        calc("2 ** 5000")
