import ast
import os
import sys
import threading
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("CODEALIGN_SHARED_DATA", REPO.parent / "shared" / "data"))

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("RAY_AUTH_MODE", "disabled")
sys.path.insert(0, str(Path(__file__).parent))

PROGRAMS = ("codealign/cli/__main__.py", "codealign/domains/ladder/run_check.py", "codealign/domains/python/harness.py",
            "codealign/domains/python/runner.py")
"""Modules that only ever run as programs (``python -m codealign.cli``, or inside a job's sandbox), in a process
``--modules-exercised`` cannot see: it leaves them out (the fast tier runs each through the CLI or a judge)."""
_ran: set[tuple[str, int]] = set()
_missed: list[str] = []


def pytest_addoption(parser):
    parser.addoption("--modules-exercised", action="store_true",
                     help="list the modules of codealign/ none of whose functions ran in the pytest process, and "
                          "fail the run when there is one (run with -m 'not slow': the fast tier must exercise "
                          "every module)")


def pytest_configure(config):
    if config.getoption("modules_exercised"):
        sys.setprofile(_record)
        threading.setprofile(_record)


def _record(frame, event, arg):
    if event == "call":
        _ran.add((frame.f_code.co_filename, frame.f_code.co_firstlineno))


def unexercised_modules(ran: set[tuple[str, int]]) -> list[str]:
    """The modules under codealign/ that define a function of which none is in ``ran`` (file, first line of a
    code object that ran: a function's first line is its def's or its first decorator's), and the modules
    that define none and were not imported. Files under a ``resources/`` folder are data the jobs run (bundled
    repositories, harness scripts started inside sandboxes), not modules of the package: they are left out, as
    are the :data:`PROGRAMS`; code that ran only in a subprocess does not count, as this process cannot see it."""
    missed = []
    for path in sorted((REPO / "codealign").rglob("*.py")):
        if "resources" in path.relative_to(REPO).parts or str(path.relative_to(REPO)) in PROGRAMS:
            continue
        file = str(path)
        defs = [n for n in ast.walk(ast.parse(path.read_text())) if isinstance(n, (ast.FunctionDef,
                                                                                  ast.AsyncFunctionDef))]
        lines = {d.lineno for d in defs} | {d.decorator_list[0].lineno for d in defs if d.decorator_list}
        if not any((file, line) in ran for line in lines or {1}):
            missed.append(str(path.relative_to(REPO)))
    return missed


def pytest_sessionfinish(session, exitstatus):
    if session.config.getoption("modules_exercised"):
        sys.setprofile(None)
        threading.setprofile(None)
        _missed.extend(unexercised_modules(_ran))
        if _missed:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if config.getoption("modules_exercised"):
        terminalreporter.write_sep("=", f"--modules-exercised: {len(_missed)} module(s) of codealign/ with no "
                                        "function run")
        for module in _missed:
            terminalreporter.write_line(module)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data (read-only test data: VerilogEval, RTLLM, SmartBugs, ladder fixtures)."""
    if not SHARED_DATA.is_dir():
        pytest.fail(f"shared data folder missing: {SHARED_DATA} (set CODEALIGN_SHARED_DATA)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def backend():
    """The best isolation backend available here (bwrap in CI)."""
    from codealign.sandbox.backends import get_backend

    return get_backend("auto")


@pytest.fixture(scope="session")
def tiny(tmp_path_factory):
    """A very small offline model folder (built once per test session) for training tests."""
    from codealign.train.models import build_tiny_model

    return str(build_tiny_model(tmp_path_factory.mktemp("tiny") / "model", hidden_size=64, layers=2, heads=2,
                                kv_heads=1, intermediate_size=128))


@pytest.fixture(scope="session")
def process_backend():
    from codealign.sandbox.process import ProcessBackend

    return ProcessBackend()


@pytest.fixture
def openai_server():
    """The stand-in OpenAI-compatible server (tests/openai_standin.py) on a free port, reset; its base URL."""
    from openai_standin import StandIn, serve

    StandIn.reset()
    httpd, url = serve()
    yield url
    httpd.shutdown()
