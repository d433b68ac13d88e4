"""The interface every domain implements: how to turn (task, candidate) into a sandboxed job and how to
read the job's outcome back as an :class:`~codealign.types.ExecResult`, plus everything else that is
particular to a language (code extraction, stop sequences, run defaults, presets, bundled tasks, constructor
options the CLI shows, paths its sandboxed jobs read), so that code above the domains never names one."""

from __future__ import annotations

import importlib

import abc
import functools
import hashlib
import json
import random
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

from codealign.extraction import Extraction, unextracted
from codealign.sandbox.job import Job, JobResult, JobStatus
from codealign.sandbox.limits import Limits
from codealign.types import Candidate, ExecResult, Task, Verdict

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

    from codealign.domains.syntax import Syntax
    from codealign.sandbox.process import Backend


@dataclass(frozen=True)
class Benchmark:
    """A benchmark a domain can read: how to load its problems as Tasks, what each problem's reference answer
    is (the golden self-test scores the references) and, where the generic pass@k report does not fit, how it
    scores. :mod:`codealign.bench` runs every benchmark through these fields; none imports ``bench``."""

    name: str
    """The name ``codealign bench NAME`` and ``eval.benchmark=NAME`` use."""
    load: Callable[..., list["Task"]]
    """``load(path, [variant,] model=None, **options) -> tasks``: ``variant`` only when there are
    ``variants``; ``model`` names the model that will answer (None unless one samples), for prompts that
    depend on it; ``options`` are the values of :attr:`options`."""
    oracle: Callable[["Task"], str]
    """The reference answer of a task, as a model should write it."""
    description: str = ""
    """What the data is, one line (``--help`` and the missing-data message)."""
    variants: tuple[str, ...] = ()
    """Named sub-tasks (e.g. VerilogEval's ``spec-to-rtl`` and ``code-complete``); the first is the default,
    the golden self-test runs them all."""
    variant_flag: str = "variant"
    """The CLI flag that picks a variant (``--NAME``), as the benchmark's own documentation calls it."""
    default_data: Path | None = None
    """The bundled data used when no path is given; None: a path is required."""
    options: tuple["DomainOption", ...] = ()
    """Benchmark-specific keyword arguments of ``load`` and ``sampling`` (CLI flags ``--NAME``)."""
    score: Callable[[Sequence["Task"], Sequence[ExecResult]], dict] | None = None
    """The benchmark's own metrics of executed answers, ``{"overall": {"pass@1": ...}, ...}`` plus a table in
    ``format``; None: the generic oracle / pass@k report."""
    evaluate: Callable[..., dict] | None = None
    """Scores answers without the executor: ``evaluate(tasks, candidates, *, backend, workers) -> dict``
    (with ``"mode"``); ``candidates=None`` is the benchmark's own baseline, run when no answers are given.
    None: answers are executed by the domain."""
    sampling: Callable[..., dict] | None = None
    """``sampling(model, **options)``: keyword arguments for ``Generator.candidates`` plus ``raw_prompts``
    (e.g. FIM prompts sent as they are, cut at the family's end-of-text); None: chat prompts, code extracted."""
    format: Callable[[dict], str] | None = None
    """The table of a summary from ``score`` or ``evaluate``, ending with the reproduce line."""
    headline: str = "pass@1"
    """The summary key ``--fail-under`` gates on for a benchmark with ``evaluate`` (e.g. ``macro_f1``); the
    others gate on pass@1."""
    skipped: Callable[[Any], dict[str, int]] | None = None
    """``skipped(path) -> {reason: count}``: the records of the data that ``load`` leaves out, and why (the
    report says how many were scored and how many skipped); None: ``load`` leaves none out."""


