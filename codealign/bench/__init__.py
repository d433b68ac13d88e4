"""Benchmarks as typed library calls: ``codealign.bench.run("verilogeval", data=..., candidates=...)`` (or
``codealign.bench(...)``, the package being callable) returns a :class:`BenchReport`.

A benchmark belongs to its domain (:meth:`Domain.benchmarks`): the domain loads its problems, knows each
reference answer and, where the generic report does not fit, scores them its own way. This package finds
benchmarks through the domain registry and does what every benchmark does: choose the answers (the
references, a JSONL file, samples of a model, or empty answers), run them through the executor, report
pass@k or which references fail, compare with a baseline and apply a threshold.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import time
import types
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from codealign.bench import report as _report
from codealign.bench import screen as _screen
from codealign.domains.base import Benchmark
from codealign.errors import UserError, closest
from codealign.jsonl import read_jsonl, write_text_atomic
from codealign.types import Candidate, Task

SOURCES = ("oracle", "candidates", "model", "empty")
"""Where the answers come from; none given means the benchmark's own baseline, where it has one."""


@dataclass
class BenchReport:
    """What a benchmark run measured."""

    name: str
    """The benchmark."""
    summary: dict
    """The JSON summary (``codealign bench --json`` prints it): ``benchmark``, ``data``, ``mode``, the
    benchmark's sections, ``command`` (to reproduce it) and ``pass@1`` where the benchmark has one."""
    text: str
    """The tables, as ``codealign bench`` prints them."""
    pass_at_1: float | None
    """Mean pass@1 over the variants run (the fraction of passing references for the golden self-test);
    None for a benchmark that reports other metrics."""
    exit_code: int = 0
    """1 when nothing was scored, or the headline metric (``pass_at_1``, else the benchmark's
    :attr:`~codealign.domains.base.Benchmark.headline`) is below ``fail_under`` (both fractions in [0, 1])."""
    failure: str = ""
    """Why ``exit_code`` is 1."""
    line: str = ""
    """The result in one line (what ``codealign bench --quiet`` prints): the headline metric and what it was
    measured on."""

    def to_dict(self) -> dict:
        return dict(self.summary)


def benchmarks() -> dict[str, tuple[str, Benchmark]]:
    """Every benchmark of every registered domain: name → (domain name, benchmark)."""
    from codealign.domains import domain_names, get_domain

    return {b.name: (name, b) for name in domain_names() for b in get_domain(name).benchmarks()}


def get_benchmark(name: str) -> tuple[str, Benchmark]:
    known = benchmarks()
    if name not in known:
        raise UserError(f"unknown benchmark {name!r}{closest(name, known)}")
    return known[name]


def load_benchmark(name: str, path: str | os.PathLike | None = None, variant: str | None = None) -> list[Task]:
    """The tasks of benchmark ``name`` read from ``path`` (None: its bundled data), one variant (default: the
    first); what ``eval.benchmark=NAME`` uses."""
    _, bench = get_benchmark(name)
    return _load(bench, _data_path(name, bench, path), _variants(name, bench, variant, oracle=False)[0], None, {})


