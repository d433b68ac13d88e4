"""``codealign data fim --repo R --out O``: SynthCoder FIM rows with cross-file context from a repository."""

from __future__ import annotations

import argparse

from codealign.cli.common import output_flags, quiet


def register(sub) -> None:
    from codealign.data.layouts import FAMILIES, LAYOUTS
    from codealign.data.spans import SPAN_KINDS

    p = sub.add_parser("data", help="training-corpus construction")
    dsub = p.add_subparsers(dest="data_command", required=True)
    f = dsub.add_parser("fim", help="SynthCoder FIM examples with cross-file context from a repository")
    output_flags(f)
    f.add_argument("--repo", required=True, help="repository folder to read (nothing in it is run)")
    f.add_argument("--out", required=True, help="JSONL of SFT rows (prompt, completion, ...)")
    f.add_argument("--repeats-out", default=None,
                   help="JSONL of anti-repetition candidates (default: <out stem>.repeats.jsonl)")
    f.add_argument("--family", default="starcoder", choices=FAMILIES, help="FIM sentinel family")
    f.add_argument("--layout", default="psm", choices=LAYOUTS, help="psm, spm or mixed")
    f.add_argument("--seed", type=int, default=0)
    f.add_argument("--per-kind", type=int, default=2, help="spans per kind per file")
    f.add_argument("--kinds", default=",".join(SPAN_KINDS), help="comma-separated span kinds")
    f.add_argument("--context-tokens", type=int, default=1024, help="cross-file context budget (0 = none)")
    f.add_argument("--skip-unparsable", action="store_true",
                   help="leave out files that do not parse instead of stopping")
    f.set_defaults(func=run)


def run(args: argparse.Namespace) -> dict:
    from codealign.data.command import fim_corpus, print_stats
    from codealign.data.corpus import CorpusConfig

    config = CorpusConfig(family=args.family, layout=args.layout, seed=args.seed, per_kind=args.per_kind,
                          kinds=tuple(k.strip() for k in args.kinds.split(",") if k.strip()),
                          context_tokens=args.context_tokens,
                          on_parse_error="skip" if args.skip_unparsable else "error")
    summary = fim_corpus(args.repo, args.out, config, args.repeats_out)
    if not quiet(args):
        print_stats(args.repo, summary)
        print(f"wrote {summary['examples']} rows to {args.out}")
    return summary