@dataclass(frozen=True)
class DomainOption:
    """A keyword argument of a domain's constructor that the CLI exposes as ``--NAME`` (e.g. a simulator)."""

    name: str
    """The constructor's keyword (the flag is ``--NAME`` with ``_`` as ``-``)."""
    help: str
    """One line for ``--help``."""
    default: Any = None
    """The constructor's default."""
    choices: tuple[Any, ...] = ()
    """The allowed values; empty: any value ``type`` accepts."""
    type: Callable[[str], Any] = str
    """Converts the flag's text; ``bool`` means an on/off flag."""
    repeatable: bool = False
    """The flag may be given several times; the value is the list of them."""


class Domain(abc.ABC):
    """A kind of code and its checker.

    Subclasses set ``name`` and ``default_limits``, and implement :meth:`prepare` and :meth:`judge`; what keys
    their verdicts (:meth:`fingerprint`) follows from their code, never from a number bumped by hand. A domain
    never raises because a candidate failed; it raises only for harness faults, which the executor turns into
    SANDBOX_ERROR. A new domain is one package: subclass this in its ``__init__.py`` and register the class
    in the ``codealign.domains`` entry-point group (see :mod:`codealign.domains`).
    """

    name: str = ""
    default_limits: Limits = Limits()
    fence_tags: frozenset[str] = frozenset()
    """Markdown fence tags that mark this language's code (untagged fences count for every language)."""
    stop_sequences: tuple[str, ...] = ()
    """Strings that end a sample (e.g. ``endmodule``); the stop string itself is not part of the text."""
    run_defaults: Mapping[str, Any] = {}
    """Budgets of ``codealign run <domain>`` on the tiny model, as a mapping over the pipeline config
    (read-only); a preset, a config file and key=value overrides apply on top."""
    options: tuple[DomainOption, ...] = ()
    """Keyword arguments of the constructor that the CLI exposes."""
    tools: Mapping[str, tuple[str, ...]] = {}
    """External tools the domain runs, each with the command that prints its version (``codealign doctor``)."""
    syntax: "Syntax | None" = None
    """The language's tree-sitter syntax (spans and call graph of the SynthCoder corpus), read from the class;
    None: the corpus tools do not read this language."""

    @abc.abstractmethod
    def prepare(self, task: Task, candidate: Candidate) -> Job | ExecResult:
        """The job that judges ``candidate``, or an ExecResult when the verdict is known without running
        anything (e.g. no code could be extracted)."""

    @abc.abstractmethod
    def judge(self, task: Task, candidate: Candidate, job: Job, result: JobResult) -> ExecResult:
        """The verdict from the job's outcome. Must trust only what the candidate cannot forge."""

    def toolchain_version(self) -> str:
        """Versions of the external tools the verdict depends on (part of the cache key)."""
        return ""

    def check_toolchain(self) -> str | None:
        """None when the toolchain is usable, else a one-line reason (reported as SANDBOX_ERROR)."""
        return None

    def fingerprint(self, backend: str) -> str:
        """The judge's fingerprint under ``backend`` (a backend's
        :meth:`~codealign.sandbox.process.Backend.identity`): a hash of the judge's code and assets
        (every file of the domain's package but its warm-up model, plus the shared judging code:
        :mod:`codealign.sandbox` and this module), :meth:`toolchain_version`, the backend and the values of
        :attr:`options`. It keys the verdict cache, decides which rows of an earlier ``--out`` a run may
        reuse, and keys any stored reference recording: two judges with one fingerprint give the same verdicts.
        Not covered: constructor arguments that are not :attr:`options`, and code outside those files.
        Computed once per domain object and backend (a toolchain changed in place meanwhile is seen by a new
        process)."""
        memo = self.__dict__.setdefault("_fingerprints", {})
        if backend not in memo:
            options = {o.name: getattr(self, o.name, o.default) for o in self.options}
            h = hashlib.sha256()
            for part in (self.name, code_hash(*self._judge_sources()), self.toolchain_version(), backend,
                         json.dumps(options, sort_keys=True, default=repr)):
                h.update(part.encode("utf-8", "surrogatepass"))
                h.update(b"\0")
            memo[backend] = h.hexdigest()
        return memo[backend]

    def _judge_sources(self) -> tuple[str, ...]:
        """The files and folders whose contents make up the judge: the domain's package (or its module, for a
        domain defined in a lone module) and the shared judging code (the seeds of drawn stimuli included)."""
        module = sys.modules[type(self).__module__]
        if not hasattr(module, "__path__") and "." in module.__name__:
            module = sys.modules[module.__name__.rsplit(".", 1)[0]]
        own = Path(module.__file__).resolve()
        here = Path(__file__).resolve()
        return (str(own.parent if hasattr(module, "__path__") else own), str(here),
                str(here.parent / "draws.py"), str(here.parent.parent / "sandbox"))

    def extract(self, text: str, truncated: bool = False) -> Extraction:
        """The code in a model's answer, with a record of what extraction did (see :mod:`codealign.extraction`;
        domains call :func:`~codealign.extraction.extract_code` with their ``fence_tags`` and extractor).
        ``truncated``: the generator stopped at its token limit. Default: the answer unchanged."""
        return unextracted(text, self.name, truncated=truncated)

    @classmethod
    def presets(cls) -> dict[str, "Traversable"]:
        """Presets for this domain, name → YAML file: every ``resources/presets/*.yaml`` of the domain's package
        (``smart_llama_dpo.yaml`` is preset ``smart-llama-dpo``). Each YAML's ``domain:`` names this domain."""
        folder = cls._resources() / "presets"
        if not folder.is_dir():
            return {}
        files = sorted((e for e in folder.iterdir() if e.name.endswith(".yaml")), key=lambda e: e.name)
        return {e.name[: -len(".yaml")].replace("_", "-"): e for e in files}

    def sandbox_binds(self) -> tuple[str, ...]:
        """Host paths this domain's sandboxed jobs read (its harness code), passed as ``Job.binds``: by default
        the folder of the domain's top-level package (the ``codealign`` package folder, never the checkout
        that holds it). The bwrap and docker backends show a job only these, the interpreter, the toolchains
        and its job dir; a job imports the package with the folder's parent on ``PYTHONPATH``."""
        top = sys.modules[type(self).__module__.split(".")[0]]
        return (str(Path(top.__file__).resolve().parent),)

    def normalize(self, completion: str) -> str:
        """The candidate text as the cache sees it. Identity unless the domain proves a normalisation
        changes no verdict."""
        return completion

    def limits_for(self, task: Task) -> Limits:
        return self.default_limits.merged(task.limits)

    def evaluate(self, task: Task, candidate: Candidate, backend: "Backend") -> ExecResult:
        """Judge one candidate: prepare, run in ``backend``, judge. Domains with persistent workers
        override this."""
        problem = self.check_toolchain()
        if problem:
            return sandbox_error(task, candidate, problem)
        prepared = self.prepare(task, candidate)
        if isinstance(prepared, ExecResult):
            return prepared
        outcome = backend.run(prepared)
        if outcome.status is JobStatus.SANDBOX_ERROR:
            return sandbox_error(task, candidate, outcome.error or "sandbox failed", outcome)
        result = self.judge(task, candidate, prepared, outcome)
        result.details.setdefault("backend", outcome.backend)
        return result

    batch_size: int = 1
    """How many candidates :meth:`evaluate_batch` judges together at most; 1: each alone (the executor then
    never calls it)."""
    batch_tasks: bool = False
    """Whether one batch may hold candidates of several tasks (tasks whose :meth:`limits_for` are equal): the
    executor then packs tasks with fewer than :attr:`batch_size` candidates together; False: a batch holds
    candidates of one task only."""

    def evaluate_batch(self, tasks: Sequence[Task], candidates: Sequence[Candidate],
                       backend: "Backend") -> list[ExecResult | None]:
        """Judge candidates together, one entry per candidate in order (``tasks[k]`` is ``candidates[k]``'s
        task: one task throughout unless :attr:`batch_tasks`): its verdict, identical to :meth:`evaluate`'s, or
        None where the batch could not judge it (the caller then judges that one alone with :meth:`evaluate`).
        A domain that sets :attr:`batch_size` above 1 overrides this with one job under the tasks' common
        :meth:`limits_for`, so a batch needs about one job's deadline (the executor judges every member of a
        batch that outlives its watchdog alone). Default: :meth:`evaluate` each."""
        return [self.evaluate(task, candidate, backend) for task, candidate in zip(tasks, candidates)]

    task_module: str | None = None
    """Dotted name of the module that holds this domain's procedural task family (``FAMILIES``,
    ``generate_tasks(families, n, seed, split)``, ``universe(family, split)``, ``bundled_tasks(split)``),
    imported on first use; None:
    the domain has none."""

    def _task_family(self):
        from codealign.errors import UserError

        if self.task_module is None:
            raise UserError(f"domain {self.name!r} has no procedural task families; pass --tasks PATH")
        return importlib.import_module(self.task_module)

    def demo_tasks(self, split: str = "train") -> list[Task]:
        """The bundled tasks of :attr:`task_module` (``train`` or ``heldout``), which ``codealign run`` uses on
        embedded defaults; UserError when the domain ships none."""
        return self._task_family().bundled_tasks(split)

    @property
    def task_families(self) -> tuple[str, ...]:
        """Procedural task families :meth:`generate_tasks` draws from (``codealign tasks generate --family F``)."""
        return tuple(self._task_family().FAMILIES) if self.task_module else ()

    def count_tasks(self, split: str) -> int:
        """How many distinct tasks :meth:`generate_tasks` can draw from ``split`` over all families."""
        family = self._task_family()
        return sum(len(family.universe(name, split)) for name in family.FAMILIES)

    @property
    def eval_reserve(self) -> int:
        """Held-out tasks kept for evaluation (the task module's ``EVAL_RESERVE``): an evaluation draw of at most
        this many shares no novelty key with the ``feedback`` split
        (:func:`codealign.domains.splits.feedback_pools`)."""
        return self._task_family().EVAL_RESERVE

    def generate_tasks(self, families: Sequence[str] | None = None, n: int = 100, seed: int = 0,
                       split: str = "train") -> list[Task]:
        """``n`` procedural tasks of ``split`` drawn from ``families`` (None: all of :attr:`task_families`),
        fixed train / held-out split; UserError for a domain without families."""
        return self._task_family().generate_tasks(families, n, seed, split)

    def install(self, items: Sequence[str] = ()) -> dict[str, str]:
        """Install optional toolchain parts (e.g. compiler versions) named by ``items``, or the ones the tests
        and benchmarks need when empty; returns item → where it was installed. A domain with nothing to install
        raises :class:`~codealign.errors.UserError`."""
        from codealign.errors import UserError

        raise UserError(f"domain {self.name!r} has nothing to install")

    def installed(self) -> list[str]:
        """Optional toolchain parts installed now (what :meth:`install` added), for ``codealign doctor``."""
        return []

    def benchmarks(self) -> tuple[Benchmark, ...]:
        """The benchmarks this domain reads (``codealign bench NAME``, ``eval.benchmark=NAME``)."""
        return ()

    def reference_solution(self, task: Task) -> str | None:
        """The task's known-good answer in the form a model should write it (SFT warm-up data), or None."""
        return None

    def selftest_cases(self) -> list[tuple[Task, Candidate, Verdict]]:
        """Tiny (task, candidate, expected verdict) cases for ``codealign doctor``'s live check: at least one
        known-good and one known-bad. Empty when the domain offers none."""
        return []

    def import_task(self, task_id: str, source: str, spec: str) -> Task:
        """The task ``task_id`` asking for ``spec`` whose reference is the program in ``source``, the text of a
        file another tool exported (``codealign tasks import``). Raises UserError naming what it cannot read; by
        default the domain reads no such files."""
        from codealign.errors import UserError

        raise UserError(f"domain {self.name!r} imports no program files")

    def export_program(self, text: str) -> tuple[str, str]:
        """The program ``text`` (an answer in this domain's form) as a file another tool reads: its suffix and
        its text (``codealign tasks export``). Raises UserError when ``text`` is no such program; by default the
        domain writes no such files."""
        from codealign.errors import UserError

        raise UserError(f"domain {self.name!r} exports no program files")

    @classmethod
    def warmup_folder(cls) -> Path:
        """Where the domain's shipped SFT warm-up of ``codealign-tiny`` lives (``resources/warmup`` of its
        package), whether or not one is there; ``scripts/train_warmup.py`` writes it."""
        return Path(str(cls._resources() / "warmup"))

    def warmup_checkpoint(self) -> str | None:
        """The shipped warm-up model folder (weights, config, tokenizer and ``warmup.json``, the recipe and
        the held-out pass@1 it reached), or None when the domain ships none."""
        folder = self.warmup_folder()
        return str(folder) if (folder / "config.json").is_file() else None

    def mutate(self, solution: str, rng: random.Random) -> list[tuple[str, dict]]:
        """Small mutations of a correct solution for error-injection negatives: ``[(text, description)]``.
        Domains that do not offer mutations return an empty list."""
        return []

    @classmethod
    def _resources(cls) -> "Traversable":
        """The ``resources`` folder of the domain's package."""
        from importlib import resources

        module = cls.__module__
        package = module if hasattr(sys.modules[module], "__path__") else module.rsplit(".", 1)[0]
        return resources.files(package) / "resources"