@dataclass
class BenchSettings:
    """How a benchmark is run: every keyword of :func:`run` but the benchmark's own options
    (:attr:`Benchmark.options`). Give at most one source of answers (``oracle``, ``candidates``, ``model``,
    ``empty``); with none, the benchmark's own baseline where it has one."""

    data: str | os.PathLike | None = None
    """The benchmark's data (default: its bundled data)."""
    candidates: str | os.PathLike | None = None
    """Answers from a JSONL of ``task_id``, ``completion``. Candidates missing for a problem count as failures
    (as VerilogEval and EvalPlus count them); the report says how many."""
    oracle: bool = False
    """Answer with the references: the golden self-test."""
    empty: bool = False
    """Answer with empty answers: a self-test that must score 0."""
    model: str | None = None
    """Answer with ``n`` samples per problem of this model, sampled through ``generator``."""
    limit: int | None = None
    """Only the first N problems."""
    variant: str | None = None
    """A sub-task, or ``"all"`` (default: the first; the golden self-test runs all)."""
    backend: str = "auto"
    """The sandbox backend (:func:`codealign.sandbox.backends.get_backend`)."""
    executor: str = "local"
    """The executor (local or ray)."""
    workers: int | None = None
    """Jobs run at once (None: the executor's default)."""
    cache: Any = None
    """A verdict cache or its path (None: no cache)."""
    n: int = 1
    """``model``: samples per problem."""
    temperature: float = 0.0
    """``model``: the sampling temperature."""
    max_new_tokens: int = 1024
    """``model``: tokens per sample."""
    generator: str = "hf"
    """How ``model`` is sampled (:data:`BENCH_GENERATORS`): ``hf`` (a hub id or folder), ``vllm`` (a GPU and
    vLLM), or ``openai`` (a served model: ``model`` is the name the server at ``base_url`` serves)."""
    base_url: str | None = None
    """``openai``: the server's URL."""
    chat: bool = False
    """``openai``: use chat completions."""
    api_key: str | None = None
    """``openai``: the server's key (None: ``OPENAI_API_KEY``)."""
    ks: Sequence[int] | None = None
    """The k of pass@k (default 1, 5, 10: those every problem has samples for); only for the benchmarks with
    the generic pass@k report."""
    timeout: float | None = None
    """Seconds of wall time per job (default: the domain's limit)."""
    baseline: str | os.PathLike | None = None
    """An earlier report JSON to compare with."""
    fail_under: float | None = None
    """Exit code 1 when the headline metric (pass@1, or the benchmark's
    :attr:`~codealign.domains.base.Benchmark.headline`; a fraction in [0, 1], like every rate in the report) is
    below it. A run that scores nothing (every problem skipped) exits 1 anyway."""
    out: str | os.PathLike | None = None
    """Write the report JSON there."""
    progress: bool = False
    """Show progress bars."""
    domain_options: dict | None = None
    """Constructor options of the benchmark's domain (e.g. a simulator)."""
    screen: bool | None = None
    """Run the test-strength screen (:mod:`codealign.bench.screen`) and list the weak tasks (None: with
    ``oracle``); tasks already marked weak are flagged in every mode (``summary["weak"]``)."""

    def check(self, name: str, bench: Benchmark) -> None:
        """Raise :class:`UserError` on a value no run of benchmark ``name`` accepts."""
        if self.limit is not None and self.limit < 1:
            raise UserError(f"--limit must be positive, got {self.limit}")
        if self.fail_under is not None and not 0 <= self.fail_under <= 1:
            raise UserError(f"--fail-under is a fraction in [0, 1] like the report's pass@1, got {self.fail_under}"
                            + (f" (did you mean {self.fail_under / 100:g}?)" if 1 < self.fail_under <= 100 else ""))
        if self.timeout is not None and not self.timeout > 0:
            raise UserError(f"--timeout must be a positive number of seconds, got {self.timeout}")
        if self.ks is not None and (not self.ks or min(self.ks) < 1):
            raise UserError(f"--k takes positive integers such as 1,5,10; got {','.join(map(str, self.ks or []))}")
        if self.ks is not None and (bench.score is not None or bench.evaluate is not None):
            raise UserError(f"bench {name} reports its own metrics; --k applies to the benchmarks with the generic "
                            "pass@k report")


_SETTINGS = tuple(f.name for f in dataclasses.fields(BenchSettings))


