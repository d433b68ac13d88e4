"""The Python domain: tests run in the sandbox, score = fraction passed, evidence only from the harness."""

import json
import random
import time

import pytest

from codealign.domains.python import PythonDomain, verify_report
from codealign.types import Candidate, Task, Verdict

ADD_TESTS = ["assert add(1, 2) == 3", "assert add(0, 0) == 0", "assert add(-1, 1) == 0"]
GOOD = "def add(a, b):\n    return a + b\n"

TEST_FILE = """\
import pytest
from solution import add


def test_one():
    assert add(1, 2) == 3


@pytest.mark.parametrize("a", [1, 2])
def test_param(a):
    assert add(a, 0) == a


class TestAdd:
    def test_method(self):
        assert add(2, 2) == 4
"""


@pytest.fixture(scope="module")
def domain():
    return PythonDomain()


def snippet_task(**assets):
    return Task("add", "python", "write add", assets={"tests": ADD_TESTS, **assets})


def pytest_task(**assets):
    return Task("add-pytest", "python", "write add", assets={"test_files": {"tests/test_add.py": TEST_FILE}, **assets})


def judge(domain, backend, task, completion):
    return domain.evaluate(task, Candidate(task.task_id, completion), backend)


def test_correct_candidate_passes_every_snippet(domain, backend):
    result = judge(domain, backend, snippet_task(), GOOD)
    assert result.verdict is Verdict.PASS
    assert result.score == 1.0
    assert [t["outcome"] for t in result.details["tests"]] == ["passed"] * 3


def test_score_is_the_fraction_of_tests_passed(domain, backend):
    result = judge(domain, backend, snippet_task(), "def add(a, b):\n    return a - b\n")
    assert result.verdict is Verdict.FAIL
    assert result.score == pytest.approx(1 / 3)


def test_syntax_error_is_compile_error_without_running(domain, backend):
    result = judge(domain, backend, snippet_task(), "def add(a, b)\n    return a + b\n")
    assert result.verdict is Verdict.COMPILE_ERROR
    assert result.wall_s == 0.0
    assert "SyntaxError" in result.details["error"]


def test_exception_at_import_is_runtime_error(domain, backend):
    result = judge(domain, backend, snippet_task(), "raise RuntimeError('boom')\n")
    assert result.verdict is Verdict.RUNTIME_ERROR
    assert "boom" in result.details["load_errors"][0]


def test_pytest_files_are_collected_statically_with_classes_and_parameters(domain, backend):
    result = judge(domain, backend, pytest_task(), GOOD)
    assert result.verdict is Verdict.PASS
    assert [t["id"] for t in result.details["tests"]] == [
        "tests/test_add.py::test_one", "tests/test_add.py::test_param", "tests/test_add.py::TestAdd::test_method"]


def test_one_failing_parameter_fails_its_whole_test(domain, backend):
    result = judge(domain, backend, pytest_task(), "def add(a, b):\n    return a + b if a != 2 else 0\n")
    outcomes = {t["id"].split("::")[-1]: t["outcome"] for t in result.details["tests"]}
    assert outcomes == {"test_one": "passed", "test_param": "failed", "test_method": "failed"}


def test_prefix_and_suffix_surround_the_completion(domain, backend):
    task = snippet_task(prefix="def add(a, b):\n    return ", suffix="\n", module="pkg/calc.py")
    task.assets["tests"] = ["from pkg.calc import add as f\nassert f(2, 3) == 5"]
    assert judge(domain, backend, task, "a + b").verdict is Verdict.PASS
    assert judge(domain, backend, task, "a * b").verdict is Verdict.FAIL


def test_per_test_deadline_charges_only_the_slow_test(domain, backend):
    code = "def add(a, b):\n    while a == 0:\n        pass\n    return a + b\n"
    t0 = time.monotonic()
    result = judge(domain, backend, snippet_task(test_timeout_s=1.0), code)
    assert time.monotonic() - t0 < 12
    assert [t["outcome"] for t in result.details["tests"]] == ["passed", "timeout", "passed"]
    assert result.score == pytest.approx(2 / 3)
    assert result.details["workers"] == 2


@pytest.mark.slow
def test_total_deadline_bounds_the_job(domain, backend):
    task = Task("loop", "python", "", assets={"tests": ["assert f()"] * 5, "test_timeout_s": 30},
                limits={"wall_s": 4})
    t0 = time.monotonic()
    result = judge(domain, backend, task, "def f():\n    while True:\n        pass\n")
    assert time.monotonic() - t0 < 8
    assert result.verdict in (Verdict.TIMEOUT, Verdict.FAIL)
    assert result.score == 0.0


