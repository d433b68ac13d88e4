"""The SynthCoder corpus builder on a real installed package, read as data (nothing is imported or run).

Prints spans per kind, how many the anti-repetition filter caught, context sizes and dedup counts, plus the
wall time. Default package: ``click`` from this interpreter's site-packages (path from ``sysconfig``).

    .venv/bin/python benchmarks/corpus_stats.py [--package click] [--per-kind 2] [--seed 0]
"""

from __future__ import annotations

import argparse
import sysconfig
import tempfile
import time
from pathlib import Path

from codealign.data.command import print_stats, summarize
from codealign.data.corpus import CorpusConfig, build_corpus
from codealign.errors import UserError


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--package", default="click")
    parser.add_argument("--per-kind", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--family", default="starcoder")
    args = parser.parse_args()
    root = Path(sysconfig.get_paths()["purelib"]) / args.package
    if not root.is_dir():
        raise SystemExit(f"error: {root}: package folder not found")
    t0 = time.perf_counter()
    try:
        corpus = build_corpus(root, CorpusConfig(per_kind=args.per_kind, seed=args.seed, family=args.family,
                                                 on_parse_error="skip"))
    except UserError as exc:
        raise SystemExit(f"error: {exc}")
    took = time.perf_counter() - t0
    print_stats(str(root), summarize(corpus))
    with tempfile.TemporaryDirectory() as tmp:
        corpus.write(Path(tmp) / "fim.jsonl")
    print(f"built in {took:.1f} s; example repeat candidates:")
    for r in corpus.repeats[:3]:
        print(f"  {r['kind']:<14} copies {r['repeat_of']:<7} sim {r['similarity']:.2f}: {r['middle'][:60]!r} "
              f"~ {r['completion'][:60]!r}")


if __name__ == "__main__":
    main()
