"""``codealign reward serve --domain D [--tasks T]``: the HTTP reward endpoint for OpenRLHF's
``--remote_rm_url`` (:func:`codealign.reward.serve`)."""

from __future__ import annotations

import argparse

from codealign.cli.common import execution_flags, output_flags


def register(sub) -> None:
    p = sub.add_parser("reward", help="scorers for online RL")
    rsub = p.add_subparsers(dest="reward_command", required=True)
    r = rsub.add_parser("serve", help="HTTP reward endpoint for OpenRLHF's --remote_rm_url")
    output_flags(r)
    r.add_argument("--domain", required=True, help="domain that judges the answers")
    r.add_argument("--tasks", help="tasks JSONL; labels name their task_id (else labels carry Task JSON)")
    r.add_argument("--host", default="127.0.0.1")
    r.add_argument("--port", type=int, default=5000)
    execution_flags(r, executor=False, cache=False)
    r.set_defaults(func=run)


def run(args: argparse.Namespace) -> dict:
    from codealign.jsonl import read_jsonl
    from codealign.reward import Scorer, serve
    from codealign.types import Task

    tasks = read_jsonl(args.tasks, Task.from_dict) if args.tasks else []
    scorer = Scorer(args.domain, tasks, args.backend, args.workers)
    serve(scorer, args.host, args.port)
    return {"served": scorer.domain.name, "tasks": len(tasks)}
