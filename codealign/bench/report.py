"""The generic parts of a benchmark report: the oracle report (which references pass), pass@k per problem
and overall with a failure taxonomy, their tables, the reproduce command and the comparison with a baseline.

Guaranteed: a reference that fails is listed with its failure class and message, never dropped.
"""

from __future__ import annotations

import shlex
from collections import Counter, defaultdict
from typing import Sequence

from codealign.bench.passk import pass_at_k_table
from codealign.types import ExecResult, Task


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


def candidate_report(tasks: Sequence[Task], results: Sequence[ExecResult], ks: Sequence[int] | None = None) -> dict:
    """Unbiased pass@k per problem and overall for the ``ks`` (default 1, 5, 10) every problem has samples for
    (problems without candidates count as n=0 and are listed), mean graded score, and the failure taxonomy over
    all candidates."""
    by_task: dict[str, list[ExecResult]] = defaultdict(list)
    for r in results:
        by_task[r.task_id].append(r)
    samples = {tid: (len(rs), sum(r.passed for r in rs)) for tid, rs in by_task.items()}
    table = pass_at_k_table(samples, *([ks] if ks else []))
    taxonomy = Counter(failure_of(r) or "pass" for r in results)
    missing = sorted({t.task_id for t in tasks} - set(by_task))
    return {
        "problems": len(by_task), "candidates": len(results), "ks": table["ks"],
        "overall": table["overall"], "per_problem": table["per_problem"],
        "mean_score": sum(r.score for r in results) / max(1, len(results)),
        "taxonomy": dict(taxonomy.most_common()), "problems_without_candidates": missing,
    }


def format_oracle(label: str, report: dict) -> str:
    lines = [f"{label}: {report['passed']}/{report['total']} references pass their own testbench "
             f"({report['seconds']:.1f} s)"]
    for tid, info in sorted(report["failing"].items()):
        lines.append(f"  FAIL {tid:<40} {info['verdict']:<14} {info['failure']:<22} {info['reason']}")
    return "\n".join(lines)


def format_candidates(label: str, report: dict) -> str:
    lines = [f"{label}: {report['candidates']} candidates on {report['problems']} problems, "
             f"mean graded score {report['mean_score']:.3f} ({report['seconds']:.1f} s)"]
    for k in report["ks"]:
        lines.append(f"  pass@{k:<3} {100 * report['overall'][f'pass@{k}']:6.2f} %")
    if report["problems_without_candidates"]:
        lines.append(f"  ({len(report['problems_without_candidates'])} problems have no candidates and are not "
                     "counted)")
    lines.append("  failure taxonomy:")
    for name, n in report["taxonomy"].items():
        lines.append(f"    {name:<24} {n:>6}  {100 * n / max(1, report['candidates']):5.1f} %")
    return "\n".join(lines)


def reproduce_command(bench: str, data: str | None, extra: Sequence[str], source: Sequence[str]) -> str:
    """The ``codealign bench`` command line that reruns a report: data, benchmark flags, answer source."""
    parts = ["codealign", "bench", bench, *(["--data", str(data)] if data else []), *extra, *source]
    return " ".join(shlex.quote(p) for p in parts)


def compare_with_baseline(before: dict, summary: dict, pass1: float) -> str:
    """Adds ``baseline_pass@1``, ``delta_pass@1`` and the paired comparison to ``summary`` when the baseline
    report has a pass@1; returns the line that says so ('' otherwise)."""
    old = before.get("pass@1")
    if not isinstance(old, (int, float)):
        return ""
    summary["baseline_pass@1"] = old
    summary["delta_pass@1"] = pass1 - old
    paired = paired_comparison(per_problem_pass1(before), per_problem_pass1(summary))
    summary["baseline_comparison"] = paired
    ci = (f", paired over {paired['problems']} problems: {100 * paired['delta']:+.2f} "
          f"[{100 * paired['ci95'][0]:+.2f}, {100 * paired['ci95'][1]:+.2f}] (95 % CI)"
          if paired["problems"] >= 2 else "")
    return f"pass@1 {100 * pass1:.2f} % vs baseline {100 * old:.2f} % ({100 * (pass1 - old):+.2f}){ci}"


def per_problem_pass1(summary: dict) -> dict[str, float]:
    """``{"<task>/<problem>": pass@1}`` from a benchmark summary (its ``tasks`` sections)."""
    out = {}
    for section, rep in (summary.get("tasks") or {}).items():
        for pid, row in (rep.get("per_problem") or {}).items():
            if "pass@1" in row:
                out[f"{section}/{pid}"] = row["pass@1"]
    return out


def paired_comparison(baseline: dict[str, float], current: dict[str, float]) -> dict:
    """Mean paired difference (current - baseline) over shared problems with a normal-approximation 95 % CI,
    clipped to [-1, 1]: a difference of two pass rates cannot leave it, whatever the approximation says on a
    few problems."""
    keys = sorted(set(baseline) & set(current))
    diffs = [current[k] - baseline[k] for k in keys]
    if not diffs:
        return {"problems": 0, "delta": 0.0, "se": 0.0, "ci95": [0.0, 0.0]}
    mean = sum(diffs) / len(diffs)
    var = sum((d - mean) ** 2 for d in diffs) / (len(diffs) - 1) if len(diffs) > 1 else 0.0
    se = (var / len(diffs)) ** 0.5
    return {"problems": len(diffs), "delta": mean, "se": se,
            "ci95": [max(-1.0, mean - 1.96 * se), min(1.0, mean + 1.96 * se)]}


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