def run(name: str, settings: BenchSettings | None = None, **keywords: Any) -> BenchReport:
    """Run benchmark ``name`` as ``settings`` say, overridden by the ``keywords`` that name a field of
    :class:`BenchSettings` (``codealign.bench.run("verilogeval", oracle=True, limit=2)``); the other
    ``keywords`` are the benchmark's own options (:attr:`Benchmark.options`)."""
    s = dataclasses.replace(settings or BenchSettings(), **{k: v for k, v in keywords.items() if k in _SETTINGS})
    domain, bench = get_benchmark(name)
    options = _check_options(name, bench, {k: v for k, v in keywords.items() if k not in _SETTINGS})
    mode = _mode(bench, oracle=s.oracle, candidates=s.candidates, model=s.model, empty=s.empty)
    s.check(name, bench)
    path = _data_path(name, bench, s.data)
    chosen = _variants(name, bench, s.variant, s.oracle)
    before = _read_baseline(s.baseline) if s.baseline else None
    summary: dict = {"benchmark": name, "data": str(path), "mode": mode or "baseline"}
    texts, pass1, scored = [], [], 0
    loaded = {v: _load(bench, path, v, s.model, options) for v in chosen}
    if s.data is None:
        size = max(len(tasks) for tasks in loaded.values())
        texts.append(f"{name}: no --data given: running the bundled {size}-problem demo set; give --data PATH "
                     f"({bench.description}) for the full benchmark")
    if not any(loaded.values()):
        raise UserError(f"bench {name}: no problems to run in {path}"
                        + (f" ({bench.variant_flag} {', '.join(map(str, chosen))})" if bench.variants else "")
                        + "; check the data and the benchmark's filters")
    generate = _sampler(bench, s, options) if mode == "model" else None
    for v, tasks in loaded.items():
        if not tasks:
            texts.append(f"{name}: {path} has no problems of {bench.variant_flag} {v}; skipped")
            continue
        tasks = _with_timeout(tasks[:s.limit] if s.limit else tasks, s.timeout)
        scored += len(tasks)
        p1 = _run_variant(domain, bench, mode, s, v or name, v, tasks, {t.task_id for t in loaded[v]}, generate,
                          summary, texts)
        if p1 is not None:
            pass1.append(p1)
    summary["scored"] = scored
    if bench.skipped is not None:
        summary["skipped"] = bench.skipped(path)
        left_out = "; ".join(f"{n} {why}" for why, n in summary["skipped"].items() if n)
        texts.insert(0, f"{name}: scored {scored} problems" + (f"; skipped {left_out}" if left_out else ""))
    summary["command"] = _command(name, domain, bench, mode, s, chosen, options)
    texts.append(bench.format(summary) if bench.format else f"reproduce: {summary['command']}")
    result = BenchReport(name, summary, "", sum(pass1) / len(pass1) if pass1 else None)
    if result.pass_at_1 is not None:
        if before is not None:
            line = _report.compare_with_baseline(before, summary, result.pass_at_1)
            texts += [line] if line else []
        summary["pass@1"] = result.pass_at_1
    _gate(result, bench, s.fail_under)
    result.text = "\n".join(texts)
    if s.out:
        write_text_atomic(s.out, json.dumps(summary, indent=1, default=str) + "\n")
    return result


def _run_variant(domain: str, bench: Benchmark, mode: str | None, s: BenchSettings, label: str,
                 variant: str | None, tasks: list[Task], known: set[str], generate, summary: dict,
                 texts: list[str]) -> float | None:
    """Answer and score one variant's ``tasks``, screen them, and add its section to ``summary`` and its lines to
    ``texts``; its pass@1 (None when the benchmark has none)."""
    answers = _answers(bench, mode, tasks, known, candidates=s.candidates, generate=generate)
    missing = {a.task_id for a in answers or () if a.metadata.get("missing")}
    if missing:
        summary.setdefault("missing", {})[label] = len(missing)
        texts.append(f"{label}: {len(missing)} of {len(tasks)} problems have no candidate in {s.candidates}: "
                     "counted as failures")
    section, p1, text = _score(domain, bench, mode, label, tasks, answers, backend=s.backend, executor=s.executor,
                               workers=s.workers, cache=s.cache, progress=s.progress,
                               domain_options=s.domain_options or {}, ks=s.ks)
    texts += [text] if text else []
    texts += _screen.report(summary, tasks, variant, domain if (mode == "oracle" if s.screen is None else s.screen)
                            else None, backend=s.backend, executor=s.executor, workers=s.workers, cache=s.cache,
                            domain_options=s.domain_options or {})
    if bench.variants:
        summary.setdefault("tasks", {})[variant] = section
    elif bench.score is None and bench.evaluate is None:
        summary["report"] = section
    else:
        summary.update(section)
    return p1


def _command(name: str, domain: str, bench: Benchmark, mode: str | None, s: BenchSettings, chosen: list,
             options: dict) -> str:
    """The ``codealign bench`` command that reproduces this run."""
    from codealign.domains import domain_class

    flags = _flags(bench, s.variant, chosen, s.empty, options, s.limit, s.ks, s.timeout) \
        + _option_flags(domain_class(domain).options, s.domain_options or {})
    return _report.reproduce_command(name, s.data, flags, _source(mode, s))


def _score(domain: str, bench: Benchmark, mode: str | None, label: str, tasks: list[Task],
           answers: list[Candidate] | None, *, backend: str, executor: str, workers: int | None, cache: Any,
           progress: bool, domain_options: dict, ks: Sequence[int] | None = None) -> tuple[dict, float | None, str]:
    """One variant's section of the summary, its pass@1 (None when the benchmark has none) and its table
    (empty when the benchmark formats the whole summary itself)."""
    if bench.evaluate is not None:
        return bench.evaluate(tasks, answers, backend=backend, workers=workers), None, ""
    from codealign.domains import get_domain
    from codealign.execution.executor import execute

    t0 = time.monotonic()
    results = execute(get_domain(domain, **domain_options), tasks, answers, backend=backend, executor=executor,
                      workers=workers, cache=cache, progress=progress)
    seconds = time.monotonic() - t0
    if bench.score is not None:
        used = next((r.details["backend"] for r in results if "backend" in r.details), backend)
        section = {"rows": len(tasks), "candidates": len(answers), "seconds": round(seconds, 1), "backend": used,
                   **bench.score(tasks, results)}
        return section, section["overall"]["pass@1"], ""
    if mode == "oracle":
        section = {**_report.oracle_report(tasks, results), "seconds": seconds}
        return section, section["passed"] / section["total"], _report.format_oracle(label, section)
    section = {**_report.candidate_report(tasks, results, ks), "seconds": seconds}
    return section, section["overall"].get("pass@1", 0.0), _report.format_candidates(label, section)


