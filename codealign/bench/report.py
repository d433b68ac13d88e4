"""What every execution benchmark does with its tasks once loaded: read or generate candidates, run them
through the executor, and report pass@k, a failure taxonomy, or (``--oracle``) which references pass.

Guaranteed: a reference that fails is listed with its failure class and message, never dropped; an unknown
``task_id`` in the candidates is a one-line :class:`UserError` before anything runs.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Callable, Sequence

from codealign.bench.passk import pass_at_k_table
from codealign.domains.base import Domain
from codealign.errors import UserError
from codealign.jsonl import read_jsonl, write_text_atomic
from codealign.types import Candidate, ExecResult, Task


def add_generation_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags for ``--model`` runs (how many samples and how they are drawn)."""
    parser.add_argument("--n", type=int, default=1, help="--model: samples per problem (default 1)")
    parser.add_argument("--temperature", type=float, default=0.0, help="--model: sampling temperature")
    parser.add_argument("--max-new-tokens", type=int, default=1024, help="--model: tokens per sample")


def candidates_for(args: argparse.Namespace, tasks: Sequence[Task],
                   oracle: Callable[[Task], str]) -> list[Candidate]:
    """The candidates to score: the references (``--oracle``), a JSONL file (``--candidates``) or samples
    from ``--model``. Exactly one source must be given."""
    given = [name for name in ("oracle", "candidates", "model") if getattr(args, name, None)]
    if len(given) != 1:
        raise UserError("give exactly one of --oracle, --candidates FILE, --model PATH")
    if args.oracle:
        return [Candidate(task.task_id, oracle(task), metadata={"oracle": True}) for task in tasks]
    if args.candidates:
        cands = read_jsonl(args.candidates, Candidate.from_dict)
        known = {t.task_id for t in tasks}
        unknown = sorted({c.task_id for c in cands} - known)
        if unknown:
            shown = ", ".join(unknown[:5]) + (" ..." if len(unknown) > 5 else "")
            raise UserError(f"{args.candidates}: {len(unknown)} unknown task_id(s) for this benchmark: {shown}")
        if not cands:
            raise UserError(f"{args.candidates}: no candidates")
        return cands
    from codealign.generate import get_generator

    generator = get_generator("hf", model=args.model)
    return generator.candidates(list(tasks), n=args.n, temperature=args.temperature,
                                max_new_tokens=args.max_new_tokens)


def execute_args(args: argparse.Namespace) -> dict:
    """Executor keyword arguments from the CLI's common flags."""
    cache = None
    if not getattr(args, "no_cache", False):
        from codealign.sandbox.cache import VerdictCache

        cache = VerdictCache(getattr(args, "cache", None))
    return {"backend": getattr(args, "backend", "auto"), "executor": getattr(args, "executor", "local"),
            "workers": getattr(args, "workers", None), "cache": cache,
            "progress": not (getattr(args, "json", False) or getattr(args, "quiet", False))}


def run_candidates(domain: Domain, tasks: Sequence[Task], candidates: Sequence[Candidate],
                   args: argparse.Namespace) -> tuple[list[ExecResult], float]:
    """The results and the wall-clock seconds the executor took."""
    from codealign.execution.executor import execute

    t0 = time.monotonic()
    results = execute(domain, tasks, candidates, **execute_args(args))
    return results, time.monotonic() - t0


def failure_of(result: ExecResult) -> str:
    """The failure class of a result ('' for PASS): the domain's taxonomy, else the verdict."""
    if result.passed:
        return ""
    return result.details.get("failure") or result.verdict.value.lower()


def oracle_report(tasks: Sequence[Task], results: Sequence[ExecResult]) -> dict:
    """``passed/total`` and every failing problem with its failure class and a one-line reason."""
    failing = {}
    for r in results:
        if not r.passed:
            failing[r.task_id] = {"verdict": r.verdict.value, "failure": failure_of(r), "reason": _reason(r)}
    return {"total": len(tasks), "passed": len(tasks) - len(failing), "failing": failing}


def candidate_report(tasks: Sequence[Task], results: Sequence[ExecResult]) -> dict:
    """Unbiased pass@k per problem and overall (problems without candidates count as n=0 and are listed),
    mean graded score, and the failure taxonomy over all candidates."""
    by_task: dict[str, list[ExecResult]] = defaultdict(list)
    for r in results:
        by_task[r.task_id].append(r)
    samples = {tid: (len(rs), sum(r.passed for r in rs)) for tid, rs in by_task.items()}
    table = pass_at_k_table(samples)
    taxonomy = Counter(failure_of(r) or "pass" for r in results)
    missing = sorted({t.task_id for t in tasks} - set(by_task))
    return {
        "problems": len(by_task), "candidates": len(results), "ks": table["ks"],
        "overall": table["overall"], "per_problem": table["per_problem"],
        "mean_score": sum(r.score for r in results) / max(1, len(results)),
        "taxonomy": dict(taxonomy.most_common()), "problems_without_candidates": missing,
    }


def print_oracle(label: str, report: dict) -> None:
    print(f"{label}: {report['passed']}/{report['total']} references pass their own testbench "
          f"({report['seconds']:.1f} s)")
    for tid, info in sorted(report["failing"].items()):
        print(f"  FAIL {tid:<40} {info['verdict']:<14} {info['failure']:<22} {info['reason']}")


