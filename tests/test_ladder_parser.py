import json

import pytest

from codealign.domains.ladder.model import GraphShapeError, RungGraph, LEFT, RIGHT, Contact, Coil, graph_to_tree, tree_to_graph
from codealign.domains.ladder.parser import MAX_DEPTH, LadderSyntaxError, parse_program
from codealign.domains.ladder.plcopen import export_ld, import_ld
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


def test_syntax_error_is_a_user_error():
    assert issubclass(LadderSyntaxError, UserError)


def test_text_graph_text_is_identity_on_every_fixture(fixtures):
    for row in fixtures:
        text = "\n".join(row["ldt"])
        program = parse_program(text)
        rebuilt = [graph_to_tree(tree_to_graph(rung.body)) for rung in program.rungs]
        assert rebuilt == [rung.body for rung in program.rungs], row["id"]
        assert "\n".join(b.text() for b in rebuilt) == text, row["id"]


def test_text_plcopen_text_is_identity_on_every_fixture(fixtures):
    for row in fixtures:
        text = "\n".join(row["ldt"])
        assert import_ld(export_ld(parse_program(text))).text() == text, row["id"]


def test_plcopen_round_trip_keeps_blocks_compares_and_comments():
    text = ("(* mixing station *)\n[NO(a) | [NO(b) | NC(c)] NO(d)] TON(T1, PT=2s) CTU(C1, PV=3, R=x) OUT(y)\n"
            "GT(C1.CV, -2) CTD(C2, PV=n) [OUT(z) | SET(w)]\nP(e) N(f) TP(T2, PT=150ms) TOF(T3, PT=1m) NOUT(g)")
    assert import_ld(export_ld(parse_program(text))).text() == text


def test_plcopen_import_reads_ld_inside_a_project():
    body = export_ld(parse_program("NO(a) OUT(b)"))
    project = ('<project xmlns="http://www.plcopen.org/xml/tc6_0201"><types><pous><pou name="main" pouType="program">'
               f"<body>{body}</body></pou></pous></types></project>")
    assert import_ld(project).text() == "NO(a) OUT(b)"


def test_plcopen_import_rejects_unsupported_element_with_one_line():
    xml = export_ld(parse_program("NO(a) OUT(b)")).replace("</LD>", '<jump localId="99" label="x"/></LD>')
    with pytest.raises(UserError, match=r"unsupported LD element <jump> \(localId 99\)"):
        import_ld(xml)


def test_plcopen_import_rejects_malformed_xml():
    with pytest.raises(UserError, match="malformed XML"):
        import_ld("<LD><contact")


def test_bridge_graph_has_no_text_form():
    graph = RungGraph({0: Contact("NO", "a"), 1: Contact("NO", "b"), 2: Contact("NO", "c"), 3: Contact("NO", "d"),
                       4: Contact("NO", "e"), 5: Coil("OUT", "y")})
    # a-c and b-d in parallel, bridged by e from a's output to d's input (a Wheatstone bridge)
    graph.edges = {(LEFT, 0), (LEFT, 1), (0, 2), (1, 3), (0, 4), (4, 3), (2, 5), (3, 5), (5, RIGHT)}
    with pytest.raises(GraphShapeError, match="not a series/parallel"):
        graph_to_tree(graph)


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


def test_ascii_drawings_import_to_their_rung_text(fixtures):
    from codealign.domains.ladder.ascii import import_ascii

    drawn = [r for r in fixtures if r["id"] != "vdorr_test08"]
    for row in drawn:
        assert import_ascii(row["ascii"]).text() == "\n".join(row["ldt"]), row["id"]
    assert len(drawn) == 16


def test_ascii_function_block_box_is_refused_with_one_line(fixtures):
    from codealign.domains.ladder.ascii import import_ascii

    box = next(r for r in fixtures if r["id"] == "vdorr_test08")
    with pytest.raises(UserError, match="function-block boxes are not supported"):
        import_ascii(box["ascii"])


def test_ascii_wire_crossing_is_not_a_junction():
    from codealign.domains.ladder.ascii import import_ascii

    drawing = "|  a\n+--[ ]--+\n|       |\n|  b    |   d\n+--[ ]--|---( )--\n|       |  c\n|       +--( )--"
    assert import_ascii(drawing).text() == "NO(a) OUT(c)\nNO(b) OUT(d)"
