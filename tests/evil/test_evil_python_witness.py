"""Hostile candidates that forged passes on b2987a3 (issue 28), on a family task and on a repository task.

On b2987a3 both kinds of task ran their tests in the candidate's process with a witness holding the signing
key; every attack below passed there, under bwrap and docker: a finalizer run inside the witness, the worker's
``call_test`` replayed with fabricated globals, a SIGALRM handler racing the witness (all three read or use
the signer), always-equal return values, and ``pytest.ini`` + ``conftest.py`` planted above the job dir for
the next pytest run. Now a family task is judged by its calls (plain results compared on the host with the
reference's outputs on inputs drawn from the judge's secret) and a repository's tests run in a trusted runner
that reaches the candidate's process only through plain-data requests, with a fixed empty ini and
``--confcutdir`` at the job: no key, signer, witness, test code or expected value exists in the candidate's
process, and what it returns is compared on copies out of its reach.
"""

import pytest

import codealign
from codealign.domains.python import PythonDomain
from codealign.domains.python import tasks as pt
from codealign.types import Candidate, Task, Verdict
from test_evil_python import FIND_CONFIG

TASK_ARGS = ("text", {"op": "count", "cls": "vowel"}, 0, "body")

# The body's middle: a wrong function, then module code run when the candidate's module is imported.
WRONG_BODY = "    return None\n\n\n"

# Given the witness's locals (its signer), sign a pass for every test id of the task's test file, report each
# as passed on every fd, and leave before a real test fails.
FORGE = '''
import ast, os, sys, time

def _ids():
    ids = []
    for name in sorted(os.listdir("tests")):
        for node in ast.parse(open("tests/" + name).read()).body:
            if isinstance(node, ast.FunctionDef):
                ids.append("tests/%s::%s" % (name, node.name))
    return ids

def _forge(signer=None):
    lines = []
    for test_id in _ids():
        if signer is not None:
            mac = signer.copy()
            mac.update(("P\\t" + test_id).encode())
            lines.append("P\\t%s\\t%s\\n" % (test_id, mac.hexdigest()))
        lines.append("E\\t%s\\tpassed\\t0.0\\n" % test_id)
    payload = "".join(lines).encode()
    for fd in range(3, 64):  # the report pipe is one of them
        try:
            os.write(fd, payload)
        except OSError:
            pass
    os._exit(0)

_found = {}
'''

ATTACKS = {
    # (1) A finalizer that gc runs inside the witness when the witness allocates its caller's frame object: a
    # chain of cyclic garbage, each link's finalizer leaving the next, keeps one pending at every collection.
    "finalizer_in_witness": FORGE + '''
import gc

class _Grab:
    def __del__(self):
        frame = sys._getframe(1)
        while frame is not None:
            if frame.f_code.co_name == "witness":
                _found.update(frame.f_locals)
            frame = frame.f_back
        if "signer" not in _found:
            again = _Grab()
            again.me = again

gc.set_threshold(1)
_first = _Grab()
_first.me = _first
del _first
for _ in range(1000):
    sys.audit("codealign.returned")
    if "signer" in _found:
        break
gc.set_threshold(700)
if "signer" in _found:
    _forge(_found["signer"])
''',
    # (2) The worker's own call function, reached through pytest's plugin manager, called with the trusted test
    # code and fabricated globals in which every name is an always-equal object.
    "call_test_with_fabricated_globals": FORGE + FIND_CONFIG + '''
import types

class _Any:
    def __eq__(self, other):
        return True
    __hash__ = object.__hash__
    def __call__(self, *args, **kwargs):
        return self
    def __getattr__(self, name):
        return self

class _Globals(dict):
    def __missing__(self, name):
        return _Any()

def _replay():
    call_test = None
    for plugin in _config_by_frames().pluginmanager.get_plugins():
        hook = getattr(type(plugin), "pytest_pyfunc_call", None)
        for cell in getattr(hook, "__closure__", None) or ():
            if getattr(cell.cell_contents, "__name__", "") == "call_test":
                call_test = cell.cell_contents
    module_code = next(iter(sys.meta_path[0].compiled.values()))
    tests = {c.co_name: c for c in module_code.co_consts if isinstance(c, types.CodeType)}
    for test_id in _ids():
        fake = _Globals(__builtins__=__builtins__)
        call_test(test_id, types.FunctionType(tests[test_id.split("::")[-1]], fake), {})
    _forge()

try:
    _replay()
except Exception as exc:
    print("replay failed:", type(exc).__name__, exc)
''',
    # (3) A 50 us SIGALRM handler that fires while the witness runs receives the witness's frame.
    "signal_handler_races_the_witness": FORGE + '''
import signal

def _handler(signum, frame):
    if frame.f_code.co_name == "witness":
        _found.update(frame.f_locals)

signal.signal(signal.SIGALRM, _handler)
signal.setitimer(signal.ITIMER_REAL, 50e-6, 50e-6)
_deadline = time.monotonic() + 2
while "signer" not in _found and time.monotonic() < _deadline:
    sys.audit("codealign.returned")
signal.setitimer(signal.ITIMER_REAL, 0)
if "signer" in _found:
    _forge(_found["signer"])
''',
}

