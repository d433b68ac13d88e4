import pytest

from exprcalc import SyntaxErr, parse


def test_precedence_and_left_associativity():
    assert parse("1 + 2 * 3 - 4") == ("bin", "-", ("bin", "+", ("num", 1), ("bin", "*", ("num", 2), ("num", 3))),
                                      ("num", 4))


def test_power_is_right_associative_and_binds_tighter_than_minus():
    assert parse("2 ** 3 ** 2") == ("bin", "**", ("num", 2), ("bin", "**", ("num", 3), ("num", 2)))
    assert parse("-2 ** 2") == ("neg", ("bin", "**", ("num", 2), ("num", 2)))


def test_comparison_binds_loosest():
    assert parse("a + 1 < b")[1] == "<"


def test_calls_and_parentheses():
    assert parse("max(1, (2 + 3), x)") == ("call", "max", [("num", 1), ("bin", "+", ("num", 2), ("num", 3)),
                                                            ("var", "x")])
    assert parse("f()") == ("call", "f", [])
    assert parse("+x") == ("var", "x")


def test_floats_and_ints():
    assert parse("2.0") == ("num", 2.0)
    assert isinstance(parse("7")[1], int)


@pytest.mark.parametrize("text, fragment", [
    ("1 +", "end of input"),
    ("(1 + 2", "expected ')'"),
    ("1 2", "unexpected '2'"),
    ("max(1,", "end of input"),
    (")", "unexpected ')'"),
])
def test_syntax_errors(text, fragment):
    with pytest.raises(SyntaxErr) as info:
        parse(text)
    assert fragment in str(info.value)