_NOT_JUDGING = (("resources", "warmup"),)
"""Folders of a domain package that never judge (the shipped warm-up model), left out of its fingerprint."""


@functools.lru_cache(maxsize=None)
def code_hash(*paths: str) -> str:
    """A hash of the files at ``paths`` (a folder: every file below it by relative path, bytecode caches and
    :data:`_NOT_JUDGING` left out), read once per process."""
    h = hashlib.sha256()
    for root in paths:
        base = Path(root)
        files = [base] if base.is_file() else sorted(
            p for p in base.rglob("*")
            if p.is_file() and "__pycache__" not in p.parts
            and not any(p.relative_to(base).parts[:len(skip)] == skip for skip in _NOT_JUDGING))
        for path in files:
            h.update(str(path.relative_to(base.parent)).encode("utf-8", "surrogateescape"))
            h.update(b"\0")
            h.update(path.read_bytes())
            h.update(b"\0")
    return h.hexdigest()


def limit_verdict(result: JobResult) -> Verdict | None:
    """The verdict implied by how the job ended, when the harness had to stop it."""
    return {
        JobStatus.TIMEOUT: Verdict.TIMEOUT,
        JobStatus.MEMORY: Verdict.MEMORY,
        JobStatus.OUTPUT_LIMIT: Verdict.OUTPUT_LIMIT,
    }.get(result.status)


def sandbox_error(task: Task, candidate: Candidate, message: str, outcome: JobResult | None = None) -> ExecResult:
    return ExecResult(
        task_id=task.task_id,
        candidate_id=candidate.candidate_id,
        verdict=Verdict.SANDBOX_ERROR,
        details={"error": message},
        stderr=outcome.text("stderr") if outcome else "",
        completion=candidate.completion,
    )


@functools.lru_cache(maxsize=None)
def command_version(*argv: str) -> str:
    """First line of a tool's version output, or '' when the tool is missing."""
    import subprocess

    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    text = (out.stdout or out.stderr).strip()
    return text.splitlines()[0] if text else ""
