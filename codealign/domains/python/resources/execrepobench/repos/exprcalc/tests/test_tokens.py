import pytest

from exprcalc.errors import SyntaxErr
from exprcalc.tokens import tokenize


def kinds(text):
    return [(t.kind, t.text) for t in tokenize(text)]


def test_numbers_names_and_operators():
    assert kinds("x1 + 2.5**y") == [("name", "x1"), ("op", "+"), ("number", "2.5"), ("op", "**"), ("name", "y"),
                                    ("end", "")]


def test_two_character_operators_win():
    assert [t.text for t in tokenize("a<=b!=c>=d==e")][1:-1:2] == ["<=", "!=", ">=", "=="]


def test_positions_are_character_offsets():
    assert [t.position for t in tokenize(" ab  + 3")] == [1, 5, 7, 8]


def test_number_with_one_dot_only():
    assert kinds("1.5.2")[:2] == [("number", "1.5"), ("number", ".2")]


@pytest.mark.parametrize("text, position", [("2 $ 3", 2), (".", 0), ("a = b", 2)])
def test_bad_characters_report_position(text, position):
    with pytest.raises(SyntaxErr) as info:
        tokenize(text)
    assert info.value.position == position
