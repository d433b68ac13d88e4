"""Hostile candidates judged through the Python domain, with the harness as root (as in CI).

Each test asserts the verdict (never PASS for a cheat), a prompt end, no surviving process and no write
outside the job dir, and its docstring names what stops it: the Python domain's boundary (tests run in a
trusted runner that reaches the candidate's process only through plain-data requests; harness-signed report)
or the sandbox backend (``both`` = process and bwrap; network isolation is bwrap's alone, as the process
backend documents). Attacks on the witness of b2987a3 are in ``test_evil_python_calls.py`` and below.
"""

import os
import socket
import textwrap
import threading
import time
import uuid

import pytest

from leftovers import survivors

from codealign.domains.python import PythonDomain
from codealign.types import Candidate, Task, Verdict

TESTS = ["assert add(1, 2) == 3", "assert add(2, 2) == 4"]
PYTEST_FILE = ("from solution import add\n\ndef test_a():\n    assert add(1, 2) == 3\n\n"
               "def test_b():\n    assert add(2, 2) == 4\n")


@pytest.fixture(scope="module")
def domain():
    return PythonDomain()


def _judge(domain, backend, code, *, pytest_files=False, wall_s=20.0, test_timeout_s=5.0):
    marker = f"m{uuid.uuid4().hex[:12]}"
    assets = {"test_timeout_s": test_timeout_s}
    if pytest_files:
        assets["test_files"] = {"tests/test_add.py": PYTEST_FILE}
    else:
        assets["tests"] = TESTS
    task = Task("evil", "python", "write add", assets=assets, limits={"wall_s": wall_s})
    t0 = time.monotonic()
    result = domain.evaluate(task, Candidate("evil", code.replace("MARKER", marker)), backend)
    took = time.monotonic() - t0
    time.sleep(0.1)
    assert survivors(marker) == [], "a process of the candidate outlived the job"
    return result, took


def test_fake_pytest_summary_does_not_pass(domain, any_backend):
    """Evidence rule: stdout is never read; the runner saw no test return (the candidate's process exited 0
    while being imported)."""
    code = ("import os, sys\nprint('===== 2 passed in 0.01s =====')\nprint('PASS')\nsys.stdout.flush()\n"
            "os._exit(0)\n")
    result, took = _judge(domain, any_backend, code)
    assert result.verdict is not Verdict.PASS and result.score == 0.0
    assert "2 passed" in result.stdout
    assert took < 10


def test_patched_pytest_runner_does_not_pass(domain, any_backend):
    """Boundary: pytest runs in the trusted runner; patching the pytest of the candidate's process changes
    nothing there."""
    code = ("import _pytest.python, _pytest.runner\n"
            "_pytest.python.Function.runtest = lambda self: None\n"
            "_pytest.runner.pytest_runtest_call = lambda item: None\n"
            "def add(a, b):\n    return 0\n")
    result, _ = _judge(domain, any_backend, code, pytest_files=True)
    assert result.verdict is Verdict.FAIL and result.score == 0.0


def test_fake_test_module_in_sys_modules_does_not_pass(domain, any_backend):
    """Boundary: the runner imports its test modules from sources held in memory, never from the candidate's
    process."""
    code = ("import sys, types\nfake = types.ModuleType('test_add')\nfake.__file__ = 'tests/test_add.py'\n"
            "exec('def test_a():\\n    pass\\ndef test_b():\\n    pass\\n', fake.__dict__)\n"
            "sys.modules['test_add'] = fake\ndef add(a, b):\n    return 0\n")
    result, _ = _judge(domain, any_backend, code, pytest_files=True)
    assert result.score == 0.0


def test_os_exit_zero_mid_test_does_not_pass(domain, any_backend):
    """Evidence rule: a candidate's process that exits mid-test fails that test, and a new runner with a new
    candidate's process runs the rest — which exit too."""
    result, took = _judge(domain, any_backend, "import os\ndef add(a, b):\n    os._exit(0)\n")
    assert result.verdict is Verdict.FAIL and result.score == 0.0
    assert [t["outcome"] for t in result.details["tests"]] == ["failed", "failed"]
    assert result.details["workers"] == 2
    assert took < 10


