"""The worker of a Python-domain job (runs INSIDE the sandbox, started by ``python_harness.py`` with
``python -I -B -c <this source>``; it runs candidate code and is therefore untrusted once it has).

Its stdin carries a fresh 32-byte key, then its config (report fd, test ids, test sources). Before any
candidate code runs it:

1. turns the key into an OpenSSL HMAC object (``_hashlib``: the key is copied into C memory, no Python object
   holds it) and zeroes the buffer it arrived in;
2. compiles every test (assert-style snippets with ``compile``; pytest files with pytest's assertion
   rewriting, served to the import system from memory, so editing test files on disk changes nothing) and
   records, for each test id, the one code object that is that test;
3. makes itself non-dumpable, then installs two PEP 578 audit hooks and forgets every reference to them and
   to the HMAC object (an audit hook is held only by the interpreter; no Python API lists the hooks):

   * the *guard* (no secrets) refuses ``gc.get_objects/get_referrers/get_referents``, ``sys._current_frames``,
     ``sys.settrace/setprofile``, every ``ctypes`` event, opening any file named ``mem`` (``/proc/*/mem``),
     ``os.symlink``, assigning a function's ``__code__`` and adding audit hooks;
   * the *witness* holds the HMAC object, the report fd and the expected code objects. It acts on one event,
     raised by :func:`call_test` right after the test function it was given returned normally: it takes the
     caller's frame, checks that its code object is :func:`call_test`'s own, and that the function that
     frame called is a plain function (or a method of one) whose ``__code__`` IS the trusted code object of
     the test id named there — never unwrapped, never looked up by node id. Only then does it write
     ``P<TAB>test id<TAB>HMAC(key, "P<TAB>test id")``. It never raises and never calls anything the candidate
     can replace, so no traceback or callback exposes its frame.

A pass is therefore evidence that the trusted code object ran and returned in this process: hiding, wrapping,
swapping or skipping the call (a late pytest plugin, a patched runner, a collection hook) only removes evidence.
Every other line the worker writes (``S`` test started, ``E`` test done with pytest's outcome, ``L`` load
errors) steers deadlines and diagnostics and can only make a test fail. Pytest's plugin manager refuses
registrations once the session has started, trusted conftest modules excepted. Stdout is never read as
evidence. What remains possible is listed in the domain's threat model (``codealign/domains/python``).
"""


NOT_RUN_BY_A_CALL = 0x20 | 0x80 | 0x100 | 0x200  # CO_GENERATOR, CO_COROUTINE, CO_ITERABLE_COROUTINE, CO_ASYNC_GENERATOR
_TAGGED = ("float", "tuple", "dict", "set", "frozenset", "bytes")


def encode_value(value):
    """``value`` as JSON-able data when it is plain data of exact builtin types (None, bool, int, float, str,
    bytes, list, tuple, dict, set, frozenset, nested); TypeError for anything else, subclasses included, so no
    object with its own ``__eq__`` crosses. Floats, tuples, dicts, sets and bytes become one-key tagged objects."""
    kind = type(value)
    if value is None or kind is bool or kind is int or kind is str:
        return value
    if kind is float:
        return {"float": float.__repr__(value)}
    if kind is list:
        return [encode_value(v) for v in list.__iter__(value)]
    if kind is tuple:
        return {"tuple": [encode_value(v) for v in tuple.__iter__(value)]}
    if kind is dict:
        return {"dict": [[encode_value(k), encode_value(v)] for k, v in dict.items(value)]}
    if kind is set or kind is frozenset:
        return {kind.__name__: [encode_value(v) for v in kind.__iter__(value)]}
    if kind is bytes:
        return {"bytes": bytes.hex(value)}
    raise TypeError(f"not plain data: {kind.__name__}")


def decode_value(data):
    """The value :func:`encode_value` encoded, from JSON-decoded ``data``, built of exact builtin types only;
    ValueError (or TypeError for unhashable keys) for anything else."""
    kind = type(data)
    if data is None or kind is bool or kind is int or kind is str:
        return data
    if kind is list:
        return [decode_value(v) for v in data]
    if kind is dict and len(data) == 1:
        (tag, body), = data.items()
        if tag == "float" and type(body) is str:
            return float(body)
        if tag == "bytes" and type(body) is str:
            return bytes.fromhex(body)
        if tag in _TAGGED and type(body) is list:
            items = [decode_value(v) for v in body]
            if tag == "dict":
                if not all(type(i) is list and len(i) == 2 for i in items):
                    raise ValueError("malformed dict entry")
                return {k: v for k, v in items}
            return {"tuple": tuple, "set": set, "frozenset": frozenset}[tag](items)
    raise ValueError(f"not an encoded value: {str(data)[:80]}")


