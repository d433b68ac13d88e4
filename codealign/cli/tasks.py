"""``codealign tasks generate [--domain D] --family F --n N --seed S --out T``: procedural tasks from a domain's
task families (:meth:`Domain.generate_tasks`), found through the registry."""

from __future__ import annotations

import argparse

from codealign.cli.common import output_flags, quiet
from codealign.errors import UserError


def _families() -> dict[str, str]:
    """Every domain's procedural task families: family → domain."""
    from codealign.domains import domain_names, get_domain

    return {family: name for name in domain_names() for family in get_domain(name).task_families}


def register(sub) -> None:
    families = _families()
    p = sub.add_parser("tasks", help="procedural tasks")
    tsub = p.add_subparsers(dest="tasks_command", required=True)
    g = tsub.add_parser("generate", help="write procedural tasks as JSONL")
    output_flags(g)
    g.add_argument("--domain", default=None,
                   help=f"the domain whose families to draw from (default: the one of the families given, or the "
                        f"only domain with families: {', '.join(sorted(set(families.values())))})")
    g.add_argument("--family", action="append", default=None, metavar="F",
                   help=f"task family, repeatable or comma-separated (default: all of the domain's: "
                        f"{', '.join(families)})")
    g.add_argument("--n", type=int, default=100, help="number of tasks (default: 100)")
    g.add_argument("--seed", type=int, default=0, help="sampling seed (default: 0)")
    g.add_argument("--split", default="train",
                   help="train, heldout or feedback (held-out tasks no evaluation draw shares a novelty key with; "
                        "default: train)")
    g.add_argument("--out", required=True, help="output tasks JSONL (written atomically)")
    g.set_defaults(func=run)


def run(args: argparse.Namespace) -> dict:
    from collections import Counter

    from codealign.domains import get_domain
    from codealign.jsonl import write_jsonl

    families = None
    if args.family:
        families = [name.strip() for item in args.family for name in item.split(",") if name.strip()]
    domain = get_domain(args.domain or _domain_of(families))
    tasks = domain.generate_tasks(families, args.n, args.seed, args.split)
    write_jsonl(args.out, tasks)
    per_family = dict(Counter(t.metadata["family"] for t in tasks))
    summary = {"out": str(args.out), "n": len(tasks), "split": args.split, "seed": args.seed,
               "families": per_family}
    if not quiet(args):
        print(f"wrote {len(tasks)} {args.split} tasks to {args.out} (seed {args.seed})")
        for name, count in per_family.items():
            print(f"  {name:<10} {count}")
    return summary


def _domain_of(families: list[str] | None) -> str:
    """The domain the families belong to; without families, the only domain that has any."""
    owners = _families()
    unknown = [f for f in families or () if f not in owners]
    if unknown:
        raise UserError(f"unknown task family {unknown[0]!r}; choose from: {', '.join(sorted(owners))}")
    domains = {owners[f] for f in families or ()} or set(owners.values())
    if len(domains) != 1:
        raise UserError(f"give --domain: task families come from {', '.join(sorted(domains)) or 'no domain'}")
    return domains.pop()
