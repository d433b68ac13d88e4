"""``codealign execute --domain D --tasks T --candidates C --out V``: candidates judged in the sandbox."""

from __future__ import annotations

import argparse

from codealign.cli.common import (cache_path, domain_flags, execution_flags, make_domain, output_flags, quiet,
                                  refuse_foreign_out, refuse_other_domains, refuse_overwriting_inputs)


def register(sub) -> None:
    p = sub.add_parser("execute", help="run candidates in the sandbox: tasks + candidates -> verdicts")
    output_flags(p)
    execution_flags(p)
    p.add_argument("--domain", required=True, help="the domain that judges (see `codealign doctor`)")
    p.add_argument("--tasks", required=True, help="tasks JSONL")
    p.add_argument("--candidates", required=True, help="candidates JSONL (task_id, completion)")
    p.add_argument("--out", required=True, help="verdicts JSONL to write")
    p.add_argument("--no-batch", action="store_true",
                   help="judge every candidate alone, never several of one task together (same verdicts; for "
                        "comparisons)")
    domain_flags(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> dict:
    from collections import Counter

    from codealign.execution.executor import execute_files
    from codealign.jsonl import read_jsonl
    from codealign.types import Task

    domain = make_domain(args.domain, args)
    refuse_overwriting_inputs(args.out, tasks=args.tasks, candidates=args.candidates)
    refuse_foreign_out(args.out, "verdict", "verdicts")
    refuse_other_domains(args.tasks, read_jsonl(args.tasks, Task.from_dict), args.domain)
    results = execute_files(domain, args.tasks, args.candidates, args.out, backend=args.backend,
                            executor=args.executor, workers=args.workers, cache=cache_path(args),
                            progress=not quiet(args), reuse=not args.no_cache,
                            batch=not args.no_batch)
    counts = Counter(r.verdict.value for r in results)
    summary = {"out": args.out, "candidates": len(results), "verdicts": dict(counts),
               "cached": sum(r.cached for r in results),
               "mean_score": round(sum(r.score for r in results) / max(1, len(results)), 4)}
    if not quiet(args):
        print(f"{len(results)} verdicts -> {args.out}")
        for verdict, n in counts.most_common():
            print(f"  {verdict:<14} {n}")
    return summary
