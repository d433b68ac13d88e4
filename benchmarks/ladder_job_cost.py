"""Cost of one ladder job: the checker's wall and CPU seconds per sandboxed job, and in process.

Judges, one job at a time, every bundled held-out task's reference and one wrong program per task (all outputs
held off) through ``codealign.execute`` (the sandboxed checker; no verdict cache), then the same candidates in
process (``LadderDomain(in_process=True)``), and prints the mean wall and CPU seconds per job. It imports the
``codealign`` of the interpreter that runs it, so it measures any checkout with that checkout's own .venv:

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/ladder_job_cost.py [--backend bwrap] [--tasks 72]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import codealign
from codealign.domains.ladder import LadderDomain
from codealign.domains.ladder.tasks import bundled_tasks
from codealign.types import Candidate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backend", default="bwrap")
    parser.add_argument("--tasks", type=int, default=72)
    args = parser.parse_args(argv)
    tasks = bundled_tasks("heldout")[: args.tasks]
    candidates = [c for t in tasks for c in (
        Candidate(t.task_id, t.metadata["solution"], candidate_id=f"{t.task_id}/ref"),
        Candidate(t.task_id, "\n".join(f"RST({o})" for o in t.assets["outputs"]), candidate_id=f"{t.task_id}/off"))]
    start = time.perf_counter()
    results = codealign.execute(tasks, candidates, domain="ladder", backend=args.backend, workers=1, progress=False,
                                cache=None)
    elapsed = time.perf_counter() - start
    verdicts = {v: sum(r.verdict.value == v for r in results) for v in sorted({r.verdict.value for r in results})}
    print(f"sandboxed ({args.backend}), {len(results)} jobs one at a time: {elapsed / len(results):.3f} s per job "
          f"end to end; checker wall {statistics.mean(r.wall_s for r in results):.3f} s, "
          f"cpu {statistics.mean(r.cpu_s for r in results):.3f} s per job; verdicts {verdicts}")
    domain, by_id = LadderDomain(in_process=True), {t.task_id: t for t in tasks}
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for cand in candidates:
        domain.evaluate(by_id[cand.task_id], cand, None)
    print(f"in process: {(time.perf_counter() - wall0) / len(candidates) * 1000:.1f} ms wall, "
          f"{(time.process_time() - cpu0) / len(candidates) * 1000:.1f} ms cpu per job")
    return 0


if __name__ == "__main__":
    sys.exit(main())
