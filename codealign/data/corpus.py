"""SynthCoder corpus construction: FIM examples from a repository, with cross-file context, anti-repetition
and deduplication, as JSONL rows a trainer reads directly.

For every source file (sorted; every language with a syntax, by extension) spans are drawn with a per-file seeded
RNG (:mod:`codealign.data.spans`); each example's context is the call-graph definitions the file uses
(:mod:`codealign.data.callgraph`) and then BM25 chunks of the other files retrieved with the code around the
cursor (:mod:`codealign.data.retrieval`), added most relevant first while they fit ``context_tokens``.

Rows (``corpus.jsonl``): ``prompt`` (FIM prompt with context, family sentinels) and ``completion`` (the middle
plus the family's end-of-text token) — TRL's prompt/completion columns — plus ``task_id``, ``repo``, ``path``,
``kind``, ``fill_type``, ``layout``, ``family``, ``prefix``, ``middle``, ``suffix``, ``span``,
``context_tokens``, ``context_items``.

Anti-repetition: a middle of at least ``repeat_min_chars`` non-blank characters whose lines match (exactly,
or with ``difflib`` ratio ≥ ``repeat_similarity`` after whitespace normalisation) a window of the context,
prefix or suffix is a *repeat*. Repeats are left out of the SFT rows and written to ``repeats.jsonl`` as
candidate rows (``task_id``, ``completion`` = the matching text, with the FIM fields) to be executed like any
candidate; the builder only marks them — it never decides they are wrong.

Dedup: exact duplicates (same prompt and completion) and near duplicates (same span kind and Jaccard ≥
``near_dup_jaccard`` over token 3-gram shingles of the middle and the 10 lines around it, found with MinHash
LSH and then checked exactly) keep the first row in file order; different kinds cut at the same place are
different examples. Everything is deterministic for a given seed and repository.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import os
import random
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from codealign.data import layouts
from codealign.fim import FILL_TYPES
from codealign.data.callgraph import RepoIndex
from codealign.data.retrieval import BM25Retriever, Chunk, chunk_text, code_tokens
from codealign.data.spans import SPAN_KINDS, Source, Span, cut, language_for, languages, sample_spans
from codealign.errors import UserError
from codealign.jsonl import write_jsonl

_KIND_TO_FILL = {kind: fill for fill, kind in FILL_TYPES.items()}
_SKIP_DIRS = {".git", "__pycache__", ".venv", "venv", "node_modules", ".tox", "build", "dist", ".mypy_cache"}
_TOKEN = re.compile(r"\w+|[^\w\s]")
_HEADER_TOKENS = 8
"""Allowance for one context header's sentinel and separators (``<file_sep>`` or ``# `` plus newlines)."""


def estimate_tokens(text: str) -> int:
    """A tokenizer-free token estimate: words and punctuation marks (close to BPE counts for code)."""
    return len(_TOKEN.findall(text))


