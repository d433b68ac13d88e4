"""Benchmarks as typed library calls: ``codealign.bench.run("verilogeval", data=..., candidates=...)`` (or
``codealign.bench(...)``, the package being callable) returns a :class:`BenchReport`.

A benchmark belongs to its domain (:meth:`Domain.benchmarks`): the domain loads its problems, knows each
reference answer and, where the generic report does not fit, scores them its own way. This package finds
benchmarks through the domain registry and does what every benchmark does: choose the answers (the
references, a JSONL file, samples of a model, or empty answers), run them through the executor, report
pass@k or which references fail, compare with a baseline and apply a threshold.
"""

from __future__ import annotations

import json
import os
import sys
import time
import types
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
    """1 when ``pass_at_1`` is below ``fail_under`` (both fractions in [0, 1])."""
    failure: str = ""
    """Why ``exit_code`` is 1."""

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


def run(name: str, *, data: str | os.PathLike | None = None, candidates: str | os.PathLike | None = None,
        oracle: bool = False, empty: bool = False, model: str | None = None, limit: int | None = None,
        variant: str | None = None, backend: str = "auto", executor: str = "local", workers: int | None = None,
        cache: Any = None, n: int = 1, temperature: float = 0.0, max_new_tokens: int = 1024,
        baseline: str | os.PathLike | None = None, fail_under: float | None = None,
        out: str | os.PathLike | None = None, progress: bool = False, domain_options: dict | None = None,
        screen: bool | None = None, **options: Any) -> BenchReport:
    """Run benchmark ``name`` on one source of answers: ``oracle`` (the references: the golden self-test),
    ``candidates`` (a JSONL of ``task_id``, ``completion``), ``model`` (``n`` samples per problem) or
    ``empty`` (empty answers: a self-test that must score 0); with none, the benchmark's own baseline where
    it has one. ``data``: the benchmark's data (default: its bundled data). ``limit``: the first N problems.
    ``variant``: a sub-task, or ``"all"`` (default: the first; the golden self-test runs all). ``cache``: a
    verdict cache or its path (None: no cache). ``baseline``: an earlier report JSON to compare with;
    ``fail_under``: exit code 1 when pass@1 (a fraction in [0, 1], like every rate in the report) is below
    it; ``out``: write the report JSON there. ``screen`` (default: with ``oracle``): run the test-strength
    screen (:mod:`codealign.bench.screen`) and list the weak tasks; tasks already marked weak are flagged in
    every mode (``summary["weak"]``).
    ``domain_options``: constructor options of the benchmark's domain (e.g. a simulator). ``options``: the
    benchmark's own keyword arguments (:attr:`Benchmark.options`)."""
    domain, bench = get_benchmark(name)
    options = _check_options(name, bench, options)
    mode = _mode(bench, oracle=oracle, candidates=candidates, model=model, empty=empty)
    if limit is not None and limit < 1:
        raise UserError(f"--limit must be positive, got {limit}")
    if fail_under is not None and not 0 <= fail_under <= 1:
        raise UserError(f"--fail-under is a fraction in [0, 1] like the report's pass@1, got {fail_under}"
                        + (f" (did you mean {fail_under / 100:g}?)" if 1 < fail_under <= 100 else ""))
    path = _data_path(name, bench, data)
    chosen = _variants(name, bench, variant, oracle)
    before = _read_baseline(baseline) if baseline else None
    summary: dict = {"benchmark": name, "data": str(path), "mode": mode or "baseline"}
    texts, pass1, scored = [], [], 0
    for v in chosen:
        tasks = _load(bench, path, v, model, options)
        known = {t.task_id for t in tasks}
        tasks = tasks[:limit] if limit else tasks
        if not tasks:
            raise UserError(f"bench {name}: no problems left to run (check --limit and the benchmark's filters)")
        scored += len(tasks)
        answers = _answers(bench, mode, tasks, known, candidates=candidates, model=model, n=n,
                           temperature=temperature, max_new_tokens=max_new_tokens, options=options,
                           progress=progress)
        section, p1, text = _score(domain, bench, mode, v or name, tasks, answers, backend=backend,
                                   executor=executor, workers=workers, cache=cache, progress=progress,
                                   domain_options=domain_options or {})
        texts += [text] if text else []
        texts += _screen.report(summary, tasks, v, domain if (mode == "oracle" if screen is None else screen)
                                else None, backend=backend, executor=executor, workers=workers, cache=cache,
                                domain_options=domain_options or {})
        if p1 is not None:
            pass1.append(p1)
        if bench.variants:
            summary.setdefault("tasks", {})[v] = section
        elif bench.score is None and bench.evaluate is None:
            summary["report"] = section
        else:
            summary.update(section)
    summary["scored"] = scored
    if bench.skipped is not None:
        summary["skipped"] = bench.skipped(path)
        left_out = "; ".join(f"{n} {why}" for why, n in summary["skipped"].items() if n)
        texts.insert(0, f"{name}: scored {scored} problems" + (f"; skipped {left_out}" if left_out else ""))
    from codealign.domains import domain_class

    flags = _flags(bench, variant, chosen, empty, options, limit) \
        + _option_flags(domain_class(domain).options, domain_options or {})
    summary["command"] = _report.reproduce_command(name, data, flags,
                                                   _source(mode, candidates, model, n, temperature, max_new_tokens))
    texts.append(bench.format(summary) if bench.format else f"reproduce: {summary['command']}")
    result = BenchReport(name, summary, "", sum(pass1) / len(pass1) if pass1 else None)
    if result.pass_at_1 is not None:
        if before is not None:
            line = _report.compare_with_baseline(before, summary, result.pass_at_1)
            texts += [line] if line else []
        summary["pass@1"] = result.pass_at_1
        if fail_under is not None and result.pass_at_1 < fail_under:
            result.exit_code = 1
            result.failure = f"pass@1 {result.pass_at_1:.4f} is below --fail-under {fail_under}"
    result.text = "\n".join(texts)
    if out:
        write_text_atomic(out, json.dumps(summary, indent=1, default=str) + "\n")
    return result