def _read_baseline(path: str | os.PathLike) -> dict:
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise UserError(f"{path}: cannot read baseline report ({exc})") from None


def _check_options(name: str, bench: Benchmark, options: dict) -> dict:
    allowed = {o.name: o for o in bench.options}
    for key in options:
        if key not in allowed:
            raise UserError(f"bench {name}: unknown option {key!r}{closest(key, [*allowed, *_SETTINGS])}")
    return {k: options.get(k, o.default) for k, o in allowed.items()}


def _mode(bench: Benchmark, **given: Any) -> str | None:
    chosen = [name for name in SOURCES if given[name]]
    if given["empty"] and len(chosen) > 1:
        raise UserError("--empty cannot be combined with --oracle, --candidates or --model")
    if len(chosen) > 1 or (not chosen and bench.evaluate is None):
        how = "at most" if bench.evaluate is not None else "exactly"
        raise UserError(f"give {how} one of --oracle, --candidates FILE, --model PATH")
    return chosen[0] if chosen else None


def _variants(name: str, bench: Benchmark, variant: str | None, oracle: bool) -> list[str | None]:
    if not bench.variants:
        if variant is not None:
            raise UserError(f"benchmark {name!r} has no variants")
        return [None]
    chosen = variant or ("all" if oracle else bench.variants[0])
    if chosen == "all":
        return list(bench.variants)
    if chosen not in bench.variants:
        raise UserError(f"unknown {name} {bench.variant_flag} {chosen!r}; choose one of: "
                        f"{', '.join(bench.variants)}, all")
    return [chosen]


def _data_path(name: str, bench: Benchmark, data: str | os.PathLike | None) -> str | os.PathLike:
    path = data if data is not None else bench.default_data
    if path is None:
        raise UserError(f"bench {name} needs --data PATH ({bench.description}); no demo set is bundled")
    return path


def _load(bench: Benchmark, path: str | os.PathLike, variant: str | None, model: str | None,
          options: dict) -> list[Task]:
    args = (path, variant) if bench.variants else (path,)
    return bench.load(*args, model=model, **options)


def _answers(bench: Benchmark, mode: str | None, tasks: Sequence[Task], known: set[str], *, candidates,
             generate) -> list[Candidate] | None:
    if mode is None:
        return None
    if mode == "oracle":
        return [Candidate(t.task_id, bench.oracle(t), metadata={"oracle": True}) for t in tasks]
    if mode == "empty":
        return [Candidate(t.task_id, "", metadata={"empty": True}) for t in tasks]
    if mode == "model":
        return generate(list(tasks))
    cands = read_jsonl(candidates, Candidate.from_dict)
    unknown = sorted({c.task_id for c in cands} - known)
    if unknown:
        shown = ", ".join(unknown[:5]) + (" ..." if len(unknown) > 5 else "")
        raise UserError(f"{candidates}: {len(unknown)} unknown task_id(s) for this benchmark: {shown}")
    if not cands:
        raise UserError(f"{candidates}: no candidates")
    kept = {t.task_id for t in tasks}
    given = [c for c in cands if c.task_id in kept]
    # A problem without an answer is a failure, as many times as the others were sampled, so pass@k counts it
    # at every k the others allow.
    per_task = Counter(c.task_id for c in given)
    n = max(per_task.values(), default=1)
    return given + [Candidate(t.task_id, "", f"missing-{t.task_id}-{i}", metadata={"missing": True})
                    for t in tasks if t.task_id not in per_task for i in range(n)]


