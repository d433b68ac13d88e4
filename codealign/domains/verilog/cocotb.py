"""cocotb testbenches in the Verilog domain: the candidate's design files, built with Icarus and driven by a
cocotb test module (Python coroutines through VPI), in one sandbox launch like every other Verilog job.

**Task assets** (``Task.assets``, ``format == "cocotb"``)::

    {"format": "cocotb", "top_module": <TOPLEVEL>, "sources": [design paths, VERILOG_SOURCES order],
     "outputs": [paths the candidate writes], "context": {path: text} (design files given with the problem),
     "tests": {name: text} (the test module, helpers and optionally a pytest runner), "runner": <name in
     tests> or "" (codealign's runner), "module": <MODULE>, "env": {NAME: value} (SIM, TOPLEVEL_LANG, WAVE,
     ...), "parameters": {name: value} (codealign's runner only), "requires": [pip requirements],
     "seed": <RANDOM_SEED>, "skip": <reason> (a harness that cannot run here)}

A candidate is an answer naming its files (``rtl/a.sv`` then a fenced block, see
:func:`codealign.extraction.extract_files`); an answer that names none is the one file of a one-output task.

**Environment.** The harnesses run on cocotb 1.9 (CVDP's use the 1.x API: ``cocotb.runner``, ``Timer(units=)``,
``signal._type``) from its own virtual environment, ``$CODEALIGN_HOME/cocotb-1.9`` (``scripts/setup.sh``
installs ``resources/cocotb/requirements.txt`` there; ``CODEALIGN_COCOTB_ENV`` names another). A shim maps
cocotb 2's ``cocotb_tools.runner`` onto it. A task whose ``requires`` that environment lacks, or that has a
``skip`` reason, is not run: SANDBOX_ERROR with ``details["skipped"]`` (never a model failure, never a pair).

**Job script** (trusted, the same for every job; the harness folder ``trusted/`` is unreadable until step 3):

1. the design files, joined in ``sources`` order into one ``cand.sv``, go through the Verilog-testbench path's
   allowlist check (:mod:`codealign.domains.verilog.allowlist`: no file, simulation-control or scope system
   task, no ``include``, no hierarchical name outside the design, ...), which also preprocesses them;
2. the preprocessed design is compiled alone; a design refused by either step is not simulated;
3. the harness (its pytest runner, or codealign's) runs with ``VERILOG_SOURCES`` = that preprocessed design
   (read-only, as are the harness's files) and ``python -P`` (no working folder on ``sys.path``); the
   trusted pytest plugin ``resources/cocotb/codealign_cocotb_plugin.py`` gives each simulation one end of a
   socketpair, on which cocotb's start-up in the simulator (``resources/cocotb/codealign_cocotb_entry.py``,
   cocotb's ``PYGPI_ENTRY_POINT``) sends cocotb's xUnit results at its tear-down, and sends what arrives
   (or that nothing did, or a failed build's log) as records on the trusted channel (fd 3), which the
   plugin's process holds and the simulator does not inherit.

**Verdicts and score.** Steps 1-2 as in the Verilog-testbench path (COMPILE_ERROR with its failure class,
e.g. ``disallowed_construct``); COMPILE_ERROR ``missing_file`` / ``empty`` / ``too_large`` / ``bad_file_name``
before anything runs;
TIMEOUT / MEMORY / OUTPUT_LIMIT from the sandbox; COMPILE_ERROR ``build_error`` when cocotb's build fails
(e.g. no module ``TOPLEVEL``); RUNTIME_ERROR ``simulator_error`` when no results came back; otherwise
per-test results from the XML records only (a test call whose simulation sent none counts as one failed
test): PASS when every test passed, else FAIL ``runtime_mismatch``; score = passed / (tests not skipped).
pytest's exit status and everything printed are ignored.

**Threat model.** As for Verilog testbenches, the candidate is the only untrusted part, and it cannot call a
file, simulation-control or scope system task, so it cannot write a file, end the simulation or read the
harness. Were such a call to get past the allowlist, the verdict still does not pass through anything it can
write, by structure: the results travel on a socket (not reopened by path: ``/proc/self/fd/N`` gives
ENXIO), sent before the simulator ends and runs the design's ``final`` blocks, and the socket is closed
after; cocotb's own results file is left to the harness's checks and never read; fd 3 is held only by the
non-dumpable pytest process (the simulator, a child of the same uid, cannot reopen it through ``/proc`` or
write that process's memory; the channel itself is owned by root where the harness runs as root, as in CI);
no folder the simulation can write is on a Python path when modules are imported (cocotb's "" is removed
before discovery), and the compiled simulation is read-only while a test call runs, so one simulation
cannot plant code that a later one or the harness runs. Not covered: a design with file access writing its
own simulator's memory (``/proc/self/mem``), where cocotb's Python keeps the results before sending them.
What it can still reach is what cocotb reaches through VPI: every signal of its design hierarchy
is visible to the test module, which reads outputs, writes inputs and (CVDP's ``dut_init``) writes 0 to every
net of the top level it iterates; a candidate may add signals (extra ports or nets the test then drives),
name them like cocotb handle attributes (Python attributes win, so ``_log``/``value`` stay cocotb's), or
drive X/Z where the test expects values (the test's asserts decide). It cannot reach the Python test itself:
what flows from the design to cocotb is signal values, value-change callbacks and simulation time, read as
data (Icarus interprets the design; no candidate code is native). The allowlist refuses ``include``, so a
problem whose given files include headers cannot run here (the ``--oracle`` run shows it). Resource abuse
(zero-delay loops, output floods, ``$dumpvars`` fill) is stopped by the sandbox limits. ``RANDOM_SEED`` is
fixed per task, so verdicts are reproducible (and cacheable).
"""

