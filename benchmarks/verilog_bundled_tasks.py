"""Regenerates (``--write``) or checks (``--check``) the bundled Verilog demo task sets: every bundled reference
must pass its testbench and every golden mutant must fail it (:mod:`codealign.domains.verilog.tasks`).
``--compare-cold`` also judges every candidate with the cold one-job path (``VerilogDomain.prepare`` + ``judge``:
check, reference phase and candidate in one job) and counts the candidates whose (verdict, failure, score)
differ from the warm path's (the checker worker and the reference recorded once per task).

    .venv/bin/python benchmarks/verilog_bundled_tasks.py [--write] [--check [--compare-cold]] [--backend B] [--workers N]
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
import time

from codealign.domains.verilog.tasks import SPLITS, bundled_tasks, golden_candidates, golden_check, write_bundled
from codealign.domains.base import Domain
from codealign.domains.verilog import VerilogDomain
from codealign.execution.executor import execute


def cold_verilog() -> VerilogDomain:
    """The verilog judge with every candidate in one cold job (no warm checker, no stored reference, no batch).
    An instance, not a subclass: a domain's jobs bind the package its class is defined in."""
    domain = VerilogDomain()
    domain.evaluate = functools.partial(Domain.evaluate, domain)
    domain.batch_size = 1
    return domain


def triples(results) -> list[tuple]:
    return [(r.verdict, r.details.get("failure"), r.score) for r in results]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true",
                        help="regenerate codealign/domains/verilog/resources/tasks/{train,heldout}.jsonl")
    parser.add_argument("--check", action="store_true",
                        help="run every bundled reference and its golden mutants through the verilog domain")
    parser.add_argument("--compare-cold", action="store_true",
                        help="with --check: also judge with the cold one-job path and count differing verdicts")
    parser.add_argument("--backend", default="auto", help="sandbox backend for --check")
    parser.add_argument("--workers", type=int, default=None, help="parallel jobs for --check")
    args = parser.parse_args(argv)
    if not (args.write or args.check):
        parser.print_help()
        return 2
    if args.write:
        for split, count in write_bundled().items():
            print(f"{split}: {count} tasks")
    if not args.check:
        return 0
    start = time.monotonic()
    tasks = [t for split in SPLITS for t in bundled_tasks(split)]
    candidates = golden_candidates(tasks)
    domain = VerilogDomain()
    try:
        results = execute(domain, tasks, candidates, backend=args.backend, workers=args.workers)
    finally:
        domain.close()
    warm_s = time.monotonic() - start
    summary = golden_check(tasks, candidates, results)
    print(f"{'family':<10} {'refs ok':>9} {'mutants rejected':>17}")
    for name, row in summary["per_family"].items():
        refs = f"{row['references_passed']}/{row['tasks']}"
        print(f"{name:<10} {refs:>9} {row['mutants_rejected']:>8}/{row['mutants']:<8}")
    for failure in summary["failures"]:
        print("FAILED", json.dumps(failure))
    print(f"{summary['tasks']} tasks, {summary['candidates']} candidates, {len(summary['failures'])} failures, "
          f"{warm_s:.1f} s")
    differ = 0
    if args.compare_cold:
        start = time.monotonic()
        cold = execute(cold_verilog(), tasks, candidates, backend=args.backend, workers=args.workers, progress=False)
        differ = sum(a != b for a, b in zip(triples(results), triples(cold)))
        print(f"cold one-job path: {time.monotonic() - start:.1f} s; (verdict, failure, score) differing from the "
              f"warm path: {differ} of {len(candidates)}")
    return 1 if summary["failures"] or differ else 0


if __name__ == "__main__":
    sys.exit(main())
