"""``codealign train sft|dpo --config FILE [key=value ...] [--accelerate-config NAME [--num-processes N]]``.

Trains in this process, or re-runs the same command under ``accelerate launch`` (multi-GPU) when
``--accelerate-config`` names one of the shipped configs (:mod:`codealign.train.launch`) and reports that
process's exit status.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

from codealign.cli.common import output_flags, quiet


def register(sub) -> None:
    from codealign.train.launch import ACCELERATE_CONFIGS

    p = sub.add_parser("train", help="SFT or DPO training")
    tsub = p.add_subparsers(dest="train_command", required=True)
    for kind, hint in (("sft", "sft:"), ("dpo", "dpo:")):
        t = tsub.add_parser(kind, help=f"{kind.upper()} training from a YAML config with key=value overrides",
                            add_help=False, formatter_class=argparse.RawDescriptionHelpFormatter)
        t.add_argument("-h", "--help", action=_FieldsHelp, nargs=0, config=kind,
                       help="show this help, with every config key and its default, and exit")
        output_flags(t)
        t.add_argument("--config", default=None, help=f"YAML config (top level or a '{hint}' section)")
        t.add_argument("overrides", nargs="*", metavar="key=value",
                       help="config overrides, values parsed as YAML (e.g. learning_rate=1e-4 data=[s0.jsonl,s1.jsonl])"
                       + ("; trl.KEY=VALUE sets a DPOConfig field" if kind == "dpo" else ""))
        t.add_argument("--accelerate-config", default=None, choices=sorted(ACCELERATE_CONFIGS),
                       help="launch through `accelerate launch` with this shipped config")
        t.add_argument("--num-processes", type=int, default=None, help="with --accelerate-config: process count")
        t.set_defaults(func=run_sft if kind == "sft" else run_dpo)


class _FieldsHelp(argparse.Action):
    """``--help`` that ends with the config keys of the run (name, default, what it does), read from the config
    dataclass only when help is asked for, so that parsing other commands imports no training code."""

    def __init__(self, *args, config: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.config = config

    def __call__(self, parser, namespace, values, option_string=None):
        import textwrap

        from codealign.config import field_docs

        if self.config == "sft":
            from codealign.train.sft import SFTRunConfig as cls
        else:
            from codealign.train.dpo import DPORunConfig as cls
        lines = ["config keys (YAML or key=value; the default after '='):"]
        for key, default, doc in field_docs(cls):
            lines.append(f"  {key} (required)" if default == "(required)" else f"  {key} = {default!r}")
            lines += textwrap.wrap(doc, 100, initial_indent="      ", subsequent_indent="      ",
                                   break_on_hyphens=False)
        parser.epilog = "\n".join(lines)
        parser.print_help()
        parser.exit()


def relaunch(args: argparse.Namespace) -> dict:
    """This command again under ``accelerate launch``: its exit status."""
    from codealign.train.launch import accelerate_command

    train_args = [args.train_command] + (["--config", args.config] if args.config else []) + list(args.overrides)
    argv = accelerate_command(args.accelerate_config, train_args + (["--quiet"] if quiet(args) else []),
                              num_processes=args.num_processes)
    if not quiet(args):
        print("launching: " + " ".join(argv), file=sys.stderr)
    return {"launched": argv, "exit_code": subprocess.call(argv)}


def run_sft(args: argparse.Namespace) -> dict:
    if args.accelerate_config:
        return relaunch(args)
    from codealign.config import load_config
    from codealign.train.sft import SFTRunConfig, train_sft

    # The trainer's metric dicts go to the run's log (train_log.jsonl), never to stdout.
    result = train_sft(load_config(SFTRunConfig, args.config, args.overrides, section="sft"), quiet=True)
    summary = {
        "output_dir": result.output_dir,
        "final_dir": result.final_dir,
        "global_step": result.global_step,
        "train_loss": result.train_loss,
        "stage_sizes": result.stage_sizes,
        "resumed_from": result.resumed_from,
        "log": result.log_path,
    }
    if not quiet(args):
        print(json.dumps(summary, indent=2))
    return summary


def run_dpo(args: argparse.Namespace) -> dict:
    if args.accelerate_config:
        return relaunch(args)
    from codealign.config import load_config
    from codealign.train.dpo import DPORunConfig, train_dpo

    result = train_dpo(load_config(DPORunConfig, args.config, args.overrides, section="dpo"), quiet=True)
    if not quiet(args):
        for s in result.stages:
            state = "skipped (done)" if s.skipped else ("resumed" if s.resumed else "trained")
            last = s.last_log
            print(f"stage {s.stage}: {s.n_pairs} pairs, {s.steps} steps, {state}; "
                  f"loss {last.get('loss', float('nan')):.4f}, margin {last.get('rewards/margins', float('nan')):.4f}"
                  + (f"; STOPPED: {s.stopped_reason}" if s.stopped_reason else ""))
        print(f"final policy: {result.final_model}")
    summary = result.to_dict()
    if result.stopped_reason:
        # A CI job must not read a collapsed policy as a finished run.
        print(f"codealign: DPO stopped by the collapse monitor: {result.stopped_reason}", file=sys.stderr)
        summary["exit_code"] = 1
    return summary
