"""``codealign pairs --verdicts V --tasks T --strategy S --out P [options]``: preference pairs (+ weights,
curriculum stages) from verdicts; prints a summary table (or one JSON object with ``--json``)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from codealign.cli.common import output_flags, quiet
from codealign.errors import UserError


def register(sub) -> None:
    from codealign.pairs import STRATEGIES
    from codealign.pairs.command import FORMATS
    from codealign.pairs.curriculum import KEYS, WITHIN_STAGE
    from codealign.pairs.ranked import SELECTIONS
    from codealign.pairs.weights import FLIP_ASSUMPTIONS, MadpoConfig

    p = sub.add_parser("pairs", help="build preference pairs (+ curriculum stages) from verdicts")
    output_flags(p)
    p.add_argument("--verdicts", required=True, help="verdicts JSONL (ExecResult rows with completion)")
    p.add_argument("--tasks", help="tasks JSONL, for the prompts")
    p.add_argument("--candidates", help="candidates JSONL, for candidate metadata (needed by injection)")
    p.add_argument("--strategy", default="execution", choices=sorted(STRATEGIES.names()), help="pair strategy")
    p.add_argument("--out", required=True, help="pairs JSONL to write (with --format hf: a folder)")
    p.add_argument("--format", default="jsonl", choices=FORMATS,
                   help="jsonl, or hf: a Hugging Face datasets folder (save_to_disk; load_from_disk reads it) that "
                        "plain TRL DPOTrainer trains on, conversational where the candidates were sampled as chat "
                        "(pass --candidates)")
    p.add_argument("--eval-fraction", type=float, default=0.0,
                   help="with --format hf: hold out this fraction of the tasks as a 'test' split")
    p.add_argument("--min-gap", type=float, help="smallest score gap that forms a pair")
    p.add_argument("--max-pairs-per-prompt", type=int, help="per-prompt cap (balance)")
    p.add_argument("--chosen-must-pass", action="store_true", default=None, help="execution: chosen must PASS")
    p.add_argument("--selection", choices=SELECTIONS, help="ranked: which of the C(N,2) pairs")
    p.add_argument("--beta", type=float, help="rso: temperature of the target policy")
    p.add_argument("--num-samples", type=int, help="rso: candidates accepted per prompt")
    p.add_argument("--seed", type=int, help="rso sampler seed")
    p.add_argument("--allow-compile-errors", action="store_true", default=None,
                   help="injection: mutants that do not compile may be rejected samples")
    p.add_argument("--weights", choices=("none", "madpo"), default="none", help="per-pair loss weights")
    p.add_argument("--madpo-pivot", type=float, default=MadpoConfig.pivot, help="margin with weight 1")
    p.add_argument("--madpo-sharpness", type=float, default=MadpoConfig.sharpness)
    p.add_argument("--curriculum", help=f"order easy→hard by {', '.join(KEYS)} or a numeric metadata field")
    p.add_argument("--stages", type=int, default=3, help="curriculum stages")
    p.add_argument("--within-stage", choices=WITHIN_STAGE, default="sequential")
    p.add_argument("--curriculum-seed", type=int, default=0, help="seed of the within-stage shuffle")
    p.add_argument("--benchmark", action="append", default=[],
                   help="benchmark tasks JSONL to check for contamination (repeatable)")
    p.add_argument("--drop-contaminated", action="store_true", help="drop pairs that overlap a benchmark")
    p.add_argument("--flip-verdicts", help="verdicts of a second source on (a sample of) the same "
                                           "candidates: estimates the rDPO label-flip rate")
    p.add_argument("--flip-assumption", choices=FLIP_ASSUMPTIONS, default="symmetric")
    p.add_argument("--histogram", help="write the score-gap histogram PNG here")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> dict[str, Any]:
    from codealign.pairs.command import write_pairs
    from codealign.pairs.curriculum import CurriculumConfig
    from codealign.pairs.summary import format_summary
    from codealign.pairs.weights import MadpoConfig

    weights = (_section("madpo", MadpoConfig, pivot=args.madpo_pivot, sharpness=args.madpo_sharpness)
               if args.weights == "madpo" else None)
    stages = (_section("curriculum", CurriculumConfig, key=args.curriculum, stages=args.stages,
                       within_stage=args.within_stage, seed=args.curriculum_seed) if args.curriculum else None)
    summary = write_pairs(args.verdicts, args.out, _pairs_config(args), tasks=args.tasks,
                          candidates=args.candidates, weights=weights, stages=stages, histogram=args.histogram,
                          format=args.format, eval_fraction=args.eval_fraction,
                          log=lambda message: print(message, file=sys.stderr))
    if not quiet(args):
        print(format_summary(summary["summary"]))
        if "flip_rate" in summary:
            f = summary["flip_rate"]
            print(f"rDPO flip rate (label_smoothing) {f['label_smoothing']} from {f['compared']} compared pairs")
        print(f"wrote {summary['summary']['pairs']} pairs to {args.out}")
    return summary


def _pairs_config(args: argparse.Namespace):
    from codealign.pairs.make import PairsConfig, misplaced_option, strategy_options

    options = {name: getattr(args, name) for name in strategy_options() if getattr(args, name, None) is not None}
    misplaced = misplaced_option(args.strategy, options)
    if misplaced:
        name, takers = misplaced
        raise UserError(f"--{name.replace('_', '-')} does not apply to strategy {args.strategy!r} "
                        f"(only {', '.join(takers)})")
    return PairsConfig(strategy=args.strategy, **options, benchmarks=args.benchmark,
                       drop_contaminated=args.drop_contaminated, flip_verdicts=args.flip_verdicts or "",
                       flip_assumption=args.flip_assumption)


def _section(name: str, cls: type, **values: Any) -> Any:
    try:
        return cls(**values)
    except ValueError as exc:
        raise UserError(f"{name}: {exc}") from None
