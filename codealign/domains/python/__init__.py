"""The Python domain: a candidate judged by calls of its function or by tests (assert-style snippets or pytest
files) in the sandbox; the graded score is the fraction of calls or tests passed, decided out of the
candidate's reach.

Task ``assets`` (all optional except one way to judge):

* ``calls`` — a function task: ``{"function": name, "cases": [[args, expected], ...], "draw": {"family",
  "params", "n"}}`` with ``args`` (a list) and ``expected`` encoded by ``worker.encode_value``; ``draw`` adds
  ``n`` inputs drawn per job from a procedural family (:mod:`.tasks`) with a seed from the judge's secret
  (:mod:`codealign.domains.draws`), their expected outputs computed on the judge's side by the family's reference. Or:
* ``tests`` — list of assert-style snippets; each is one test (HumanEval/MBPP style), its free names
  looked up in the candidate's module, except a name it only dereferences (``math`` of ``math.isclose``):
  that is the installed library module of the name, when there is one. Or:
* ``test_files`` — ``{relative path: source}`` of pytest files (``conftest.py`` and helpers included); the
  tests are what pytest's default rules collect from them, found statically.
* ``test_paths`` — restrict collection to these files/folders among ``test_files``.
* ``command`` — an argv to run instead of tests (repositories that ship only a script such as ExecRepoBench's
  ``evaluate_repo.py``): **not judged**. Its only evidence would be an exit status, which a candidate forges
  with ``os._exit(0)``; every such job is SANDBOX_ERROR with failure ``unsupported`` (never a pass, never a
  pair). Give the repository's tests as ``test_files`` instead.
* ``module`` — path the candidate is written to (default ``solution.py``); the tests import it.
* ``prefix`` / ``suffix`` — text written before / after the completion in that file (fill-in-the-middle).
* ``files`` — ``{relative path: text}`` other files of the job (a repository snapshot, fixtures).
* ``test_timeout_s`` — per-test (per-call) deadline in seconds (default 10). The job's ``Limits.wall_s`` is the
  total deadline; tests not reached in time count as failed.

Threat model. The candidate is arbitrary Python run as the job's uid, with the sandbox backend's limits around
the whole job. It may print anything (a fake ``5 passed`` summary), exit with any status, fork, rewrite files
in the job dir, signal or kill processes of its uid, read anything its uid can read, walk every frame and
object of its own process (gc, ``sys._getframe``, finalizers, signal handlers: nothing there is guarded), and
rewrite every reply its process sends. What stops it is structure — no key, signer, test code, expected value
or comparison lives in a process that runs candidate code:

* stdout/stderr are never evidence. The verdict comes only from the backend's trusted fd 3, written by the
  parent ``python_harness.py``, which never runs candidate code, is the only holder of fd 3, is non-dumpable
  and signs its report with HMAC-SHA256 under a per-job key it read and unlinked before any candidate code
  started. Test ids are collected statically (``ast``); tests without a result count as failed; per-test and
  total deadlines are the parent's; a process that dies mid-test gets that test charged and a fresh one runs
  the rest.
* Function tasks: the candidate's process (``worker.py calls``) receives only the inputs and returns each
  result as plain data of exact builtin types (``encode_value``: no subclass, so no object with its own
  ``__eq__``, crosses). The judge decodes the results on the host and compares them type for type (``1.0`` and
  ``True`` are not ``1``; dict and set order do not matter) against expected values that never entered the
  sandbox, on inputs partly drawn per job from the judge's secret (same task and candidate, same draw): a
  table of the fixed cases does not pass.
* Test files and snippets: the tests run in a trusted runner (``runner.py``, non-dumpable, test code compiled
  from memory, a fixed empty ini and ``--confcutdir`` at the job, so nothing planted above the job dir is
  read); the candidate's repository lives in a ``worker.py serve`` child reached only through requests whose
  replies are plain data by value, references to the candidate's objects, or mirrored exception classes —
  never a local object (a reply naming ``unittest.mock.ANY`` is malformed), nor an exception class of the
  test frameworks (unittest passes a test that raises its ``_ShouldStop``); a test passes only on a passed
  call phase (a ``SkipTest`` raised in a fixture is no pass). Every comparison runs in the
  runner, on copies. A file the candidate creates in the job dir is never imported by the runner. A test step
  that cannot cross by value is *unsupported* (below) and the job is SANDBOX_ERROR, never a pass.

What cannot cross (``unsupported``): passing a local object of the test to the candidate's code other than
plain data, a reference it returned or an object of a library the runner imported (a lambda or a local
function as a callback, an instance of a class defined in the test); arithmetic, ordering, item assignment
or ``with`` on a candidate's object. Supported on a candidate's object: attribute get/set, call, ``len``,
iteration, indexing, ``in`` (evaluated locally over a copy), ``str``, ``repr``, truth, ``isinstance`` /
``issubclass`` against its classes and equality; what else it lacks (``int()``, ``hash`` by value) fails the
test. Every test of the bundled ExecRepoBench suite crosses.

Residual risks (what remains possible, and why):

* Two of the candidate's objects compared with each other (``Event.parse(s) == event``) compare fields the
  candidate reports; a reference never equals a local value, but data the candidate returns is whatever it
  computed: for test files (ExecRepoBench, users' repositories) the inputs are the repository's fixed tests,
  so a candidate that special-cases them passes; only function tasks draw hidden inputs.
* Drawn inputs come from the family's input distribution: a candidate right on that distribution and wrong
  elsewhere passes.
* Under the process backend a job runs as the
  harness's uid when the harness is not root and could read the judge's key file; isolation from the host
  (network, filesystem writes outside the job dir, process escape) is the backend's: use ``bwrap``.

No batches (``batch_size`` stays 1): the sandbox job is the unit of isolation. Candidates in one job, even
each in its own process, would share its uid, job dir and limits, and a candidate may signal or kill its uid's
processes and rewrite the job dir (above), so one could change another's verdict; one job per candidate keeps
each alone. A batch would save only the job's start (sandbox launch, harness interpreter), not the
candidate's own process and tests, which isolation needs per candidate anyway.
"""

