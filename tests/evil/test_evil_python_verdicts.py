"""Wrong answers that passed the rewritten Python judge (4368b97), found in an attacker pass on it.

* A repository test whose fixture calls the candidate's code: the candidate raises ``unittest.SkipTest`` (a
  plain ``Exception`` subclass, so it crosses the boundary as itself when the test file imported ``unittest``),
  pytest reports the test skipped in setup, and the runner counted a test without a failure as passed. Now a
  pass needs a passed call phase.
* A function task compared results with Python's ``==``: ``1.0`` and ``True`` passed where the reference
  returns ``1``. Now results are compared type for type at every depth.
"""

import pytest

from codealign.domains.python import PythonDomain
from codealign.domains.python import tasks as pt
from codealign.domains.python.worker import encode_value
from codealign.types import Candidate, Task, Verdict

SKIPPING_TEST = '''import unittest
import pytest
from solution import make


@pytest.fixture
def thing():
    return make()


def test_value(thing):
    assert thing.value() == 3
'''
RIGHT_THING = "class Thing:\n    def value(self):\n        return 3\n\n\ndef make():\n    return Thing()\n"
SKIPPING_THING = "import unittest\n\n\ndef make():\n    raise unittest.SkipTest('not today')\n"

COUNT_TASK = ("parse", {"result": "count", "sep": ",", "padded": False}, 0, "return")
OTHER_TYPES = {"float": "float(len(nums))", "bool": "len(nums) > 0 if len(nums) < 2 else len(nums)"}


@pytest.fixture(scope="module")
def domain():
    return PythonDomain()


def _repo_task():
    return Task("evil-skip", "python", "write make",
                assets={"test_files": {"tests/test_thing.py": SKIPPING_TEST}, "test_timeout_s": 5.0},
                limits={"wall_s": 20.0})


def test_a_right_candidate_passes_a_test_with_a_fixture(domain, hiding_backend):
    result = domain.evaluate(_repo_task(), Candidate("right", RIGHT_THING), hiding_backend)
    assert result.verdict is Verdict.PASS, result.details


def test_a_test_the_candidate_skips_in_its_fixture_does_not_pass(domain, hiding_backend):
    result = domain.evaluate(_repo_task(), Candidate("skip", SKIPPING_THING), hiding_backend)
    assert result.verdict is not Verdict.PASS and result.score == 0.0, result.details


@pytest.mark.parametrize("kind", sorted(OTHER_TYPES))
def test_a_result_of_another_builtin_type_does_not_pass(domain, hiding_backend, kind):
    """``1.0 == 1`` and ``True == 1`` in Python; the judge compares type for type."""
    task = pt.make_task(*COUNT_TASK)
    result = domain.evaluate(task, Candidate(task.task_id, OTHER_TYPES[kind]), hiding_backend)
    assert result.verdict is Verdict.FAIL and result.score < 1.0, result.details


def _compared(got, expected):
    report = {"tests": [{"id": "0", "outcome": "passed"}], "results": {"0": __import__("json").dumps(
        encode_value(got))}}
    PythonDomain._compare(report, [([], expected)])
    return report["passed"] == 1


@pytest.mark.parametrize("got, expected", [
    ({"b": 2, "a": 1}, {"a": 1, "b": 2}), ({3, 1, 2}, {1, 2, 3}), (float("nan"), float("nan")), (-0.0, 0.0),
    ([{"x": (1, frozenset({2.5, "s"}))}], [{"x": (1, frozenset({"s", 2.5}))}]),
])
def test_equal_results_compare_equal_whatever_their_order(got, expected):
    assert _compared(got, expected)


@pytest.mark.parametrize("got, expected", [
    (1.0, 1), (True, 1), (False, 0), ([1, 2], (1, 2)), ({1: "a"}, {True: "a"}), ({1.0}, {1}),
    (frozenset({1}), {1}), ({"a": [0.0]}, {"a": [0]}), (b"a", "a"),
])
def test_results_of_other_types_compare_unequal(got, expected):
    assert not _compared(got, expected)
