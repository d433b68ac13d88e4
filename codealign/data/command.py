"""``codealign data fim`` as a library call: SynthCoder FIM rows (with cross-file context) from a repository
folder, and the corpus statistics."""

from __future__ import annotations

import os
import statistics

from codealign.data.corpus import Corpus, CorpusConfig, build_corpus


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


def fim_corpus(repo: str | os.PathLike, out: str | os.PathLike, config: CorpusConfig,
               repeats_out: str | os.PathLike | None = None) -> dict:
    """Build the corpus of ``repo``, write its SFT rows to ``out`` (anti-repetition candidates to
    ``repeats_out``, default ``<out stem>.repeats.jsonl``); the statistics."""
    corpus = build_corpus(repo, config)
    corpus.write(out, repeats_out)
    return {"repo": str(repo), "out": str(out), **summarize(corpus)}
