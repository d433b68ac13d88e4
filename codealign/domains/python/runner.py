"""The trusted test runner of a Python-domain job (runs INSIDE the sandbox, started by ``python_harness.py`` with
``python -I -B -c <this source>``; it never imports or runs candidate code).

Its stdin carries the config: report fd, test ids, the test sources (pytest files, or assert-style snippets),
the paths of the repository's other files and the source of ``worker.py``. It makes itself non-dumpable (no
process of its uid can read its memory or open its fds) and starts ``worker.py serve`` — the candidate's
process — with a request pipe and a reply pipe. Then it runs the tests here, in this process:

* the test files are compiled from the sources in memory (pytest's assertion rewriting included) and imported
  from there; every module of the repository (a file of the task that is not a test file) is a *proxy*: its
  attributes, calls, ``len``, iteration, indexing, ``str``, ``repr``, truth and ``isinstance``/``issubclass``
  against its classes are requests to the candidate's process. Plain data comes back by value (``worker.encode_value``: exact builtin types, never a subclass);
  other objects come back as references (:class:`Remote`); exceptions come back as a local exception of the
  same name and builtin bases, carrying the remote ``str``, ``args`` and attributes, so ``pytest.raises`` and
  ``match`` work; never as a class of the test frameworks (:data:`TEST_FRAMEWORKS`). A test passes only when
  its call phase passed (a skip in a fixture is not a pass). A file under the job dir that is not a file of
  the task is never imported here.
* every comparison a test makes runs here, on copies: two references are equal when they name the same
  remote object, or when both are instances of one dataclass (with generated ``__eq__``) whose fields, copied
  here, are equal; a reference never equals a local value.
* what cannot cross — passing a local object other than plain data, a reference or an object of a library
  this runner imported to the candidate, or arithmetic, ordering, item assignment or ``with`` on a reference —
  raises :class:`Unsupported`: the test is reported ``unsupported`` and the judge gives ``SANDBOX_ERROR``,
  never a pass. Anything else a reference lacks (``int()``, ``hash`` by value...) fails the test.

It writes ``S`` (test started), ``E`` (test done: ``passed``, ``failed`` or ``unsupported``) and ``L``
(diagnostics) lines to the report fd. If the candidate's process dies, the test running is failed and this
runner exits; the harness starts a new one for the tests not yet reported.
"""


RESTART = 3
"""Exit status after the candidate's process died mid-run: the harness starts a new runner for the rest."""
MAX_REPLY_BYTES = 1 << 26
TEST_FRAMEWORKS = frozenset({"unittest", "_pytest", "pytest", "pluggy"})
"""Packages that run the tests. Their exception classes are control flow to them (unittest's ``_ShouldStop``
ends a test as passed, ``SkipTest`` skips it), so an exception of the candidate never crosses as one of
them, nor as a subclass: it becomes a RuntimeError."""


