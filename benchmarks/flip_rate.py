"""rDPO label-flip rate from two Verilog simulators: pairs built on Icarus verdicts, re-judged by Verilator.

RISE pairs (reference vs failing mutant) are built from Icarus Verilog verdicts on a seeded sample of
VerilogEval problems; the candidates of a seeded sample of those pairs are judged again with
``VerilogDomain(simulator="verilator")`` (about 10 s per build, which is why only a sample), and
:func:`codealign.pairs.weights.estimate_flip_rate` turns the disagreement into the ``label_smoothing`` of
TRL's ``robust`` loss.

    .venv/bin/python benchmarks/flip_rate.py --data ../shared/data/verilogeval/problems.jsonl --pairs 8
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from rise_mutants import verilogeval_tasks  # noqa: E402

from codealign.domains import get_domain  # noqa: E402
from codealign.domains.mutants import rise_candidates  # noqa: E402
from codealign.pairs import build_pairs  # noqa: E402
from codealign.pairs.weights import estimate_flip_rate, sample_pairs  # noqa: E402
from codealign.execution.executor import execute  # noqa: E402


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="VerilogEval problems.jsonl")
    parser.add_argument("--problems", type=int, default=12, help="problems sampled for the Icarus run")
    parser.add_argument("--pairs", type=int, default=8, help="pairs re-judged with Verilator")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int)
    args = parser.parse_args(argv)

    tasks, solutions = verilogeval_tasks(args.data, "spec-to-rtl")
    tasks = sorted(random.Random(args.seed).sample(tasks, min(args.problems, len(tasks))), key=lambda t: t.task_id)
    icarus = get_domain("verilog")
    candidates = rise_candidates(icarus, tasks, solutions, seed=args.seed, max_per_task=4)
    start = time.time()
    results = execute(icarus, tasks, candidates, workers=args.workers, progress=False)
    icarus_s = time.time() - start
    pairs = build_pairs(results, tasks, "injection", candidates=candidates, max_pairs_per_prompt=2)
    sample = sample_pairs(pairs, args.pairs, seed=args.seed)
    wanted = {cid for p in sample for cid in (p.metadata["chosen_id"], p.metadata["rejected_id"])}
    again = [c for c in candidates if c.candidate_id in wanted]
    start = time.time()
    second = execute(get_domain("verilog", simulator="verilator"), tasks, again, workers=args.workers,
                     progress=False)
    verilator_s = time.time() - start
    estimate = estimate_flip_rate(sample, second)
    report = {
        "problems": len(tasks), "candidates": len(candidates), "pairs": len(pairs), "sampled_pairs": len(sample),
        "verilator_candidates": len(again), "compared": estimate.compared,
        "disagreements": estimate.disagreements, "disagreement": round(estimate.disagreement, 4),
        "label_smoothing": round(estimate.rate, 4), "assumption": estimate.assumption,
        "verilator_verdicts": sorted({r.verdict.value for r in second}),
        "icarus_s": round(icarus_s, 1), "verilator_s": round(verilator_s, 1), "seed": args.seed,
    }
    print(json.dumps(report, indent=2))
    print(f"reproduce: .venv/bin/python benchmarks/flip_rate.py --data {args.data} --problems {args.problems} "
          f"--pairs {args.pairs} --seed {args.seed}")
    return report


if __name__ == "__main__":
    main()
