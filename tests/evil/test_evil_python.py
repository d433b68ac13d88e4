"""Hostile candidates judged through the Python domain, with the harness as root (as in CI).

Each test asserts the verdict (never PASS for a cheat), a prompt end, no surviving process and no write
outside the job dir, and its docstring names what stops it: the Python domain's evidence rule (harness-signed
report, nonce, trusted code objects) or the sandbox backend (``both`` = process and bwrap; network isolation
is bwrap's alone, as the process backend documents).
"""

import os
import socket
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
    """Evidence rule: stdout is never read; the harness saw no test return (the worker exited 0 first)."""
    code = ("import os, sys\nprint('===== 2 passed in 0.01s =====')\nprint('PASS')\nsys.stdout.flush()\n"
            "os._exit(0)\n")
    result, took = _judge(domain, any_backend, code)
    assert result.verdict is Verdict.FAIL and result.score == 0.0
    assert "2 passed" in result.stdout
    assert took < 10


def test_patched_pytest_runner_does_not_pass(domain, any_backend):
    """Evidence rule: a test counts only when the trusted test function itself returned (hook wrapper)."""
    code = ("import _pytest.python, _pytest.runner\n"
            "_pytest.python.Function.runtest = lambda self: None\n"
            "_pytest.runner.pytest_runtest_call = lambda item: None\n"
            "def add(a, b):\n    return 0\n")
    result, _ = _judge(domain, any_backend, code, pytest_files=True)
    assert result.verdict is Verdict.FAIL and result.score == 0.0


def test_fake_test_module_in_sys_modules_does_not_pass(domain, any_backend):
    """Evidence rule: the function that ran must be one of the harness's precompiled code objects."""
    code = ("import sys, types\nfake = types.ModuleType('test_add')\nfake.__file__ = 'tests/test_add.py'\n"
            "exec('def test_a():\\n    pass\\ndef test_b():\\n    pass\\n', fake.__dict__)\n"
            "sys.modules['test_add'] = fake\ndef add(a, b):\n    return 0\n")
    result, _ = _judge(domain, any_backend, code, pytest_files=True)
    assert result.score == 0.0


def test_os_exit_zero_mid_test_does_not_pass(domain, any_backend):
    """Evidence rule: a worker that exits mid-test gets that test charged (crash), and a new worker runs the
    rest — which exit too."""
    result, took = _judge(domain, any_backend, "import os\ndef add(a, b):\n    os._exit(0)\n")
    assert result.verdict is Verdict.FAIL and result.score == 0.0
    assert all(t["outcome"].startswith("crashed") for t in result.details["tests"])
    assert took < 10


def test_forged_report_on_fd3_is_rejected(domain, any_backend):
    """fd 3 is closed in the worker; the harness is non-dumpable so /proc/<pid>/fd/3 cannot be opened; and
    any line that does get there lacks the per-job HMAC."""
    code = ("import json, os\n"
            "line = json.dumps({'payload': json.dumps({'ok': True, 'total': 2, 'passed': 2, 'tests': [], "
            "'load_errors': [], 'workers': 1, 'undumpable': True}), 'mac': '0' * 64}) + '\\n'\n"
            "for target in ['/proc/%d/fd/3' % os.getppid(), '/proc/self/fd/3']:\n"
            "    try:\n        fd = os.open(target, os.O_WRONLY)\n        os.write(fd, line.encode())\n"
            "    except OSError as exc:\n        print('blocked', target, exc.errno)\n"
            "def add(a, b):\n    return 0\n")
    result, _ = _judge(domain, any_backend, code)
    assert result.verdict is Verdict.FAIL and result.score == 0.0
    assert result.details["undumpable"] is True
    assert "blocked /proc/" in result.stdout


def test_python_fork_bomb_is_contained(domain, any_backend):
    """Backend (both): RLIMIT_NPROC under the slot uid and the pids cgroup; the wall deadline ends it. The
    clones run the same wrong function, so no clone can report a pass either."""
    code = ("import os\ndef add(a, b):\n    for _ in range(10000):\n        try:\n            os.fork()\n"
            "        except OSError:\n            pass\n    return 0\n")
    result, took = _judge(domain, any_backend, code, wall_s=4, test_timeout_s=2)
    assert result.verdict in (Verdict.FAIL, Verdict.TIMEOUT) and result.score == 0.0
    assert took < 12


def test_ctypes_fork_bomb_is_contained(domain, any_backend):
    """Backend (both): a raw libc fork() bypasses Python but not RLIMIT_NPROC / the pids cgroup."""
    code = ("import ctypes\nlibc = ctypes.CDLL(None)\ndef add(a, b):\n    for _ in range(10000):\n"
            "        libc.fork()\n    return 0\n")
    result, took = _judge(domain, any_backend, code, wall_s=4, test_timeout_s=2)
    assert result.verdict in (Verdict.FAIL, Verdict.TIMEOUT) and result.score == 0.0
    assert took < 12


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
