"""Verdicts batched vs alone (:mod:`codealign.domains.verilog.batch`): every candidate judged by ``execute`` with
batching on and off must get the same verdict, score and details (``batch.comparable``). Two sets: the bundled
procedural check (every bundled task's reference and golden mutants) and the Verilog evil designs on
VerilogEval's Demo03_count_en (the hostile-in-batch designs and the replay attacks of ``tests/evil``, each in
a batch with three honest designs). Prints per set how many candidates were judged in batches, how many verdicts are
identical, the seconds of each run (after every task's reference is recorded and the checkers started; one
run each, alone first) and the load average; exits 1 on any difference. ``sampled`` (not run by default):
VerilogEval's 20 shortest problems with 8 distinct candidates each (reference, mutants), RL-style.

    .venv/bin/python benchmarks/batch_identity.py [--backend B] [--workers N] [--sets bundled,evil]
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import os
import sys
import tempfile
import time
from pathlib import Path

from codealign.domains.verilog import VerilogDomain, reference_solution
from codealign.domains.verilog.batch import comparable
from codealign.domains.verilog.tasks import SPLITS, bundled_tasks, golden_candidates
from codealign.domains.verilog.verilogeval import load_verilogeval
from codealign.execution.executor import execute
from codealign.sandbox.backends import get_backend
from codealign.types import Candidate

EVIL = Path(__file__).resolve().parent.parent / "tests" / "evil"


def _designs(module: str, names: tuple[str, ...]) -> list[str]:
    spec = importlib.util.spec_from_file_location(module, EVIL / f"{module}.py")
    loaded = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loaded)
    out = []
    for name in names:
        value = getattr(loaded, name)
        out += list(value.values()) if isinstance(value, dict) else list(value)
    return out


def bundled_set():
    tasks = [t for split in SPLITS for t in bundled_tasks(split)]
    return tasks, golden_candidates(tasks)


def evil_set():
    demo = {t.task_id: t for t in load_verilogeval(None)}["Demo03_count_en"]
    task = dataclasses.replace(demo, limits={"wall_s": 10.0, "cpu_s": 20.0})
    honest = _designs("test_evil_verilog_batch", ("HONEST",))
    hostile = _designs("test_evil_verilog_batch", ("HOSTILE",)) + _designs("test_evil_verilog_replay", ("ATTACKS",))
    # batches of EVIL_BATCH: each hostile design beside honest ones made distinct by a spare wire
    texts = [t for k, bad in enumerate(hostile)
             for t in [bad] + [h.replace("endmodule", f"wire spare{k};\nendmodule", 1) for h in honest]]
    return [task], [Candidate(task.task_id, text, candidate_id=f"evil{k}") for k, text in enumerate(texts)]


def sampled_set(problems: int = 20, samples: int = 8):
    """VerilogEval's shortest problems, ``samples`` distinct candidates each: the reference, its mutants, then
    the reference with a trailing comment line (``// k``) as needed."""
    import random

    data = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "verilogeval" / "problems.jsonl"
    tasks = sorted(load_verilogeval(str(data)), key=lambda t: len(t.assets["test"]))[:problems]
    rng, cands = random.Random(0), []
    for task in tasks:
        ref = reference_solution(task)
        texts = [ref] + [text for text, _ in VerilogDomain().mutate(ref, rng)][:samples - 1]
        texts += [f"{ref}// {k}\n" for k in range(samples - len(texts))]
        cands += [Candidate(task.task_id, text) for text in texts]
    return tasks, cands


SETS = {"bundled": bundled_set, "evil": evil_set, "sampled": sampled_set}
EVIL_BATCH = 4
"""The evil set's batch size: one hostile design and three honest ones per batch."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="bwrap")
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--sets", default="bundled,evil", help="comma-separated: " + ", ".join(SETS))
    args = parser.parse_args(argv)
    differing = 0
    backend = get_backend(args.backend)  # one backend object: the domain keeps one checker pool per backend
    with tempfile.TemporaryDirectory(prefix="batch-identity-") as refs:
        domain = VerilogDomain(reference_store=refs)
        try:
            for name in args.sets.split(","):
                tasks, cands = SETS[name]()
                domain.batch_size = EVIL_BATCH if name == "evil" else VerilogDomain.batch_size
                for task in tasks:  # record every reference and start the checkers before the timed runs
                    domain.evaluate(task, Candidate(task.task_id, reference_solution(task)), backend)
                seconds, runs = {}, {}
                for mode in ("alone", "batched"):
                    start = time.monotonic()
                    runs[mode] = execute(domain, tasks, cands, backend=backend, workers=args.workers,
                                         progress=False, batch=mode == "batched")
                    seconds[mode] = time.monotonic() - start
                diff = [(c.task_id, c.candidate_id, comparable(a), comparable(b))
                        for c, a, b in zip(cands, runs["alone"], runs["batched"]) if comparable(a) != comparable(b)]
                batched = sum("batch" in r.details for r in runs["batched"])
                print(f"{name}: {len(tasks)} tasks, {len(cands)} candidates, {batched} judged in batches; identical "
                      f"{len(cands) - len(diff)}/{len(cands)}; alone {seconds['alone']:.1f} s, batched "
                      f"{seconds['batched']:.1f} s; load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
                for row in diff[:20]:
                    print("DIFFERS", *row)
                differing += len(diff)
        finally:
            domain.close()
    print(f"reproduce: .venv/bin/python benchmarks/batch_identity.py --backend {args.backend} --sets {args.sets}"
          + (f" --workers {args.workers}" if args.workers else ""))
    return 1 if differing else 0


if __name__ == "__main__":
    sys.exit(main())
