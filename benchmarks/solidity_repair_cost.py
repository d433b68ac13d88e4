"""Cost per job of the EVM-judged Solidity repair (py-evm in a warm sandboxed worker): the reference repair and
the vulnerable original of the first N bundled repair tasks, judged one after another on one worker, after one
warm-up job that starts the worker and its compiler. Prints one line per task and a JSON summary.

    OMP_NUM_THREADS=1 python benchmarks/solidity_repair_cost.py [--tasks 5] [--backend bwrap]

The script uses only the library's public surface, so the same file measures an older checkout (copy it there).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from codealign.domains.solidity import SolidityDomain
from codealign.domains.solidity.tasks import bundled_tasks
from codealign.sandbox.backends import get_backend
from codealign.types import Candidate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=5, help="first N bundled train repair tasks")
    parser.add_argument("--backend", default="bwrap")
    args = parser.parse_args(argv)
    tasks = [t for t in bundled_tasks("train") if t.assets["kind"] == "repair"][: args.tasks]
    backend = get_backend(args.backend)
    domain = SolidityDomain(workers=1)
    try:
        domain.evaluate(tasks[0], Candidate(tasks[0].task_id, tasks[0].assets["source"] + "\n"), backend)
        rows = []
        for task in tasks:
            for role, text in (("reference", task.assets["fixed"]), ("original", task.assets["source"])):
                t0 = time.perf_counter()
                result = domain.evaluate(task, Candidate(task.task_id, text), backend)
                elapsed = time.perf_counter() - t0
                rows.append({"task": task.task_id, "role": role, "verdict": result.verdict.value,
                             "score": round(result.score, 3), "s": round(elapsed, 3)})
                print(f"{task.task_id:48s} {role:9s} {result.verdict.value:8s} {result.score:5.3f} {elapsed:6.3f} s",
                      flush=True)
    finally:
        domain.close()
    times = [r["s"] for r in rows]
    print(json.dumps({"backend": args.backend, "jobs": len(rows), "mean_s": round(statistics.mean(times), 3),
                      "median_s": round(statistics.median(times), 3), "max_s": max(times)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