from __future__ import annotations

import hashlib
import hmac
import importlib.metadata
import importlib.util
import json
import os
import platform
import random
import shlex
import sys
from pathlib import Path

from codealign.domains.base import Benchmark, Domain, DomainOption, limit_verdict
from codealign.domains.python.extract import extract_python
from codealign.domains.draws import draw_seed
from codealign.domains.python.worker import decode_value, encode_value
from codealign.domains.python.syntax import SYNTAX
from codealign.extraction import Extraction, extract_code
from codealign.sandbox.job import Job, JobResult
from codealign.sandbox.limits import Limits
from codealign.types import Candidate, ExecResult, Task, Verdict

_HERE = Path(__file__).resolve().parent
_HARNESS = ".codealign/python_harness.py"
_RESERVED = ".codealign/"
_STARTUP_MARGIN_S = 2.0
_COMMAND_UNSUPPORTED = ("unsupported: a command's exit status is not evidence (a candidate forges it with "
                        "os._exit(0)); give the repository's tests as assets.test_files")


def _rel_path(name: str, what: str) -> str:
    parts = name.split("/")
    if not name or name.startswith("/") or ".." in parts or name.startswith(_RESERVED):
        raise ValueError(f"{what} must be a relative path inside the job without '..': {name!r}")
    return name


def authenticated(trusted: bytes, key: bytes) -> list[dict]:
    """The payloads of the lines of ``trusted`` that carry a valid HMAC under ``key``, in order."""
    found = []
    for line in trusted.splitlines():
        try:
            row = json.loads(line)
            payload, mac = row["payload"], row["mac"]
        except (ValueError, KeyError, TypeError):
            continue
        if not isinstance(payload, str) or not isinstance(mac, str):
            continue
        expected = hmac.new(key, payload.encode(), hashlib.sha256).hexdigest()
        if hmac.compare_digest(expected, mac):
            found.append(json.loads(payload))
    return found