@dataclass
class CorpusConfig:
    """How a repository becomes FIM rows."""

    family: str = "starcoder"
    """FIM sentinel family: starcoder, qwen2.5-coder, deepseek-coder or codellama."""
    layout: str = "psm"
    """psm, spm (families that have it) or mixed (SPM with probability ``spm_rate``)."""
    spm_rate: float = 0.5
    """Share of SPM examples under ``layout='mixed'``."""
    per_kind: int = 2
    """Spans drawn per kind per file."""
    kinds: tuple[str, ...] = SPAN_KINDS
    """Span kinds to draw (see :data:`codealign.data.spans.SPAN_KINDS`)."""
    max_middle_chars: int = 600
    """Longest middle kept."""
    context_tokens: int = 1024
    """Budget (estimated tokens) for cross-file context per example; 0 disables context."""
    retrieval_k: int = 4
    """BM25 chunks considered per example."""
    chunk_lines: int = 20
    """Sliding-window chunk size for retrieval, in lines."""
    chunk_stride: int = 10
    """Step between chunks, in lines."""
    query_lines: int = 8
    """Lines before and after the cursor used as the retrieval query."""
    repeat_min_chars: int = 24
    """Shortest middle (non-blank characters) checked for repetition."""
    repeat_similarity: float = 0.9
    """difflib ratio at or above which a middle counts as a copy of a context window."""
    near_dup_jaccard: float = 0.85
    """Jaccard similarity at or above which two examples are near duplicates."""
    max_file_bytes: int = 200_000
    """Larger files are skipped (generated or vendored code)."""
    on_parse_error: str = "error"
    """error: a file that does not parse stops the build (UserError); skip: it is left out and counted."""
    seed: int = 0
    """Seed of every random choice."""
    repo_name: str = ""
    """Name used in the context header and task ids (default: the folder name)."""

    def __post_init__(self) -> None:
        layouts.resolve_format(self.family, self.layout)
        unknown = [k for k in self.kinds if k not in SPAN_KINDS]
        if unknown:
            raise UserError(f"unknown span kind(s) {', '.join(unknown)}; choose from: {', '.join(SPAN_KINDS)}")
        self.kinds = tuple(self.kinds)
        if self.on_parse_error not in ("error", "skip"):
            raise UserError(f"on_parse_error must be 'error' or 'skip', got {self.on_parse_error!r}")
        for name in ("per_kind", "max_middle_chars", "retrieval_k", "chunk_lines", "chunk_stride", "query_lines",
                     "repeat_min_chars", "max_file_bytes"):
            if getattr(self, name) <= 0:
                raise UserError(f"{name} must be positive, got {getattr(self, name)!r}")
        if self.context_tokens < 0:
            raise UserError(f"context_tokens must be >= 0, got {self.context_tokens!r}")
        for name in ("spm_rate", "repeat_similarity", "near_dup_jaccard"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise UserError(f"{name} must be in [0, 1], got {getattr(self, name)!r}")


@dataclass
class Corpus:
    """The rows built from one repository and what happened on the way."""

    rows: list[dict] = field(default_factory=list)
    repeats: list[dict] = field(default_factory=list)
    stats: dict = field(default_factory=dict)

    def write(self, out: str | os.PathLike, repeats_out: str | os.PathLike | None = None) -> None:
        """Write the SFT rows (and the repeat candidates, default ``<out stem>.repeats.jsonl``) atomically."""
        out = Path(out)
        repeats_out = Path(repeats_out) if repeats_out else out.with_name(out.stem + ".repeats.jsonl")
        write_jsonl(repeats_out, self.repeats)
        write_jsonl(out, self.rows)


def load_sources(repo: str | os.PathLike, config: CorpusConfig) -> tuple[dict[str, Source], list[str]]:
    """Parsed files of ``repo`` by relative path, and the paths skipped because they do not parse."""
    root = Path(repo)
    if not root.is_dir():
        raise UserError(f"{root}: repository folder does not exist")
    sources, skipped = {}, []
    for path in sorted(_repo_files(root)):
        rel = path.relative_to(root).as_posix()
        language = language_for(rel)
        if language is None or path.stat().st_size > config.max_file_bytes:
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            if config.on_parse_error == "error":
                raise UserError(f"{path}: not valid UTF-8") from None
            skipped.append(rel)
            continue
        try:
            sources[rel] = Source(text, language, str(path))
        except UserError:
            if config.on_parse_error == "error":
                raise
            skipped.append(rel)
    if not sources:
        raise UserError(f"{root}: no {', '.join(languages())} files to build a corpus from")
    return sources, skipped


def _repo_files(root: Path):
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS and not d.startswith("."))
        for name in filenames:
            yield Path(dirpath, name)


class ContextBuilder:
    """Cross-file context for a cursor in a file: call-graph definitions first, then BM25 chunks."""

    def __init__(self, sources: dict[str, Source], config: CorpusConfig):
        self.config = config
        self.index = RepoIndex(sources)
        chunks: list[Chunk] = []
        for path, src in sources.items():
            chunks += chunk_text(path, src.text, window=config.chunk_lines, stride=config.chunk_stride)
        self.retriever = BM25Retriever(chunks)
        self._defs = {path: self.index.context_for(path) for path in sources}

    def build(self, path: str, prefix: str, suffix: str) -> list[tuple[str, str, str]]:
        """[(path, text, origin)] most relevant first, origin callgraph or bm25; the rendered context (file
        headers and the repository header included, as estimated by :func:`estimate_tokens`) fits the budget."""
        budget = self.config.context_tokens - _HEADER_TOKENS - estimate_tokens(self.config.repo_name)
        items: list[tuple[str, str, str]] = []
        seen: set[str] = set()
        for d in self._defs[path]:
            budget = self._add(items, seen, d.path, d.text, "callgraph", budget)
        n = self.config.query_lines
        query = "\n".join(prefix.splitlines()[-n:] + suffix.splitlines()[:n])
        for chunk, _ in self.retriever.search(query, k=self.config.retrieval_k, exclude={path}):
            budget = self._add(items, seen, chunk.path, chunk.text, "bm25", budget)
        return items

    @staticmethod
    def _add(items, seen, path, text, origin, budget) -> int:
        key = hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()
        cost = estimate_tokens(path) + estimate_tokens(text) + _HEADER_TOKENS
        if key in seen or cost > budget:
            return budget
        seen.add(key)
        items.append((path, text, origin))
        return budget - cost