# Always-equal return values: the function returns an object of a builtin type's subclass equal to anything.
ALWAYS_EQUAL = {
    base: f"    class Same({base}):\n        def __eq__(self, other):\n            return True\n\n"
          f"        def __ne__(self, other):\n            return False\n        __hash__ = {base}.__hash__\n\n"
          f"    return Same()\n"
    for base in ("int", "str")
}


@pytest.fixture(scope="module")
def task():
    return pt.make_task(*TASK_ARGS)


def _judge(task, middle, backend):
    return PythonDomain().evaluate(task, Candidate(task.task_id, middle), backend)


def test_the_reference_middle_passes(task, hiding_backend):
    result = _judge(task, task.metadata["middle_code"], hiding_backend)
    assert result.verdict is Verdict.PASS and result.score == 1.0


@pytest.mark.slow
@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_stealing_the_signer_or_replaying_the_call_does_not_pass(task, hiding_backend, attack):
    """No signer, witness or call function exists in the candidate's process: the wrong function fails every
    call, whatever the module did at import."""
    result = _judge(task, WRONG_BODY + ATTACKS[attack], hiding_backend)
    assert result.verdict is not Verdict.PASS and result.score == 0.0, result.details


@pytest.mark.parametrize("base", sorted(ALWAYS_EQUAL))
def test_always_equal_return_values_do_not_pass(task, hiding_backend, base):
    """The strict encoder refuses subclasses of builtin types; what crosses is compared on the host."""
    result = _judge(task, ALWAYS_EQUAL[base], hiding_backend)
    assert result.verdict is not Verdict.PASS and result.score == 0.0, result.details


# The same attacks on a repository task in ExecRepoBench's shape: the candidate is the whole of minicalc/ops.py;
# add and mul are wrong, test_version passes whatever the candidate does.
REPO_FILES = {
    "minicalc/__init__.py": '__version__ = "1.0"\n',
    "tests/__init__.py": "",
}
TEST_FILE = ("import minicalc\nfrom minicalc.ops import add, mul\n\n\n"
             "def test_add():\n    assert add(2, 3) == 5\n\n\n"
             "def test_mul():\n    assert mul(2, 3) == 6\n\n\n"
             "def test_version():\n    assert minicalc.__version__ == '1.0'\n")
WRONG_OPS = "def add(a, b):\n    return None\n\n\ndef mul(a, b):\n    return None\n\n\n"
RIGHT_OPS = "def add(a, b):\n    return a + b\n\n\ndef mul(a, b):\n    return a * b\n\n\n"
SAME = {base: f"class Same({base}):\n    def __eq__(self, other):\n        return True\n\n    __hash__ = {base}.__hash__\n\n\n"
              f"def add(a, b):\n    return Same()\n\n\nmul = add\n" for base in ("int", "str")}
