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


def run(name: str, *, data: str | os.PathLike | None = None, candidates: str | os.PathLike | None = None,
        oracle: bool = False, empty: bool = False, model: str | None = None, limit: int | None = None,
        variant: str | None = None, backend: str = "auto", executor: str = "local", workers: int | None = None,
        cache: Any = None, n: int = 1, temperature: float = 0.0, max_new_tokens: int = 1024,
        generator: str = "hf", base_url: str | None = None, chat: bool = False, api_key: str | None = None,
        ks: Sequence[int] | None = None, timeout: float | None = None,
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
    ``generator``: how ``model`` is sampled: ``hf`` (a hub id or folder), ``vllm`` (a GPU and vLLM), or
    ``openai`` (a served model: ``model`` is the name the server at ``base_url`` serves; ``chat`` uses chat
    completions; ``api_key`` else ``OPENAI_API_KEY``). ``ks``: the k of pass@k (default 1, 5, 10; those every
    problem has samples for). ``timeout``: seconds of wall time per job (default: the domain's limit).
    Candidates missing for a problem count as failures (as VerilogEval and EvalPlus count them); the report
    says how many. A run that scores nothing (every problem skipped) exits 1, as does one whose headline
    metric (pass@1, or the benchmark's :attr:`~codealign.domains.base.Benchmark.headline`) is below
    ``fail_under``.
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
    if timeout is not None and not timeout > 0:
        raise UserError(f"--timeout must be a positive number of seconds, got {timeout}")
    if ks is not None and (not ks or min(ks) < 1):
        raise UserError(f"--k takes positive integers such as 1,5,10; got {','.join(map(str, ks or []))}")
    if ks is not None and (bench.score is not None or bench.evaluate is not None):
        raise UserError(f"bench {name} reports its own metrics; --k applies to the benchmarks with the generic "
                        "pass@k report")
    path = _data_path(name, bench, data)
    chosen = _variants(name, bench, variant, oracle)
    before = _read_baseline(baseline) if baseline else None
    summary: dict = {"benchmark": name, "data": str(path), "mode": mode or "baseline"}
    texts, pass1, scored = [], [], 0
    loaded = {v: _load(bench, path, v, model, options) for v in chosen}
    if data is None:
        size = max(len(tasks) for tasks in loaded.values())
        texts.append(f"{name}: no --data given: running the bundled {size}-problem demo set; give --data PATH "
                     f"({bench.description}) for the full benchmark")
    if not any(loaded.values()):
        raise UserError(f"bench {name}: no problems to run in {path}"
                        + (f" ({bench.variant_flag} {', '.join(map(str, chosen))})" if bench.variants else "")
                        + "; check the data and the benchmark's filters")
    generate = _sampler(bench, model, generator, base_url=base_url, chat=chat, api_key=api_key, n=n,
                        temperature=temperature, max_new_tokens=max_new_tokens, options=options,
                        progress=progress) if mode == "model" else None
    for v, tasks in loaded.items():
        if not tasks:
            texts.append(f"{name}: {path} has no problems of {bench.variant_flag} {v}; skipped")
            continue
        known = {t.task_id for t in tasks}
        tasks = _with_timeout(tasks[:limit] if limit else tasks, timeout)
        scored += len(tasks)
        answers = _answers(bench, mode, tasks, known, candidates=candidates, generate=generate)
        missing = {a.task_id for a in answers or () if a.metadata.get("missing")}
        if missing:
            summary.setdefault("missing", {})[v or name] = len(missing)
            texts.append(f"{v or name}: {len(missing)} of {len(tasks)} problems have no candidate in {candidates}: "
                         "counted as failures")
        section, p1, text = _score(domain, bench, mode, v or name, tasks, answers, backend=backend,
                                   executor=executor, workers=workers, cache=cache, progress=progress,
                                   domain_options=domain_options or {}, ks=ks)
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

    flags = _flags(bench, variant, chosen, empty, options, limit, ks, timeout) \
        + _option_flags(domain_class(domain).options, domain_options or {})
    summary["command"] = _report.reproduce_command(
        name, data, flags, _source(mode, candidates, model, n, temperature, max_new_tokens, generator, base_url,
                                   chat))
    texts.append(bench.format(summary) if bench.format else f"reproduce: {summary['command']}")
    result = BenchReport(name, summary, "", sum(pass1) / len(pass1) if pass1 else None)
    if result.pass_at_1 is not None:
        if before is not None:
            line = _report.compare_with_baseline(before, summary, result.pass_at_1)
            texts += [line] if line else []
        summary["pass@1"] = result.pass_at_1
    _gate(result, bench, fail_under)
    result.text = "\n".join(texts)
    if out:
        write_text_atomic(out, json.dumps(summary, indent=1, default=str) + "\n")
    return result


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
            raise UserError(f"bench {name}: unknown option {key!r}{closest(key, [*allowed, *_RUN_KEYWORDS])}")
    return {k: options.get(k, o.default) for k, o in allowed.items()}


_RUN_KEYWORDS = ("data", "candidates", "oracle", "empty", "model", "limit", "variant", "backend", "executor",
                 "workers", "cache", "n", "temperature", "max_new_tokens", "generator", "base_url", "chat",
                 "api_key", "ks", "timeout", "baseline", "fail_under", "out", "progress", "domain_options",
                 "screen")


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


def _sampler(bench: Benchmark, model: str, generator: str, *, base_url: str | None, chat: bool,
             api_key: str | None, n: int, temperature: float, max_new_tokens: int, options: dict,
             progress: bool):
    """``tasks -> candidates`` sampled from ``model`` through ``generator``, built once for every variant."""
    from codealign.generate.command import make_generator

    if generator not in BENCH_GENERATORS:
        raise UserError(f"bench --generator is one of {', '.join(BENCH_GENERATORS)}, got {generator!r}")
    if generator != "openai" and (chat or base_url or api_key):
        raise UserError("--chat, --base-url and --api-key are options of --generator openai")
    sampling = dict(bench.sampling(model, **options)) if bench.sampling else {}
    raw = sampling.pop("raw_prompts", False)
    if raw and chat:
        raise UserError("this benchmark sends its prompts as they are (e.g. FIM); --chat would wrap them in a "
                        "chat turn: leave --chat out")
    gen = make_generator(generator, model=model, raw_prompts=raw, chat=chat, api_key=api_key,
                         **({"base_url": base_url} if base_url else {}))

    def generate(tasks: list[Task]) -> list[Candidate]:
        return gen.candidates(tasks, n=n, temperature=temperature, max_new_tokens=max_new_tokens,
                              progress=progress, **sampling)

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


def _source(mode: str | None, candidates, model, n: int, temperature: float, max_new_tokens: int,
            generator: str, base_url: str | None, chat: bool) -> list[str]:
    if mode == "oracle":
        return ["--oracle"]
    if mode == "candidates":
        return ["--candidates", str(candidates)]
    if mode == "model":
        served = (["--generator", generator] if generator != "hf" else []) \
            + (["--base-url", base_url] if base_url else []) + (["--chat"] if chat else [])
        return [*served, "--model", str(model), "--n", str(n), "--temperature", str(temperature),
                "--max-new-tokens", str(max_new_tokens)]
    return []


class _CallableModule(types.ModuleType):
    """``codealign.bench`` is both this package and the library call ``codealign.bench(name, **kw)``."""

    def __call__(self, name: str, **kw: Any) -> BenchReport:
        return run(name, **kw)


sys.modules[__name__].__class__ = _CallableModule
