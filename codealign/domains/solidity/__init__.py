"""The Solidity domain: contracts compiled with solc-js and analysed with Slither, in the sandbox.

Task kinds (``Task.assets["kind"]``) and the assets each reads:

* ``detect`` — the model reads a contract and answers whether it is vulnerable, which class, where and why
  (format and score: :mod:`codealign.domains.solidity.answers`). The candidate is the answer text.
  Assets: ``source`` (the contract shown to the model), ``label`` = ``{"vulnerable": bool, "category": str,
  "lines": [int], "accepted_categories": [str] (optional), "functions": [str] (optional; derived from the
  lines)}``, optional ``solc_version`` (exact compiler), ``filename``, ``use_slither`` (default true: the
  contract is analysed once per task, cached, for the explanation's consistency check).
  Verdict: PASS when the verdict and class are right, else FAIL; the graded score and its components are in
  ``details["detection"]``. An unparseable answer is FAIL with ``details["answer"]["parseable"] = False``.
* ``repair`` — the candidate is a fixed version of a vulnerable contract (a ```solidity fence is extracted
  when present). Assets: ``source`` (the vulnerable original), ``category`` (its class), optional
  ``target_detectors`` (Slither checks that must stop firing; default: the original's findings mapped to
  ``category``), ``solc_version``, ``filename``. Both are compiled with the same compiler (``solc_version``
  or the one the original's pragma picks). With ``evm`` (a scenario, format in ``resources/evm_runner.py``)
  the repair is judged on py-evm instead of Slither, inside the same sandboxed server: the candidate is
  compiled with the task's helper contracts and its original, deployed on fresh in-memory chains, its
  functional transactions must behave and every exploit variant must fail, on every draw. A procedural task's
  scenario (``evm`` naming its ``family`` and ``params``) is drawn per job by the trusted harness (:attr:`SolidityDomain.draws`
  draws from a seed derived from a key the harness keeps, :mod:`codealign.domains.draws`): actors'
  addresses, amounts, order, block number, timestamp, coinbase, difficulty, gas limit, gas price, transaction
  gas, ancestor hashes (each number at a scale drawn from strata of a wide range, so a guard that switches
  off past a threshold meets draws on both sides), EOA or contract attacker. Not drawn: the chain id (solc 0.4
  cannot read it) and a transaction's gas above the runner's per-draw gas budget (5,000,000). Success
  and failure are read from the chain's state (balances, storage at the original's layout), never from the
  candidate's getters. The compiled code must keep the original's ABI and hold no ``tx.origin``, no inline
  assembly (unless ``allow_assembly``) and no ``selfdestruct``/``delegatecall``/``callcode`` the original
  lacks, and Slither (run on the repair in the same request) must find no High or Medium issue the original
  lacks. Score: the fraction of draws passed (0 for refused code); PASS when every draw passes; rules in
  ``_judge_evm_repair``; optional ``fixed`` is the reference repair. Without ``evm``, checks: compiles; no
  targeted detector fires; no High-impact finding that the original lacks (keyed by check and function); the
  ABI of every contract of the original is unchanged (constructor entries ignored, so a fix may add an owner
  set in a constructor); no inline assembly unless ``allow_assembly`` (Slither's detectors do not see into
  it). Score = the fraction of the five checks passed (0 when it does not compile: COMPILE_ERROR); PASS when
  all pass. With no applicable target (Slither cannot see the class) the target check passes and says so.
* ``analyze`` — the candidate is a contract; PASS when it compiles and Slither reports no High-impact
  finding and no inline assembly (unless ``allow_assembly``) (score 1.0), FAIL with score 0.5 when it
  compiles with either, COMPILE_ERROR otherwise.

Every verdict carries ``details["analysis"]``: compiler version, compile status, Slither's findings
(detector, impact, confidence, lines, functions, class) and where it ran (``backend``, and ``worker``: the
persistent worker's container id under docker, its host pid otherwise).

Execution: by default (:attr:`SolidityDomain.persistent`) analyses go to a pool of persistent sandboxed
workers (:mod:`codealign.sandbox.worker`) that keep Slither imported and one warm node compiler per solc
version (under ``--backend docker``, each worker is a long-lived container). Isolation per analysis is then
the worker's, not a fresh job's: analyses of one worker share its process, uid and directory (each runs in a
fresh sub-directory that is deleted). That is sound because a
contract is *data* to solc and Slither, never executed (an EVM-judged repair is executed, but as bytecode
interpreted by py-evm, each transaction bounded by its gas); a contract that makes either hang or eat memory
kills its worker at the deadline (TIMEOUT) or the memory limit (MEMORY), and the next analysis gets a fresh
worker. Persistent workers apply a task's ``wall_s`` per analysis; its other limits are the domain's
defaults, which hold for the worker as a whole (``cpu_s`` over the worker's life). With
``persistent=False``, or a backend without persistent workers, each candidate is one cold job
(``prepare``/``judge``) that runs the same analysis code. A missing compiler is a SANDBOX_ERROR naming
``codealign doctor --install solidity:X``, decided before anything runs.
"""