def test_rewriting_a_test_file_on_disk_changes_nothing(domain, backend):
    evil = ("import pathlib\n"
            "pathlib.Path('tests/test_add.py').write_text('def test_one():\\n    pass\\n')\n"
            "def add(a, b):\n    return 0\n")
    result = judge(domain, backend, pytest_task(), evil)
    assert result.score == 0.0


def test_skipping_a_test_is_not_passing_it(domain, backend):
    result = judge(domain, backend, pytest_task(), "import pytest\ndef add(a, b):\n    pytest.skip('later')\n")
    assert result.score == 0.0


def test_report_with_a_wrong_mac_is_rejected():
    payload = json.dumps({"ok": True, "total": 1, "passed": 1})
    forged = json.dumps({"payload": payload, "mac": "0" * 64}).encode()
    assert verify_report(forged + b"\n", b"k" * 32) is None


def test_harness_that_never_started_is_a_sandbox_error(domain):
    from codealign.sandbox.job import JobResult, JobStatus

    task = snippet_task()
    cand = Candidate(task.task_id, GOOD)
    job = domain.prepare(task, cand)
    result = domain.judge(task, cand, job, JobResult(JobStatus.EXITED, returncode=1, stderr=b"bwrap: Can't fork"))
    assert result.verdict is Verdict.SANDBOX_ERROR


def test_harness_killed_after_start_is_the_candidates_runtime_error(domain, backend):
    """The candidate's parent is the test runner; the harness is the runner's parent."""
    code = ("import os, signal\nrunner = open(f'/proc/{os.getppid()}/stat').read()\n"
            "os.kill(int(runner.rsplit(')', 1)[1].split()[1]), signal.SIGKILL)\ndef add(a, b):\n    return a + b\n")
    result = judge(domain, backend, snippet_task(), code)
    assert result.verdict is Verdict.RUNTIME_ERROR and result.score == 0.0


def test_task_without_tests_is_a_harness_error(domain):
    with pytest.raises(ValueError, match="assets.tests"):
        domain.prepare(Task("t", "python", "", assets={}), Candidate("t", GOOD))


def test_toolchain_version_names_python_and_pytest(domain):
    assert "python 3" in domain.toolchain_version() and "pytest" in domain.toolchain_version()


def test_mutate_delegates_to_python_mutate(domain):
    mutants = domain.mutate("def f(a, b):\n    return a + b if a < b else a - b\n", random.Random(0))
    assert mutants and all(isinstance(text, str) for text, _ in mutants)


@pytest.mark.slow
def test_crash_in_a_later_parameter_fails_a_test_whose_first_parameter_passed(domain, backend):
    code = "import os\ndef add(a, b):\n    if a == 2:\n        os._exit(0)\n    return a + b\n"
    result = judge(domain, backend, pytest_task(), code)
    outcomes = {t["id"].split("::")[-1]: t["outcome"] for t in result.details["tests"]}
    assert outcomes["test_one"] == "passed"
    assert outcomes["test_param"] == "failed"


def test_coroutine_test_never_passes_without_running_its_body(domain, backend):
    task = Task("async", "python", "", assets={"test_files": {"tests/test_async.py": (
        "from solution import add\n\nasync def test_async():\n    assert add(1, 2) == 0\n\n"
        "def test_sync():\n    assert add(1, 2) == 3\n")}})
    result = judge(domain, backend, task, GOOD)
    assert {t["id"].split("::")[-1]: t["outcome"] == "passed" for t in result.details["tests"]} == {
        "test_async": False, "test_sync": True}


UNSUPPORTED = {  # a test step that cannot cross by value, and a candidate that would pass it if it could
    "callback": ("from solution import apply\n\ndef test_it():\n    assert apply(lambda x: x + 1, 2) == 3\n",
                 "def apply(f, x):\n    return 3\n", "function"),
    "ordering": ("from solution import V\n\ndef test_it():\n    assert V(2) > V(1)\n",
                 "class V:\n    def __init__(self, n):\n        self.n = n\n"
                 "    def __gt__(self, other):\n        return True\n", "__gt__"),
}