from __future__ import annotations

import functools
import json
import os
import re
import shlex
import shutil
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

from codealign.domains.base import limit_verdict
from codealign.extraction import extract_files
from codealign.sandbox.job import Job, JobResult
from codealign.sandbox.limits import Limits
from codealign.types import Candidate, ExecResult, Task, Verdict

RESOURCES = Path(__file__).resolve().parent / "resources" / "cocotb"
"""The trusted harness side: the pytest plugin, the ``cocotb_tools`` shim, codealign's runner, requirements."""
BUILTIN_RUNNER = "test_codealign_runner.py"
ENTRY_POINT = "codealign_cocotb_entry:_initialise_testbench"
"""cocotb's start-up inside the simulator, with the results channel (``resources/cocotb/codealign_cocotb_entry.py``)."""
FENCE_TAGS = frozenset({"verilog", "v", "systemverilog", "sv", "vlog"})
LIMITS = Limits(wall_s=120.0, cpu_s=120.0, memory_mb=2048, disk_mb=256)
"""Python start-up, the build and the embedded interpreter of each simulation cost more than a bare ``vvp``."""
_LOG_CHARS = 4000
_OUT_CHARS = 16000
_RESULT_STAGE = re.compile(r"^([bt])(\d+)_(xml|missing|failed)$")

# Steps 1-2 are the Verilog-testbench path's (CHECK_STEPS); steps 3-4 follow.
_HARNESS_STEPS = r"""
chmod 700 trusted
J=$PWD
cp cand.i design.sv
chmod -R a-w design.sv trusted/src
mkdir -p trusted/run
export VERILOG_SOURCES="$J/design.sv" PYTHONPATH="$J/trusted/src:{SHIM}" PYGPI_ENTRY_POINT={ENTRY}
{ENV}
cd trusted/run
{COCOTB_PY} -P -m pytest -q -s -p no:cacheprovider -p codealign_cocotb_plugin -c "$J/trusted/pytest.ini" \
  --rootdir "$J/trusted/src" "$J/trusted/src/{RUNNER}"; rc=$?
cd "$J"
printf '@sim %d 0\n' $rc >&3
"""


@dataclass
class CocotbJob(Job):
    """A :class:`Job` plus what the judge reports: the candidate's files that no source uses."""

    unused: list[str] = field(default_factory=list)


def environment() -> Path:
    """The cocotb virtual environment: ``$CODEALIGN_COCOTB_ENV``, else ``$CODEALIGN_HOME/cocotb-1.9``."""
    home = Path(os.environ.get("CODEALIGN_HOME") or Path.home() / ".cache" / "codealign")
    return Path(os.environ.get("CODEALIGN_COCOTB_ENV") or home / "cocotb-1.9")


def environment_problem() -> str | None:
    """None when the cocotb environment can run harnesses, else why not (with the command that fixes it)."""
    if not (environment() / "bin" / "python").exists():
        return (f"no cocotb environment at {environment()} (bash scripts/setup.sh installs cocotb 1.9 there; or "
                f"python -m venv {environment()} && {environment()}/bin/pip install -r {RESOURCES}/requirements.txt)")
    if "cocotb" not in installed_distributions(str(environment())):
        return f"cocotb is not installed in {environment()}"
    return None


@functools.lru_cache(maxsize=4)
def installed_distributions(env: str) -> dict[str, str]:
    """Normalised distribution name → version of what ``env``'s site-packages hold."""
    found = {}
    for meta in Path(env).glob("lib/python3*/site-packages/*.dist-info"):
        name, _, version = meta.name[: -len(".dist-info")].partition("-")
        found[_normalise(name)] = version
    return found