from __future__ import annotations

import collections
import hashlib
import json
import os
import re
import shlex
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from codealign.domains.solidity import solc
from codealign.domains.base import Benchmark, Domain, command_version, sandbox_error
from codealign.domains.solidity.extract import extract_solidity
from codealign.domains.draws import draw_seed
from codealign.domains.solidity.syntax import SYNTAX
from codealign.extraction import Extraction, extract_code
from codealign.domains.solidity.answers import (
    DETECTOR_CATEGORY,
    Label,
    fold,
    parse_answer,
    score_detection,
)
from codealign.sandbox.job import Job, JobResult, JobStatus
from codealign.sandbox.limits import Limits
from codealign.sandbox.single_flight import SingleFlight
from codealign.types import Candidate, ExecResult, Task, Verdict

KINDS = ("detect", "repair", "analyze")
DRAWS = 4
"""Draws of a family repair's scenario per job (each: a functional run and every exploit variant)."""
REFUSED_OPCODES = ("CALLCODE", "DELEGATECALL", "SELFDESTRUCT")
"""Instructions a repair may hold only when its original does; ``ORIGIN`` (``tx.origin``) it may never hold."""
_FENCE = re.compile(r"```(?:solidity|sol)?[ \t]*\n(.*?)```", re.S | re.I)
_STATUS_VERDICT = {"timeout": Verdict.TIMEOUT, "memory": Verdict.MEMORY, "output_limit": Verdict.OUTPUT_LIMIT}

MAX_SOURCE_BYTES = 1 << 20
"""Largest candidate contract compiled (UTF-8 bytes). Real contracts, flattened, stay far below; past it the
compiler's reply outgrows the adapter's pipe, so a larger one is a COMPILE_ERROR saying so, without a run."""


def extract_contract(completion: str) -> str:
    """The contract in a completion: the longest fenced block when there is one, else the whole text."""
    blocks = _FENCE.findall(completion)
    return max(blocks, key=len) if blocks else completion


def normalize_finding(raw: dict) -> dict:
    """A Slither detector result (as ``slither --json`` prints it) reduced to what scoring reads:
    check, impact, confidence, description, class, lines (of the statements involved, else of every
    element) and function names."""
    elements = raw.get("elements") or []
    node_lines, all_lines, functions = set(), set(), []
    for el in elements:
        lines = (el.get("source_mapping") or {}).get("lines") or []
        all_lines.update(lines)
        if el.get("type") == "node":
            node_lines.update(lines)
            parent = (el.get("type_specific_fields") or {}).get("parent") or {}
            name = parent.get("name") if parent.get("type") == "function" else None
        else:
            name = el.get("name") if el.get("type") == "function" else None
        if name and name not in functions:
            functions.append(name)
    return {"check": raw.get("check"), "impact": raw.get("impact"), "confidence": raw.get("confidence"),
            "description": (raw.get("description") or "").strip(), "category": DETECTOR_CATEGORY.get(raw.get("check")),
            "lines": sorted(node_lines or all_lines), "functions": functions}


def finding_key(finding: dict) -> tuple:
    """Identity of a finding across runs (same file name): check, impact, confidence, description."""
    return (finding["check"], finding["impact"], finding["confidence"], finding["description"])


