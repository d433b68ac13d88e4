"""Regenerates (``--write``) or checks (``--check``) the bundled Verilog demo task sets: every bundled reference
must pass its testbench and every golden mutant must fail it (:mod:`codealign.domains.verilog.tasks`).

    .venv/bin/python benchmarks/verilog_bundled_tasks.py [--write] [--check] [--backend B] [--workers N]
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from codealign.domains.verilog.tasks import SPLITS, bundled_tasks, golden_candidates, golden_check, write_bundled
from codealign.execution.executor import execute


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true",
                        help="regenerate codealign/domains/verilog/resources/tasks/{train,heldout}.jsonl")
    parser.add_argument("--check", action="store_true",
                        help="run every bundled reference and its golden mutants through the verilog domain")
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
    summary = golden_check(tasks, candidates, execute("verilog", tasks, candidates, backend=args.backend,
                                                      workers=args.workers))
    print(f"{'family':<10} {'refs ok':>9} {'mutants rejected':>17}")
    for name, row in summary["per_family"].items():
        refs = f"{row['references_passed']}/{row['tasks']}"
        print(f"{name:<10} {refs:>9} {row['mutants_rejected']:>8}/{row['mutants']:<8}")
    for failure in summary["failures"]:
        print("FAILED", json.dumps(failure))
    print(f"{summary['tasks']} tasks, {summary['candidates']} candidates, {len(summary['failures'])} failures, "
          f"{time.monotonic() - start:.1f} s")
    return 1 if summary["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