@pytest.mark.slow
def test_forged_report_on_fd3_is_rejected(domain, any_backend):
    """fd 3 is held by the harness alone (the candidate's parent is the test runner); both are non-dumpable
    so their /proc/<pid>/fd cannot be opened; and any line that does get there lacks the per-job HMAC."""
    code = ("import json, os\n"
            "line = json.dumps({'payload': json.dumps({'ok': True, 'total': 2, 'passed': 2, 'tests': [], "
            "'load_errors': [], 'workers': 1, 'undumpable': True}), 'mac': '0' * 64}) + '\\n'\n"
            "for target in ['/proc/%d/fd/3' % os.getppid(), '/proc/self/fd/3']:\n"
            "    try:\n        fd = os.open(target, os.O_WRONLY)\n        os.write(fd, line.encode())\n"
            "    except OSError as exc:\n        print('blocked', target, exc.errno, flush=True)\n"
            "def add(a, b):\n    return 0\n")
    result, _ = _judge(domain, any_backend, code)
    assert result.verdict is Verdict.FAIL and result.score == 0.0
    assert result.details["undumpable"] is True
    assert "blocked /proc/" in result.stdout


@pytest.mark.slow
def test_python_fork_bomb_is_contained(domain, any_backend):
    """Backend (both): RLIMIT_NPROC under the slot uid and the pids cgroup; the wall deadline ends it. The
    clones run the same wrong function, so no clone can report a pass either."""
    code = ("import os\ndef add(a, b):\n    for _ in range(10000):\n        try:\n            os.fork()\n"
            "        except OSError:\n            pass\n    return 0\n")
    result, took = _judge(domain, any_backend, code, wall_s=4, test_timeout_s=2)
    assert result.verdict in (Verdict.FAIL, Verdict.TIMEOUT) and result.score == 0.0
    assert took < 12


@pytest.mark.slow
def test_ctypes_fork_bomb_is_contained(domain, any_backend):
    """Backend (both): a raw libc fork() bypasses Python but not RLIMIT_NPROC / the pids cgroup. (The worker
    refuses ctypes, so the bomb runs in a fresh interpreter the candidate starts.)"""
    code = ("import subprocess, sys\ndef add(a, b):\n    subprocess.run([sys.executable, '-c', 'import ctypes\\n"
            "libc = ctypes.CDLL(None)\\nfor _ in range(10000):\\n    libc.fork()\\n'])\n    return 0\n")
    result, took = _judge(domain, any_backend, code, wall_s=4, test_timeout_s=2)
    assert result.verdict in (Verdict.FAIL, Verdict.TIMEOUT) and result.score == 0.0
    assert took < 12


@pytest.mark.slow
def test_infinite_loop_is_stopped_promptly(domain, any_backend):
    """Harness per-test deadline, then the backend's wall deadline; everything killed."""
    code = "import os\nos.system('exec -a MARKER sleep 60 &')\ndef add(a, b):\n    while True:\n        pass\n"
    result, took = _judge(domain, any_backend, code, wall_s=5, test_timeout_s=1)
    assert result.verdict in (Verdict.TIMEOUT, Verdict.FAIL)
    assert result.score == 0.0
    assert took < 9


def test_os_system_and_rmtree_cannot_touch_host_files(domain, any_backend, tmp_path):
    """Backend (both): the slot uid cannot write root-owned places (process); the root is read-only (bwrap)."""
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "keep.txt").write_text("precious")
    os.chmod(tmp_path, 0o755)
    target = f"/etc/codealign_pwned_{uuid.uuid4().hex[:8]}"
    code = (f"import os, shutil\nos.system('echo x > {target}')\n"
            f"shutil.rmtree({str(victim)!r}, ignore_errors=True)\n"
            "def add(a, b):\n    return a + b\n")
    result, _ = _judge(domain, any_backend, code)
    assert result.verdict is Verdict.PASS
    assert not os.path.exists(target)
    assert (victim / "keep.txt").read_text() == "precious"


def test_secret_files_outside_the_job_are_unreadable(domain, any_backend, tmp_path):
    """Backend (both): HOME is the job dir (no ~/.ssh); a root-only file is unreadable to the slot uid
    (process) and the private /tmp hides it entirely (bwrap)."""
    secret = tmp_path / "id_rsa"
    secret.write_text("SECRET-KEY-hunter2")
    os.chmod(secret, 0o600)
    code = ("import os, glob\n"
            f"for p in [os.path.expanduser('~/.ssh/id_rsa'), os.path.join('/root', '.ssh', 'id_rsa'), {str(secret)!r}]:\n"
            "    try:\n        print(open(p).read())\n    except OSError as exc:\n        print('denied', p)\n"
            "def add(a, b):\n    return a + b\n")
    result, _ = _judge(domain, any_backend, code)
    assert "SECRET-KEY-hunter2" not in result.stdout + result.stderr
    assert "denied" in result.stdout


