import json

import pytest

from codealign.domains.ladder.checks import Declarations, check_program, errors
from codealign.domains.ladder.parser import parse_program
from codealign.domains.ladder.simulator import MAX_SCANS, BudgetError, Simulator, Step, Trace, TraceError


@pytest.fixture(scope="module")
def fixtures(shared_data):
    return [json.loads(line) for line in (shared_data / "ladder" / "ladder_fixtures.jsonl").read_text().splitlines()]


def rows(program_text, steps, watch, scan_ms=100, types=None):
    trace = Trace([Step(c, i) for c, i in steps], watch)
    return Simulator(parse_program(program_text), scan_ms=scan_ms, types=types).run(trace)


def column(program_text, steps, var, **kw):
    return [r[0] for r in rows(program_text, steps, [var], **kw)]


def test_all_trace_fixtures_reproduce_expected_exactly(fixtures):
    with_traces = [r for r in fixtures if r["test"]]
    assert len(with_traces) == 15
    for row in with_traces:
        trace = Trace.from_dict(row["test"])
        assert Simulator(parse_program("\n".join(row["ldt"]))).run(trace) == trace.expected, row["id"]


def test_fixtures_without_traces_parse_and_pass_structural_checks(fixtures):
    diagram_only = [r for r in fixtures if not r["test"]]
    assert sorted(r["id"] for r in diagram_only) == ["vdorr_test04", "vdorr_test08"]
    for row in diagram_only:
        assert errors(check_program(parse_program("\n".join(row["ldt"])), Declarations())) == [], row["id"]


def test_seal_in_reads_its_own_coil_from_previous_scan():
    assert column("[NO(Start) | NO(Run)] NC(Stop) OUT(Run)",
                  [(1, {"Start": True}), (2, {"Start": False}), (1, {"Stop": True})], "Run") == [True, True, True, False]


def test_later_rung_sees_coil_written_earlier_in_same_scan():
    assert rows("NO(a) OUT(b)\nNO(b) OUT(c)", [(1, {"a": True})], ["b", "c"]) == [[True, True]]
    assert rows("NO(b) OUT(c)\nNO(a) OUT(b)", [(2, {"a": True})], ["b", "c"]) == [[True, False], [True, True]]


def test_set_and_reset_act_only_when_powered():
    assert column("NO(a) SET(q)\nNO(b) RST(q)",
                  [(1, {}), (1, {"a": True}), (1, {"a": False}), (1, {"b": True}), (1, {"b": False})], "q") == [
        False, True, True, False, False]


def test_coils_in_series_pass_power_through():
    assert rows("NO(a) OUT(x) NOUT(y) OUT(z)", [(1, {"a": True}), (1, {"a": False})], ["x", "y", "z"]) == [
        [True, False, True], [False, True, False]]


def test_ton_output_rises_after_preset_on_the_simulated_clock():
    got = column("NO(a) TON(T1, PT=300ms) OUT(q)", [(5, {"a": True}), (1, {"a": False})], "q", scan_ms=100)
    assert got == [False, False, False, True, True, False]


def test_ton_elapsed_time_is_readable_and_capped_at_preset():
    got = column("NO(a) TON(T1, PT=200ms)", [(4, {"a": True})], "T1.ET", scan_ms=100)
    assert got == [0, 100, 200, 200]


def test_tof_holds_output_for_preset_after_input_falls():
    got = column("NO(a) TOF(T1, PT=200ms) OUT(q)", [(1, {"a": True}), (4, {"a": False})], "q")
    assert got == [True, True, True, False, False]


def test_tp_gives_one_pulse_of_preset_length():
    got = column("NO(a) TP(T1, PT=200ms) OUT(q)", [(5, {"a": True}), (1, {"a": False}), (1, {"a": True})], "q")
    assert got == [True, True, False, False, False, False, True]


def test_ctu_counts_rising_edges_and_resets():
    steps = [(1, {"c": True}), (1, {"c": False}), (1, {"c": True}), (2, {"c": False}), (1, {"r": True})]
    assert column("NO(c) CTU(C1, PV=2, R=r) OUT(q)", steps, "q") == [False, False, True, True, True, False]
    assert column("NO(c) CTU(C1, PV=2, R=r) OUT(q)", steps, "C1.CV") == [1, 1, 2, 2, 2, 0]


def test_ctd_loads_preset_and_counts_down_to_zero():
    steps = [(1, {"ld": True}), (1, {"ld": False}), (1, {"c": True}), (1, {"c": False}), (1, {"c": True})]
    assert column("NO(c) CTD(C1, PV=2, R=ld) OUT(q)", steps, "q") == [False, False, False, False, True]


def test_edge_contacts_fire_for_one_scan():
    steps = [(1, {}), (2, {"a": True}), (2, {"a": False})]
    assert column("P(a) OUT(q)", steps, "q") == [False, True, False, False, False]
    assert column("N(a) OUT(q)", steps, "q") == [False, False, False, True, False]


def test_compare_contacts_on_integers():
    got = rows("GE(v, 10) OUT(x)\nNE(v, w) OUT(y)", [(1, {"v": 10, "w": 10}), (1, {"v": 9})], ["x", "y"],
               types={"v": "INT", "w": "INT"})
    assert got == [[True, False], [False, True]]


def test_simulation_is_deterministic():
    text = "P(a) CTU(C1, PV=2, R=b) OUT(q)\nNO(q) TON(T1, PT=300ms) OUT(z)"
    steps = [(1, {"a": True}), (1, {"a": False}), (1, {"a": True}), (6, {})]
    assert rows(text, steps, ["q", "z"]) == rows(text, steps, ["q", "z"])


def test_trace_with_too_many_scans_is_rejected_before_running():
    with pytest.raises(TraceError, match="limit"):
        Trace.from_dict({"steps": [{"cycles": MAX_SCANS + 1, "inputs": {}}], "watch": ["q"]})


def test_scan_budget_stops_a_long_simulation():
    sim = Simulator(parse_program("NO(a) OUT(q)"), max_scans=10)
    with pytest.raises(BudgetError):
        sim.run(Trace([Step(11, {})], ["q"]))


def test_malformed_trace_names_the_problem():
    with pytest.raises(TraceError, match="expected' needs 2 rows"):
        Trace.from_dict({"steps": [{"cycles": 2, "inputs": {}}], "watch": ["q"], "expected": [[False]]})
