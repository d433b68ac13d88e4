"""The ``codealign`` command: one argparse program, one subcommand per stage, one module per command group.

This package is the only place argparse lives: each module turns its flags into a call of a typed library
function and prints what it returns. Every subcommand accepts ``--json`` (exactly one JSON object on stdout,
logs on stderr) and ``--quiet``. User errors print one line (``codealign: error: ...``) and exit 2, without a
traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import warnings

from codealign.cli import bench, cache, data, doctor, execute, generate, mutate, pairs, reward, run, tasks, train
from codealign.errors import UserError

GROUPS = (doctor, tasks, generate, mutate, execute, pairs, train, bench, run, data, reward, cache)
"""Command groups in ``--help`` order; each has ``register(subparsers)``."""


DESCRIPTION = """\
Align code models with execution feedback: run what a model writes in real toolchains, keep the verdicts,
turn them into preference pairs and train on them.

The loop, one command per step (each reads and writes JSONL):
  codealign tasks generate    make tasks           codealign execute   judge candidates -> verdicts
  codealign generate          sample candidates    codealign pairs     verdicts -> preference pairs
  codealign train sft|dpo     train                codealign bench     score a model on a benchmark
or all of it at once, resumable:  codealign run verilog --run-dir runs/v1
Start with `codealign doctor` (what is installed) and `codealign COMMAND --help`."""


def build_parser() -> argparse.ArgumentParser:
    from codealign import __version__

    parser = argparse.ArgumentParser(prog="codealign", description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"codealign {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in GROUPS:
        group.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    # key=value overrides may follow options (argparse stops collecting positionals at the first option).
    stray = [a for a in extra if a.startswith("-") or "=" not in a]
    if stray or (extra and not hasattr(args, "overrides")):
        parser.error(f"unrecognized arguments: {' '.join(stray or extra)}")
    if extra:
        args.overrides = list(args.overrides or []) + extra
    # Deprecation notices of torch/transformers/TRL are for this package's developers, not its users.
    warnings.simplefilter("ignore", FutureWarning)
    if getattr(args, "json", False) or getattr(args, "quiet", False):
        os.environ.setdefault("TQDM_DISABLE", "1")
    try:
        if getattr(args, "json", False):
            # Libraries print to stdout (trainer metrics, progress); with --json stdout holds one object only.
            with contextlib.redirect_stdout(sys.stderr):
                summary = args.func(args)
        else:
            summary = args.func(args)
    except UserError as exc:
        print(f"codealign: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("codealign: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    code = 0
    if isinstance(summary, dict):
        code = int(summary.pop("exit_code", 0) or 0)
    elif isinstance(summary, int):
        code, summary = summary, None
    if getattr(args, "json", False) and summary is not None:
        try:
            print(json.dumps(summary, default=str))
        except BrokenPipeError:
            pass
    return code
