"""BM25 retrieval over sliding-window chunks of a repository's files (bm25s: sparse matrices, ~0.2 ms/query on
20k chunks). ``rank-bm25`` is only the baseline measured in ``benchmarks/retrieval.py``.

Guaranteed: identical inputs give identical rankings (ties broken by chunk order); chunks never cross file
boundaries; a query never retrieves chunks of the files passed in ``exclude``. Not guaranteed: the same scores
as other BM25 implementations (bm25s's ``lucene`` variant is used; see the benchmark for top-5 agreement).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|\d+")
_CAMEL = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")


@dataclass(frozen=True)
class Chunk:
    """Lines ``[start_line, end_line)`` (0-based) of ``path``."""

    path: str
    start_line: int
    end_line: int
    text: str


def code_tokens(text: str) -> list[str]:
    """Lower-cased identifier tokens plus their snake_case / camelCase parts (``getUserName`` → getusername,
    get, user, name); numbers kept; punctuation and whitespace dropped."""
    out = []
    for word in _IDENT.findall(text):
        low = word.lower()
        out.append(low)
        parts = [p.lower() for piece in word.split("_") if piece for p in _CAMEL.findall(piece)]
        if len(parts) > 1:
            out.extend(parts)
    return out


def chunk_text(path: str, text: str, *, window: int = 20, stride: int = 10) -> list[Chunk]:
    """Sliding windows of ``window`` lines every ``stride`` lines; blank-only windows are skipped."""
    if window <= 0 or stride <= 0:
        raise ValueError(f"window and stride must be positive, got {window}, {stride}")
    lines = text.splitlines(keepends=True)
    chunks = []
    for start in range(0, max(1, len(lines)), stride):
        body = "".join(lines[start:start + window])
        if body.strip():
            chunks.append(Chunk(path, start, min(len(lines), start + window), body))
        if start + window >= len(lines):
            break
    return chunks


class BM25Retriever:
    """A BM25 index (bm25s) over chunks; :meth:`search` returns the best chunks for a piece of code."""

    def __init__(self, chunks: list[Chunk], *, k1: float = 1.5, b: float = 0.75):
        import bm25s

        self.chunks = list(chunks)
        self._index = bm25s.BM25(k1=k1, b=b)
        corpus = [code_tokens(c.text) or ["\0empty"] for c in self.chunks]
        if self.chunks:
            self._index.index(corpus, show_progress=False)

    def search(self, query: str, k: int = 5, *,
               exclude: frozenset[str] | set[str] = frozenset()) -> list[tuple[Chunk, float]]:
        """Up to ``k`` (chunk, score) pairs with score > 0, best first, skipping chunks of ``exclude`` paths."""
        return self.search_many([query], k, exclude=exclude)[0]

    def search_many(self, queries: list[str], k: int = 5, *,
                    exclude: frozenset[str] | set[str] = frozenset()) -> list[list[tuple[Chunk, float]]]:
        if not self.chunks:
            return [[] for _ in queries]
        tokens = [code_tokens(q) or ["\0empty"] for q in queries]
        want = min(len(self.chunks), k + self._excluded_count(exclude))
        ids, scores = self._index.retrieve(tokens, k=want, show_progress=False, n_threads=1)
        results = []
        for row_ids, row_scores in zip(ids, scores):
            ranked = sorted(zip(row_ids.tolist(), row_scores.tolist()), key=lambda p: (-p[1], p[0]))
            hits = [(self.chunks[i], s) for i, s in ranked if s > 0 and self.chunks[i].path not in exclude]
            results.append(hits[:k])
        return results

    def _excluded_count(self, exclude) -> int:
        return sum(1 for c in self.chunks if c.path in exclude) if exclude else 0