def _score(domain: str, bench: Benchmark, mode: str | None, label: str, tasks: list[Task],
           answers: list[Candidate] | None, *, backend: str, executor: str, workers: int | None, cache: Any,
           progress: bool, domain_options: dict) -> tuple[dict, float | None, str]:
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
    section = {**_report.candidate_report(tasks, results), "seconds": seconds}
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
            raise UserError(f"bench {name}: unknown option {key!r}{closest(key, [*allowed, *_RUN_KEYWORDS])}")
    return {k: options.get(k, o.default) for k, o in allowed.items()}


_RUN_KEYWORDS = ("data", "candidates", "oracle", "empty", "model", "limit", "variant", "backend", "executor",
                 "workers", "cache", "n", "temperature", "max_new_tokens", "baseline", "fail_under", "out",
                 "progress", "domain_options", "screen")


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


def _answers(bench: Benchmark, mode: str | None, tasks: Sequence[Task], known: set[str], *, candidates, model,
             n: int, temperature: float, max_new_tokens: int, options: dict,
             progress: bool) -> list[Candidate] | None:
    if mode is None:
        return None
    if mode == "oracle":
        return [Candidate(t.task_id, bench.oracle(t), metadata={"oracle": True}) for t in tasks]
    if mode == "empty":
        return [Candidate(t.task_id, "", metadata={"empty": True}) for t in tasks]
    if mode == "candidates":
        cands = read_jsonl(candidates, Candidate.from_dict)
        unknown = sorted({c.task_id for c in cands} - known)
        if unknown:
            shown = ", ".join(unknown[:5]) + (" ..." if len(unknown) > 5 else "")
            raise UserError(f"{candidates}: {len(unknown)} unknown task_id(s) for this benchmark: {shown}")
        if not cands:
            raise UserError(f"{candidates}: no candidates")
        kept = {t.task_id for t in tasks}
        return [c for c in cands if c.task_id in kept]
    from codealign.generate import get_generator

    sampling = dict(bench.sampling(model, **options)) if bench.sampling else {}
    generator = get_generator("hf", model=model, **({"raw_prompts": True} if sampling.pop("raw_prompts", False)
                                                    else {}))
    return generator.candidates(list(tasks), n=n, temperature=temperature, max_new_tokens=max_new_tokens,
                                progress=progress, **sampling)


def _flags(bench: Benchmark, variant: str | None, chosen: list, empty: bool, options: dict,
           limit: int | None) -> list[str]:
    flags = [f"--{bench.variant_flag}", variant or ("all" if len(chosen) > 1 else chosen[0])] \
        if bench.variants else []
    flags += ["--empty"] if empty else []
    flags += _option_flags(bench.options, options)
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


def _source(mode: str | None, candidates, model, n: int, temperature: float, max_new_tokens: int) -> list[str]:
    if mode == "oracle":
        return ["--oracle"]
    if mode == "candidates":
        return ["--candidates", str(candidates)]
    if mode == "model":
        return ["--model", str(model), "--n", str(n), "--temperature", str(temperature),
                "--max-new-tokens", str(max_new_tokens)]
    return []


class _CallableModule(types.ModuleType):
    """``codealign.bench`` is both this package and the library call ``codealign.bench(name, **kw)``."""

    def __call__(self, name: str, **kw: Any) -> BenchReport:
        return run(name, **kw)


sys.modules[__name__].__class__ = _CallableModule