def print_candidates(label: str, report: dict) -> None:
    print(f"{label}: {report['candidates']} candidates on {report['problems']} problems, "
          f"mean graded score {report['mean_score']:.3f} ({report['seconds']:.1f} s)")
    for k in report["ks"]:
        print(f"  pass@{k:<3} {100 * report['overall'][f'pass@{k}']:6.2f} %")
    if report["problems_without_candidates"]:
        print(f"  ({len(report['problems_without_candidates'])} problems have no candidates and are not counted)")
    print("  failure taxonomy:")
    for name, n in report["taxonomy"].items():
        print(f"    {name:<24} {n:>6}  {100 * n / max(1, report['candidates']):5.1f} %")


def reproduce_command(bench: str, args: argparse.Namespace, extra: Sequence[str] = ()) -> str:
    parts = ["codealign", "bench", bench]
    if args.data:
        parts += ["--data", str(args.data)]
    parts += list(extra)
    if args.oracle:
        parts.append("--oracle")
    elif args.candidates:
        parts += ["--candidates", str(args.candidates)]
    elif args.model:
        parts += ["--model", str(args.model), "--n", str(args.n), "--temperature", str(args.temperature),
                  "--max-new-tokens", str(args.max_new_tokens)]
    return " ".join(shlex.quote(p) for p in parts)


def finish(summary: dict, args: argparse.Namespace, pass1: float | None) -> dict:
    """Write ``--out``, compare with ``--baseline`` and apply ``--fail-under`` (exit code 1 when pass@1, in
    percent, is below it); returns the summary the CLI prints with ``--json``."""
    quiet = getattr(args, "json", False) or getattr(args, "quiet", False)
    baseline = getattr(args, "baseline", None)
    if baseline:
        try:
            before = json.loads(Path(baseline).read_text())
        except (OSError, ValueError) as exc:
            raise UserError(f"{baseline}: cannot read baseline report ({exc})") from None
        old = before.get("pass@1")
        if isinstance(old, (int, float)) and pass1 is not None:
            summary["baseline_pass@1"] = old
            summary["delta_pass@1"] = pass1 - old
            paired = paired_comparison(per_problem_pass1(before), per_problem_pass1(summary))
            summary["baseline_comparison"] = paired
            if not quiet:
                ci = (f", paired over {paired['problems']} problems: {100 * paired['delta']:+.2f} "
                      f"[{100 * paired['ci95'][0]:+.2f}, {100 * paired['ci95'][1]:+.2f}] (95 % CI)"
                      if paired["problems"] >= 2 else "")
                print(f"pass@1 {100 * pass1:.2f} % vs baseline {100 * old:.2f} % ({100 * (pass1 - old):+.2f}){ci}")
    summary["pass@1"] = pass1
    fail_under = getattr(args, "fail_under", None)
    if fail_under is not None and pass1 is not None and 100 * pass1 < fail_under:
        summary["exit_code"] = 1
        print(f"pass@1 {100 * pass1:.2f} % is below --fail-under {fail_under}", file=sys.stderr)
    if getattr(args, "out", None):
        write_text_atomic(args.out, json.dumps({k: v for k, v in summary.items() if k != "exit_code"},
                                               indent=1, default=str) + "\n")
    return summary


def per_problem_pass1(summary: dict) -> dict[str, float]:
    """``{"<task>/<problem>": pass@1}`` from a benchmark summary (its ``tasks`` sections)."""
    out = {}
    for section, rep in (summary.get("tasks") or {}).items():
        for pid, row in (rep.get("per_problem") or {}).items():
            if "pass@1" in row:
                out[f"{section}/{pid}"] = row["pass@1"]
    return out


def paired_comparison(baseline: dict[str, float], current: dict[str, float]) -> dict:
    """Mean paired difference (current - baseline) over shared problems with a normal-approximation 95 % CI."""
    keys = sorted(set(baseline) & set(current))
    diffs = [current[k] - baseline[k] for k in keys]
    if not diffs:
        return {"problems": 0, "delta": 0.0, "se": 0.0, "ci95": [0.0, 0.0]}
    mean = sum(diffs) / len(diffs)
    var = sum((d - mean) ** 2 for d in diffs) / (len(diffs) - 1) if len(diffs) > 1 else 0.0
    se = (var / len(diffs)) ** 0.5
    return {"problems": len(diffs), "delta": mean, "se": se, "ci95": [mean - 1.96 * se, mean + 1.96 * se]}


def _reason(result: ExecResult) -> str:
    d = result.details
    if "mismatches" in d:
        return f"{d['mismatches']} mismatches in {d['samples']} samples"
    if d.get("failure") == "tb_timeout":
        return "the testbench's own cycle budget ran out (it printed TIMEOUT)"
    if "failures" in d:
        return f"{d['failures']} failures in {d['checks']} checks"
    text = d.get("error") or result.stderr or result.stdout
    for line in text.splitlines():
        if line.strip() and ("error" in line.lower() or "sorry" in line.lower()):
            return line.strip()[:160]
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return lines[-1][:160] if lines else ""
