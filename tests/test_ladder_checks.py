from codealign.domains.ladder.checks import Declarations, check_program, errors
from codealign.domains.ladder.parser import MAX_ELEMENTS, parse_program


def codes(text, decl=None, severity=None):
    return [i.code for i in check_program(parse_program(text), decl or Declarations())
            if severity is None or i.severity == severity]


def test_clean_program_has_no_findings():
    assert codes("[NO(Start) | NO(Run)] NC(Stop) OUT(Run)", Declarations({"Start", "Stop"}, {"Run"})) == []


def test_rung_without_coil_drives_nothing():
    assert "no-coil" in codes("NO(a) NC(b)")


def test_contact_after_last_coil_is_an_error():
    assert codes("NO(a) OUT(b) NC(c)", severity="error") == ["contact-after-coil"]


def test_contact_between_coils_is_allowed():
    assert codes("NO(a) OUT(b) NC(c) OUT(d)") == []


def test_double_out_coil_across_rungs():
    found = check_program(parse_program("NO(a) OUT(q)\nNO(b) OUT(q)"), Declarations())
    assert [i.code for i in found] == ["double-coil"]
    assert found[0].rung == 2 and found[0].pos == (2, 7)


def test_set_and_reset_of_one_variable_is_not_a_double_coil():
    assert codes("NO(a) SET(q)\nNO(b) RST(q)") == []


def test_out_and_latch_on_one_variable_warns():
    assert codes("NO(a) OUT(q)\nNO(b) RST(q)") == ["mixed-coil"]


def test_undriven_variable_that_is_not_a_declared_input():
    assert codes("NO(a) NO(typo) OUT(q)", Declarations({"a"}, {"q"})) == ["undriven"]


def test_undriven_check_is_off_when_inputs_are_unknown():
    assert codes("NO(a) NO(typo) OUT(q)", Declarations(None)) == []


def test_compare_on_a_declared_boolean_is_a_type_error():
    found = check_program(parse_program("GT(a, 5) OUT(q)"), Declarations(types={"a": "BOOL"}))
    assert [i.code for i in found] == ["type"] and "needs INT/TIME" in found[0].message


def test_counter_preset_that_is_not_an_integer_is_a_type_error():
    assert codes("NO(a) CTU(C1, PV=5s) OUT(q)") == ["type"]
    assert codes("NO(a) CTU(C1, PV=p) OUT(q)", Declarations(types={"p": "BOOL"})) == ["type"]


def test_timer_preset_without_unit_is_a_type_error():
    assert codes("NO(a) TON(T1, PT=500) OUT(q)") == ["type"]


def test_undeclared_conflicting_uses_are_a_type_error():
    assert codes("NO(v) OUT(q)\nGT(v, 3) OUT(r)") == ["type"]


def test_block_instance_reused_is_an_error():
    assert "block-reused" in codes("NO(a) TON(T1, PT=1s) OUT(q)\nNO(b) TON(T1, PT=2s) OUT(r)")


def test_declared_output_never_written_warns():
    assert codes("NO(a) OUT(q)", Declarations({"a"}, {"q", "r"})) == ["output-never-written"]


def test_contact_in_a_branch_after_its_coil_is_an_error_and_names_that_contact():
    found = check_program(parse_program("NO(a) [OUT(b) NC(c) | OUT(d)]"), Declarations())
    assert [(i.code, i.pos) for i in found] == [("contact-after-coil", (1, 15))]


def test_contact_in_a_branch_before_a_later_coil_of_the_rung_is_allowed():
    assert codes("NO(a) [OUT(b) NC(c) | NO(d)] OUT(e)") == []


def test_contacts_after_the_last_coil_are_reported_in_text_order():
    found = check_program(parse_program("NO(a) OUT(b) [NC(c) | NO(d) NO(e)]"), Declarations())
    assert [i.pos for i in found] == [(1, 15), (1, 23), (1, 29)]


def test_rung_without_coil_is_reported_once_not_per_contact():
    assert codes("[NO(a) | NO(b)] NC(c)") == ["no-coil"]


def test_widest_bipartite_rung_the_parser_allows_is_checked():
    half = MAX_ELEMENTS // 2
    text = "[" + " | ".join(f"NO(a{i})" for i in range(half)) + "] [" + " | ".join(
        f"OUT(q{i})" for i in range(half)) + "]"
    assert codes(text) == []


def test_findings_carry_severity_and_position():
    issue = check_program(parse_program("NO(a) OUT(b) NC(c)"), Declarations())[0]
    assert (issue.severity, issue.rung, issue.pos) == ("error", 1, (1, 14))
    assert str(issue).startswith("error: line 1, column 14:")


def test_errors_filter_keeps_only_errors():
    found = check_program(parse_program("NO(a) OUT(q)\nNO(b) RST(q)"), Declarations())
    assert errors(found) == []