# A right candidate whose first call plants pytest.ini and conftest.py in the first writable folder above the
# job dir (a private /tmp under bwrap) and crashes, so the
# tests not yet run go to a fresh pytest run, which on b2987a3 read both (and failed every remaining test).
PLANT = RIGHT_OPS.replace("def add(a, b):\n", '''def add(a, b):
    import os
    above = os.path.dirname(os.getcwd())
    while not os.access(above, os.W_OK) and above != "/":
        above = os.path.dirname(above)
    if not os.path.exists(os.path.join(above, "conftest.py")):
        try:
            with open(os.path.join(above, "pytest.ini"), "w") as fh:
                fh.write("[pytest]\\npython_functions = nothing_matches\\n")
            with open(os.path.join(above, "conftest.py"), "w") as fh:
                fh.write("raise RuntimeError('planted conftest loaded')\\n")
        except OSError as exc:
            print("cannot plant:", exc)
        os._exit(0)
''', 1)


# Found in a fresh attacker pass on the boundary: the candidate's process rewrites the replies it sends so that
# a wrong result names a library object with an always-true ``__eq__`` (``unittest.mock.ANY``) by import path.
INJECT_ANY = WRONG_OPS + '''import sys
_main = sys.modules["__main__"]
_real = getattr(_main, "encode_value", None)
if _real is not None:
    _main.encode_value = lambda value, refer=None: (
        {"import": ["unittest.mock", "ANY"]} if value is None else _real(value, refer))
'''


@pytest.fixture(scope="module")
def repo_task():
    return Task("minicalc-ops", "python", "complete minicalc/ops.py",
                assets={"files": REPO_FILES, "test_files": {"tests/test_ops.py": TEST_FILE},
                        "module": "minicalc/ops.py", "test_timeout_s": 5.0}, limits={"wall_s": 30.0})


def _passed(result):
    return {t["id"].rsplit("::", 1)[-1] for t in result.details.get("tests", []) if t["outcome"] == "passed"}


@pytest.fixture(scope="module")
def repo_results(repo_task, hiding_backend):
    """Every repository candidate judged in one batch on one backend."""
    codes = {"right": RIGHT_OPS, "wrong": WRONG_OPS, "plant": PLANT, "inject_any": INJECT_ANY,
             **{f"attack_{name}": WRONG_OPS + code for name, code in ATTACKS.items()},
             **{f"same_{base}": code for base, code in SAME.items()}}
    names = list(codes)
    results = codealign.execute([repo_task], [Candidate(repo_task.task_id, codes[n], candidate_id=n) for n in names],
                                domain="python", backend=hiding_backend, progress=False)
    return dict(zip(names, results))


@pytest.mark.slow
def test_the_repository_task_separates_right_from_wrong(repo_results):
    assert repo_results["right"].verdict is Verdict.PASS
    assert _passed(repo_results["wrong"]) == {"test_version"}


@pytest.mark.slow
@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_repository_tests_cannot_be_forged_from_the_candidates_process(repo_results, attack):
    """The tests run in the runner; the candidate's process has no witness, signer, call function or report
    channel to use."""
    assert _passed(repo_results[f"attack_{attack}"]) == {"test_version"}


@pytest.mark.slow
@pytest.mark.parametrize("base", sorted(SAME))
def test_always_equal_objects_do_not_pass_repository_tests(repo_results, base):
    """A subclass of a builtin type crosses as a reference, and a reference never equals a local value."""
    assert _passed(repo_results[f"same_{base}"]) == {"test_version"}


@pytest.mark.slow
def test_pytest_ini_and_conftest_planted_above_the_job_are_ignored(repo_results):
    """pytest runs with ``-c /dev/null`` and ``--confcutdir`` at the job: after the planting call crashed,
    the next run still passes the right candidate's other tests."""
    assert _passed(repo_results["plant"]) == {"test_mul", "test_version"}


@pytest.mark.slow
def test_a_reply_cannot_name_a_local_object_with_a_permissive_eq(repo_results):
    """Replies decode to plain data, references to the candidate's objects and mirrored exception classes only;
    a reply naming a library object by import path is malformed (the test fails)."""
    assert _passed(repo_results["inject_any"]) == {"test_version"}
