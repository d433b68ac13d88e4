"""``codealign data fim``: SynthCoder FIM rows (with cross-file context) from a repository folder."""

from __future__ import annotations

import argparse
import statistics

from codealign.data.corpus import Corpus, CorpusConfig, build_corpus
from codealign.data.fim import FAMILIES, LAYOUTS
from codealign.data.spans import SPAN_KINDS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--repo", required=True, help="repository folder to read (nothing in it is run)")
    parser.add_argument("--out", required=True, help="JSONL of SFT rows (prompt, completion, ...)")
    parser.add_argument("--repeats-out", default=None,
                        help="JSONL of anti-repetition candidates (default: <out stem>.repeats.jsonl)")
    parser.add_argument("--family", default="starcoder", choices=FAMILIES, help="FIM sentinel family")
    parser.add_argument("--layout", default="psm", choices=LAYOUTS, help="psm, spm or mixed")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--per-kind", type=int, default=2, help="spans per kind per file")
    parser.add_argument("--kinds", default=",".join(SPAN_KINDS), help="comma-separated span kinds")
    parser.add_argument("--context-tokens", type=int, default=1024, help="cross-file context budget (0 = none)")
    parser.add_argument("--skip-unparsable", action="store_true",
                        help="leave out files that do not parse instead of stopping")


def config_from_args(args: argparse.Namespace) -> CorpusConfig:
    return CorpusConfig(family=args.family, layout=args.layout, seed=args.seed, per_kind=args.per_kind,
                        kinds=tuple(k.strip() for k in args.kinds.split(",") if k.strip()),
                        context_tokens=args.context_tokens,
                        on_parse_error="skip" if args.skip_unparsable else "error")


def summarize(corpus: Corpus) -> dict:
    stats = dict(corpus.stats)
    sizes = stats.pop("context_tokens")
    stats["context_tokens"] = {
        "mean": round(statistics.fmean(sizes), 1) if sizes else 0.0,
        "median": statistics.median(sizes) if sizes else 0,
        "max": max(sizes, default=0),
        "with_context": sum(1 for s in sizes if s > 0),
    }
    return stats


def print_stats(repo: str, stats: dict) -> None:
    print(f"FIM corpus from {repo}: {stats['files']} files parsed, {len(stats['files_skipped'])} skipped "
          f"(do not parse)")
    print(f"  {'span kind':<16} {'drawn':>6} {'repeats':>8}")
    for kind, n in stats["spans"].items():
        print(f"  {kind:<16} {n:>6} {stats['repeats'][kind]:>8}")
    total = sum(stats["spans"].values())
    print(f"  {'total':<16} {total:>6} {stats['repeat_candidates']:>8}")
    ctx = stats["context_tokens"]
    print(f"  context tokens per example: mean {ctx['mean']}, median {ctx['median']}, max {ctx['max']} "
          f"({ctx['with_context']} of {total} examples have cross-file context)")
    print(f"  anti-repetition: {stats['repeat_candidates']} middles copy context/prefix/suffix "
          f"-> left out of SFT, written as candidates")
    print(f"  dedup: {stats['exact_duplicates']} exact, {stats['near_duplicates']} near duplicates removed; "
          f"{stats['examples']} SFT rows")


def run(args: argparse.Namespace) -> dict:
    corpus = build_corpus(args.repo, config_from_args(args))
    corpus.write(args.out, args.repeats_out)
    stats = summarize(corpus)
    if not (args.json or args.quiet):
        print_stats(args.repo, stats)
        print(f"wrote {len(corpus.rows)} rows to {args.out}")
    return {"repo": str(args.repo), "out": str(args.out), **stats}
