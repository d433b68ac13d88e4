"""``codealign train dpo --config FILE [key=value ...] [--accelerate-config NAME [--num-processes N]]``.

Without ``--accelerate-config`` it trains in this process. With it, it re-runs the same command under
``accelerate launch`` (see :mod:`codealign.train.launch`) and reports that process's exit status.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from typing import Sequence



def add_arguments(p: argparse.ArgumentParser) -> None:
    from codealign.train.launch import ACCELERATE_CONFIGS

    p.add_argument("--config", default=None, help="YAML config (top level or a 'dpo:' section)")
    p.add_argument("overrides", nargs="*", metavar="key=value",
                   help="config overrides, values parsed as YAML; trl.KEY=VALUE sets a DPOConfig field")
    p.add_argument("--accelerate-config", default=None, choices=sorted(ACCELERATE_CONFIGS),
                   help="launch through `accelerate launch` with this shipped config")
    p.add_argument("--num-processes", type=int, default=None, help="with --accelerate-config: process count")


def load_config(path: str | None, overrides: Sequence[str] = ()):
    """A :class:`DPORunConfig` from a YAML file (its top level or its ``dpo:`` section) and ``key=value``
    overrides (YAML values; dotted keys set nested mappings such as ``trl.warmup_ratio=0.1``)."""
    from codealign.config import load_section
    from codealign.train.dpo import DPORunConfig

    return DPORunConfig.from_dict(load_section(path, overrides, "dpo"))


def run(args: argparse.Namespace) -> dict:
    if args.accelerate_config:
        from codealign.train.launch import accelerate_command

        train_args = ["dpo"] + (["--config", args.config] if args.config else []) + list(args.overrides)
        if args.json or args.quiet:
            train_args.append("--quiet")
        argv = accelerate_command(args.accelerate_config, train_args, num_processes=args.num_processes)
        if not (args.json or args.quiet):
            print("launching: " + " ".join(argv), file=sys.stderr)
        code = subprocess.call(argv)
        return {"launched": argv, "exit_code": code}

    from codealign.train.dpo import train_dpo

    config = load_config(args.config, args.overrides)
    result = train_dpo(config, quiet=bool(args.json or args.quiet))
    summary = result.to_dict()
    if not (args.json or args.quiet):
        for s in result.stages:
            state = "skipped (done)" if s.skipped else ("resumed" if s.resumed else "trained")
            last = s.last_log
            print(f"stage {s.stage}: {s.n_pairs} pairs, {s.steps} steps, {state}; "
                  f"loss {last.get('loss', float('nan')):.4f}, margin {last.get('rewards/margins', float('nan')):.4f}"
                  + (f"; STOPPED: {s.stopped_reason}" if s.stopped_reason else ""))
        print(f"final policy: {result.final_model}")
    return summary
