"""``codealign pairs``: verdicts JSONL → pairs JSONL (+ weights, curriculum stages, summary, histogram).

Usage: ``codealign pairs --verdicts V --tasks T --strategy execution --out P [options]``. Prints a summary
table (or one JSON object with ``--json``); the pairs file is written atomically, never half.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from codealign.errors import UserError
from codealign.jsonl import read_jsonl, write_jsonl
from codealign.pairs import STRATEGIES, build_pairs_report
from codealign.pairs.contamination import check_contamination
from codealign.pairs.curriculum import KEYS, WITHIN_STAGE, CurriculumConfig, curriculum
from codealign.pairs.ranked import SELECTIONS
from codealign.pairs.summary import format_summary, gap_histogram, summarize
from codealign.pairs.weights import FLIP_ASSUMPTIONS, MadpoConfig, apply_weights, estimate_flip_rate
from codealign.types import Candidate, ExecResult, Task

# strategy option (flag dest = config field) -> the strategies that take it
_STRATEGY_OPTIONS = {
    "min_gap": ("execution", "ranked", "rso", "injection"),
    "max_pairs_per_prompt": ("execution", "ranked", "injection"),
    "chosen_must_pass": ("execution",),
    "selection": ("ranked",),
    "beta": ("rso",),
    "num_samples": ("rso",),
    "seed": ("rso",),
    "allow_compile_errors": ("injection",),
}


def _add_once(parser: argparse.ArgumentParser, flag: str, **kwargs) -> None:
    if flag not in parser._option_string_actions:
        parser.add_argument(flag, **kwargs)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of ``codealign pairs`` (``--json``/``--quiet`` only if the CLI has not added them)."""
    parser.add_argument("--verdicts", required=True, help="verdicts JSONL (ExecResult rows with completion)")
    parser.add_argument("--tasks", help="tasks JSONL, for the prompts")
    parser.add_argument("--candidates", help="candidates JSONL, for candidate metadata (needed by injection)")
    parser.add_argument("--strategy", default="execution", choices=sorted(STRATEGIES), help="pair strategy")
    _add_once(parser, "--out", required=True, help="pairs JSONL to write")
    parser.add_argument("--min-gap", type=float, help="smallest score gap that forms a pair")
    parser.add_argument("--max-pairs-per-prompt", type=int, help="per-prompt cap (balance)")
    parser.add_argument("--chosen-must-pass", action="store_true", default=None, help="execution: chosen must PASS")
    parser.add_argument("--selection", choices=SELECTIONS, help="ranked: which of the C(N,2) pairs")
    parser.add_argument("--beta", type=float, help="rso: temperature of the target policy")
    parser.add_argument("--num-samples", type=int, help="rso: candidates accepted per prompt")
    parser.add_argument("--seed", type=int, help="rso sampler seed")
    parser.add_argument("--allow-compile-errors", action="store_true", default=None,
                        help="injection: mutants that do not compile may be rejected samples")
    parser.add_argument("--weights", choices=("none", "madpo"), default="none", help="per-pair loss weights")
    parser.add_argument("--madpo-pivot", type=float, default=MadpoConfig.pivot, help="margin with weight 1")
    parser.add_argument("--madpo-sharpness", type=float, default=MadpoConfig.sharpness)
    parser.add_argument("--curriculum", help=f"order easy→hard by {', '.join(KEYS)} or a numeric metadata field")
    parser.add_argument("--stages", type=int, default=3, help="curriculum stages")
    parser.add_argument("--within-stage", choices=WITHIN_STAGE, default="sequential")
    parser.add_argument("--curriculum-seed", type=int, default=0, help="seed of the within-stage shuffle")
    parser.add_argument("--benchmark", action="append", default=[],
                        help="benchmark tasks JSONL to check for contamination (repeatable)")
    parser.add_argument("--drop-contaminated", action="store_true", help="drop pairs that overlap a benchmark")
    parser.add_argument("--flip-verdicts", help="verdicts of a second source on (a sample of) the same "
                                                "candidates: estimates the rDPO label-flip rate")
    parser.add_argument("--flip-assumption", choices=FLIP_ASSUMPTIONS, default="symmetric")
    parser.add_argument("--histogram", help="write the score-gap histogram PNG here")
    _add_once(parser, "--json", action="store_true", help="print one JSON summary object")
    _add_once(parser, "--quiet", action="store_true", help="print nothing")


