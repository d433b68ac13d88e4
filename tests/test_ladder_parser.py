import json

import pytest

from codealign.domains.ladder.parser import MAX_DEPTH, LadderSyntaxError, parse_program
from codealign.errors import UserError


@pytest.fixture(scope="module")
def fixtures(shared_data):
    rows = [json.loads(line) for line in (shared_data / "ladder" / "ladder_fixtures.jsonl").read_text().splitlines()]
    assert len(rows) == 17
    return rows


MALFORMED = [
    ("NO(a) OUT(b", 1, 12, "')'"),
    ("NO(a) FOO(b) OUT(c)", 1, 7, "unknown element 'FOO'"),
    ("NO(a)\n[NO(b) | NO(c) OUT(d)", 2, 22, "not closed"),
    ("NO(a) | NO(b) OUT(c)", 1, 7, "outside a branch"),
    ("[NO(a) | ] OUT(b)", 1, 10, "empty branch"),
    ("NO() OUT(b)", 1, 4, "variable name"),
    ("GT(x 5) OUT(y)", 1, 6, "','"),
    ("NO(a) TON(T1, 500ms) OUT(b)", 1, 15, "PT="),
    ("NO(a) OUT(b)\nNO(c) $ OUT(d)", 2, 7, "unexpected character '$'"),
    ("NO(a) OUT(b) (* open comment", 1, 14, "not closed"),
    ("NO(a) OUT(b)\n\nCTU(C1, PV=3, R=) OUT(x)", 3, 17, "variable name"),
    ("NO(a) ] OUT(b)", 1, 7, "outside a branch"),
    ("GT(x, ) OUT(y)", 1, 7, "operand"),
    ("OUT", 1, 4, "'('"),
]


@pytest.mark.parametrize("text,line,column,reason", MALFORMED)
def test_malformed_program_error_names_line_and_column(text, line, column, reason):
    with pytest.raises(LadderSyntaxError) as err:
        parse_program(text)
    assert (err.value.line, err.value.column) == (line, column)
    assert str(err.value).startswith(f"line {line}, column {column}: ")
    assert reason in str(err.value)
    assert "\n" not in str(err.value)


def test_text_parse_text_is_identity_on_every_fixture(fixtures):
    for row in fixtures:
        text = "\n".join(row["ldt"])
        assert parse_program(text).text() == text, row["id"]


def test_syntax_error_is_a_user_error():
    assert issubclass(LadderSyntaxError, UserError)


def test_nested_groups_are_flattened_to_canonical_form():
    assert parse_program("[[NO(a) | NO(b)] | NO(c)] OUT(d)").text() == "[NO(a) | NO(b) | NO(c)] OUT(d)"
    assert parse_program("[NO(a)] OUT(d)").text() == "NO(a) OUT(d)"


def test_trailing_comment_moves_to_its_own_line():
    program = parse_program("NO(a) OUT(b) (* run lamp *)")
    assert program.text() == "(* run lamp *)\nNO(a) OUT(b)"


def test_time_literals_keep_their_unit_and_accept_iec_prefix():
    assert parse_program("NO(a) TON(T1, PT=T#2s) OUT(b)").text() == "NO(a) TON(T1, PT=2s) OUT(b)"


def test_nesting_deeper_than_limit_is_a_syntax_error():
    text = "[" * (MAX_DEPTH + 1) + "NO(a) | NO(b)" + "]" * (MAX_DEPTH + 1) + " OUT(c)"
    with pytest.raises(LadderSyntaxError, match="nested deeper"):
        parse_program(text)


def test_element_positions_point_at_the_source():
    program = parse_program("NO(a)\n  [NO(b) | NC(c)] OUT(d)")
    positions = [e.pos for _, e in program.elements()]
    assert positions == [(1, 1), (2, 4), (2, 12), (2, 19)]
