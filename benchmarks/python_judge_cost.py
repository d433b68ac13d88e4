"""Per-job cost of the Python judge: family tasks and ExecRepoBench rows, their references judged one at a time.

Uses only ``PythonDomain().evaluate`` on the bundled family tasks and the bundled ExecRepoBench suite, so the same
script measures any checkout: run it with that checkout first on ``PYTHONPATH`` to compare two versions of the
judge on one machine. Prints, per kind, the median and mean wall seconds per job (prepare + sandbox run +
judge) and how many references passed.

Run: ``OMP_NUM_THREADS=1 .venv/bin/python benchmarks/python_judge_cost.py [--backend bwrap] [--family 10]
[--rows 6]`` (pytest must be importable by the sandboxed interpreter for ExecRepoBench rows).
"""

from __future__ import annotations

import argparse
import statistics
import time

from codealign.domains.python import PythonDomain
from codealign.domains.python import execrepobench as erb
from codealign.domains.python import tasks as pt
from codealign.sandbox.backends import get_backend
from codealign.types import Candidate, Verdict


def measure(domain: PythonDomain, tasks: list, backend) -> tuple[list[float], int]:
    seconds, passed = [], 0
    for task in tasks:
        candidate = Candidate(task.task_id, task.metadata["middle_code"])
        start = time.perf_counter()
        result = domain.evaluate(task, candidate, backend)
        seconds.append(time.perf_counter() - start)
        passed += result.verdict is Verdict.PASS
    return seconds, passed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="bwrap")
    parser.add_argument("--family", type=int, default=10, help="family tasks (train split, in bundle order)")
    parser.add_argument("--rows", type=int, default=6, help="ExecRepoBench rows (every 12th row of the suite)")
    args = parser.parse_args()
    domain, backend = PythonDomain(), get_backend(args.backend)
    kinds = {"family task": pt.bundled_tasks("train")[: args.family],
             "ExecRepoBench row": erb.load_suite()[:: 12][: args.rows]}
    measure(domain, kinds["family task"][:1], backend)  # warm-up: first imports, sandbox start
    print(f"python judge, backend {args.backend}, one job at a time")
    for kind, tasks in kinds.items():
        seconds, passed = measure(domain, tasks, backend)
        print(f"  {kind:<18} {len(tasks):>3} jobs  median {statistics.median(seconds):.3f} s  "
              f"mean {statistics.mean(seconds):.3f} s  references passed {passed}/{len(tasks)}")


if __name__ == "__main__":
    main()