@dataclass
class Analysis:
    """Compile status and Slither findings of one contract. ``status`` is ``ok``, ``compile_error``,
    ``analysis_error`` (Slither failed on a compiled contract), ``timeout``, ``memory``, ``output_limit``,
    ``missing_compiler`` or ``sandbox_error``."""

    status: str
    solc_version: str = ""
    compiled: bool = False
    compile_error: str = ""
    error: str = ""
    findings: list[dict] = field(default_factory=list)
    abis: dict[str, list] = field(default_factory=dict)
    wall_s: float = 0.0
    peak_memory_mb: float = 0.0
    backend: str = ""
    """The backend it ran under, as the job's result or the worker's reply says (never the caller's guess)."""
    worker: str = ""
    """The persistent worker that ran it (a container id under docker, a host pid otherwise); empty for a job."""
    evm: dict | None = None
    """For an EVM-judged repair: the functional and exploit phases' outcomes (``resources/evm_runner.py``)."""

    def to_details(self) -> dict[str, Any]:
        return {"status": self.status, "solc_version": self.solc_version, "compiled": self.compiled,
                "compile_error": self.compile_error[-2000:], "error": self.error[-2000:],
                "findings": [{k: f[k] for k in ("check", "impact", "confidence", "lines", "functions", "category")}
                             for f in self.findings],
                "wall_s": round(self.wall_s, 4), "backend": self.backend, "worker": self.worker, "evm": self.evm}

    @classmethod
    def from_reply(cls, reply: dict, version: str, wall_s: float = 0.0, peak_mb: float = 0.0, backend: str = "",
                   worker: str = "") -> "Analysis":
        ran = {"wall_s": wall_s, "peak_memory_mb": peak_mb, "backend": backend, "worker": worker}
        if not reply.get("compiled"):
            status = "analysis_error" if reply.get("analysis_error") else "compile_error"
            return cls(status, version, False, reply.get("compile_error", ""), reply.get("analysis_error", ""), **ran)
        return cls("analysis_error" if reply.get("analysis_error") else "ok", version, True,
                   error=reply.get("analysis_error", ""),
                   findings=[normalize_finding(r) for r in reply.get("detectors", [])],
                   abis=reply.get("abis", {}), evm=reply.get("evm"), **ran)


_JOB_STATUS = {JobStatus.TIMEOUT: "timeout", JobStatus.MEMORY: "memory", JobStatus.OUTPUT_LIMIT: "output_limit"}


