"""``codealign train sft --config FILE [key=value ...] [--accelerate-config NAME [--num-processes N]]``.

Trains in this process, or re-runs the same command under ``accelerate launch`` (multi-GPU) when
``--accelerate-config`` names one of the shipped configs (:mod:`codealign.train.launch`).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys


def add_arguments(p: argparse.ArgumentParser) -> None:
    from codealign.train.launch import ACCELERATE_CONFIGS

    p.add_argument("--config", default=None, help="YAML config (top level or an 'sft:' section)")
    p.add_argument("overrides", nargs="*", metavar="key=value",
                   help="config overrides, values parsed as YAML (e.g. learning_rate=1e-4 data=[s0.jsonl,s1.jsonl])")
    p.add_argument("--accelerate-config", default=None, choices=sorted(ACCELERATE_CONFIGS),
                   help="launch through `accelerate launch` with this shipped config")
    p.add_argument("--num-processes", type=int, default=None, help="with --accelerate-config: process count")


def run(args: argparse.Namespace) -> dict:
    quiet = bool(args.json or args.quiet)
    if args.accelerate_config:
        from codealign.train.launch import accelerate_command

        train_args = ["sft"] + (["--config", args.config] if args.config else []) + list(args.overrides)
        argv = accelerate_command(args.accelerate_config, train_args + (["--quiet"] if quiet else []),
                                  num_processes=args.num_processes)
        if not quiet:
            print("launching: " + " ".join(argv), file=sys.stderr)
        return {"launched": argv, "exit_code": subprocess.call(argv)}

    from codealign.train.sft import load_config, train_sft

    result = train_sft(load_config(args.config, args.overrides), quiet=quiet)
    summary = {
        "output_dir": result.output_dir,
        "final_dir": result.final_dir,
        "global_step": result.global_step,
        "train_loss": result.train_loss,
        "stage_sizes": result.stage_sizes,
        "resumed_from": result.resumed_from,
        "log": result.log_path,
    }
    if not quiet:
        print(json.dumps(summary, indent=2))
    return summary
