"""Testbench sensitivity on VerilogEval: every reference and a mutant of it (its first output inverted) run
through the verilog domain. A sound testbench passes its reference and fails the mutant; the report lists
the problems where it does not. Run: ``python benchmarks/verilogeval_mutants.py --data PATH [--json]``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter

from codealign.domains.verilog.verilogeval import TASKS, inverted_output_mutant, load_verilogeval
from codealign.domains.verilog import reference_solution
from codealign.domains.verilog import VerilogDomain
from codealign.execution.executor import execute
from codealign.types import Candidate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None, help="VerilogEval JSONL or folder (default: bundled demo)")
    parser.add_argument("--backend", default="auto")
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    summary = {"command": " ".join(["python", "benchmarks/verilogeval_mutants.py", *sys.argv[1:]]), "tasks": {}}
    for task_name in TASKS:
        tasks = load_verilogeval(args.data, task_name)
        cands = [Candidate(t.task_id, reference_solution(t), metadata={"kind": "reference"}) for t in tasks]
        no_mutant = []
        for t in tasks:
            mutant = inverted_output_mutant(t)
            if mutant is None:
                no_mutant.append(t.task_id)
            else:
                cands.append(Candidate(t.task_id, mutant, metadata={"kind": "mutant"}))
        t0 = time.monotonic()
        results = execute(VerilogDomain(), tasks, cands, backend=args.backend, workers=args.workers,
                          progress=not args.json)
        seconds = time.monotonic() - t0
        ref_pass = {r.task_id for r, c in zip(results, cands) if c.metadata["kind"] == "reference" and r.passed}
        mutant_verdicts = Counter(r.verdict.value for r, c in zip(results, cands) if c.metadata["kind"] == "mutant")
        blind = sorted(r.task_id for r, c in zip(results, cands)
                       if c.metadata["kind"] == "mutant" and r.passed)
        summary["tasks"][task_name] = {
            "problems": len(tasks), "references_passing": len(ref_pass), "mutants": len(cands) - len(tasks),
            "mutant_verdicts": dict(mutant_verdicts), "mutants_passing": blind, "no_mutant": no_mutant,
            "seconds": round(seconds, 1), "candidates_per_s": round(len(cands) / seconds, 2)}
        if not args.json:
            s = summary["tasks"][task_name]
            print(f"{task_name}: references pass {s['references_passing']}/{s['problems']}; "
                  f"mutants {s['mutants']}, passing {len(blind)} {blind}; verdicts {s['mutant_verdicts']}; "
                  f"{s['seconds']} s ({s['candidates_per_s']} candidates/s)")
    if args.json:
        print(json.dumps(summary))
    else:
        print(f"reproduce: {summary['command']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