def verify_report(trusted: bytes, key: bytes) -> dict | None:
    """The harness's final report (the last authenticated payload with ``ok``), or None."""
    reports = [p for p in authenticated(trusted, key) if "ok" in p]
    return reports[-1] if reports else None


def _strict_form(data: object) -> str:
    """A text equal for two ``encode_value`` encodings exactly when their values are equal type for type (see
    ``PythonDomain._compare``): JSON keeps ``true`` and ``1`` apart and tags floats, so only the order of dict
    entries and set items and the sign of a float zero are normalised here."""
    def form(item: object) -> object:
        if type(item) is list:
            return [form(v) for v in item]
        if type(item) is not dict:
            return item
        (tag, body), = item.items()
        if tag == "float":
            return {tag: "0.0" if body == "-0.0" else body}
        if tag in ("dict", "set", "frozenset"):
            return {tag: sorted((form(v) for v in body), key=json.dumps)}
        return {tag: form(body)}

    return json.dumps(form(data))


class PythonDomain(Domain):
    """Python candidates judged by tests; see the module docstring for the assets and the threat model."""

    name = "python"
    task_module = "codealign.domains.python.tasks"
    default_limits = Limits(wall_s=60.0, cpu_s=60.0, memory_mb=1024, nproc=64)
    default_test_timeout_s = 10.0
    fence_tags = frozenset({"python", "py", "python3", "py3"})
    syntax = SYNTAX
    # 8 RFT rounds on 256 feedback-pool tasks x 8 samples (the shipped warm-up's samples are near-duplicates: fewer
    # tasks and samples left too little to train on), evaluated on 144 held-out tasks; the search that chose them
    # (fewer rounds or tasks stayed within 2 SE of continued SFT): README, "Python's default run".
    run_defaults = {"method": "rft", "rounds": 8, "max_tasks": 256,
                    "sft": {"max_steps": 80, "per_device_train_batch_size": 8},
                    "sample": {"n": 8, "max_new_tokens": 96}, "eval": {"heldout_tasks": 144, "max_tasks": 0, "n": 2}}

    def extract(self, text: str, truncated: bool = False) -> Extraction:
        return extract_code(text, self.name, self.fence_tags, extract_python, truncated=truncated)

    def toolchain_version(self) -> str:
        try:
            pytest_version = importlib.metadata.version("pytest")
        except importlib.metadata.PackageNotFoundError:
            pytest_version = "missing"
        return f"python {platform.python_version()}; pytest {pytest_version}"

    def check_toolchain(self) -> str | None:
        if importlib.util.find_spec("pytest") is None:
            return f"pytest is not installed for {sys.executable}"
        return None

    def prepare(self, task: Task, candidate: Candidate) -> Job | ExecResult:
        assets = task.assets
        module = _rel_path(assets.get("module", "solution.py"), "assets.module")
        if not module.endswith(".py"):
            raise ValueError(f"assets.module must name a .py file: {module!r}")
        source = f"{assets.get('prefix', '')}{candidate.completion}{assets.get('suffix', '')}"
        try:
            compile(source, module, "exec", dont_inherit=True)
        except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
            line = getattr(exc, "lineno", None)
            return ExecResult(task.task_id, candidate.candidate_id, Verdict.COMPILE_ERROR,
                              details={"error": f"{type(exc).__name__}: {getattr(exc, 'msg', exc)}", "line": line},
                              completion=candidate.completion)
        if assets.get("command"):
            return ExecResult(task.task_id, candidate.candidate_id, Verdict.SANDBOX_ERROR, completion=candidate.completion,
                              details={"failure": "unsupported", "error": _COMMAND_UNSUPPORTED})
        limits = self.limits_for(task)
        config = self._config(assets, module, limits, self._cases(task, candidate) if assets.get("calls") else [])
        files = {_rel_path(k, "assets.files key"): v for k, v in (assets.get("files") or {}).items()}
        files.update({_rel_path(k, "assets.test_files key"): v for k, v in (assets.get("test_files") or {}).items()})
        files[module] = source
        files[_HARNESS] = (_HERE / "harness.py").read_text(encoding="utf-8")
        files[".codealign/worker.py"] = (_HERE / "worker.py").read_text(encoding="utf-8")
        files[".codealign/runner.py"] = (_HERE / "runner.py").read_text(encoding="utf-8")
        if config["mode"] in ("pytest", "snippets"):
            config["repo"] = sorted(f for f in files if not f.startswith(_RESERVED))
        files[".codealign/config.json"] = json.dumps(config)
        files[".codealign/key"] = os.urandom(32)
        script = f"exec {shlex.quote(sys.executable)} -I -B {_HARNESS}\n"
        return Job(script=script, files=files, limits=limits)

    def _cases(self, task: Task, candidate: Candidate) -> list[tuple[list, object]]:
        """``(arguments, expected value)`` of each call of a ``calls`` task: its fixed cases, then the ones drawn
        for this job (same task and candidate, same draw). Host side only: expected values never enter a job."""
        calls = task.assets["calls"]
        if not isinstance(calls, dict) or not isinstance(calls.get("function"), str):
            raise ValueError("assets.calls must be a mapping with a 'function' name")
        try:
            cases = [(decode_value(args), decode_value(expected)) for args, expected in calls.get("cases") or []]
        except (TypeError, ValueError) as exc:
            raise ValueError(f"assets.calls.cases: each case must be [encoded arguments, encoded value]: {exc}") \
                from None
        if any(type(args) is not list for args, _ in cases):
            raise ValueError("assets.calls.cases: the arguments of a case must encode a list")
        draw = calls.get("draw")
        if draw:
            from codealign.domains.python.tasks import drawn_cases

            seed = draw_seed("python-calls", task, candidate.completion)
            cases += drawn_cases(draw["family"], draw["params"], int(draw["n"]), seed)
        if not cases:
            raise ValueError("assets.calls has no cases and no draw")
        return cases

    def _config(self, assets: dict, module: str, limits: Limits, cases: list[tuple[list, object]]) -> dict:
        timeout = float(assets.get("test_timeout_s", self.default_test_timeout_s))
        if timeout <= 0:
            raise ValueError(f"assets.test_timeout_s must be positive, got {timeout}")
        config = {"module": module, "test_timeout_s": timeout,
                  "total_s": max(1.0, limits.wall_s - _STARTUP_MARGIN_S)}
        if cases:
            return {**config, "mode": "calls", "function": assets["calls"]["function"],
                    "inputs": [encode_value(args) for args, _ in cases]}
        if assets.get("test_files"):
            return {**config, "mode": "pytest", "test_files": dict(assets["test_files"]),
                    "test_paths": list(assets.get("test_paths") or [])}
        tests = assets.get("tests")
        if not tests or not isinstance(tests, list) or not all(isinstance(t, str) for t in tests):
            raise ValueError("python task needs assets.tests (list of snippets), assets.test_files or assets.calls")
        return {**config, "mode": "snippets", "tests": tests}

    def judge(self, task: Task, candidate: Candidate, job: Job, result: JobResult) -> ExecResult:
        key = job.files[".codealign/key"]
        report = verify_report(result.trusted, key)
        common = dict(task_id=task.task_id, candidate_id=candidate.candidate_id, stdout=result.text("stdout"),
                      stderr=result.text("stderr"), wall_s=result.wall_s, cpu_s=result.cpu_s,
                      peak_memory_mb=result.peak_memory_mb, completion=candidate.completion)
        stopped = limit_verdict(result)
        if report is None and stopped is None and not authenticated(result.trusted, key):
            return ExecResult(verdict=Verdict.SANDBOX_ERROR, details={"error": "the test harness did not start"},
                              **common)
        if report is None:
            return ExecResult(verdict=stopped or Verdict.RUNTIME_ERROR, score=0.0,
                              details={"error": "no authenticated report from the test harness"}, **common)
        if not report.get("ok"):
            return ExecResult(verdict=Verdict.SANDBOX_ERROR, details={"error": report.get("error", "harness failed")},
                              **common)
        if task.assets.get("calls"):
            self._compare(report, self._cases(task, candidate))
        total, passed = report["total"], report["passed"]
        details = {"passed": passed, "total": total, "tests": report["tests"], "load_errors": report["load_errors"],
                   "workers": report["workers"], "undumpable": report["undumpable"]}
        if total == 0:
            return ExecResult(verdict=Verdict.SANDBOX_ERROR, details={**details, "error": "no tests collected"},
                              **common)
        outcomes = [t["outcome"] for t in report["tests"]]
        if "unsupported" in outcomes:
            reasons = [e for e in report["load_errors"] if "unsupported:" in e]
            return ExecResult(verdict=Verdict.SANDBOX_ERROR, details={
                **details, "error": "unsupported: a test cannot run through the boundary", "reasons": reasons},
                **common)
        if stopped is not None and passed < total:
            verdict = stopped
        elif passed == total:
            verdict = Verdict.PASS
        elif passed == 0 and all(o == "timeout" for o in outcomes):
            verdict = Verdict.TIMEOUT
        elif passed == 0 and all(o == "error" for o in outcomes):
            verdict = Verdict.RUNTIME_ERROR
        else:
            verdict = Verdict.FAIL
        return ExecResult(verdict=verdict, score=passed / total, details=details, **common)

    @staticmethod
    def _compare(report: dict, cases: list[tuple[list, object]]) -> None:
        """Mark each call that returned as ``passed`` or ``wrong`` by comparing, here on the trusted side, the
        plain data it returned with the expected value, type for type at every depth (``True``, ``1`` and
        ``1.0`` differ; dict and set order does not matter; floats are equal when ``repr`` is, so NaN equals
        NaN, and ``-0.0`` equals ``0.0``); recount ``passed``."""
        for test in report["tests"]:
            if test["outcome"] != "passed":
                continue
            try:
                got = decode_value(json.loads(report.get("results", {})[test["id"]]))
                same = _strict_form(encode_value(got)) == _strict_form(encode_value(cases[int(test["id"])][1]))
            except (KeyError, IndexError, TypeError, ValueError, RecursionError):
                same = False
            if not same:
                test["outcome"] = "wrong"
        report["passed"] = sum(1 for t in report["tests"] if t["outcome"] == "passed")

    def reference_solution(self, task: Task) -> str | None:
        """The known-good completion: a FIM task's true middle, or ``assets["solution"]``."""
        return task.metadata.get("middle_code") or task.assets.get("solution")

    def selftest_cases(self) -> list[tuple[Task, Candidate, Verdict]]:
        """The first bundled task through its real pytest file: its true middle, and the span blanked
        (``None`` or ``pass``: valid Python, wrong value)."""
        from codealign.domains.python.tasks import blank

        task = self.demo_tasks("train")[0]
        return [(task, Candidate(task.task_id, self.reference_solution(task)), Verdict.PASS),
                (task, Candidate(task.task_id, blank(task.metadata["span_kind"])), Verdict.FAIL)]

    def benchmarks(self) -> tuple[Benchmark, ...]:
        from codealign.domains.python import execrepobench as erb

        return (Benchmark(
            "execrepobench", erb.load_benchmark, lambda task: task.metadata["middle_code"],
            "an ExecRepoBench suite: JSONL or a folder with suite.jsonl and repos/", default_data=erb.BUNDLED,
            options=(DomainOption("fill_type", "only rows of this fill type (repeatable)", repeatable=True),
                     DomainOption("fim_family", "--model: FIM sentinel family (default: guessed from the model name)")),
            score=erb.score, sampling=erb.sampling, format=erb.format_table),)

    def mutate(self, solution: str, rng: random.Random) -> list[tuple[str, dict]]:
        try:
            from codealign.domains.python.mutate import mutate
        except ImportError:
            return []
        return mutate(solution, rng)
