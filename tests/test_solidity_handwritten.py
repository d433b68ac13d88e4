"""The bundled Solidity detection tasks (original contracts behind ``codealign run solidity``)."""

import pytest

from codealign.domains import get_domain
from codealign.domains.solidity.answers import DETECTOR_CATEGORY
from codealign.domains.solidity.handwritten import MARK, bundled_tasks
from codealign.execution.executor import execute
from codealign.types import Candidate, Verdict


@pytest.fixture(scope="module")
def golden():
    domain = get_domain("solidity")
    tasks = bundled_tasks()
    results = execute(domain, tasks, [Candidate(t.task_id, domain.reference_solution(t)) for t in tasks],
                      progress=False)
    return tasks, results


@pytest.mark.slow
def test_every_golden_answer_passes_with_full_score(golden):
    tasks, results = golden
    assert [(r.verdict, r.score) for r in results] == [(Verdict.PASS, 1.0)] * len(tasks)


@pytest.mark.slow
def test_slither_sees_the_labelled_class_where_it_has_a_detector(golden):
    seen_by_slither = {"reentrancy", "time_manipulation", "delegatecall", "unchecked_low_level_calls"}
    for task, result in zip(*golden):
        category = task.assets["label"]["category"]
        if category in seen_by_slither:
            found = {DETECTOR_CATEGORY.get(f["check"]) for f in result.details["analysis"]["findings"]}
            assert category in found, task.task_id


def test_labels_never_leak_into_prompts():
    assert all(MARK not in t.prompt and "<vuln>" not in t.assets["source"] for t in bundled_tasks())


def test_splits_are_disjoint_and_both_hold_safe_and_vulnerable_contracts():
    train, heldout = bundled_tasks("train"), bundled_tasks("heldout")
    assert not {t.task_id for t in train} & {t.task_id for t in heldout}
    for split in (train, heldout):
        assert {t.assets["label"]["vulnerable"] for t in split} == {True, False}


def test_labelled_lines_point_at_code():
    for task in bundled_tasks():
        lines = task.assets["source"].splitlines()
        assert all(lines[n - 1].strip() for n in task.assets["label"]["lines"]), task.task_id
