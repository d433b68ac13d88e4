"""RISE mutators on VerilogEval: how many problems yield at least one compiling, failing mutant.

For every problem, the reference (renamed to TopModule) is the parent; up to ``--max-per-task`` mutants
(round-robin over mutation operators) are made by ``VerilogDomain.mutate`` and judged with the parent by the
real Verilog domain (iverilog, sandboxed) through the executor. A problem counts when its parent PASSES and at
least one mutant compiles and fails (FAIL, RUNTIME_ERROR or TIMEOUT) — exactly the mutants the injection
strategy may use as rejected samples. Mutants that still pass are counted per operator (they are never
rejected samples).

    .venv/bin/python benchmarks/rise_mutants.py --data ../shared/data/verilogeval/problems.jsonl
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from codealign.domains.verilog.verilogeval import load_verilogeval  # noqa: E402
from codealign.domains import get_domain  # noqa: E402
from codealign.domains.verilog import reference_solution  # noqa: E402
from codealign.domains.mutants import rise_candidates  # noqa: E402
from codealign.pairs import build_pairs  # noqa: E402
from codealign.execution.executor import execute  # noqa: E402
from codealign.types import Task, Verdict  # noqa: E402

COMPILING_FAILURES = (Verdict.FAIL, Verdict.RUNTIME_ERROR, Verdict.TIMEOUT)


def verilogeval_tasks(path: str, variant: str) -> tuple[list[Task], dict[str, str]]:
    """VerilogEval tasks and their reference solutions (renamed to the module the testbench instantiates)."""
    tasks = load_verilogeval(path, variant)
    return tasks, {t.task_id: reference_solution(t) for t in tasks}


def measure(data: str, variant: str = "spec-to-rtl", max_per_task: int = 8, seed: int = 0,
            limit: int | None = None, workers: int | None = None, progress: bool = True) -> dict:
    tasks, solutions = verilogeval_tasks(data, variant)
    if limit is not None:
        tasks = random.Random(seed).sample(tasks, min(limit, len(tasks)))
        tasks.sort(key=lambda t: t.task_id)
    domain = get_domain("verilog")
    candidates = rise_candidates(domain, tasks, solutions, seed=seed, max_per_task=max_per_task)
    start = time.time()
    results = execute(domain, tasks, candidates, workers=workers, progress=progress)
    elapsed = time.time() - start
    by_candidate = {c.candidate_id: c for c in candidates}
    parents_pass, yielding = set(), set()
    per_operator: dict[str, Counter] = {}
    for cand, result in zip(candidates, results):
        mutation = cand.metadata.get("mutation")
        if mutation is None:
            if result.verdict is Verdict.PASS:
                parents_pass.add(cand.task_id)
            continue
        counts = per_operator.setdefault(mutation["operator"], Counter())
        counts["mutants"] += 1
        counts[result.verdict.value] += 1
    for cand, result in zip(candidates, results):
        if cand.metadata.get("mutation") and cand.task_id in parents_pass \
                and result.verdict in COMPILING_FAILURES:
            yielding.add(cand.task_id)
    pairs = build_pairs(results, tasks, "injection", candidates=list(by_candidate.values()))
    rejected_ok = all(next(r for r in results if r.candidate_id == p.metadata["rejected_id"]).verdict
                      is not Verdict.PASS for p in pairs)
    n = len(tasks)
    return {
        "data": data, "variant": variant, "problems": n, "parents_pass": len(parents_pass),
        "problems_with_failing_mutant": len(yielding),
        "percent_of_problems": round(100 * len(yielding) / n, 1) if n else 0.0,
        "percent_of_passing_references": round(100 * len(yielding) / len(parents_pass), 1) if parents_pass else 0.0,
        "mutants": sum(c["mutants"] for c in per_operator.values()),
        "injection_pairs": len(pairs), "no_passing_mutant_rejected": rejected_ok,
        "per_operator": {op: dict(c) for op, c in sorted(per_operator.items())},
        "without_failing_mutant": sorted(parents_pass - yielding),
        "seconds": round(elapsed, 1), "max_per_task": max_per_task, "seed": seed,
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="VerilogEval problems.jsonl")
    parser.add_argument("--variant", choices=("spec-to-rtl", "code-complete"), default="spec-to-rtl")
    parser.add_argument("--max-per-task", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--limit", type=int, help="a seeded sample of this many problems")
    parser.add_argument("--workers", type=int)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    report = measure(args.data, args.variant, args.max_per_task, args.seed, args.limit, args.workers,
                     progress=not args.json)
    if args.json:
        print(json.dumps(report, indent=2))
        return report
    print(f"RISE mutants on VerilogEval ({args.variant}), {report['problems']} problems, "
          f"<= {args.max_per_task} mutants each, seed {args.seed}")
    print(f"{'operator':<18}{'mutants':>8}{'FAIL':>7}{'RUNTIME':>8}{'TIMEOUT':>8}{'COMPILE':>8}{'PASS':>6}")
    for op, c in report["per_operator"].items():
        print(f"{op:<18}{c['mutants']:>8}{c.get('FAIL', 0):>7}{c.get('RUNTIME_ERROR', 0):>8}"
              f"{c.get('TIMEOUT', 0):>8}{c.get('COMPILE_ERROR', 0):>8}{c.get('PASS', 0):>6}")
    print(f"references that pass: {report['parents_pass']}/{report['problems']}")
    print(f"problems with >= 1 compiling, failing mutant: {report['problems_with_failing_mutant']}/"
          f"{report['problems']} = {report['percent_of_problems']} % "
          f"({report['percent_of_passing_references']} % of passing references)")
    print(f"injection pairs: {report['injection_pairs']}; no passing mutant used as rejected: "
          f"{report['no_passing_mutant_rejected']}")
    print(f"passing references without a failing mutant: {', '.join(report['without_failing_mutant']) or '-'}")
    print(f"{report['mutants']} mutants judged in {report['seconds']} s")
    print("reproduce: .venv/bin/python benchmarks/rise_mutants.py --data ../shared/data/verilogeval/problems.jsonl"
          f" --max-per-task {args.max_per_task} --seed {args.seed}")
    return report


if __name__ == "__main__":
    main()