def unmet_requirements(requires: list[str]) -> list[str]:
    """The pip requirements the cocotb environment does not satisfy."""
    from packaging.requirements import InvalidRequirement, Requirement

    have = installed_distributions(str(environment()))
    unmet = []
    for text in requires:
        try:
            req = Requirement(text)
        except InvalidRequirement:
            unmet.append(text)
            continue
        version = have.get(_normalise(req.name))
        if version is None or (req.specifier and not req.specifier.contains(version, prereleases=True)):
            unmet.append(text)
    return unmet


def candidate_files(task: Task, completion: str) -> tuple[dict[str, str], list[str]]:
    """The design files a candidate writes (path → text) and the extraction issues."""
    return extract_files(completion, FENCE_TAGS, task.assets.get("outputs") or [])


def prepare_job(task: Task, candidate: Candidate, limits: Limits, binds: tuple[str, ...],
                max_bytes: int) -> CocotbJob | ExecResult:
    """The job that builds the candidate's design and runs the task's cocotb tests (see the module docstring),
    or the verdict known without running: skipped, no files, a file too large or badly named, a source
    missing."""
    assets = task.assets
    for key in ("top_module", "module", "sources", "tests"):
        if not assets.get(key):
            raise ValueError(f"task {task.task_id}: cocotb asset {key!r} missing or empty")
    runner = assets.get("runner") or ""
    if runner and runner not in assets["tests"]:
        raise ValueError(f"task {task.task_id}: runner {runner!r} is not one of the task's tests")
    skip = assets.get("skip") or environment_problem()
    unmet = [] if skip else unmet_requirements(list(assets.get("requires") or []))
    if skip or unmet:
        reason = skip or f"the cocotb environment lacks {', '.join(unmet)} (add it to {RESOURCES}/requirements.txt)"
        return ExecResult(task.task_id, candidate.candidate_id, Verdict.SANDBOX_ERROR,
                          details={"skipped": reason, "error": reason}, completion=candidate.completion)

    files, issues = candidate_files(task, candidate.completion)
    design = {path: text for path, text in (assets.get("context") or {}).items() if path in assets["sources"]}
    bad = [p for p in files if p.startswith("/") or ".." in p.split("/")]
    if bad:
        return _early(task, candidate, "bad_file_name", f"file names must be relative without '..': {bad[0]}")
    if not files:
        return _early(task, candidate, "empty", "the answer names no file and holds no code", issues=issues)
    size = sum(len(t.encode("utf-8", "surrogatepass")) for t in files.values())
    if size > max_bytes:
        return _early(task, candidate, "too_large", f"{size} bytes of design (at most {max_bytes})")
    design.update({p: t for p, t in files.items() if p in assets["sources"]})
    missing = [p for p in assets["sources"] if p not in design]
    if missing:
        return _early(task, candidate, "missing_file", f"no {', '.join(missing)} in the answer", issues=issues)

    # one design file, in VERILOG_SOURCES order: the allowlist and the build see exactly the same text
    job_files: dict[str, str | bytes] = {
        "cand.sv": "\n".join(design[p].rstrip("\n") for p in assets["sources"]).encode("utf-8", "surrogatepass")}
    job_files.update({f"trusted/src/{name}": text for name, text in assets["tests"].items()})
    job_files["trusted/pytest.ini"] = "[pytest]\n"
    runner_path = runner or BUILTIN_RUNNER
    if not runner:
        job_files[f"trusted/src/{BUILTIN_RUNNER}"] = (RESOURCES / BUILTIN_RUNNER).read_text()
    env = {k: str(v) for k, v in (assets.get("env") or {}).items()
           if k not in ("VERILOG_SOURCES", "PYTHONPATH", "TOPLEVEL", "MODULE")}
    env.update(TOPLEVEL=assets["top_module"], MODULE=assets["module"], RANDOM_SEED=str(assets.get("seed", 1)),
               CODEALIGN_COCOTB_PARAMETERS=json.dumps(assets.get("parameters") or {}))
    env.setdefault("SIM", "icarus")
    env.setdefault("TOPLEVEL_LANG", "verilog")
    from codealign.domains.verilog.jobs import _ALLOWLIST, CHECK_STEPS, fill_script

    python = environment() / "bin" / "python"
    script = fill_script(CHECK_STEPS + _HARNESS_STEPS, {
        "PY": shlex.quote(sys.executable), "ALLOW": shlex.quote(_ALLOWLIST),
        "IV": shlex.quote(shutil.which("iverilog") or "iverilog"),
        "CHECKS": f"--reserved cocotb_iverilog_dump --top {shlex.quote(assets['top_module'])}",
        "SHIM": shlex.quote(str(RESOURCES)), "ENTRY": ENTRY_POINT,
        "ENV": "\n".join(f"export {k}={shlex.quote(v)}" for k, v in sorted(env.items())),
        "COCOTB_PY": shlex.quote(str(python)), "RUNNER": shlex.quote(runner_path)})
    interpreter = Path(os.path.realpath(python)).parents[1]
    return CocotbJob(script=script, files=job_files, limits=limits,
                     binds=(*binds, str(RESOURCES), os.path.realpath(environment()), str(interpreter)),
                     unused=sorted(set(files) - set(assets["sources"])))


