"""Judging a sampled batch: what running each distinct program once saves on a real evaluation.

The shipped Verilog warm-up samples the bundled held-out tasks (``--n`` samples per task, T = 0.8, one seed),
as ``codealign run verilog`` evaluates it. The executor judges that batch twice, no verdict cache, interleaved,
median of ``--repeats``:

* ``as sampled``  — the batch itself: candidates of one task with the same text run once and share the verdict;
* ``all distinct`` — every candidate made distinct by a trailing comment line (``// <index>``), so each one
                     runs: what every job cost before the executor grouped repeats.

Verdicts must agree between the two (a trailing comment changes no Verilog verdict). The load average is
printed before and after: the rates mean little on a busy machine.

    .venv/bin/python benchmarks/sampled_batch.py
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("TQDM_DISABLE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=4, help="samples per task (default 4, as eval.n)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)

    from codealign.domains import get_domain
    from codealign.execution.executor import execute
    from codealign.generate import get_generator
    from codealign.train.device import configure_threads
    from codealign.types import Candidate

    configure_threads("cpu")
    domain = get_domain("verilog")
    tasks = domain.demo_tasks("heldout")
    print(f"{os.cpu_count()} cores, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    gen = get_generator("hf", model=domain.warmup_checkpoint(), device="cpu", batch_size=64)
    sampled = gen.candidates(tasks, args.n, temperature=0.8, top_p=0.95, max_new_tokens=256, seed=1001,
                             stop=domain.stop_sequences, progress=False)
    distinct = [Candidate(c.task_id, f"{c.completion}\n// {i}\n", candidate_id=c.candidate_id)
                for i, c in enumerate(sampled)]
    programs = len({(c.task_id, domain.normalize(c.completion)) for c in sampled})
    print(f"{len(sampled)} candidates ({len(tasks)} held-out tasks x {args.n}), {programs} distinct programs")

    times: dict[str, list[float]] = {"as sampled": [], "all distinct": []}
    verdicts: dict[str, list] = {}
    for _ in range(args.repeats):
        for mode, batch in (("as sampled", sampled), ("all distinct", distinct)):
            t0 = time.perf_counter()
            results = execute(domain, tasks, batch, progress=False)
            times[mode].append(time.perf_counter() - t0)
            verdicts[mode] = [r.verdict for r in results]
    rate = {mode: len(sampled) / statistics.median(ts) for mode, ts in times.items()}
    for mode, ts in times.items():
        print(f"{mode:13s} median {statistics.median(ts):6.1f} s   {rate[mode]:5.2f} candidates/s")
    print(f"as sampled / all distinct = {rate['as sampled'] / rate['all distinct']:.2f}x")
    print(f"verdicts identical: {verdicts['as sampled'] == verdicts['all distinct']}")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