def _runner():
    import ast
    import builtins
    import ctypes
    import importlib.abc
    import importlib.machinery
    import importlib.util
    import json
    import os
    import subprocess
    import sys
    import time
    import types

    cfg = json.loads(sys.stdin.read())
    report_fd = cfg["report_fd"]
    root = os.getcwd()
    sys.dont_write_bytecode = True
    ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE=0
    worker = {}
    exec(compile(cfg["worker_source"], "worker.py", "exec"), worker)
    encode_value, decode_value = worker["encode_value"], worker["decode_value"]
    unsupported = {}

    leave = worker["leave"]

    def send(*fields):
        worker["report"](report_fd, *fields)

    class Unsupported(BaseException):
        """A test step that cannot cross the boundary by value (a BaseException: no ``except Exception`` in a
        test swallows it)."""

    class ServerGone(BaseException):
        """The candidate's process died or answered garbage."""

    requests_r, requests_w = os.pipe()
    replies_r, replies_w = os.pipe()
    server = subprocess.Popen([sys.executable, "-I", "-B", "-c", cfg["worker_source"], "serve"],
                              stdin=subprocess.PIPE, pass_fds=(requests_r, replies_w))
    server.stdin.write(json.dumps({"requests": requests_r, "replies": replies_w}).encode())
    server.stdin.close()
    os.close(requests_r)
    os.close(replies_w)
    to_server = os.fdopen(requests_w, "wb")
    from_server = os.fdopen(replies_r, "rb")
    remotes, mirrors = {}, {}

    class Remote:
        """An object that lives in the candidate's process, named by its reference number."""

        __slots__ = ("_ref", "__weakref__")

        def __getattr__(self, name):
            return request("getattr", obj=self, name=name)

        def __setattr__(self, name, value):
            if name == "_ref":
                object.__setattr__(self, name, value)
            else:
                request("setattr", obj=self, name=name, value=value)

        def __call__(self, *args, **kwargs):
            return request("call", obj=self, args=list(args), kwargs=kwargs)

        def __len__(self):
            return plain(request("len", obj=self), int, "len")

        def __iter__(self):
            return iter(request("list", obj=self))

        def __getitem__(self, key):
            return request("getitem", obj=self, key=key)

        def __contains__(self, item):
            return any(item is x or item == x for x in request("list", obj=self))

        def __bool__(self):
            return plain(request("bool", obj=self), bool, "bool")

        def __instancecheck__(self, instance):
            return plain(request("isinstance", obj=instance, cls=self), bool, "isinstance")

        def __subclasscheck__(self, subclass):
            return plain(request("issubclass", obj=subclass, cls=self), bool, "issubclass")

        def __str__(self):
            return plain(request("str", obj=self), str, "str")

        def __repr__(self):
            return plain(request("repr", obj=self), str, "repr")

        def __eq__(self, other):
            if type(other) is not Remote:
                return NotImplemented
            if other._ref == self._ref:
                return True
            mine, theirs = request("fields", obj=self), request("fields", obj=other)
            return mine is not None and theirs is not None and mine == theirs

        def __ne__(self, other):
            equal = self.__eq__(other)
            return equal if equal is NotImplemented else not equal

        def __hash__(self):
            return hash(("remote", self._ref))

    def cannot_cross(name):
        def operation(self, *args):
            raise Unsupported(f"{name} on an object of the candidate's code")
        return operation

    for name in ("lt", "le", "gt", "ge", "add", "radd", "sub", "rsub", "mul", "rmul", "truediv", "rtruediv",
                 "floordiv", "rfloordiv", "mod", "rmod", "pow", "rpow", "neg", "pos", "abs", "invert",
                 "enter", "exit", "setitem", "delitem"):
        setattr(Remote, f"__{name}__", cannot_cross(f"__{name}__"))

    def plain(value, kind, what):
        if type(value) is not kind:
            raise TypeError(f"{what}() of a candidate object returned {type(value).__name__}")
        return value

    def refer(value):
        """How a local object crosses to the candidate: a reference, or a library object by import path."""
        if type(value) is Remote:
            return {"ref": value._ref}
        if isinstance(value, type) and value in mirrors:
            return {"ref": mirrors[value]}
        module = getattr(value, "__module__", None)
        name = getattr(value, "__qualname__", None)
        if isinstance(module, str) and isinstance(name, str) and module.split(".")[0] not in repo_top:
            found = sys.modules.get(module)
            for part in name.split("."):
                found = getattr(found, part, None)
            if found is value:
                return {"import": [module, name]}
        raise Unsupported(f"a {type(value).__name__} of the test cannot be passed to the candidate's code")

    def mirror(ref):
        """The local exception class standing for the candidate's exception class ``ref``."""
        number = ref["ref"]
        for cls, n in mirrors.items():
            if n == number:
                return cls
        info = ref["exception"]
        bases = tuple(exception_class(b) for b in info["bases"]) or (Exception,)
        cls = type(str(info["name"]).rsplit(".", 1)[-1], bases, {
            "__module__": str(info["module"]), "__qualname__": str(info["name"]),
            "__str__": lambda self: self.__dict__.get("_remote_str", BaseException.__str__(self))})
        mirrors[cls] = number
        return cls

    def exception_class(ref):
        if "builtin" in ref:
            cls = getattr(builtins, str(ref["builtin"]), None)
            return cls if isinstance(cls, type) and issubclass(cls, BaseException) else RuntimeError
        if "import" in ref:
            try:
                cls = loaded(ref["import"])
            except Exception:
                cls = None
            if not isinstance(cls, type) or not issubclass(cls, BaseException) \
                    or any(str(c.__module__).split(".")[0] in TEST_FRAMEWORKS for c in cls.__mro__):
                return RuntimeError
            return cls
        if "exception" in ref:
            return mirror(ref)
        raise ServerGone("malformed exception class")

    def loaded(path):
        """An object of a module this runner has already imported (never a new import the candidate asks for)."""
        value = sys.modules[str(path[0])]
        for part in str(path[1]).split("."):
            value = getattr(value, part)
        return value

    def resolve(data):
        """A reference in a reply: a mirrored exception class or a :class:`Remote`. Never a local library
        object: one with a permissive ``__eq__`` (``unittest.mock.ANY``) would answer the test's comparisons."""
        if "exception" in data:
            return mirror(data)
        if "ref" in data and type(data["ref"]) is int and len(data) == 1:
            remote = remotes.get(data["ref"])
            if remote is None:
                remote = remotes[data["ref"]] = object.__new__(Remote)
                remote._ref = data["ref"]
            return remote
        raise ServerGone(f"malformed reference {str(data)[:80]}")

    def request(op, **fields):
        line = json.dumps(encode_value({"op": op, **fields}, refer)).encode() + b"\n"
        try:
            to_server.write(line)
            to_server.flush()
            line = from_server.readline(MAX_REPLY_BYTES)
        except OSError as exc:
            raise ServerGone(f"the candidate's process is gone: {exc}") from None
        if not line.endswith(b"\n"):
            raise ServerGone("the candidate's process exited" if not line else "reply too long")
        try:
            reply = json.loads(line)
            if "ok" in reply:
                return decode_value(reply["ok"], resolve)
            raised = reply["raise"]
            cls = exception_class(raised["cls"])
            args = decode_value(raised["args"], resolve)
            attrs = decode_value(raised["attrs"], resolve)
            message = raised["str"]
        except ServerGone:
            raise
        except Exception as exc:
            raise ServerGone(f"malformed reply from the candidate's process: {type(exc).__name__}") from None
        if not issubclass(cls, Exception):
            cls = RuntimeError  # a remote SystemExit or KeyboardInterrupt must not stop this runner
        error = cls.__new__(cls)
        error.args = tuple(args) if type(args) is list else ()
        if type(attrs) is dict:
            for key, value in attrs.items():
                if type(key) is str and not key.startswith("__"):
                    try:
                        setattr(error, key, value)
                    except (AttributeError, TypeError):
                        pass
        if cls in mirrors and type(message) is str:
            error._remote_str = message
        raise error

    tests = cfg["sources"]
    repo = [p for p in cfg["repo"] if p not in tests]
    repo_top = {p.split("/")[0].removesuffix(".py") for p in repo if p.endswith(".py")}
    known_dirs = {os.path.dirname(p) for p in [*tests, *repo]}
    known_dirs |= {d.rsplit("/", i)[0] for d in list(known_dirs) for i in range(1, d.count("/") + 1)}

    class TrustedLoader(importlib.abc.Loader):
        def __init__(self, code):
            self.code = code

        def create_module(self, spec):
            return None

        def exec_module(self, module):
            exec(self.code, module.__dict__)

    class ProxyLoader(importlib.abc.Loader):
        """A module of the repository: every attribute not set here is fetched from the candidate's process."""

        def create_module(self, spec):
            return None

        def exec_module(self, module):
            remote = request("import", name=module.__name__)
            module.__getattr__ = lambda name: getattr(remote, name)

    class BoundaryFinder(importlib.abc.MetaPathFinder):
        """Resolves every import itself, in the import system's order: builtin and frozen modules, then each
        path entry — outside the job dir as the path finder would, inside it only test files (from memory) and
        repository modules (as proxies); a file there that is not a file of the task is refused, and no later
        finder ever searches the job dir."""

        def find_spec(self, name, path, target=None):
            for finder in (importlib.machinery.BuiltinImporter, importlib.machinery.FrozenImporter):
                found = finder.find_spec(name, path)
                if found is not None:
                    return found
            tail = name.rpartition(".")[2]
            namespace = None
            for entry in (path if path is not None else sys.path):
                base = os.path.abspath(entry or root)
                if base != root and not base.startswith(root + os.sep):
                    found = importlib.machinery.PathFinder.find_spec(name, [entry])
                    if found is not None:
                        return found
                    continue
                rel = os.path.relpath(os.path.join(base, tail), root)
                rel = "" if rel == "." else rel
                for file, package in ((f"{rel}/__init__.py", True), (f"{rel}.py", False)):
                    spec = self.spec(name, file, package)
                    if spec is not None:
                        return spec
                if rel in known_dirs and namespace is None:
                    namespace = os.path.join(root, rel)
                elif os.path.exists(os.path.join(root, rel)) or os.path.exists(os.path.join(root, rel + ".py")):
                    raise ImportError(f"{name}: not a file of the task")
            if namespace is not None:
                spec = importlib.machinery.ModuleSpec(name, None, is_package=True)
                spec.submodule_search_locations = [namespace]
                return spec
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)

        def spec(self, name, file, package):
            if file in compiled:
                loader = TrustedLoader(compiled[file])
            elif file in repo:
                loader = ProxyLoader()
            else:
                return None
            location = os.path.join(root, file)
            spec = importlib.util.spec_from_loader(name, loader, origin=location, is_package=package)
            spec.has_location = True
            if package:
                spec.submodule_search_locations = [os.path.dirname(location)]
            return spec

    compiled = {}

    def run_snippets():
        module = importlib.import_module(cfg["module"][:-3].replace("/", "."))
        for test_id in cfg["ids"]:
            send("S", test_id)
            start = time.perf_counter()
            outcome = "failed"
            try:
                tree = ast.parse(cfg["tests"][int(test_id)])
                code = compile(tree, f"<test {test_id}>", "exec", dont_inherit=True)
                namespace = {"__builtins__": builtins}
                libraries = library_names(tree)
                for name in names_of(code):
                    if not hasattr(builtins, name):
                        try:
                            namespace[name] = free_value(name, libraries, module)
                        except AttributeError:
                            pass
                exec(code, namespace)
                outcome = "passed"
            except Unsupported as exc:
                outcome = "unsupported"
                send("L", f"test {test_id}: unsupported: {exc}")
            except ServerGone as exc:
                send("L", f"test {test_id}: {exc}")
                send("E", test_id, "failed", f"{time.perf_counter() - start:.4f}")
                leave(RESTART)
            except BaseException as exc:
                send("L", f"test {test_id}: {type(exc).__name__}: {str(exc)[:300]}")
            send("E", test_id, outcome, f"{time.perf_counter() - start:.4f}")

    def library_names(tree):
        """Free names the snippet only dereferences (``math`` of ``math.isclose(...)``) and never binds, that
        are not modules of the repository: the library modules of those names, imported here, stand for them,
        so a candidate's own ``math`` cannot answer the snippet's checks."""
        dereferenced, other, bases = set(), set(), set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
                dereferenced.add(node.value.id)
                bases.add(id(node.value))
        for node in ast.walk(tree):
            if isinstance(node, ast.Name) and id(node) not in bases:
                other.add(node.id)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                other.add(node.name)
            elif isinstance(node, ast.arg):
                other.add(node.arg)
            elif isinstance(node, ast.ExceptHandler) and node.name:
                other.add(node.name)
            elif isinstance(node, ast.alias):
                other.add((node.asname or node.name).split(".")[0])
        return {n for n in dereferenced - other if n not in repo_top}

    def free_value(name, libraries, module):
        """What a free name of a snippet stands for: the library module of that name (see
        :func:`library_names`) when one is installed, else the candidate module's attribute. A file of the job
        dir in the library's place is an ImportError, never the candidate's attribute."""
        if name in libraries:
            try:
                return importlib.import_module(name)
            except ModuleNotFoundError as exc:
                if exc.name != name:
                    raise
        return getattr(module, name)

    def names_of(code):
        names = set(code.co_names)
        for const in code.co_consts:
            if isinstance(const, types.CodeType):
                names |= names_of(const)
        return names

    def run_pytest():
        import pytest
        from _pytest.assertion.rewrite import rewrite_asserts

        for rel, src in tests.items():
            if rel.endswith(".py"):
                path = os.path.join(root, rel)
                tree = ast.parse(src, filename=path)
                rewrite_asserts(tree, src.encode("utf-8"), path, None)
                compiled[rel] = compile(tree, path, "exec", dont_inherit=True, optimize=0)

        class Report:
            def __init__(self):
                self.failed, self.called, self.started, self.gone = set(), set(), {}, None

            def pytest_runtest_makereport(self, item, call):
                error = call.excinfo.value if call.excinfo else None
                if isinstance(error, Unsupported):
                    unsupported.setdefault(item.nodeid, str(error))
                elif isinstance(error, ServerGone):
                    self.gone = str(error)

            def pytest_runtest_logstart(self, nodeid, location):
                self.started[nodeid] = time.perf_counter()
                send("S", nodeid)

            def pytest_runtest_logreport(self, report):
                if report.when == "call" and report.passed:
                    self.called.add(report.nodeid)
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
                # A pass needs a passed call phase: a test skipped in setup (a fixture that reaches the candidate's
                # code, which can raise unittest.SkipTest) never ran its body.
                passed = nodeid in self.called and nodeid not in self.failed
                outcome = "unsupported" if nodeid in unsupported else "passed" if passed else "failed"
                if nodeid in unsupported:
                    send("L", f"{nodeid}: unsupported: {unsupported[nodeid]}")
                send("E", nodeid, outcome, f"{seconds:.4f}")
                if self.gone:
                    send("L", f"{nodeid}: {self.gone}")
                    leave(RESTART)

        # A fixed empty ini and no conftest above the job: files planted outside the job dir configure nothing.
        args = ["-q", "-c", os.devnull, "--confcutdir", root, "-p", "no:cacheprovider", "-p", "no:logging",
                "--assert=plain", "--continue-on-collection-errors", "--rootdir", root, "-o", "addopts=", *cfg["ids"]]
        pytest.main(args, plugins=[Report()])

    sys.meta_path.insert(0, BoundaryFinder())
    sys.path.insert(0, root)
    try:
        run_snippets() if cfg["mode"] == "snippets" else run_pytest()
    except BaseException as exc:  # the candidate's process failed at import, or vanished: data for the report
        send("L", f"{type(exc).__name__}: {str(exc)[:300]}")
    finally:
        try:  # end of requests: the candidate's process flushes its output and exits
            to_server.close()
            server.wait(timeout=2)
        except (OSError, subprocess.TimeoutExpired):
            pass
        leave()


if __name__ == "__main__":
    _runner()