def judge(task: Task, candidate: Candidate, job: Job, result: JobResult) -> ExecResult:
    """The verdict of a cocotb job from its trusted channel (see the module docstring)."""
    from codealign.domains.verilog.jobs import _allowlist_verdict, parse_stages

    assert isinstance(job, CocotbJob)
    stages = parse_stages(result.trusted)
    base: dict = {"harness": "cocotb", "unused_files": job.unused} if job.unused else {"harness": "cocotb"}

    def verdict(v: Verdict, failure: str, score: float = 0.0, log: str = "", **extra) -> ExecResult:
        out = ExecResult(task.task_id, candidate.candidate_id, v, score, details={"failure": failure, **base, **extra},
                         completion=candidate.completion)
        out.stdout = result.text("stdout")[-_OUT_CHARS:]
        out.stderr = (log or result.text("stderr"))[-_LOG_CHARS:]
        out.wall_s, out.cpu_s, out.peak_memory_mb = result.wall_s, result.cpu_s, result.peak_memory_mb
        return out

    refused = _allowlist_verdict(stages, verdict)
    if refused is not None:
        return refused
    limited = limit_verdict(result)
    if limited is not None:
        failure = {Verdict.TIMEOUT: "sim_timeout" if "alone" in stages else "compile_timeout",
                   Verdict.MEMORY: "memory", Verdict.OUTPUT_LIMIT: "output_limit"}[limited]
        return verdict(limited, failure, stage="simulate" if "alone" in stages else "compile")
    if "sim" not in stages:
        return verdict(Verdict.RUNTIME_ERROR, "simulator_error", stage="simulate",
                       error=f"job ended before the harness finished (exit {result.returncode})")
    builds = [text for name, (_, text, _) in stages.items() if name.endswith("_failed")]
    tests: list[dict] = []
    missing = 0
    for name, (_, text, complete) in stages.items():
        kind = _RESULT_STAGE.match(name)
        if kind and kind.group(1) == "t":
            if kind.group(3) == "xml" and complete:
                tests += parse_results(text)
            else:
                missing += 1
    counted = [t for t in tests if not t["skipped"]]
    total = len(counted) + missing
    passed = sum(t["passed"] for t in counted)
    extra = {"stage": "simulate", "tests": total, "passed": passed,
             "failed_tests": [f"{t['name']}: {t['message']}"[:200] for t in counted if not t["passed"]][:20]}
    if missing:
        extra["missing_results"] = missing
    if builds and not tests:
        log = builds[0]
        return verdict(Verdict.COMPILE_ERROR, "build_error", log=log, stage="build",
                       error=next((ln for ln in log.splitlines() if "error" in ln.lower()), log.splitlines()[0]))
    if not tests and not missing:
        return verdict(Verdict.RUNTIME_ERROR, "simulator_error", stage="simulate",
                       error=f"the harness ran no simulation (pytest exit {stages['sim'][0]})")
    if total == 0:
        return verdict(Verdict.FAIL, "no_tests", **extra)
    if passed == total:
        return verdict(Verdict.PASS, "", 1.0, **extra)
    return verdict(Verdict.FAIL, "runtime_mismatch", passed / total, **extra)


def parse_results(xml_text: str) -> list[dict]:
    """The test cases of a cocotb xUnit results file: ``{"name", "passed", "skipped", "message"}`` each (a
    ``failure`` or ``error`` child fails a test, ``skipped`` skips it). An unreadable file is one failed test."""
    try:
        root = ET.fromstring(xml_text)
    except ET.ParseError as exc:
        return [{"name": "<results>", "passed": False, "skipped": False, "message": f"unreadable results: {exc}"}]
    out = []
    for case in root.iter("testcase"):
        bad = case.find("failure") if case.find("failure") is not None else case.find("error")
        out.append({"name": case.get("name", "?"), "passed": bad is None and case.find("skipped") is None,
                    "skipped": case.find("skipped") is not None,
                    "message": (bad.get("message") or bad.text or "").strip() if bad is not None else ""})
    return out


def _early(task: Task, candidate: Candidate, failure: str, error: str, **extra) -> ExecResult:
    return ExecResult(task.task_id, candidate.candidate_id, Verdict.COMPILE_ERROR,
                      details={"failure": failure, "harness": "cocotb", "stage": "prepare", "error": error, **extra},
                      completion=candidate.completion)


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()