class SolidityDomain(Domain):
    """solc-js + Slither; see the module docstring for task kinds, assets and isolation."""

    name = "solidity"
    task_module = "codealign.domains.solidity.tasks"
    default_limits = Limits(wall_s=120.0, cpu_s=3600.0, memory_mb=6144, nproc=256, nofile=1024,
                            output_bytes=32 << 20, disk_mb=512)
    fence_tags = frozenset({"solidity", "sol"})
    syntax = SYNTAX
    tools = {"node": ("node", "--version"), "solcjs": ("solcjs", "--version"), "slither": ("slither", "--version")}
    # 256 new tokens: a repair answer is the whole contract; 2 evaluation samples per task and seed keep the
    # default run's evaluations short. method=rft: the shipped warm-up passes most samples, so DPO finds few
    # pairs; RFT trains on the passing ones. The held-out universe leaves 80 evaluation tasks beside the feedback
    # pool's 36, all of which the rounds sample. Figures and why RFT stays within noise of continued SFT: README,
    # "Solidity's default run".
    run_defaults = {"sft": {"max_steps": 120, "per_device_train_batch_size": 8}, "method": "rft", "rounds": 3,
                    "max_tasks": 128, "sample": {"n": 8, "max_new_tokens": 256},
                    "eval": {"heldout_tasks": 80, "max_tasks": 0, "n": 2}}

    def install(self, items: Sequence[str] = ()) -> dict[str, str]:
        """Install solc-js versions (npm) for contracts with those pragmas; none named: the ones the tests and
        benchmarks need."""
        return {version: str(solc.install_solc(version)) for version in (items or solc.DEFAULT_VERSIONS)}

    def installed(self) -> list[str]:
        return sorted(solc.installed_versions())

    def extract(self, text: str, truncated: bool = False) -> Extraction:
        return extract_code(text, self.name, self.fence_tags, extract_solidity, truncated=truncated)

    def __init__(self, workers: int | None = None, persistent: bool = True, max_compilers: int = 3,
                 cache_size: int = 512, draws: int = DRAWS):
        self.workers = workers or max(1, os.cpu_count() or 1)
        self.draws = draws
        self.persistent = persistent
        self.max_compilers = max_compilers
        self._pools: dict[int, Any] = {}
        self._lock = threading.Lock()
        self._cache: collections.OrderedDict[str, Analysis] = collections.OrderedDict()
        self._cache_size = cache_size
        self._flight = SingleFlight(self._lock)

    # -- toolchain -------------------------------------------------------------------------------------
    def toolchain_version(self) -> str:
        from importlib.metadata import PackageNotFoundError, version

        try:
            slither = version("slither-analyzer")
        except PackageNotFoundError:
            slither = "missing"
        return f"slither-analyzer {slither}; node {command_version('node', '--version')}; solc-js per task"

    def check_toolchain(self) -> str | None:
        if solc.node_path() is None:
            return "node not found on PATH; solc-js needs Node.js 18+"
        import importlib.util

        if importlib.util.find_spec("slither") is None:
            return "slither-analyzer is not installed (pip install 'codealign[solidity]')"
        return None

    def benchmarks(self) -> tuple[Benchmark, ...]:
        import functools

        from codealign.domains.solidity import smartbugs

        return (Benchmark(
            "smartbugs", lambda path, model=None: sorted(smartbugs.load_smartbugs(path), key=lambda t: t.task_id),
            smartbugs.oracle_answer, "smartbugs_curated.jsonl or its folder",
            evaluate=functools.partial(smartbugs.evaluate, domain_class=type(self)), headline="macro_f1",
            format=smartbugs.format_table, skipped=smartbugs.skipped_rows),)

    def reference_solution(self, task: Task) -> str | None:
        """For a detection task, the golden answer its label gives; for a repair with a known fix
        (``assets["fixed"]``), that contract; otherwise None."""
        if task.assets.get("kind") == "repair":
            return task.assets.get("fixed")
        if task.assets.get("kind") != "detect":
            return None
        from codealign.domains.solidity.answers import golden_answer

        return golden_answer(Label.from_assets(task.assets.get("label"), task.assets["source"]))

    def selftest_cases(self) -> list[tuple[Task, Candidate, Verdict]]:
        task = Task("solidity-selftest", "solidity", "", assets={"kind": "analyze"})
        good = "contract Fine {\n    uint x;\n    function set(uint v) public { x = v; }\n}\n"
        return [(task, Candidate(task.task_id, good), Verdict.PASS),
                (task, Candidate(task.task_id, good.replace("x = v;", "x = ;")), Verdict.COMPILE_ERROR)]

    # -- analysis --------------------------------------------------------------------------------------
    def sandbox_binds(self) -> tuple[str, ...]:
        """The harness code plus the solc-js installs (the global ``solcjs`` package and ``solc_root()``),
        which a backend that hides the host (docker) must show, and the folders Slither and py-evm are
        installed in when they lie outside the interpreter's environment (a venv that extends another
        through a ``.pth`` file)."""
        installs = (solc._global_solcjs(), solc.solc_root(), *_package_folders("slither", "eth"))
        return (*super().sandbox_binds(), *(str(p) for p in installs if p is not None and p.is_dir()))

    def _pool(self, backend):
        from codealign.sandbox.worker import WorkerPool, WorkerSpec

        with self._lock:
            pool = self._pools.get(id(backend))
            if pool is None:
                limits = self.default_limits
                spec = WorkerSpec(
                    script=f"exec {shlex.quote(sys.executable)} {shlex.quote(str(solc.SLITHER_SERVER))} --serve config.json",
                    files={"config.json": json.dumps(solc.server_config(self.max_compilers))},
                    limits=limits, env={"PYTHONDONTWRITEBYTECODE": "1"}, start_timeout_s=120, max_requests=200,
                    binds=self.sandbox_binds())
                pool = WorkerPool(backend, spec, size=self.workers)
                self._pools[id(backend)] = pool
            return pool

    def close(self) -> None:
        """Stop every worker this domain started."""
        with self._lock:
            pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            pool.close()

    def _resolve(self, source: str, exact: str | None) -> solc.SolcInstall:
        return solc.choose_solc(source, solc.installed_solcs(), exact)

    def analyse(self, source: str, backend, *, solc_version: str | None = None, filename: str = "contract.sol",
                timeout_s: float | None = None, evm: dict | None = None) -> Analysis:
        """Compile and analyse one contract. Finished analyses are cached by content, compiler and file name
        (limit hits are not: a later call may allow more time); concurrent calls for the same contract wait for
        one analysis instead of each running their own. Never raises for the contract's failures; a
        missing compiler is ``status == "missing_compiler"``."""
        try:
            install = self._resolve(source, solc_version)
        except solc.MissingCompiler as exc:
            return Analysis("missing_compiler", error=str(exc))
        key = hashlib.sha256(json.dumps([source, install.version, filename, evm], sort_keys=True)
                             .encode("utf-8", "surrogatepass")).hexdigest()

        def cached() -> Analysis | None:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
            return hit

        def analysis() -> Analysis:
            result = self._run_analysis(_request(source, install, filename, evm), install, backend, timeout_s)
            if result.status in ("ok", "compile_error", "analysis_error"):
                with self._lock:
                    self._cache[key] = result
                    while len(self._cache) > self._cache_size:
                        self._cache.popitem(last=False)
            return result

        return self._flight.run(key, cached, analysis)

    def _run_analysis(self, request: dict, install: solc.SolcInstall, backend, timeout_s: float | None) -> Analysis:
        if self.persistent and hasattr(backend, "start_worker"):
            reply = self._pool(backend).request(request, timeout_s)
            if reply.ok:
                return Analysis.from_reply(reply.response, install.version, reply.wall_s, reply.peak_memory_mb,
                                           reply.backend, reply.worker)
            status = _JOB_STATUS.get(reply.status, "sandbox_error")
            return Analysis(status, install.version, error=reply.error or status, wall_s=reply.wall_s,
                            peak_memory_mb=reply.peak_memory_mb, backend=reply.backend, worker=reply.worker)
        limits = self.default_limits if timeout_s is None else self.default_limits.merged({"wall_s": timeout_s})
        outcome = backend.run(self._once_job([request], limits))
        return self._analyses_from_job(outcome, [install.version])[0]

    def _once_job(self, requests: list[dict], limits: Limits) -> Job:
        files = {"config.json": json.dumps(solc.server_config(self.max_compilers))}
        names = []
        for i, req in enumerate(requests):
            files[f"req-{i}.json"] = json.dumps(req)
            names.append(f"req-{i}.json")
        script = (f"exec {shlex.quote(sys.executable)} {shlex.quote(str(solc.SLITHER_SERVER))} --once config.json "
                  + " ".join(names))
        return Job(script=script, files=files, limits=limits, env={"PYTHONDONTWRITEBYTECODE": "1"},
                   binds=self.sandbox_binds())

    @staticmethod
    def _analyses_from_job(outcome: JobResult, versions: list[str]) -> list[Analysis]:
        status = _JOB_STATUS.get(outcome.status)
        if outcome.status is JobStatus.SANDBOX_ERROR:
            status = "sandbox_error"
        replies = []
        for line in outcome.trusted.decode("utf-8", "replace").splitlines():
            try:
                replies.append(json.loads(line))
            except json.JSONDecodeError:
                break
        results = []
        for i, version in enumerate(versions):
            if i < len(replies) and isinstance(replies[i], dict):
                results.append(Analysis.from_reply(replies[i], version, outcome.wall_s, outcome.peak_memory_mb,
                                                   outcome.backend))
            else:
                error = outcome.error or outcome.text("stderr")[-2000:] or "analysis produced no reply"
                results.append(Analysis(status or "sandbox_error", version, error=error, wall_s=outcome.wall_s,
                                        peak_memory_mb=outcome.peak_memory_mb, backend=outcome.backend))
        return results

    # -- the Domain interface --------------------------------------------------------------------------
    def _sources(self, task: Task, candidate: Candidate) -> list[tuple[str, dict | None]]:
        """The contracts a verdict needs analysed, in order, each with the EVM scenario it runs instead of
        Slither (None: analysed by Slither)."""
        kind = task.assets.get("kind")
        if kind not in KINDS:
            raise ValueError(f"solidity task {task.task_id}: assets['kind'] must be one of {', '.join(KINDS)}, "
                             f"got {kind!r}")
        if kind == "detect":
            return [(task.assets["source"], None)] if task.assets.get("use_slither", True) else []
        if kind == "repair" and task.assets.get("evm"):
            text = extract_contract(candidate.completion)
            return [(task.assets["source"], None), (text, self._scenario(task, text))]
        if kind == "repair":
            return [(task.assets["source"], None), (extract_contract(candidate.completion), None)]
        return [(extract_contract(candidate.completion), None)]

    def _scenario(self, task: Task, text: str) -> dict:
        """The scenario a repair is run on: a family task's :attr:`draws` draws, from the job's hidden seed
        (:func:`codealign.domains.draws.draw_seed`), or a fixed scenario as written; with the task's
        original contract, for its ABI and opcodes."""
        scenario = dict(task.assets["evm"], original=task.assets["source"], slither=True)
        if "family" in scenario:
            from codealign.domains.solidity.tasks import draws

            seed = draw_seed("solidity-repair", task, text)
            scenario["draws"] = draws(scenario.pop("family"), scenario.pop("params"), seed, self.draws)
        return scenario

    def _compiler_source(self, task: Task, candidate: Candidate) -> str:
        """The source whose pragma picks the compiler (a repair is compiled like its original)."""
        if task.assets.get("kind") == "analyze":
            return extract_contract(candidate.completion)
        return task.assets["source"]

    def _oversize(self, task: Task, candidate: Candidate) -> ExecResult | None:
        """COMPILE_ERROR with a one-line reason when the candidate's contract exceeds :data:`MAX_SOURCE_BYTES`."""
        kind = task.assets.get("kind")
        if kind not in ("repair", "analyze"):
            return None
        size = len(extract_contract(candidate.completion).encode("utf-8", "surrogatepass"))
        if size <= MAX_SOURCE_BYTES:
            return None
        reason = f"the contract is {size / 2**20:.1f} MiB, over the {MAX_SOURCE_BYTES / 2**20:.0f} MiB source cap"
        details: dict[str, Any] = {"kind": kind, "failure": "source_too_large", "error": reason,
                                   "analysis": Analysis("compile_error", compile_error=reason).to_details()}
        if kind == "repair":
            details["checks"] = {"compiles": False}
        return self._result(task, candidate, Verdict.COMPILE_ERROR, 0.0, details, None)

    def prepare(self, task: Task, candidate: Candidate) -> Job | ExecResult:
        too_big = self._oversize(task, candidate)
        if too_big is not None:
            return too_big
        sources = self._sources(task, candidate)
        if not sources:
            return self._verdict(task, candidate, [])
        try:
            install = self._resolve(self._compiler_source(task, candidate), task.assets.get("solc_version"))
        except solc.MissingCompiler as exc:
            return sandbox_error(task, candidate, str(exc))
        filename = task.assets.get("filename", "contract.sol")
        requests = [_request(s, install, filename, evm) for s, evm in sources]
        return self._once_job(requests, self.limits_for(task))

    def judge(self, task: Task, candidate: Candidate, job: Job, result: JobResult) -> ExecResult:
        versions = [json.loads(job.files[name])["solc"]["version"] for name in sorted(job.files) if name.startswith("req-")]
        return self._verdict(task, candidate, self._analyses_from_job(result, versions))

    def evaluate(self, task: Task, candidate: Candidate, backend) -> ExecResult:
        """Judge one candidate through the warm worker pool (or one cold job when not persistent)."""
        if not self.persistent or not hasattr(backend, "start_worker"):
            return super().evaluate(task, candidate, backend)
        problem = self.check_toolchain()
        if problem:
            return sandbox_error(task, candidate, problem)
        too_big = self._oversize(task, candidate)
        if too_big is not None:
            return too_big
        sources = self._sources(task, candidate)
        if sources:
            try:
                install = self._resolve(self._compiler_source(task, candidate), task.assets.get("solc_version"))
            except solc.MissingCompiler as exc:
                return sandbox_error(task, candidate, str(exc))
            wall = self.limits_for(task).wall_s
            filename = task.assets.get("filename", "contract.sol")
            analyses = [self.analyse(s, backend, solc_version=install.version, filename=filename, timeout_s=wall,
                                     evm=evm) for s, evm in sources]
        else:
            analyses = []
        result = self._verdict(task, candidate, analyses)
        # Where the analyses say they ran (a worker's reply names its backend), not the backend asked for.
        result.details.setdefault("backend", analyses[-1].backend if analyses else getattr(backend, "name", ""))
        return result

    # -- verdicts ---------------------------------------------------------------------------------------
    def _verdict(self, task: Task, candidate: Candidate, analyses: list[Analysis]) -> ExecResult:
        for a in analyses:
            if a.status in ("sandbox_error", "missing_compiler"):
                return sandbox_error(task, candidate, f"analysis failed: {a.error}")
        kind = task.assets["kind"]
        if kind == "detect":
            return self._judge_detect(task, candidate, analyses[0] if analyses else None)
        if kind == "repair" and task.assets.get("evm"):
            return self._judge_evm_repair(task, candidate, analyses[0], analyses[1])
        if kind == "repair":
            return self._judge_repair(task, candidate, analyses[0], analyses[1])
        return self._judge_analyze(task, candidate, analyses[0])

    @staticmethod
    def _result(task, candidate, verdict, score, details, analysis: Analysis | None) -> ExecResult:
        return ExecResult(task_id=task.task_id, candidate_id=candidate.candidate_id, verdict=verdict,
                          score=max(0.0, min(1.0, score)), details=details,
                          wall_s=analysis.wall_s if analysis else 0.0,
                          peak_memory_mb=analysis.peak_memory_mb if analysis else 0.0,
                          completion=candidate.completion)

    def _judge_detect(self, task: Task, candidate: Candidate, analysis: Analysis | None) -> ExecResult:
        label = Label.from_assets(task.assets.get("label"), task.assets["source"])
        answer = parse_answer(candidate.completion)
        findings = analysis.findings if analysis is not None and analysis.status == "ok" else None
        scored = score_detection(answer, label, findings)
        details = {"kind": "detect", "answer": answer.to_dict(), "detection": scored,
                   "label": {"vulnerable": label.vulnerable, "category": label.category, "lines": label.lines,
                             "functions": label.functions}}
        if analysis is not None:
            details["analysis"] = analysis.to_details()
        if not answer.parseable:
            details["error_kind"] = "unparseable"
        verdict = Verdict.PASS if scored["correct"] else Verdict.FAIL
        return self._result(task, candidate, verdict, scored["score"], details, analysis)

    def _judge_analyze(self, task: Task, candidate: Candidate, analysis: Analysis) -> ExecResult:
        details = {"kind": "analyze", "analysis": analysis.to_details()}
        if analysis.status in _STATUS_VERDICT:
            return self._result(task, candidate, _STATUS_VERDICT[analysis.status], 0.0, details, analysis)
        if not analysis.compiled:
            return self._result(task, candidate, Verdict.COMPILE_ERROR, 0.0, details, analysis)
        high = [f["check"] for f in analysis.findings if f["impact"] == "High"]
        assembly = _refused_assembly(task, analysis)
        details.update(high_findings=high, inline_assembly=assembly)
        if high or assembly:
            return self._result(task, candidate, Verdict.FAIL, 0.5, details, analysis)
        return self._result(task, candidate, Verdict.PASS, 1.0, details, analysis)

    def _judge_evm_repair(self, task: Task, candidate: Candidate, original: Analysis, fixed: Analysis) -> ExecResult:
        """A repair judged on py-evm, on every draw of its scenario: a draw passes when every functional step
        behaves and no exploit variant succeeds. PASS when every draw passes and the code is allowed (keeps the
        original's ABI; no inline assembly unless ``assets["allow_assembly"]``; no ``tx.origin``, and no
        ``selfdestruct``, ``delegatecall`` or ``callcode`` the original lacks, read from the compiled code) and
        Slither finds no High or Medium issue the original lacks (keyed by check and function; a Slither
        failure on the repair fails this check). Score: the fraction of draws passed, 0 when the code is refused
        or does not compile."""
        details: dict[str, Any] = {"kind": "repair", "judge": "evm", "analysis": fixed.to_details()}
        if fixed.status in _STATUS_VERDICT:
            return self._result(task, candidate, _STATUS_VERDICT[fixed.status], 0.0, details, fixed)
        if fixed.status == "analysis_error":
            details["error"] = fixed.error
            return self._result(task, candidate, Verdict.FAIL, 0.0, details, fixed)
        if not fixed.compiled:
            details["checks"] = {"compiles": False}
            return self._result(task, candidate, Verdict.COMPILE_ERROR, 0.0, details, fixed)
        if not original.compiled:
            return sandbox_error(task, candidate, f"the task's original contract does not analyse: "
                                                  f"{original.status} {original.compile_error or original.error}"[:500])
        evm = fixed.evm
        new_findings = (["slither failed: " + evm["slither_error"][:200]] if evm.get("slither_error")
                        else _new_findings(original, fixed, ("High", "Medium")))
        refused = [op for op in evm["opcodes"] if op == "ORIGIN" or (op in REFUSED_OPCODES
                                                                   and op not in evm["original_opcodes"])]
        assembly = evm["assembly"] and not task.assets.get("allow_assembly", False)
        abi_diff = _abi_changes(evm["original_abis"], fixed.abis)
        draws = [{"functional": d["functional"]["ok"],
                  "failures": [d["functional"]["error"]] if d["functional"]["error"] else
                  [f"step {i}: {why}" for i, why in enumerate(d["functional"]["steps"]) if why],
                  "exploited": [e["variant"] for e in d["exploits"] if e["exploited"]]} for d in evm["draws"]]
        passed = sum(d["functional"] and not d["exploited"] for d in draws)
        checks = {"compiles": True, "functional": all(d["functional"] for d in draws),
                  "exploit_blocked": not any(d["exploited"] for d in draws),
                  "code_allowed": not refused and not assembly, "abi_unchanged": not abi_diff,
                  "no_new_finding": not new_findings}
        details.update(checks=checks, draws=draws, draws_passed=passed, refused_opcodes=refused,
                       inline_assembly=evm["assembly"], abi_changes=abi_diff, new_findings=new_findings)
        if not checks["code_allowed"]:
            details["error"] = ("the repair holds " + ", ".join(refused + ["inline assembly"] * assembly)
                                + ", which a repair of this task may not add")
        allowed = checks["code_allowed"] and checks["abi_unchanged"] and checks["no_new_finding"]
        score = passed / len(draws) if draws and allowed else 0.0
        verdict = Verdict.PASS if all(checks.values()) else Verdict.FAIL
        return self._result(task, candidate, verdict, score, details, fixed)

    def _judge_repair(self, task: Task, candidate: Candidate, original: Analysis, fixed: Analysis) -> ExecResult:
        details: dict[str, Any] = {"kind": "repair", "analysis": fixed.to_details(),
                                   "original_analysis": original.to_details()}
        if not original.compiled:
            return sandbox_error(task, candidate, f"the task's original contract does not analyse: "
                                                  f"{original.status} {original.compile_error or original.error}"[:500])
        if fixed.status in _STATUS_VERDICT:
            return self._result(task, candidate, _STATUS_VERDICT[fixed.status], 0.0, details, fixed)
        if not fixed.compiled:
            details["checks"] = {"compiles": False}
            return self._result(task, candidate, Verdict.COMPILE_ERROR, 0.0, details, fixed)
        category = fold(task.assets.get("category"))
        targets = task.assets.get("target_detectors")
        if targets is None:
            targets = sorted({f["check"] for f in original.findings if f["category"] and fold(f["category"]) == category})
        still = sorted({f["check"] for f in fixed.findings if f["check"] in targets})
        new_high = _new_findings(original, fixed, ("High",))
        abi_diff = _abi_changes(original.abis, fixed.abis)
        assembly = _refused_assembly(task, fixed)
        checks = {"compiles": True, "target_fixed": not still, "no_new_high": not new_high, "abi_unchanged": not abi_diff,
                  "no_assembly": not assembly}
        details.update(checks=checks, target_detectors=targets, still_firing=still, new_high=new_high,
                       abi_changes=abi_diff, target_applicable=bool(targets), inline_assembly=assembly)
        score = sum(checks.values()) / len(checks)
        verdict = Verdict.PASS if all(checks.values()) else Verdict.FAIL
        return self._result(task, candidate, verdict, score, details, fixed)


