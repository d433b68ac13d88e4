"""BM25 query latency: codealign's retriever (bm25s) vs rank-bm25 on the same chunks, in one run.

Corpus: sliding-window chunks (20 lines, stride 10) of the ``.py`` files of this interpreter's site-packages
(read as data; path from ``sysconfig``), the first ``--chunks`` of them in sorted path order. Queries: the
first 8 lines of ``--queries`` chunks drawn with a fixed seed. Both indexes get the same tokens
(:func:`codealign.data.retrieval.code_tokens`). Reports index time, median and mean query latency, the ratio
(target ≥ 100×) and the mean top-5 agreement (|top5 ∩ top5'| / 5). rank-bm25 is BM25Okapi, bm25s uses the
``lucene`` variant, so scores differ slightly and agreement is below 1 by design.

    .venv/bin/python benchmarks/retrieval.py [--chunks 20000] [--queries 50]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sysconfig
import time
from pathlib import Path

from codealign.data.retrieval import BM25Retriever, chunk_text, code_tokens


def site_chunks(limit: int):
    root = Path(sysconfig.get_paths()["purelib"])
    chunks = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            if not name.endswith(".py"):
                continue
            path = Path(dirpath, name)
            try:
                text = path.read_text(encoding="utf-8")
            except (UnicodeDecodeError, OSError):
                continue
            chunks += chunk_text(str(path.relative_to(root)), text)
            if len(chunks) >= limit:
                return root, chunks[:limit]
    return root, chunks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=20000)
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    from rank_bm25 import BM25Okapi

    root, chunks = site_chunks(args.chunks)
    rng = random.Random(args.seed)
    queries = ["".join(c.text.splitlines(keepends=True)[:8]) for c in rng.sample(chunks, args.queries)]

    t0 = time.perf_counter()
    ours = BM25Retriever(chunks)
    ours_index = time.perf_counter() - t0
    t0 = time.perf_counter()
    baseline = BM25Okapi([code_tokens(c.text) or ["\0empty"] for c in chunks])
    base_index = time.perf_counter() - t0

    ours_lat, base_lat, agreement = [], [], []
    for q in queries:
        t0 = time.perf_counter()
        hits = ours.search(q, k=5)
        ours_lat.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        scores = baseline.get_scores(code_tokens(q))
        top = sorted(range(len(scores)), key=lambda i: (-scores[i], i))[:5]
        base_lat.append(time.perf_counter() - t0)
        ours_top = {(h.path, h.start_line) for h, _ in hits}
        base_top = {(chunks[i].path, chunks[i].start_line) for i in top}
        agreement.append(len(ours_top & base_top) / 5)

    ratio = statistics.median(base_lat) / statistics.median(ours_lat)
    print(f"corpus: {len(chunks)} chunks of {root} (20-line windows, stride 10); {len(queries)} queries")
    print(f"{'retriever':<22} {'index s':>8} {'median ms/query':>16} {'mean ms/query':>14}")
    print(f"{'codealign (bm25s)':<22} {ours_index:8.2f} {1000 * statistics.median(ours_lat):16.3f} "
          f"{1000 * statistics.fmean(ours_lat):14.3f}")
    print(f"{'rank-bm25 (Okapi)':<22} {base_index:8.2f} {1000 * statistics.median(base_lat):16.3f} "
          f"{1000 * statistics.fmean(base_lat):14.3f}")
    print(f"speed-up (median latency): {ratio:.0f}x (target >= 100x)")
    print(f"top-5 agreement: {100 * statistics.fmean(agreement):.1f} % mean overlap")


if __name__ == "__main__":
    main()
