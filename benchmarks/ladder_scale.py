"""How long the ladder judge takes on very large programs (issue 28: judged or refused within 1 s).

Judges programs of N coils in four shapes against the bundled ``seal_in`` task (inputs Start, Stop, ...) in
this process — parse, structural checks, and the behaviour stage (which refuses a program over its work
budget before simulating) — and prints the CPU seconds of parsing, of the checks and of the whole judge
(parse, checks, refusal), the whole judge's wall seconds with the load average, and the verdict.

    .venv/bin/python benchmarks/ladder_scale.py             # N = 1000 and 5000
    .venv/bin/python benchmarks/ladder_scale.py --coils 300
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from codealign.domains.ladder.checks import check_program  # noqa: E402
from codealign.domains.ladder.parser import MAX_ELEMENTS, parse_program  # noqa: E402
from codealign.domains.ladder.scoring import score_candidate  # noqa: E402
from codealign.domains.ladder.assets import LadderTask  # noqa: E402
from codealign.domains.ladder.tasks import bundled_tasks  # noqa: E402


def shapes(n: int, start: str) -> dict[str, str]:
    """Programs of ``n`` coils (one element fewer where the parser's element limit needs it)."""
    n = min(n, MAX_ELEMENTS - 1)
    half = min(n, MAX_ELEMENTS // 2)
    return {
        "series": f"NO({start}) " + " ".join(f"OUT(q{i})" for i in range(n)),
        "parallel": f"NO({start}) [" + " | ".join(f"OUT(q{i})" for i in range(n)) + "]",
        "rungs": "\n".join(f"NO({start}) OUT(q{i})" for i in range(half)),
        "bipartite": "[" + " | ".join(f"NO({start})" for _ in range(half)) + "] ["
                     + " | ".join(f"OUT(q{i})" for i in range(half)) + "]",
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--coils", type=int, nargs="+", default=[1000, 5000])
    args = parser.parse_args(argv)
    task = next(t for t in bundled_tasks("train") if t.metadata["family"] == "seal_in")
    lt = LadderTask.from_task(task)
    start = task.assets["inputs"][0]
    for n in args.coils:
        for name, text in shapes(n, start).items():
            t0 = time.process_time()
            program = parse_program(text)
            t1 = time.process_time()
            check_program(program, lt.declarations())
            t2 = time.process_time()
            wall = time.perf_counter()
            verdict = score_candidate(lt, text, seed=0)
            t3, wall = time.process_time(), time.perf_counter() - wall
            elements = sum(1 for _ in program.elements())
            print(f"coils {n:5d} {name:9s} elements {elements:5d}  cpu: parse {t1 - t0:.3f}s  check {t2 - t1:.3f}s  "
                  f"whole judge {t3 - t2:.3f}s (wall {wall:.3f}s, load {os.getloadavg()[0]:.1f})  -> "
                  f"{verdict['verdict']}: {verdict['details'].get('error', '')[:40]}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
