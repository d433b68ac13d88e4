"""Wrong answers that passed the rewritten Python judge (4368b97), found in an attacker pass on it.

* A repository test whose fixture calls the candidate's code: the candidate raises ``unittest.SkipTest`` (a
  plain ``Exception`` subclass, so it crosses the boundary as itself when the test file imported ``unittest``),
  pytest reports the test skipped in setup, and the runner counted a test without a failure as passed. Now a
  pass needs a passed call phase.
* A ``unittest.TestCase`` test: unittest ends a test as passed when ``unittest.case._ShouldStop`` is raised in
  it, and the candidate's exception crossed as that very class (or a mirrored subclass of it). Now no
  exception of the candidate crosses as a class of the test frameworks (unittest, pytest, pluggy).
* An assert-style snippet that uses a module it does not import (``math.isclose(...)``, as MBPP's tests do)
  looked the name up in the candidate's module: the candidate's own ``math`` answered the check. Now a free
  name the snippet only dereferences is the library module of that name, and a file of the candidate in its
  place fails the test.
* A function task compared results with Python's ``==``: ``1.0`` and ``True`` passed where the reference
  returns ``1``. Now results are compared type for type at every depth.

On b2987a3 the type attack passed too; the others did not (nor did a right ``TestCase`` candidate pass there).
"""

import json

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

TESTCASE_TEST = '''import unittest
from solution import add


class TestAdd(unittest.TestCase):
    def test_add(self):
        self.assertEqual(add(2, 3), 5)
'''
FRAMEWORK_RAISES = {
    "should_stop": "import unittest.case\n\n\ndef add(a, b):\n    raise unittest.case._ShouldStop()\n",
    "should_stop_subclass": "import unittest.case\n\n\nclass Stop(unittest.case._ShouldStop):\n    pass\n\n\n"
                            "def add(a, b):\n    raise Stop()\n",
    "skip_test": "import unittest\n\n\ndef add(a, b):\n    raise unittest.SkipTest('later')\n",
}

SNIPPETS = ["assert statistics.mean(values()) == 2", "assert table.size == 3"]
RIGHT_VALUES = "def values():\n    return [1, 2, 3]\n\n\nclass table:\n    size = 3\n"
FAKE_LIBRARY = "class statistics:\n    mean = staticmethod(lambda values: 2)\n\n\ndef values():\n    return [0]\n"
SHADOWING_FILE = ("open('statistics.py', 'w').write('def mean(values):\\n    return 2\\n')\n\n\n" + FAKE_LIBRARY)

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


def _testcase_task():
    return Task("evil-stop", "python", "write add",
                assets={"test_files": {"tests/test_add.py": TESTCASE_TEST}, "test_timeout_s": 5.0},
                limits={"wall_s": 20.0})


def test_a_right_candidate_passes_a_unittest_testcase(domain, hiding_backend):
    result = domain.evaluate(_testcase_task(), Candidate("right", "def add(a, b):\n    return a + b\n"),
                             hiding_backend)
    assert result.verdict is Verdict.PASS, result.details


@pytest.mark.parametrize("attack", sorted(FRAMEWORK_RAISES))
def test_a_candidate_exception_never_crosses_as_a_test_framework_class(domain, hiding_backend, attack):
    result = domain.evaluate(_testcase_task(), Candidate(attack, FRAMEWORK_RAISES[attack]), hiding_backend)
    assert result.verdict is Verdict.FAIL and result.score == 0.0, result.details


def _snippet_task(test):
    return Task("evil-lib", "python", "write values", assets={"tests": [test], "test_timeout_s": 5.0},
                limits={"wall_s": 20.0})


@pytest.mark.parametrize("test", SNIPPETS)
def test_a_right_candidate_passes_snippets_with_free_names(domain, hiding_backend, test):
    result = domain.evaluate(_snippet_task(test), Candidate("right", RIGHT_VALUES), hiding_backend)
    assert result.verdict is Verdict.PASS, result.details


@pytest.mark.parametrize("code", [FAKE_LIBRARY, SHADOWING_FILE], ids=["own_class", "file_in_the_job"])
def test_a_candidates_own_library_does_not_answer_a_snippet(domain, hiding_backend, code):
    result = domain.evaluate(_snippet_task(SNIPPETS[0]), Candidate("fake", code), hiding_backend)
    assert result.verdict is Verdict.FAIL and result.score == 0.0, result.details


@pytest.mark.parametrize("kind", sorted(OTHER_TYPES))
def test_a_result_of_another_builtin_type_does_not_pass(domain, hiding_backend, kind):
    """``1.0 == 1`` and ``True == 1`` in Python; the judge compares type for type."""
    task = pt.make_task(*COUNT_TASK)
    result = domain.evaluate(task, Candidate(task.task_id, OTHER_TYPES[kind]), hiding_backend)
    assert result.verdict is Verdict.FAIL and result.score < 1.0, result.details


def _compared(got, expected):
    report = {"tests": [{"id": "0", "outcome": "passed"}], "results": {"0": json.dumps(encode_value(got))}}
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


COMMAND_TASK = Task("evil-exit0", "python", "write add",
                    assets={"command": ["{python}", "evaluate_repo.py"],
                            "files": {"evaluate_repo.py": "from solution import add\nassert add(2, 3) == 5\n"}},
                    limits={"wall_s": 20.0})


@pytest.mark.parametrize("completion", ["import os\nos._exit(0)\n", "def add(a, b):\n    return a + b\n"])
def test_an_exit_status_is_never_a_pass(domain, hiding_backend, completion):
    """A repository judged by a command's exit status: ``os._exit(0)`` at import made a wrong candidate PASS.
    Such tasks are unsupported: SANDBOX_ERROR whatever the candidate, so they never enter a pair."""
    result = domain.evaluate(COMMAND_TASK, Candidate("c", completion), hiding_backend)
    assert (result.verdict, result.details["failure"]) == (Verdict.SANDBOX_ERROR, "unsupported"), result.details
