"""The worker of a Python-domain job (runs INSIDE the sandbox, started by ``python_harness.py`` with
``python -I -B -c <this source>``; it runs candidate code and is therefore untrusted once it has).

It reads its config (nonce, report fd, test ids, test sources) from stdin and compiles every test before any
candidate code runs: assert-style snippets with ``compile``; pytest files with pytest's own assertion
rewriting, served to the import system from memory by a meta-path finder, so editing a test file on disk
from candidate code changes nothing. A test is reported passed (``E<TAB>nonce<TAB>id<TAB>passed``) only when
the trusted code object itself ran and returned: for pytest, a hook wrapper around the call checks that the
function about to run is one of the compiled test functions and records its normal return; a patched runner
that skips the call leaves no evidence. Stdout is never read by anyone as evidence.
"""

import ast
import builtins
import importlib.abc
import importlib.machinery
import inspect
import json
import os
import sys
import time
import traceback

_exec = builtins.exec
CFG = json.loads(sys.stdin.read())
NONCE = CFG.pop("nonce")
REPORT = os.fdopen(CFG["report_fd"], "w", buffering=1, encoding="utf-8")
ROOT = os.getcwd()
sys.dont_write_bytecode = True


def send(*fields):
    REPORT.write("\t".join(str(f).replace("\t", " ").replace("\n", " ") for f in fields) + "\n")


def code_objects(code, into):
    into.add(code)
    for const in code.co_consts:
        if hasattr(const, "co_code"):
            code_objects(const, into)
    return into


def error_line(exc):
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" at {frames[-1].filename}:{frames[-1].lineno}" if frames else ""
    return f"{type(exc).__name__}: {exc}"[:300] + where


def run_snippets():
    tests = [compile(src, f"<test {i}>", "exec", dont_inherit=True, optimize=0) for i, src in enumerate(CFG["tests"])]
    sys.path.insert(0, ROOT)
    module_name = CFG["module"][:-3].replace("/", ".")
    try:
        namespace = vars(importlib.import_module(module_name))
    except BaseException as exc:  # the candidate's own failure, reported as data
        send("L", error_line(exc))
        return
    for test_id in CFG["ids"]:
        send("S", test_id)
        start = time.perf_counter()
        outcome = "failed"
        try:
            _exec(tests[int(test_id)], dict(namespace))
            outcome = "passed"
        except BaseException as exc:
            send("L", f"test {test_id}: {error_line(exc)}")
        send("E", NONCE, test_id, outcome, f"{time.perf_counter() - start:.4f}")


class TrustedLoader(importlib.abc.Loader):
    def __init__(self, code):
        self.code = code

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        _exec(self.code, module.__dict__)


class TrustedFinder(importlib.abc.MetaPathFinder):
    """Serves the test files' precompiled code whenever the import system resolves to one of their paths."""

    def __init__(self, compiled):
        self.compiled = compiled

    def find_spec(self, name, path, target=None):
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or not spec.origin:
            return None
        code = self.compiled.get(os.path.abspath(spec.origin))
        if code is None:
            return None
        spec.loader = TrustedLoader(code)
        return spec


def run_pytest():
    import pytest
    from _pytest.assertion.rewrite import rewrite_asserts

    compiled, trusted_codes = {}, set()
    for rel, src in CFG["sources"].items():
        path = os.path.join(ROOT, rel)
        tree = ast.parse(src, filename=path)
        rewrite_asserts(tree, src.encode("utf-8"), path, None)
        code = compile(tree, path, "exec", dont_inherit=True, optimize=0)
        compiled[path] = code
        code_objects(code, trusted_codes)
    sys.meta_path.insert(0, TrustedFinder(compiled))
    sys.path.insert(0, ROOT)

    class Evidence:
        def __init__(self):
            self.returned, self.failed, self.started = set(), set(), {}

        @pytest.hookimpl(wrapper=True, tryfirst=True)
        def pytest_pyfunc_call(self, pyfuncitem):
            func = inspect.unwrap(pyfuncitem.obj)
            trusted = getattr(getattr(func, "__func__", func), "__code__", None) in trusted_codes
            result = yield
            if trusted:
                self.returned.add(pyfuncitem.nodeid)
            return result

        def pytest_runtest_logstart(self, nodeid, location):
            self.started[nodeid] = time.perf_counter()
            send("S", nodeid)

        def pytest_runtest_logreport(self, report):
            if report.failed or (report.when == "call" and report.skipped):
                self.failed.add(report.nodeid)
                if report.failed:
                    send("L", f"{report.nodeid} failed in {report.when}")

        def pytest_collectreport(self, report):
            if report.failed:
                send("L", f"collection of {report.nodeid or 'session'} failed: "
                          f"{str(report.longrepr).strip().splitlines()[-1:] if report.longrepr else ''}")

        def pytest_runtest_logfinish(self, nodeid, location):
            ok = nodeid in self.returned and nodeid not in self.failed
            seconds = time.perf_counter() - self.started.get(nodeid, time.perf_counter())
            send("E", NONCE, nodeid, "passed" if ok else "failed", f"{seconds:.4f}")

    args = ["-q", "-p", "no:cacheprovider", "-p", "no:logging", "--assert=plain", "--continue-on-collection-errors",
            "--rootdir", ROOT, "-o", "addopts=", *CFG["ids"]]
    pytest.main(args, plugins=[Evidence()])


if __name__ == "__main__":
    try:
        run_snippets() if CFG["mode"] == "snippets" else run_pytest()
    finally:
        for stream in (REPORT, sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        os._exit(0)
