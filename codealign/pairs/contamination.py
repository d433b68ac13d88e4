"""Contamination guard: training data (pairs, SFT rows) checked against benchmark tasks.

Two texts overlap when they are equal after whitespace normalisation (``exact``) or when the Jaccard
similarity of their token n-gram sets reaches ``threshold`` (``near``). Prompts are compared with prompts
and solutions with solutions (a pair's chosen and rejected, an SFT row's completion; a benchmark task's
reference). A training item whose task id is a benchmark task id is reported too (``task_id``).

Solutions are also compared as normalised code (:func:`canonical_code`: every identifier renamed by its
order of first appearance, numbers and operators kept), so a reference whose module and signal names were
changed is caught however its prompt was paraphrased: equal normalised code is ``renamed``, and ``near``
takes the higher of the raw and the normalised similarity. What it costs: tiny designs that differ only in
names (an AND gate here and there) match too. Measured by ``benchmarks/contamination_threshold.py``
(docs/pairs.md quotes it) on the procedural Verilog tasks against VerilogEval, which share such designs.

The check is exhaustive over the given texts (an inverted n-gram index, no sampling), so a report with no
overlaps means none at this threshold; it says nothing about paraphrases below it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping

from codealign.pairs.pool import normalize_text
from codealign.types import Pair, Task

_TOKEN = re.compile(r"\w+|[^\w\s]")
SOLUTION_FIELDS = ("ref", "reference", "canonical_solution", "solution")


@dataclass(frozen=True)
class Overlap:
    """One training item that overlaps one benchmark task."""

    source: str
    index: int
    task_id: str
    benchmark_id: str
    kind: str
    field: str
    similarity: float


@dataclass
class ContaminationReport:
    overlaps: list[Overlap] = field(default_factory=list)
    checked_pairs: int = 0
    checked_sft_rows: int = 0
    benchmark_tasks: int = 0

    @property
    def contaminated(self) -> bool:
        return bool(self.overlaps)

    def flagged(self, source: str) -> dict[int, Overlap]:
        """Index of each flagged item of ``source`` (``pairs`` or ``sft``) → its first overlap."""
        found: dict[int, Overlap] = {}
        for overlap in self.overlaps:
            if overlap.source == source:
                found.setdefault(overlap.index, overlap)
        return found

    def message(self) -> str:
        """One loud line when contaminated, else a quiet one."""
        if not self.overlaps:
            return (f"contamination check: no overlap between {self.checked_pairs} pairs / "
                    f"{self.checked_sft_rows} SFT rows and {self.benchmark_tasks} benchmark tasks")
        kinds = sorted({o.kind for o in self.overlaps})
        tasks = sorted({o.benchmark_id for o in self.overlaps})
        items = {(o.source, o.index) for o in self.overlaps}
        shown = ", ".join(tasks[:5]) + (" ..." if len(tasks) > 5 else "")
        return (f"WARNING: CONTAMINATED: {len(items)} training item(s) overlap {len(tasks)} benchmark task(s) "
                f"({'/'.join(kinds)}): {shown}. Results on these benchmark tasks are not evidence of skill.")

    def to_dict(self) -> dict[str, Any]:
        return {
            "contaminated": self.contaminated,
            "overlaps": len(self.overlaps),
            "pairs_flagged": len(self.flagged("pairs")),
            "sft_rows_flagged": len(self.flagged("sft")),
            "benchmark_tasks_hit": len({o.benchmark_id for o in self.overlaps}),
            "benchmark_tasks": self.benchmark_tasks,
        }


def canonical_code(text: str) -> str:
    """``text`` with every identifier (keywords too: this knows no language) replaced by ``_K`` for its
    ``K``-th first appearance; numbers, operators and punctuation kept. Two texts have the same canonical code
    exactly when one is the other with its names consistently renamed (whitespace aside)."""
    names: dict[str, str] = {}
    return " ".join(tok if not (tok[0].isalpha() or tok[0] == "_") else names.setdefault(tok, f"_{len(names)}")
                    for tok in _TOKEN.findall(text))


def _shingles(text: str, n: int) -> frozenset:
    tokens = _TOKEN.findall(text)
    if len(tokens) < n:
        return frozenset([tuple(tokens)]) if tokens else frozenset()
    return frozenset(tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1))


def _benchmark_texts(item: Any) -> tuple[str, str, list[str]]:
    if isinstance(item, Task):
        solutions = [item.assets[k] for k in SOLUTION_FIELDS if isinstance(item.assets.get(k), str)]
        return item.task_id, item.prompt, solutions
    if isinstance(item, Mapping):
        solutions = [item[k] for k in SOLUTION_FIELDS if isinstance(item.get(k), str)]
        assets = item.get("assets")
        if isinstance(assets, Mapping):
            solutions += [assets[k] for k in SOLUTION_FIELDS if isinstance(assets.get(k), str)]
        return str(item.get("task_id", "")), str(item.get("prompt", "")), solutions
    raise TypeError(f"benchmark items must be Task or dict, got {type(item).__name__}")


def _sft_texts(row: Any) -> tuple[str, str, list[str]]:
    if isinstance(row, Mapping) and isinstance(row.get("messages"), list):
        user = [m.get("content", "") for m in row["messages"] if m.get("role") != "assistant"]
        answer = [m.get("content", "") for m in row["messages"] if m.get("role") == "assistant"]
        return str(row.get("task_id", "")), "\n".join(user), ["\n".join(answer)]
    if isinstance(row, Mapping):
        solution = row.get("completion", row.get("text", ""))
        return str(row.get("task_id", "")), str(row.get("prompt", "")), [str(solution)]
    raise TypeError(f"SFT rows must be dicts, got {type(row).__name__}")


class _View:
    """Texts under one transformation: their normalised forms (for equality) and n-gram index."""

    def __init__(self, transform: Callable[[str], str], equal_kind: str, ngram: int):
        self.transform, self.equal_kind, self.ngram = transform, equal_kind, ngram
        self.exact: dict[str, str] = {}
        self.shingles: dict[str, frozenset] = {}
        self.postings: dict[tuple, list[str]] = {}

    def add(self, key: str, text: str) -> None:
        text = self.transform(text)
        self.exact.setdefault(normalize_text(text), key)
        grams = _shingles(text, self.ngram)
        self.shingles[key] = grams
        for gram in grams:
            self.postings.setdefault(gram, []).append(key)

    def equal(self, text: str) -> str | None:
        return self.exact.get(normalize_text(self.transform(text)))

    def similarities(self, text: str) -> dict[str, float]:
        grams = _shingles(self.transform(text), self.ngram)
        shared: dict[str, int] = {}
        for gram in grams:
            for key in self.postings.get(gram, ()):
                shared[key] = shared.get(key, 0) + 1
        return {key: inter / (len(grams) + len(self.shingles[key]) - inter) for key, inter in shared.items()}


class _Index:
    def __init__(self, ngram: int, *, code: bool = False):
        self.views = [_View(lambda t: t, "exact", ngram)]
        if code:
            self.views.append(_View(canonical_code, "renamed", ngram))

    def add(self, key: str, text: str) -> None:
        if text.strip():
            for view in self.views:
                view.add(key, text)

    def best(self, text: str, threshold: float) -> tuple[str, str, float] | None:
        if not text.strip():
            return None
        for view in self.views:
            hit = view.equal(text)
            if hit is not None:
                return hit, view.equal_kind, 1.0
        similarity: dict[str, float] = {}
        for view in self.views:
            for key, value in view.similarities(text).items():
                similarity[key] = max(value, similarity.get(key, 0.0))
        key = max(similarity, key=similarity.get, default=None)
        return (key, "near", similarity[key]) if key is not None and similarity[key] >= threshold else None


def check_contamination(
    benchmark: Iterable[Any],
    pairs: Iterable[Pair] = (),
    sft_rows: Iterable[Any] = (),
    threshold: float = 0.8,
    ngram: int = 5,
    normalise_code: bool = True,
) -> ContaminationReport:
    """Every pair and SFT row compared with every benchmark task (Task objects or dicts with ``task_id``,
    ``prompt`` and a solution field such as ``ref``). Overlap kinds: ``exact``, ``renamed`` (solutions equal
    after :func:`canonical_code`), ``near`` (similarity at least ``threshold``) and ``task_id``.
    ``normalise_code=False`` compares raw solution text only (the guard before identifiers were normalised)."""
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    prompts, solutions = _Index(ngram), _Index(ngram, code=normalise_code)
    owner: dict[str, str] = {}
    bench_ids = set()
    count = 0
    for item in benchmark:
        task_id, prompt, refs = _benchmark_texts(item)
        bench_ids.add(task_id)
        prompts.add(f"{count}", prompt)
        for j, ref in enumerate(refs):
            solutions.add(f"{count}:{j}", ref)
            owner[f"{count}:{j}"] = task_id
        owner[f"{count}"] = task_id
        count += 1
    report = ContaminationReport(benchmark_tasks=count)

    def scan(source: str, index: int, task_id: str, prompt: str, answers: list[str]) -> None:
        if task_id and task_id in bench_ids:
            report.overlaps.append(Overlap(source, index, task_id, task_id, "task_id", "task_id", 1.0))
        hit = prompts.best(prompt, threshold)
        if hit:
            report.overlaps.append(Overlap(source, index, task_id, owner[hit[0]], hit[1], "prompt", hit[2]))
        for answer in answers:
            hit = solutions.best(answer, threshold)
            if hit:
                report.overlaps.append(Overlap(source, index, task_id, owner[hit[0]], hit[1], "solution", hit[2]))

    for i, pair in enumerate(pairs):
        report.checked_pairs += 1
        scan("pairs", i, pair.task_id, pair.prompt, [pair.chosen, pair.rejected])
    for i, row in enumerate(sft_rows):
        report.checked_sft_rows += 1
        scan("sft", i, *_sft_texts(row))
    return report