@pytest.mark.parametrize("kind", sorted(UNSUPPORTED))
def test_a_test_that_cannot_cross_the_boundary_is_unsupported_never_a_pass(domain, backend, kind):
    test, code, reason = UNSUPPORTED[kind]
    task = Task(kind, "python", "", assets={"test_files": {"tests/test_it.py": test}})
    result = judge(domain, backend, task, code)
    assert result.verdict is Verdict.SANDBOX_ERROR
    assert result.details["error"].startswith("unsupported") and reason in result.details["reasons"][0]


def test_exceptions_and_objects_of_the_candidate_cross_the_boundary(domain, backend):
    """Exceptions come back as local classes of the same name (``pytest.raises`` and ``match`` work); other
    objects as references whose attributes, methods, len, iteration and str are requests; dataclass
    instances compare by their copied fields."""
    task = Task("objects", "python", "", assets={"test_files": {"tests/test_objects.py": (
        "import pytest\nfrom solution import Bag, Empty, Point\n\n"
        "def test_objects():\n    bag = Bag()\n    bag.add(Point(1, 2))\n    bag.add(Point(3, 4))\n"
        "    assert len(bag) == 2 and [p.x for p in bag] == [1, 3] and str(bag) == 'Bag(2)'\n"
        "    assert bag.first() == Point(1, 2) and bag.first() != Point(3, 4) and Point(1, 2) in bag\n"
        "    assert isinstance(bag.first(), Point) and not isinstance(bag, Point) and not isinstance(3, Point)\n"
        "    with pytest.raises(Empty, match='nothing'):\n        Bag().first()\n"
        "    with pytest.raises(LookupError):\n        Bag().first()\n")}})
    code = ("from dataclasses import dataclass\n\n@dataclass\nclass Point:\n    x: int\n    y: int\n\n"
            "class Empty(LookupError):\n    pass\n\nclass Bag:\n    def __init__(self):\n        self.items = []\n"
            "    def add(self, p):\n        self.items.append(p)\n    def first(self):\n"
            "        if not self.items:\n            raise Empty('nothing here')\n        return self.items[0]\n"
            "    def __len__(self):\n        return len(self.items)\n    def __iter__(self):\n"
            "        return iter(self.items)\n    def __str__(self):\n        return f'Bag({len(self.items)})'\n")
    result = judge(domain, backend, task, code)
    assert result.verdict is Verdict.PASS, result.details


def test_a_function_job_carries_drawn_inputs_but_no_expected_value(domain, monkeypatch):
    """The draw depends on the judge key; the job's files hold the inputs only, never an expected output."""
    from codealign.domains.python import tasks as pt

    task = pt.make_task("numbers", {"agg": "sum", "rel": ">", "k": 3}, 0, "return")
    candidate = Candidate(task.task_id, task.metadata["middle_code"])
    configs = []
    for key in ("11" * 32, "22" * 32):
        monkeypatch.setenv("CODEALIGN_JUDGE_KEY", key)
        job = domain.prepare(task, candidate)
        configs.append(json.loads(job.files[".codealign/config.json"]))
    assert configs[0]["inputs"][:4] == configs[1]["inputs"][:4] and configs[0]["inputs"] != configs[1]["inputs"]
    assert set(configs[0]) == {"mode", "module", "function", "inputs", "test_timeout_s", "total_s"}


def test_ints_beyond_64_bits_cross_the_boundary_by_value(domain, backend):
    """Decimal JSON is capped at 4,300 digits: such an int crosses in hex, so a right answer is not lost."""
    test = "import math\nfrom solution import fact\n\n\ndef test_big():\n    assert fact(2000) == math.factorial(2000)\n"
    task = Task("fact", "python", "write fact", assets={"test_files": {"tests/test_fact.py": test}})
    result = judge(domain, backend, task, "import math\n\n\ndef fact(n):\n    return math.factorial(n)\n")
    assert result.verdict is Verdict.PASS, result.details


@pytest.mark.parametrize("value", [0, -1, 2 ** 63 - 1, 2 ** 63, -(2 ** 63), 3 ** 20000, [-(7 ** 5000), {5 ** 900}]],
                         ids=["zero", "minus_one", "max_int64", "2**63", "-2**63", "3**20000", "nested"])
def test_encoded_ints_decode_to_the_same_value(value):
    from codealign.domains.python.worker import decode_value, encode_value

    assert decode_value(json.loads(json.dumps(encode_value(value)))) == value
