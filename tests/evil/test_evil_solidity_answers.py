"""Detection answers that earned what the golden answer earns on b2987a3, where PASS needed only the right class
and free text was read "not vulnerable" whenever a negation stood near "vulnerab": a class-only answer, "lines
1-200", a list of 100,000 lines, every class at once, and "not free of vulnerabilities". What stops them: PASS
needs every named class accepted and lines within a bound around the planted ones, the score drops with each
extra class or line, and negations are counted per clause. Detection is scored on the trusted side (the family's
detection tasks run nothing in a sandbox), so these tests need no backend."""

import json

import pytest

from codealign.domains import get_domain
from codealign.domains.solidity.answers import CATEGORIES, parse_answer
from codealign.domains.solidity.tasks import make_task
from codealign.types import Candidate, Verdict

TASK = make_task("reentrancy", {"names": 0, "unit": 1, "style": "all"}, "detect", 0)
LABEL = TASK.assets["label"]
GOLDEN = json.loads(get_domain("solidity").reference_solution(TASK))


def _judge(answer: dict | str):
    text = answer if isinstance(answer, str) else json.dumps(answer)
    return get_domain("solidity").evaluate(TASK, Candidate(TASK.task_id, text), None)


def _below_golden(answer) -> None:
    golden, result = _judge(GOLDEN), _judge(answer)
    assert golden.verdict is Verdict.PASS and golden.score == 1.0
    assert result.verdict is Verdict.FAIL and result.score < golden.score, result.details["detection"]


def test_a_class_only_answer_fails_below_the_golden_answer():
    _below_golden({"vulnerable": True, "category": "reentrancy"})


def test_lines_one_to_two_hundred_fail_below_the_golden_answer():
    _below_golden({**GOLDEN, "lines": "1-200"})


def test_a_hundred_thousand_lines_fail_below_the_golden_answer():
    _below_golden({**GOLDEN, "lines": list(range(1, 100_001))})


def test_a_hundred_thousand_lines_in_free_text_fail():
    _below_golden("Yes, reentrancy in withdraw at lines " + ", ".join(map(str, range(1, 100_001))))


@pytest.mark.parametrize("categories", [list(CATEGORIES), ["reentrancy", "arithmetic"], "reentrancy, arithmetic"])
def test_extra_classes_fail_below_the_golden_answer(categories):
    _below_golden({**GOLDEN, "category": categories})


@pytest.mark.parametrize("text, vulnerable", [
    ("The contract is not free of vulnerabilities: reentrancy in withdraw.", True),
    ("It is not without vulnerabilities: a reentrancy in withdraw.", True),
    ("Without a reentrancy guard, withdraw is vulnerable to reentrancy.", True),
    ("After the fix the contract is no longer vulnerable.", False),
    ("The contract is without vulnerabilities.", False),
    ("The contract is free of vulnerabilities.", False),
    ("There is no owner check, so the contract is vulnerable to reentrancy.", True),
])
def test_negations_are_read_per_clause(text, vulnerable):
    assert parse_answer(text).vulnerable is vulnerable


DENIALS_AFTER_THE_WORD = [
    "Vulnerabilities: none found. A reentrancy guard protects withdraw at line {line}.",
    "Vulnerable? No. withdraw zeroes the balance before the call, so reentrancy fails (line {line}).",
    "Vulnerabilities found: 0. Reentrancy is prevented at line {line}.",
]


@pytest.mark.parametrize("text", DENIALS_AFTER_THE_WORD)
def test_a_denial_after_the_verdict_word_is_read_not_vulnerable(text):
    assert parse_answer(text.format(line=LABEL["lines"][0])).vulnerable is False


@pytest.mark.parametrize("text", DENIALS_AFTER_THE_WORD)
def test_a_denial_naming_the_class_and_lines_earns_nothing(text):
    result = _judge(text.format(line=LABEL["lines"][0]))
    assert result.verdict is Verdict.FAIL and result.score == 0.0, result.details["detection"]


@pytest.mark.parametrize("text", ["Vulnerability: reentrancy in withdraw.", "Vulnerable? Yes: reentrancy.",
                                  "Vulnerability: none of the functions guard re-entry (reentrancy)."])
def test_a_field_that_names_the_finding_is_read_vulnerable(text):
    assert parse_answer(text).vulnerable is True