def _sampler(bench: Benchmark, s: BenchSettings, options: dict):
    """``tasks -> candidates`` sampled from ``s.model`` through ``s.generator``, built once for every variant."""
    from codealign.generate.command import make_generator

    if s.generator not in BENCH_GENERATORS:
        raise UserError(f"bench --generator is one of {', '.join(BENCH_GENERATORS)}, got {s.generator!r}")
    if s.generator != "openai" and (s.chat or s.base_url or s.api_key):
        raise UserError("--chat, --base-url and --api-key are options of --generator openai")
    sampling = dict(bench.sampling(s.model, **options)) if bench.sampling else {}
    raw = sampling.pop("raw_prompts", False)
    if raw and s.chat:
        raise UserError("this benchmark sends its prompts as they are (e.g. FIM); --chat would wrap them in a "
                        "chat turn: leave --chat out")
    gen = make_generator(s.generator, model=s.model, raw_prompts=raw, chat=s.chat, api_key=s.api_key,
                         **({"base_url": s.base_url} if s.base_url else {}))

    def generate(tasks: list[Task]) -> list[Candidate]:
        return gen.candidates(tasks, n=s.n, temperature=s.temperature, max_new_tokens=s.max_new_tokens,
                              progress=s.progress, **sampling)

    return generate


BENCH_GENERATORS = ("hf", "vllm", "openai")
"""How ``bench --model`` samples: a local model, vLLM, or a served model."""


def _with_timeout(tasks: list[Task], timeout: float | None) -> list[Task]:
    """``tasks`` with a wall-time limit of ``timeout`` seconds per job (and at least as much CPU time); the
    limits are part of the cache key, so a verdict under another limit is never reused."""
    if timeout is None:
        return tasks
    return [dataclasses.replace(t, limits={**t.limits, "wall_s": timeout,
                                           "cpu_s": max(timeout, t.limits.get("cpu_s", 0))}) for t in tasks]


def _gate(result: BenchReport, bench: Benchmark, fail_under: float | None) -> None:
    """Exit code 1 when nothing was scored (every problem skipped) or the headline metric is below
    ``fail_under``."""
    name, value = ("pass@1", result.pass_at_1) if bench.evaluate is None else \
        (bench.headline, result.summary.get(bench.headline))
    result.line = (f"{result.name}: {name} {value:.4f} on {result.summary['scored']} problems"
                   if value is not None else f"{result.name}: nothing was run") + f" ({result.summary['mode']})"
    if value is None:
        skipped = result.summary.get("skipped") or {}
        result.exit_code = 1
        result.failure = (f"bench {result.name}: nothing was run: every problem was skipped"
                          + (f" ({len(skipped)} skipped)" if skipped else "") + "; there is no result to gate on")
    elif fail_under is not None and value < fail_under:
        result.exit_code = 1
        result.failure = f"{name} {value:.4f} is below --fail-under {fail_under}"


def _flags(bench: Benchmark, variant: str | None, chosen: list, empty: bool, options: dict,
           limit: int | None, ks: Sequence[int] | None, timeout: float | None) -> list[str]:
    flags = [f"--{bench.variant_flag}", variant or ("all" if len(chosen) > 1 else chosen[0])] \
        if bench.variants else []
    flags += ["--empty"] if empty else []
    flags += _option_flags(bench.options, options)
    flags += ["--k", ",".join(map(str, ks))] if ks else []
    flags += ["--timeout", f"{timeout:g}"] if timeout is not None else []
    return flags + (["--limit", str(limit)] if limit is not None else [])


def _option_flags(declared: Sequence[Any], values: dict) -> list[str]:
    """The CLI flags that give ``values`` of the ``declared`` options (:class:`DomainOption`)."""
    flags: list[str] = []
    for option in declared:
        value, flag = values.get(option.name), "--" + option.name.replace("_", "-")
        if option.repeatable:
            flags += [x for v in value or () for x in (flag, str(v))]
        elif option.type is bool:
            flags += [flag] if value else []
        elif value is not None:
            flags += [flag, str(value)]
    return flags


def _source(mode: str | None, s: BenchSettings) -> list[str]:
    if mode == "oracle":
        return ["--oracle"]
    if mode == "candidates":
        return ["--candidates", str(s.candidates)]
    if mode == "model":
        served = (["--generator", s.generator] if s.generator != "hf" else []) \
            + (["--base-url", s.base_url] if s.base_url else []) + (["--chat"] if s.chat else [])
        return [*served, "--model", str(s.model), "--n", str(s.n), "--temperature", str(s.temperature),
                "--max-new-tokens", str(s.max_new_tokens)]
    return []


class _CallableModule(types.ModuleType):
    """``codealign.bench`` is both this package and the library call ``codealign.bench(name, **kw)``."""

    def __call__(self, name: str, **kw: Any) -> BenchReport:
        return run(name, **kw)


sys.modules[__name__].__class__ = _CallableModule