def test_host_loopback_server_is_unreachable_under_bwrap(domain, bwrap_backend):
    """Backend (bwrap only): a new network namespace; the host's 127.0.0.1 is not reachable."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    port = srv.getsockname()[1]
    srv.settimeout(0.1)
    hits, done = [], threading.Event()

    def accept():
        while not done.is_set():
            try:
                conn, _ = srv.accept()
                hits.append(conn.recv(100))
            except OSError:
                continue

    th = threading.Thread(target=accept)
    th.start()
    code = ("import socket\ntry:\n"
            f"    socket.create_connection(('127.0.0.1', {port}), timeout=2).sendall(b'leak')\n"
            "    print('connected')\nexcept OSError:\n    print('unreachable')\n"
            "def add(a, b):\n    return a + b\n")
    result, _ = _judge(domain, bwrap_backend, code)
    done.set()
    th.join()
    srv.close()
    assert hits == []
    assert "unreachable" in result.stdout


# --- Forging the evidence from inside the worker (issue 13): a small repository in ExecRepoBench's shape, whose
# module ``minicalc/ops.py`` is the candidate; ``test_version`` passes whatever the candidate does. Every
# candidate below is wrong (add and mul return 0) and attacks the evidence; all of them run as one batch through
# ``codealign.execute`` under the default backend, and none may pass a test that exercises the wrong code.

REPO_FILES = {
    "minicalc/__init__.py": '__version__ = "1.0"\n',
    "tests/__init__.py": "",
    "tests/test_ops.py": ("import minicalc\nfrom minicalc.ops import add, mul\n\n\n"
                          "def test_add():\n    assert add(2, 3) == 5\n\n\n"
                          "def test_mul():\n    assert mul(2, 3) == 6\n\n\n"
                          "class TestBoth:\n    def test_both(self):\n        assert add(1, mul(2, 2)) == 5\n\n\n"
                          "def test_version():\n    assert minicalc.__version__ == '1.0'\n"),
}
WRONG = "\ndef add(a, b):\n    return 0\n\n\ndef mul(a, b):\n    return 0\n"

# Shared by the channel attacks: the test ids the parent expects (read from the test file on disk, as the
# parent does), and a forger that, given every value a route reached, writes "passed" lines to every fd: in
# the old format with each nonce-like string, and in the new one signed by each HMAC object it found.
FORGE = '''
import ast, os, re, sys

def _ids():
    tree = ast.parse(open("tests/test_ops.py").read())
    ids = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            ids.append("tests/test_ops.py::" + node.name)
        elif isinstance(node, ast.ClassDef):
            ids += ["tests/test_ops.py::%s::%s" % (node.name, m.name) for m in node.body]
    return ids

def _forge(values):
    values = list(values)
    nonces = {v for v in values if isinstance(v, str) and re.fullmatch("[0-9a-f]{32}", v)}
    signers = [v for v in values if type(v).__name__ == "HMAC"]
    lines = []
    for test_id in _ids():
        lines += ["E\\t%s\\t%s\\tpassed\\t0.0\\n" % (nonce, test_id) for nonce in nonces]
        for signer in signers:
            mac = signer.copy()
            mac.update(("P\\t" + test_id).encode())
            lines.append("P\\t%s\\t%s\\n" % (test_id, mac.hexdigest()))
    for fd in sorted(int(n) for n in os.listdir("/proc/self/fd")):
        for line in lines:
            try:
                os.write(fd, line.encode())
            except OSError:
                pass
    print("forged with", len(nonces), "nonce(s) and", len(signers), "signer(s)")
    sys.stdout.flush()
    os._exit(0)

def _frame_values(frame):
    """Everything a frame chain reaches: locals, globals, and the closure cells of the functions among them."""
    found = []
    while frame is not None:
        found += list(frame.f_globals.values()) + list(frame.f_locals.values())
        frame = frame.f_back
    cells = [c for f in found if type(f).__name__ == "function" and f.__closure__ for c in f.__closure__]
    return found + [c.cell_contents for c in cells if _filled(c)]

def _filled(cell):
    try:
        cell.cell_contents
        return True
    except ValueError:
        return False
'''


def _wrong_after(body):
    """The wrong candidate whose ``add`` first runs ``body``."""
    return WRONG.replace("    return 0\n", textwrap.indent(body, "    ") + "    return 0\n", 1)


CHANNEL_ATTACKS = {
    "sys_modules": FORGE + _wrong_after("_forge(v for m in list(sys.modules.values())\n"
                                        "       for v in list(vars(m).values()))\n"),
    "gc_objects": FORGE + _wrong_after("import gc\nobjects = gc.get_objects()\n"
                                       "_forge(objects + [v for o in objects if type(o) is dict\n"
                                       "                  for v in o.values()])\n"),
    "gc_referrers": FORGE + _wrong_after("import gc\n_forge(r for o in gc.get_referrers(os.write)\n"
                                         "       for r in gc.get_referents(o))\n"),
    "getframe": FORGE + _wrong_after("_forge(_frame_values(sys._getframe()))\n"),
    "traceback": FORGE + _wrong_after("try:\n    1 / 0\nexcept ZeroDivisionError as exc:\n"
                                      "    _forge(_frame_values(exc.__traceback__.tb_frame))\n"),
    "inspect_stack": FORGE + _wrong_after("import inspect\n"
                                          "_forge(v for info in inspect.stack() for v in _frame_values(info.frame))\n"),
}

# Finding the live pytest config (through gc or the frames of the collection that imports this module).
FIND_CONFIG = '''
import functools, gc, sys
import pytest
import _pytest.python

def _config_by_gc():
    return next(o for o in gc.get_objects() if type(o).__name__ == "Config" and hasattr(o, "pluginmanager"))

def _config_by_frames():
    frame = sys._getframe()
    while frame is not None:
        for value in list(frame.f_locals.values()):
            config = getattr(value, "config", None)
            if type(config).__name__ == "Config":
                return config
        frame = frame.f_back
    raise LookupError("no config on the stack")

def _passing_test(items):
    return next(item for item in items if item.name == "test_version").obj
'''

PLUGIN_ATTACKS = {
    "late_plugin_via_gc": FIND_CONFIG + '''
class NoRun:
    @pytest.hookimpl(tryfirst=True)
    def pytest_pyfunc_call(self, pyfuncitem):
        return True

_config_by_gc().pluginmanager.register(NoRun())
''' + WRONG,
    "late_plugin_via_frames": FIND_CONFIG + '''
class NoRun:
    @pytest.hookimpl(tryfirst=True)
    def pytest_pyfunc_call(self, pyfuncitem):
        return True

_config_by_frames().pluginmanager.register(NoRun(), "norun")
''' + WRONG,
    "hookimpl_inserted_without_register": FIND_CONFIG + '''
import pluggy

def _no_run(pyfuncitem):
    return True

_pm = _config_by_frames().pluginmanager
_impl = pluggy.HookImpl(None, "norun", _no_run, {"tryfirst": True, "trylast": False, "wrapper": False,
                                                "hookwrapper": False, "optionalhook": False, "specname": None})
_pm.hook.pytest_pyfunc_call._hookimpls.append(_impl)
''' + WRONG,
}

WRAPPED_ATTACKS = {
    "modifyitems_wraps_via_gc": FIND_CONFIG + '''
class Wrap:
    def pytest_collection_modifyitems(self, items):
        for item in items:
            item.obj = functools.wraps(item.obj)(lambda *args, **kwargs: None)

_config_by_gc().pluginmanager.register(Wrap())
''' + WRONG,
    "getobj_patched_to_wrap": FIND_CONFIG + '''
_real_getobj = _pytest.python.Function._getobj

def _getobj(self):
    real = _real_getobj(self)

    @functools.wraps(real)
    def no_op(*args, **kwargs):
        return None
    return no_op

_pytest.python.Function._getobj = _getobj
''' + WRONG,
    "setup_hook_sets_wrapped_via_frames": FIND_CONFIG + '''
class Wrap:
    @pytest.hookimpl(trylast=True)
    def pytest_runtest_setup(self, item):
        def no_op(*args, **kwargs):
            return None
        no_op.__wrapped__ = item.obj
        item.obj = no_op

_pm = _config_by_frames().pluginmanager
type(_pm).register(_pm, Wrap(), "wrap")  # past the closed instance method
''' + WRONG,
}

SWAP_ATTACKS = {
    "modifyitems_swap_via_gc": FIND_CONFIG + '''
class Swap:
    def pytest_collection_modifyitems(self, items):
        passing = _passing_test(items)
        for item in items:
            item.obj = passing

_config_by_gc().pluginmanager.register(Swap())
''' + WRONG,
    "getobj_patched_to_swap": FIND_CONFIG + '''
_real_getobj = _pytest.python.Function._getobj

def _getobj(self):
    return getattr(self.module, "test_version")

_pytest.python.Function._getobj = _getobj
''' + WRONG,
    "setup_hook_swaps_via_frames": FIND_CONFIG + '''
class Swap:
    @pytest.hookimpl(trylast=True)
    def pytest_runtest_setup(self, item):
        item.obj = getattr(item.module, "test_version")

_pm = _config_by_frames().pluginmanager
type(_pm).register(_pm, Swap(), "swap")  # past the closed instance method
''' + WRONG,
}

# Against b2987a3's witness: the worker's own call function, found in its frame, called with stand-ins; and
# the witness's audit event raised by the candidate (today neither exists in the candidate's process).
CHANNEL_ATTACKS["worker_call_replayed"] = FORGE + '''
import functools

def _replay():
    frame = sys._getframe()
    while frame is not None and "call_test" not in frame.f_locals:
        frame = frame.f_back
    call_test = frame.f_locals["call_test"]
    module = sys.modules["tests.test_ops"]
    for test_id in _ids():
        real = getattr(module, test_id.split("::")[-1], None) or module.TestBoth().test_both
        for stand_in in (lambda: None, functools.wraps(real)(lambda: None), module.test_version):
            call_test(test_id, stand_in, {})
    print("replayed")
''' + _wrong_after("_replay()\n")
CHANNEL_ATTACKS["audit_event_spoofed"] = FORGE + '''
def _spoof():
    for test_id in _ids():
        func = lambda: None
        sys.audit("codealign.returned")
        sys.audit("codealign.returned", test_id, func)
''' + _wrong_after("_spoof()\n")

ALL_ATTACKS = {**CHANNEL_ATTACKS, **PLUGIN_ATTACKS, **WRAPPED_ATTACKS, **SWAP_ATTACKS}


@pytest.fixture(scope="module")
def forged():
    """Every attack (and the wrong candidate without one, and a right one) judged in one batch."""
    import codealign

    task = Task("minicalc-ops", "python", "complete minicalc/ops.py",
                assets={"files": REPO_FILES, "test_files": {"tests/test_ops.py": REPO_FILES["tests/test_ops.py"]},
                        "module": "minicalc/ops.py", "test_timeout_s": 5.0}, limits={"wall_s": 30.0})
    codes = {**ALL_ATTACKS, "plain_wrong": WRONG, "right": WRONG.replace("return 0", "return a + b", 1)
             .replace("return 0", "return a * b", 1)}
    names = list(codes)
    results = codealign.execute([task], [Candidate(task.task_id, codes[n], candidate_id=n) for n in names],
                                domain="python")
    return dict(zip(names, results))


def _passed(result):
    return {t["id"].rsplit("::", 1)[-1] for t in result.details.get("tests", []) if t["outcome"] == "passed"}


@pytest.mark.slow
def test_repository_task_separates_right_from_wrong(forged):
    assert forged["right"].verdict is Verdict.PASS
    assert _passed(forged["plain_wrong"]) == {"test_version"}


@pytest.mark.slow
@pytest.mark.parametrize("attack", sorted(CHANNEL_ATTACKS))
def test_harness_channel_and_nonce_are_out_of_the_candidates_reach(forged, attack):
    """Boundary: the candidate's process holds no signer, no test code and no report channel, so a forger that
    walks every object it can reach finds nothing to sign with (and its lines reach no reader)."""
    result = forged[attack]
    assert _passed(result) <= {"test_version"}, result.stdout[-500:]
    assert "signer(s)" not in result.stdout or "and 0 signer(s)" in result.stdout


@pytest.mark.slow
@pytest.mark.parametrize("attack", sorted(PLUGIN_ATTACKS))
def test_late_plugin_that_skips_the_call_does_not_pass(forged, attack):
    """Boundary: the candidate's process has no pytest session to register a plugin in (the runner's is out of
    its reach)."""
    assert _passed(forged[attack]) <= {"test_version"}


@pytest.mark.slow
@pytest.mark.parametrize("attack", sorted(WRAPPED_ATTACKS))
def test_no_op_wrapping_the_real_test_does_not_pass(forged, attack):
    """Boundary: the items pytest runs live in the runner, out of the candidate's reach."""
    assert _passed(forged[attack]) <= {"test_version"}


@pytest.mark.slow
@pytest.mark.parametrize("attack", sorted(SWAP_ATTACKS))
def test_swapping_in_a_passing_test_does_not_pass_the_others(forged, attack):
    """Boundary: the items pytest runs live in the runner, out of the candidate's reach."""
    assert _passed(forged[attack]) <= {"test_version"}