def _strategy_options(args: argparse.Namespace) -> dict[str, Any]:
    options = {}
    for name, strategies in _STRATEGY_OPTIONS.items():
        value = getattr(args, name, None)
        if value is None:
            continue
        if args.strategy not in strategies:
            flag = "--" + name.replace("_", "-")
            raise UserError(f"{flag} does not apply to strategy {args.strategy!r} (only {', '.join(strategies)})")
        options[name] = value
    return options


def run(args: argparse.Namespace) -> dict[str, Any]:
    results = read_jsonl(args.verdicts, ExecResult.from_dict)
    if not results:
        raise UserError(f"{args.verdicts}: no verdicts")
    if all(not r.completion for r in results):
        raise UserError(f"{args.verdicts}: verdict rows carry no completion text (run `codealign execute`)")
    tasks = read_jsonl(args.tasks, Task.from_dict) if args.tasks else None
    candidates = read_jsonl(args.candidates, Candidate.from_dict) if args.candidates else None
    if args.strategy == "injection" and candidates is None:
        raise UserError("strategy 'injection' needs --candidates (the mutation is recorded in candidate metadata)")
    pairs, build = build_pairs_report(results, tasks, args.strategy, candidates=candidates,
                                      **_strategy_options(args))
    if args.weights == "madpo":
        try:
            config = MadpoConfig(pivot=args.madpo_pivot, sharpness=args.madpo_sharpness)
        except ValueError as exc:
            raise UserError(f"madpo: {exc}") from None
        pairs = apply_weights(pairs, config)

    summary: dict[str, Any] = {"verdicts": args.verdicts, "out": args.out, "build": build}
    log = sys.stderr if getattr(args, "json", False) else sys.stdout
    quiet = getattr(args, "quiet", False)
    if args.benchmark:
        bench_rows = [row for path in args.benchmark for row in read_jsonl(path)]
        report = check_contamination(bench_rows, pairs=pairs)
        flagged = report.flagged("pairs")
        for i, overlap in flagged.items():
            pairs[i].metadata["contamination"] = f"{overlap.kind}:{overlap.field}:{overlap.benchmark_id}"
        if args.drop_contaminated:
            pairs = [p for i, p in enumerate(pairs) if i not in flagged]
        summary["contamination"] = report.to_dict() | {"dropped": len(flagged) if args.drop_contaminated else 0}
        print(report.message(), file=sys.stderr)
    if args.curriculum:
        try:
            config = CurriculumConfig(key=args.curriculum, stages=args.stages, within_stage=args.within_stage,
                                      seed=args.curriculum_seed)
        except ValueError as exc:
            raise UserError(f"curriculum: {exc}") from None
        pairs = curriculum(pairs, config)
    if args.flip_verdicts:
        estimate = estimate_flip_rate(pairs, read_jsonl(args.flip_verdicts, ExecResult.from_dict),
                                      args.flip_assumption)
        summary["flip_rate"] = {"label_smoothing": round(estimate.rate, 4), "compared": estimate.compared,
                                "disagreement": round(estimate.disagreement, 4),
                                "assumption": estimate.assumption}
    write_jsonl(args.out, pairs)
    if args.histogram:
        summary["histogram"] = gap_histogram(pairs, args.histogram)
    summary["summary"] = summarize(pairs)
    if not quiet and not getattr(args, "json", False):
        print(format_summary(summary["summary"]), file=log)
        if "flip_rate" in summary:
            f = summary["flip_rate"]
            print(f"rDPO flip rate (label_smoothing) {f['label_smoothing']} from {f['compared']} compared pairs",
                  file=log)
        print(f"wrote {len(pairs)} pairs to {args.out}", file=log)
    return summary