def _worker():
    import ast
    import ctypes
    import importlib
    import importlib.abc
    import importlib.machinery
    import json
    import os
    import sys
    import time
    import traceback
    import types
    import _hashlib

    key = bytearray(32)
    view, got = memoryview(key), 0
    while got < 32 and sys.argv[1:] != ["calls"]:  # the calls mode gets no key: it signs nothing
        n = os.readv(0, [view[got:]])
        if n == 0:
            os._exit(2)
        got += n
    del view
    cfg = json.loads(sys.stdin.read())
    report_fd = cfg["report_fd"]
    root = os.getcwd()
    sys.dont_write_bytecode = True

    def send(*fields):
        line = "\t".join(str(f).replace("\t", " ").replace("\n", " ") for f in fields) + "\n"
        try:
            os.write(report_fd, line.encode("utf-8", "replace"))
        except OSError:
            pass

    def error_line(exc):
        frames = traceback.extract_tb(exc.__traceback__)
        where = f" at {frames[-1].filename}:{frames[-1].lineno}" if frames else ""
        return f"{type(exc).__name__}: {exc}"[:300] + where

    def call_test(test_id, func, kwargs):
        """Run one trusted test function; the witness signs its return (see the module docstring)."""
        func(**kwargs)
        sys.audit("codealign.returned")

    def code_by_qualname(code, into):
        for const in code.co_consts:
            if isinstance(const, types.CodeType):
                into.setdefault(const.co_qualname, []).append(const)
                code_by_qualname(const, into)
        return into

    def arm(key, expected):
        """Install the guard and the witness, zeroing ``key``; ``expected``: base test id -> trusted code.

        Everything the hooks call is bound here, before any candidate code runs: a builtin the candidate
        replaces later (``type``, ``BaseException``...) must not run its code inside the witness."""
        signer = _hashlib.hmac_new(key, digestmod="sha256")
        key[:] = bytes(32)
        denied = frozenset({"gc.get_objects", "gc.get_referrers", "gc.get_referents", "sys._current_frames",
                            "sys.settrace", "sys.setprofile", "os.symlink"})
        kind, text, raw, integer, fspath, is_a = type, str, bytes, int, os.fspath, isinstance
        denial, closed, any_exception = PermissionError, RuntimeError, BaseException
        function, method, write, getframe = types.FunctionType, types.MethodType, os.write, sys._getframe

        def guard(event, args):
            if kind(event) is not text:
                return
            if event in denied or event.startswith("ctypes."):
                raise denial(f"{event} is not allowed in a test worker")
            if event == "sys.addaudithook":
                raise closed("audit hooks are closed")
            if event == "object.__setattr__" and kind(args[0]) is function and text.__eq__(args[1], "__code__"):
                raise denial("assigning __code__ is not allowed in a test worker")
            if event == "open" and kind(args[0]) is not integer:
                try:
                    path = fspath(args[0])  # a path-like is already converted when this event is raised
                except any_exception:
                    return
                path = raw.decode(path, "latin-1") if is_a(path, raw) else text.__str__(path)
                if text.rsplit(text.rstrip(path, "/"), "/", 1)[-1] == "mem":
                    raise denial("opening process memory is not allowed in a test worker")

        witness_code = call_test.__code__
        busy = [False]

        def witness(event, args):
            if kind(event) is not text or event != "codealign.returned" or busy[0]:
                return
            busy[0] = True
            try:
                caller = getframe(1)
                if caller.f_code is not witness_code:
                    return
                local = caller.f_locals
                test_id, func = local.get("test_id"), local.get("func")
                if kind(test_id) is not text or "\t" in test_id or "\n" in test_id:
                    return
                if kind(func) is method:
                    func = func.__func__
                if kind(func) is not function or func.__code__ is not expected.get(test_id.split("[", 1)[0]):
                    return
                mac = signer.copy()
                mac.update(("P\t" + test_id).encode())
                write(report_fd, ("P\t" + test_id + "\t" + mac.hexdigest() + "\n").encode())
            except any_exception:
                pass
            finally:
                busy[0] = False

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE=0: no same-uid process reads this one's memory
        sys.addaudithook(witness)
        sys.addaudithook(guard)  # last: it closes the list of hooks

    def run_snippets():
        tests = {str(i): compile(src, f"<test {i}>", "exec", dont_inherit=True, optimize=0)
                 for i, src in enumerate(cfg["tests"])}
        arm(key, dict(tests))
        sys.path.insert(0, root)
        module_name = cfg["module"][:-3].replace("/", ".")
        try:
            namespace = vars(importlib.import_module(module_name))
        except BaseException as exc:  # the candidate's own failure, reported as data
            send("L", error_line(exc))
            return
        for test_id in cfg["ids"]:
            send("S", test_id)
            start = time.perf_counter()
            outcome = "failed"
            try:
                call_test(test_id, types.FunctionType(tests[test_id], dict(namespace)), {})
                outcome = "passed"
            except BaseException as exc:
                send("L", f"test {test_id}: {error_line(exc)}")
            send("E", test_id, outcome, f"{time.perf_counter() - start:.4f}")

    def run_calls():
        """Call the candidate's function on each input; each result crosses as plain data (an ``R`` line) and
        the judge compares it outside the sandbox. No key and no expected value exists in this process."""
        sys.path.insert(0, root)
        module_name = cfg["module"][:-3].replace("/", ".")
        try:
            function = getattr(importlib.import_module(module_name), cfg["function"])
        except BaseException as exc:  # the candidate's own failure, reported as data
            send("L", error_line(exc))
            return
        for test_id in cfg["ids"]:
            send("S", test_id)
            start = time.perf_counter()
            outcome = "failed"
            try:
                result = function(*decode_value(cfg["inputs"][int(test_id)]))
                send("R", test_id, json.dumps(encode_value(result)))
                outcome = "passed"
            except BaseException as exc:
                send("L", f"call {test_id}: {error_line(exc)}")
            send("E", test_id, outcome, f"{time.perf_counter() - start:.4f}")

    class TrustedLoader(importlib.abc.Loader):
        def __init__(self, code):
            self.code = code

        def create_module(self, spec):
            return None

        def exec_module(self, module):
            exec(self.code, module.__dict__)

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

    def trusted_tests(compiled):
        """Base test id -> the code object of that test (the last definition wins, as in the module). Generator
        and coroutine tests are left out: calling them returns without running the body."""
        expected = {}
        for test_id in cfg["ids"]:
            rel, *qual = test_id.split("::")
            code = compiled.get(os.path.join(root, rel))
            found = code_by_qualname(code, {}).get(".".join(qual)) if code is not None else None
            code = max(found, key=lambda c: c.co_firstlineno) if found else None
            if code is not None and not code.co_flags & NOT_RUN_BY_A_CALL:
                expected[test_id] = code
        return expected

    def run_pytest():
        import pytest
        from _pytest.assertion.rewrite import rewrite_asserts

        compiled = {}
        for rel, src in cfg["sources"].items():
            path = os.path.join(root, rel)
            tree = ast.parse(src, filename=path)
            rewrite_asserts(tree, src.encode("utf-8"), path, None)
            compiled[path] = compile(tree, path, "exec", dont_inherit=True, optimize=0)
        sys.meta_path.insert(0, TrustedFinder(compiled))
        sys.path.insert(0, root)

        class Evidence:
            def __init__(self):
                self.failed, self.started = set(), {}

            @pytest.hookimpl(trylast=True)
            def pytest_sessionstart(self, session):
                pm = session.config.pluginmanager
                register = pm.register

                def register_trusted_only(plugin, name=None):
                    """Once the session has started only the trusted conftest modules may join."""
                    loader = getattr(plugin, "__loader__", None)
                    if not (isinstance(plugin, types.ModuleType) and isinstance(loader, TrustedLoader)
                            and any(loader.code is code for code in compiled.values())):
                        raise ValueError("pytest plugin registration is closed in a test worker")
                    return register(plugin, name)

                pm.register = register_trusted_only

            @pytest.hookimpl(tryfirst=True)
            def pytest_pyfunc_call(self, pyfuncitem):
                func = pyfuncitem.obj
                kwargs = {arg: pyfuncitem.funcargs[arg] for arg in pyfuncitem._fixtureinfo.argnames}
                call_test(pyfuncitem.nodeid, func, kwargs)
                return True

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
                seconds = time.perf_counter() - self.started.get(nodeid, time.perf_counter())
                send("E", nodeid, "failed" if nodeid in self.failed else "passed", f"{seconds:.4f}")

        arm(key, trusted_tests(compiled))
        # A fixed empty ini and no conftest above the job: files planted outside the job dir configure nothing.
        args = ["-q", "-c", os.devnull, "--confcutdir", root, "-p", "no:cacheprovider", "-p", "no:logging",
                "--assert=plain", "--continue-on-collection-errors", "--rootdir", root, "-o", "addopts=",
                *cfg["ids"]]
        pytest.main(args, plugins=[Evidence()])

    try:
        {"snippets": run_snippets, "calls": run_calls}.get(cfg["mode"], run_pytest)()
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        os._exit(0)


if __name__ == "__main__":
    _worker()
