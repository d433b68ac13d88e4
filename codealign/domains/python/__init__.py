"""The Python domain: a candidate plus tests (assert-style snippets or pytest files) run in the sandbox; the
graded score is the fraction of tests passed, counted only on evidence the candidate cannot trivially forge.

Task ``assets`` (all optional except the tests):

* ``tests`` — list of assert-style snippets; each is one test, run in a copy of the candidate module's
  namespace (HumanEval/MBPP style). Or:
* ``test_files`` — ``{relative path: source}`` of pytest files (``conftest.py`` and helpers included); the
  tests are what pytest's default rules collect from them, found statically.
* ``test_paths`` — restrict collection to these files/folders among ``test_files``.
* ``command`` — instead of tests, an argv run in the job dir (``"{python}"`` = this interpreter), passed iff
  it exits 0 in time: for repositories that ship only a script such as ExecRepoBench's ``evaluate_repo.py``.
  Weaker evidence (exit status only, see residual risks).
* ``module`` — path the candidate is written to (default ``solution.py``); the tests import it.
* ``prefix`` / ``suffix`` — text written before / after the completion in that file (fill-in-the-middle).
* ``files`` — ``{relative path: text}`` other files of the job (a repository snapshot, fixtures).
* ``test_timeout_s`` — per-test deadline in seconds (default 10). The job's ``Limits.wall_s`` is the total
  deadline; tests not reached in time count as failed.

Threat model. The candidate is arbitrary Python executed in the same interpreter as the tests, as the job's
uid, with the sandbox backend's limits around the whole job. It may print anything (a fake ``5 passed``
summary), monkeypatch pytest or the reporting plugin, exit the process with any status, fork, rewrite files in
the job dir, kill processes of its uid, read anything its uid can read, and walk the frames and objects of
the worker it runs in (it has read ``worker.py``). What stops it:

* stdout/stderr are never evidence. The verdict comes only from the backend's trusted fd 3, written by a
  parent process (``python_harness.py``) that never executes candidate code, is the only holder of fd 3, is
  non-dumpable (same-uid processes cannot open its ``/proc/<pid>/fd`` or memory) and signs its report with
  HMAC-SHA256 under a per-job key that it read and unlinked before any candidate code started.
* The parent collects the test ids itself (``ast``), so hiding or renaming tests does not help; tests with no
  evidence count as failed. A worker that exits or crashes mid-test gets that test charged and a fresh worker
  for the rest; per-test and total deadlines are the parent's.
* Evidence of a pass is produced only by running the trusted test code (``worker.py`` has the details). Each
  worker gets a fresh key on stdin and, before any candidate code runs, moves it into an OpenSSL HMAC object
  held by nothing but a PEP 578 audit hook (the *witness*): not by ``__main__``, a module, a frame that
  outlives the witness's own call, or anything ``gc`` lists. The worker calls each test function itself;
  after it returns normally the witness checks, on the calling frame, that the function called is a plain
  function whose ``__code__`` is the trusted code object of the test id named (compiled from sources held in
  memory, assertion rewriting included) and only then signs ``P<TAB>id``. A test passes only when every item
  pytest ran for it has a signed ``P`` and nothing failed; a crash or a deadline charged to it outweighs a
  pass already seen. So registering a late plugin whose ``pytest_pyfunc_call`` answers first, wrapping the
  test (``__wrapped__`` is never followed), swapping in another (genuinely passing) test, patching pytest's
  runner, replaying the worker's own call function with stand-ins, raising the witness's audit event, or
  writing forged lines to any fd all leave the test without evidence. Pytest's plugin manager refuses
  registrations once the session has started (trusted conftest modules excepted).
* A second audit hook (the *guard*, no secrets) refuses ``gc.get_objects/get_referrers/get_referents``,
  ``sys._current_frames``, ``sys.settrace/setprofile``, all of ``ctypes``, opening any file named ``mem``
  (``/proc/self/mem``), ``os.symlink``, assigning ``__code__`` and adding audit hooks; the worker is
  non-dumpable, so other processes of the uid cannot read its memory either.

Residual risks (what remains possible, and why):

* A Python signal handler (``signal.signal`` raises no audit event) that fires exactly when the witness
  starts receives the witness's frame, whose locals reach the HMAC object: an attacker who wins that race
  can sign passes. A Python-level hook always runs in a Python frame, and CPython runs pending handlers at the
  start of any Python function; closing this needs the witness in C or outside the process.
* Native code: a shared library the candidate writes into the job dir and imports (or any installed
  extension that reads raw memory) runs outside every audit hook and can read the key state. The audit hooks
  are a speed bump for Python code, not a boundary.
* What the tests rely on is not protected: candidate code may monkeypatch ``builtins``, ``pytest.raises`` or
  ``approx``, the test module's globals or classes, fixture values (``item.funcargs``), or return objects
  whose ``__eq__`` is always true; it may also deselect some parametrizations of a test at collection (a test
  passes when the items pytest ran for it all returned). Evidence proves the trusted test code ran and
  returned; it cannot prove the test's checks meant anything. Frames, ``__globals__`` and ``sys.modules``
  stay open (pytest, typing and logging need ``sys._getframe``; reading ``__globals__`` or writing
  ``sys.modules`` raises no audit event): they reach pytest's objects and the worker's call function but not
  the witness, whose frame is reachable only while it runs (frames lead to callers, never callees) and which
  calls nothing the candidate can replace. ``register`` is closed on the plugin manager instance only;
  ``type(pm).register`` or editing the hook lists still adds hooks, which can only remove evidence.
* In ``command`` mode the evidence is only the command's exit status. Killing the parent (same uid) yields no
  report: the verdict is then RUNTIME_ERROR with score 0, never a pass (a harness that never signed its start
  line is SANDBOX_ERROR: the sandbox, not the candidate, failed). Isolation from the host (network,
  filesystem writes outside the job dir, process escape) is the backend's: use ``bwrap``.
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
from codealign.domains.python.syntax import SYNTAX
from codealign.extraction import Extraction, extract_code
from codealign.sandbox.job import Job, JobResult
from codealign.sandbox.limits import Limits
from codealign.types import Candidate, ExecResult, Task, Verdict

_HERE = Path(__file__).resolve().parent
_HARNESS = ".codealign/python_harness.py"
_RESERVED = ".codealign/"
_STARTUP_MARGIN_S = 2.0


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


class PythonDomain(Domain):
    """Python candidates judged by tests; see the module docstring for the assets and the threat model."""

    name = "python"
    task_module = "codealign.domains.python.tasks"
    default_limits = Limits(wall_s=60.0, cpu_s=60.0, memory_mb=1024, nproc=64)
    default_test_timeout_s = 10.0
    fence_tags = frozenset({"python", "py", "python3", "py3"})
    syntax = SYNTAX
    # Long FIM prompts make a Python step several times a Verilog one. 96 round tasks x 8 samples: the shipped
    # warm-up's samples are near-duplicates, and 24 x 4 left 3 pairs (held-out +0.021 ± 0.013, 0.573) where
    # 96 x 8 gave 27 (+0.036 ± 0.020, 0.589; on fresh evaluation seeds 3001, 3002 the two final policies differ by
    # +0.021 ± 0.013 in its favour): benchmarks/run_all_domains.py, README.
    run_defaults = {"max_tasks": 96, "sft": {"max_steps": 80, "per_device_train_batch_size": 8},
                    "sample": {"n": 8, "max_new_tokens": 96}, "eval": {"max_tasks": 48, "n": 2}}

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
        limits = self.limits_for(task)
        config = self._config(assets, module, limits)
        files = {_rel_path(k, "assets.files key"): v for k, v in (assets.get("files") or {}).items()}
        files.update({_rel_path(k, "assets.test_files key"): v for k, v in (assets.get("test_files") or {}).items()})
        files[module] = source
        files[_HARNESS] = (_HERE / "harness.py").read_text(encoding="utf-8")
        files[".codealign/worker.py"] = (_HERE / "worker.py").read_text(encoding="utf-8")
        files[".codealign/config.json"] = json.dumps(config)
        files[".codealign/key"] = os.urandom(32)
        script = f"exec {shlex.quote(sys.executable)} -I -B {_HARNESS}\n"
        return Job(script=script, files=files, limits=limits)

    def _config(self, assets: dict, module: str, limits: Limits) -> dict:
        timeout = float(assets.get("test_timeout_s", self.default_test_timeout_s))
        if timeout <= 0:
            raise ValueError(f"assets.test_timeout_s must be positive, got {timeout}")
        config = {"module": module, "test_timeout_s": timeout,
                  "total_s": max(1.0, limits.wall_s - _STARTUP_MARGIN_S)}
        if assets.get("command"):
            command = assets["command"]
            if not isinstance(command, list) or not all(isinstance(a, str) for a in command):
                raise ValueError("assets.command must be a list of strings")
            return {**config, "mode": "command", "command": command}
        if assets.get("test_files"):
            return {**config, "mode": "pytest", "test_files": dict(assets["test_files"]),
                    "test_paths": list(assets.get("test_paths") or [])}
        tests = assets.get("tests")
        if not tests or not isinstance(tests, list) or not all(isinstance(t, str) for t in tests):
            raise ValueError("python task needs assets.tests (list of snippets), assets.test_files or assets.command")
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
        total, passed = report["total"], report["passed"]
        details = {"passed": passed, "total": total, "tests": report["tests"], "load_errors": report["load_errors"],
                   "workers": report["workers"], "undumpable": report["undumpable"]}
        if total == 0:
            return ExecResult(verdict=Verdict.SANDBOX_ERROR, details={**details, "error": "no tests collected"},
                              **common)
        outcomes = [t["outcome"] for t in report["tests"]]
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
