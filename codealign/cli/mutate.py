"""``codealign mutate --domain D --tasks T --out C [--verdicts V] [--per-task K] [--seed S]``: error-injection
negatives (RISE mutants; the ladder domain's graph edits) of correct answers, written as candidates.

Each correct answer (the domain's reference, or with ``--verdicts`` the first PASS per task) is written
followed by its mutants (``Domain.mutate``), each recording its mutation and parent. The file goes through
``codealign execute`` like any candidates, then ``codealign pairs --strategy injection --candidates C``: a
negative is always a mutant the sandbox saw fail."""

from __future__ import annotations

import argparse

from codealign.cli.common import output_flags, quiet, refuse_other_domains
from codealign.errors import UserError


def register(sub) -> None:
    p = sub.add_parser("mutate", help="mutants of correct answers as candidates (RISE, ladder graph edits)")
    output_flags(p)
    p.add_argument("--domain", required=True, help="the domain whose mutators to use")
    p.add_argument("--tasks", required=True, help="tasks JSONL")
    p.add_argument("--out", required=True, help="candidates JSONL to write (parents and their mutants)")
    p.add_argument("--verdicts", default=None,
                   help="mutate the first passing candidate of each task in these verdicts "
                        "(default: the domain's reference solutions)")
    p.add_argument("--per-task", type=int, default=8, help="most mutants per task (default: 8)")
    p.add_argument("--seed", type=int, default=0, help="mutation seed (default: 0)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> dict:
    from collections import Counter

    from codealign.domains import get_domain
    from codealign.domains.mutants import rise_candidates, solutions_for
    from codealign.jsonl import read_jsonl, write_jsonl
    from codealign.types import ExecResult, Task

    if args.per_task < 1:
        raise UserError(f"--per-task must be >= 1, got {args.per_task}")
    domain = get_domain(args.domain)
    tasks = read_jsonl(args.tasks, Task.from_dict)
    refuse_other_domains(args.tasks, tasks, args.domain)
    results = read_jsonl(args.verdicts, ExecResult.from_dict) if args.verdicts else None
    solutions = solutions_for(domain, tasks, results)
    if not solutions:
        why = (f"no passing candidate in {args.verdicts}" if args.verdicts
               else f"domain {args.domain!r} has no reference solution for these tasks")
        raise UserError(f"nothing to mutate: {why}")
    candidates = rise_candidates(domain, tasks, solutions, seed=args.seed, max_per_task=args.per_task)
    mutants = [c for c in candidates if "mutation" in c.metadata]
    if not mutants:
        raise UserError(f"domain {args.domain!r} made no mutants of {len(solutions)} solution(s)")
    write_jsonl(args.out, candidates)
    operators = dict(Counter(c.metadata["mutation"]["operator"] for c in mutants).most_common())
    summary = {"out": args.out, "parents": len(candidates) - len(mutants), "mutants": len(mutants),
               "operators": operators}
    if not quiet(args):
        print(f"{len(mutants)} mutants of {summary['parents']} solutions -> {args.out}")
        for name, count in operators.items():
            print(f"  {name:<22} {count}")
    return summary