def _package_folders(*names: str) -> list[Path]:
    """The folders (site-packages) that hold these installed packages."""
    import importlib.util

    folders = []
    for name in names:
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.submodule_search_locations:
            folders.append(Path(next(iter(spec.submodule_search_locations))).resolve().parent)
    return folders


def _request(source: str, install: solc.SolcInstall, filename: str, evm: dict | None) -> dict:
    """What the sandboxed server is asked: analyse ``source`` with Slither, or run it on ``evm``'s scenario."""
    request = {"source": source, "filename": filename, "solc": install.to_request()}
    if evm is not None:
        request["evm"] = evm
    return request


def _new_findings(original: Analysis, fixed: Analysis, impacts: tuple[str, ...]) -> list[str]:
    """Checks of the given impacts that fire on ``fixed`` for a (check, functions) the original lacks."""
    before = {(f["check"], tuple(f["functions"])) for f in original.findings if f["impact"] in impacts}
    return sorted({f["check"] for f in fixed.findings
                   if f["impact"] in impacts and (f["check"], tuple(f["functions"])) not in before})


def _refused_assembly(task: Task, analysis: Analysis) -> list[int]:
    """Lines of inline assembly Slither found, unless the task allows assembly (``assets["allow_assembly"]``):
    Slither's detectors do not see into assembly, so a call or ``selfdestruct`` written there would pass
    unseen."""
    if task.assets.get("allow_assembly", False):
        return []
    return sorted({line for f in analysis.findings if f["check"] == "assembly" for line in f["lines"]})


def _abi_entries(abi: list) -> set[str]:
    return {json.dumps(entry, sort_keys=True) for entry in abi if entry.get("type") != "constructor"}


def _abi_changes(before: dict[str, list], after: dict[str, list]) -> list[str]:
    """Contracts of ``before`` whose ABI (constructor aside) differs in ``after``; one line each."""
    changes = []
    for name, abi in sorted(before.items()):
        if name not in after:
            changes.append(f"{name}: contract missing")
            continue
        old, new = _abi_entries(abi), _abi_entries(after[name])
        if old != new:
            removed = sorted(json.loads(e).get("name") or json.loads(e)["type"] for e in old - new)
            added = sorted(json.loads(e).get("name") or json.loads(e)["type"] for e in new - old)
            changes.append(f"{name}: removed {removed} added {added}")
    return changes
