import json
import random
from collections import Counter

import pytest

from codealign.domains.ladder import LadderDomain
from codealign.domains.ladder.edits import OPS, candidate_edits, negatives
from codealign.domains.ladder.equivalence import compare_programs
from codealign.domains.ladder.parser import parse_program
from codealign.domains.ladder.simulator import Trace


@pytest.fixture(scope="module")
def fixture_outcomes(shared_data):
    rows = [json.loads(line) for line in (shared_data / "ladder" / "ladder_fixtures.jsonl").read_text().splitlines()]
    outcomes = []
    for row in rows:
        program = parse_program("\n".join(row["ldt"]))
        traces = [Trace.from_dict(row["test"])] if row["test"] else []
        outcomes.append((program, negatives(program, rng=random.Random(0), traces=traces)))
    return outcomes


def test_every_operation_yields_behaviour_changing_negatives_on_the_fixtures(fixture_outcomes):
    kept = Counter(e.op for _, out in fixture_outcomes for e in out.kept)
    assert set(kept) == set(OPS), kept


def test_kept_edits_differ_from_the_original(fixture_outcomes):
    for program, out in fixture_outcomes[:6]:
        read, written = program.variables()
        outputs = sorted({e.var for _, e in program.elements() if hasattr(e, "var") and e.kind in
                          ("OUT", "NOUT", "SET", "RST")})
        for edit in out.kept:
            eq = compare_programs(program, edit.program, inputs=sorted(read - written), outputs=outputs, seed=0)
            assert not eq.equivalent and eq.counterexample is not None, edit.description


def test_kept_edit_records_operation_and_place(fixture_outcomes):
    edit = fixture_outcomes[0][1].kept[0]
    assert edit.metadata() == {"op": edit.op, "description": edit.description, "rung": edit.rung}
    assert edit.op in OPS and edit.rung >= 1


def test_behaviour_preserving_deletion_is_rejected():
    program = parse_program("NO(a) NO(a) OUT(q)")
    out = negatives(program, rng=random.Random(0), ops=("delete_contact",))
    assert out.kept == []
    assert [why for _, why in out.rejected] == ["behaviour-preserving (exhaustive)"] * 2


def test_reordering_independent_rungs_is_rejected_but_dependent_kept():
    independent = negatives(parse_program("NO(a) OUT(x)\nNO(b) OUT(y)"), rng=random.Random(0), ops=("reorder_rungs",))
    assert independent.kept == [] and len(independent.rejected) == 1
    dependent = negatives(parse_program("NO(a) OUT(x)\nNO(x) OUT(y)"), rng=random.Random(0), ops=("reorder_rungs",))
    assert [e.op for e in dependent.kept] == ["reorder_rungs"]


def test_redundant_parallel_branch_deletion_is_rejected():
    out = negatives(parse_program("[NO(a) | NO(a)] OUT(q)"), rng=random.Random(0), ops=("delete_branch",))
    assert out.kept == [] and len(out.rejected) == 2


def test_edits_that_break_structure_are_rejected_with_reason():
    out = negatives(parse_program("NO(a) OUT(x)\nNO(b) OUT(y)"), rng=random.Random(0), ops=("swap_coil_var",))
    assert out.kept == []
    assert all(why.startswith("structural error: ") for _, why in out.rejected)


def test_preset_edit_changes_timer_behaviour():
    out = negatives(parse_program("NO(a) TON(T1, PT=300ms) OUT(q)"), rng=random.Random(0), ops=("change_preset",))
    assert sorted(e.program.text() for e in out.kept) == ["NO(a) TON(T1, PT=150ms) OUT(q)",
                                                          "NO(a) TON(T1, PT=600ms) OUT(q)"]


def test_edits_are_deterministic_for_a_seed():
    program = parse_program("[NO(a) | NO(b)] NC(c) OUT(q)\nNO(q) OUT(r)")
    first = [e.program.text() for e in candidate_edits(program, random.Random(3))]
    assert first == [e.program.text() for e in candidate_edits(program, random.Random(3))]


def test_domain_mutate_returns_text_and_edit_description():
    mutations = LadderDomain().mutate("[NO(Start) | NO(Run)] NC(Stop) OUT(Run)", random.Random(0))
    assert mutations and all(parse_program(text) for text, _ in mutations)
    assert {m["op"] for _, m in mutations} >= {"swap_no_nc", "delete_contact", "delete_branch", "change_coil_type"}
    assert any("NC(Start)" in text for text, _ in mutations)