def find_repeat(middle: str, places: list[tuple[str, str]], *, min_chars: int, similarity: float) -> dict | None:
    """Where ``middle`` copies text already present: {where, text, similarity} for the best match at or
    above ``similarity`` among ``places`` [(name, text)], or None (middles shorter than ``min_chars``
    non-blank characters are never repeats)."""
    norm_mid = _normalize(middle)
    if len(norm_mid.replace(" ", "").replace("\n", "")) < min_chars:
        return None
    mid_lines = norm_mid.split("\n")
    best = None
    for where, text in places:
        if norm_mid in _normalize(text):
            return {"where": where, "text": _original_window(text, norm_mid), "similarity": 1.0}
        raw_lines = text.splitlines()
        lines = [_normalize(ln) for ln in raw_lines]
        n = len(mid_lines)
        for i in range(0, max(0, len(lines) - n + 1)):
            window = "\n".join(lines[i:i + n])
            matcher = difflib.SequenceMatcher(None, norm_mid, window, autojunk=False)
            if matcher.real_quick_ratio() < similarity or matcher.quick_ratio() < similarity:
                continue
            ratio = matcher.ratio()
            if ratio >= similarity and (best is None or ratio > best["similarity"]):
                best = {"where": where, "text": _reindent("\n".join(raw_lines[i:i + n]), middle), "similarity": ratio}
    return best


def _normalize(text: str) -> str:
    return "\n".join(" ".join(ln.split()) for ln in text.strip().splitlines() if ln.strip())


def _original_window(text: str, norm_mid: str) -> str:
    lines = text.splitlines()
    n = norm_mid.count("\n") + 1
    for i in range(len(lines)):
        if _normalize("\n".join(lines[i:i + n])) == norm_mid or norm_mid in _normalize(lines[i]):
            return "\n".join(lines[i:i + n]) if n > 1 else norm_mid
    return norm_mid


def _reindent(text: str, like: str) -> str:
    """``text`` with its first line's indentation removed and later lines shifted like ``like``'s."""
    lines = text.splitlines()
    if not lines:
        return text
    first = len(lines[0]) - len(lines[0].lstrip())
    like_lines = like.splitlines()
    target = len(like_lines[1]) - len(like_lines[1].lstrip()) if len(like_lines) > 1 else first
    second = len(lines[1]) - len(lines[1].lstrip()) if len(lines) > 1 else first
    shift = target - second
    out = [lines[0].lstrip()]
    for ln in lines[1:]:
        out.append((" " * shift + ln) if shift >= 0 else ln[min(-shift, len(ln) - len(ln.lstrip())):])
    return "\n".join(out)


def build_corpus(repo: str | os.PathLike, config: CorpusConfig | None = None) -> Corpus:
    """FIM rows for every file of ``repo`` (see the module docstring). Raises UserError for a missing folder,
    a file that does not parse (unless ``on_parse_error='skip'``) or bad settings; writes nothing."""
    config = config or CorpusConfig()
    root = Path(repo)
    if not config.repo_name:
        config = dataclasses.replace(config, repo_name=root.resolve().name)
    repo_name = config.repo_name
    sources, skipped = load_sources(root, config)
    fmt = layouts.resolve_format(config.family, config.layout)
    contexts = ContextBuilder(sources, config)
    rows, repeats = [], []
    stats = {"files": len(sources), "files_skipped": skipped, "spans": {k: 0 for k in config.kinds},
             "repeats": {k: 0 for k in config.kinds}, "context_tokens": []}
    for path, source in sources.items():
        rng = random.Random(f"{config.seed}:{path}")
        for span in sample_spans(source, rng, per_kind=config.per_kind, kinds=config.kinds,
                                 max_chars=config.max_middle_chars):
            row = _example(repo_name, path, source, span, fmt, contexts, config, rng)
            stats["spans"][span.kind] += 1
            stats["context_tokens"].append(row["context_tokens"])
            places = [("context", text) for _, text, _ in row.pop("_context")]
            places += [("prefix", row["prefix"]), ("suffix", row["suffix"])]
            repeat = find_repeat(row["middle"], places, min_chars=config.repeat_min_chars,
                                 similarity=config.repeat_similarity)
            if repeat is None:
                rows.append(row)
                continue
            stats["repeats"][span.kind] += 1
            repeats.append({**{k: row[k] for k in ("task_id", "prompt", "prefix", "suffix", "middle", "path", "kind")},
                            "completion": repeat["text"], "repeat_of": repeat["where"],
                            "similarity": round(repeat["similarity"], 4), "source": "anti_repetition",
                            "identical_to_middle": repeat["text"].strip() == row["middle"].strip()})
    kept, exact, near = deduplicate(rows, config.near_dup_jaccard)
    stats.update(examples=len(kept), exact_duplicates=exact, near_duplicates=near, repeat_candidates=len(repeats))
    return Corpus(kept, repeats, stats)


def _example(repo_name, path, source, span: Span, fmt, contexts: ContextBuilder, config, rng) -> dict:
    prefix, middle, suffix = cut(source.text, span, path)
    items = contexts.build(path, prefix, suffix)
    context = fmt.repo_context([(p, t) for p, t, _ in items], repo=repo_name) if items else ""
    prompt, layout = layouts.render(fmt, prefix, suffix, layout=config.layout, context=context, rng=rng,
                                spm_rate=config.spm_rate)
    digest = hashlib.sha1(f"{path}:{span.start}:{span.end}:{span.kind}".encode()).hexdigest()[:10]
    return {
        "task_id": f"{repo_name}/{path}#{span.kind}-{digest}",
        "prompt": prompt,
        "completion": middle + fmt.eot,
        "repo": repo_name, "path": path, "language": source.language, "kind": span.kind,
        "fill_type": _KIND_TO_FILL.get(span.kind, ""), "layout": layout, "family": fmt.family,
        "prefix": prefix, "middle": middle, "suffix": suffix, "span": span.to_dict(),
        "context_tokens": estimate_tokens(context),
        "context_items": [{"path": p, "origin": o} for p, _, o in items],
        "_context": items,
    }


def _shingles(row: dict) -> set[int]:
    around = "\n".join(row["prefix"].splitlines()[-10:] + [row["middle"]] + row["suffix"].splitlines()[:10])
    toks = code_tokens(around)
    return {zlib.crc32(" ".join(toks[i:i + 3]).encode()) for i in range(max(1, len(toks) - 2))}


def deduplicate(rows: list[dict], threshold: float, *, bands: int = 16,
                rows_per_band: int = 4) -> tuple[list[dict], int, int]:
    """(kept rows, exact duplicates dropped, near duplicates dropped); the first of each group is kept."""
    kept, exact, near = [], 0, 0
    seen: set[str] = set()
    buckets: dict[tuple, list[int]] = {}
    shingle_sets: list[set[int]] = []
    perms = _permutations(bands * rows_per_band)
    for row in rows:
        key = hashlib.sha256(f"{row['prompt']}\0{row['completion']}".encode("utf-8", "surrogatepass")).hexdigest()
        if key in seen:
            exact += 1
            continue
        seen.add(key)
        sh = _shingles(row)
        sig = [min(((a * x + b) % _PRIME) for x in sh) for a, b in perms]
        keys = [(row.get("kind", ""), i, tuple(sig[i * rows_per_band:(i + 1) * rows_per_band])) for i in range(bands)]
        candidates = {j for k in keys for j in buckets.get(k, ())}
        if any(_jaccard(sh, shingle_sets[j]) >= threshold for j in candidates):
            near += 1
            continue
        index = len(kept)
        kept.append(row)
        shingle_sets.append(sh)
        for k in keys:
            buckets.setdefault(k, []).append(index)
    return kept, exact, near


_PRIME = (1 << 61) - 1


def _permutations(n: int) -> list[tuple[int, int]]:
    rng = random.Random(12345)
    return [(rng.randrange(1, _PRIME), rng.randrange(0, _PRIME)) for _ in range(n)]


def _jaccard(a: set[int], b: set[int]) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0
