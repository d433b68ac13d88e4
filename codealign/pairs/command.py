"""``codealign pairs`` as a library call: verdicts JSONL → pairs (+ weights, curriculum stages, summary,
histogram) as JSONL or a Hugging Face ``datasets`` folder; :func:`make_pairs` does the work. Either output is
written atomically, never half, and :func:`read_pairs` reads both back."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable, Sequence

from codealign.errors import UserError
from codealign.jsonl import read_jsonl, write_jsonl
from codealign.pairs.curriculum import CurriculumConfig
from codealign.pairs.make import PairsConfig, flip_summary, make_pairs
from codealign.pairs.summary import gap_histogram, summarize
from codealign.pairs.weights import MadpoConfig
from codealign.types import Candidate, ExecResult, Pair, Task

FORMATS = ("jsonl", "hf")
"""Pairs outputs: a JSONL file, or a folder written by ``datasets.Dataset.save_to_disk`` (``metadata`` as a
JSON string column, since rows carry different metadata keys)."""


def write_pairs(verdicts: str | os.PathLike, out: str | os.PathLike, config: PairsConfig, *,
                tasks: str | os.PathLike | None = None, candidates: str | os.PathLike | None = None,
                weights: MadpoConfig | None = None, stages: CurriculumConfig | None = None,
                histogram: str | os.PathLike | None = None, format: str = "jsonl", eval_fraction: float = 0.0,
                log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Pairs from the verdicts file (prompts from ``tasks``, candidate metadata from ``candidates``) written to
    ``out`` in ``format`` (see :data:`FORMATS`; ``eval_fraction`` and the prompt's form as in
    :func:`save_pairs`); the summary: what the strategy built, contamination, flip rate, histogram, pair
    statistics. ``log`` receives the contamination report."""
    if format not in FORMATS:
        raise UserError(f"unknown pairs format {format!r}; choose one of: {', '.join(FORMATS)}")
    results = read_jsonl(verdicts, ExecResult.from_dict)
    if not results:
        raise UserError(f"{verdicts}: no verdicts")
    if all(not r.completion for r in results):
        raise UserError(f"{verdicts}: verdict rows carry no completion text (run `codealign execute`)")
    task_rows = read_jsonl(tasks, Task.from_dict) if tasks else None
    candidate_rows = read_jsonl(candidates, Candidate.from_dict) if candidates else None
    made = make_pairs(results, task_rows, config, candidates=candidate_rows, weights=weights, stages=stages,
                      log=log or (lambda message: None))
    pairs = made.pairs
    summary: dict[str, Any] = {"verdicts": verdicts, "out": out, "build": made.build}
    if made.contamination is not None:
        summary["contamination"] = made.contamination
    if made.flip_rate is not None:
        summary["flip_rate"] = flip_summary(made.flip_rate)
    save_pairs(pairs, out, format, eval_fraction=eval_fraction, candidates=candidate_rows)
    summary["format"] = format
    if histogram:
        summary["histogram"] = gap_histogram(pairs, histogram)
    summary["summary"] = summarize(pairs)
    return summary


def save_pairs(pairs: Sequence[Pair], out: str | os.PathLike, format: str = "jsonl", *, eval_fraction: float = 0.0,
               candidates: Sequence[Candidate] | None = None) -> None:
    """Write ``pairs`` to ``out`` as JSONL or, with ``format="hf"``, as a ``datasets`` folder (replacing one
    already there only once the new one is complete) that plain TRL ``DPOTrainer`` trains on.

    In the folder the prompt is what the model was sampled with: conversational (``prompt`` a list of
    system/user turns, ``chosen``/``rejected`` one assistant turn each, which TRL renders with the model's chat
    template) when ``candidates`` say they were sampled as chat turns (``prompt_format``), else text. Candidates
    sampled both ways are refused. ``eval_fraction`` in (0, 1): a ``DatasetDict`` with ``train`` and ``test``,
    split by task (a task's pairs are all on one side, chosen by a hash of its id, so the split is stable)."""
    if not 0 <= eval_fraction < 1:
        raise UserError(f"--eval-fraction is a fraction in [0, 1), got {eval_fraction}")
    if format == "jsonl":
        if eval_fraction:
            raise UserError("--eval-fraction needs --format hf (a datasets folder with train and test splits)")
        write_jsonl(out, pairs)
        return
    import datasets

    target = Path(out)
    if target.is_file():
        raise UserError(f"{out}: a file is in the way of the datasets folder")
    target.parent.mkdir(parents=True, exist_ok=True)
    chat = _sampled_as_chat(pairs, candidates)
    rows = [_hf_row(p, chat) for p in pairs]
    features = _features(datasets, chat)
    if eval_fraction:
        held = [_held_out(row["task_id"], eval_fraction) for row in rows]
        data: Any = datasets.DatasetDict({
            "train": datasets.Dataset.from_list([r for r, h in zip(rows, held) if not h], features=features),
            "test": datasets.Dataset.from_list([r for r, h in zip(rows, held) if h], features=features)})
    else:
        data = datasets.Dataset.from_list(rows, features=features)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        data.save_to_disk(str(staging / "data"))
        if target.exists():
            shutil.rmtree(target)
        os.replace(staging / "data", target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _sampled_as_chat(pairs: Sequence[Pair], candidates: Sequence[Candidate] | None) -> dict[str, str] | None:
    """None when the pairs' candidates were sampled as text (or are unknown); else task id → system message
    ("" for none) of candidates sampled as chat turns."""
    meta = {c.candidate_id: c.metadata for c in candidates or ()}
    forms: dict[str, set] = {}
    systems: dict[str, str] = {}
    for pair in pairs:
        for side in ("chosen_id", "rejected_id"):
            m = meta.get(pair.metadata.get(side, ""), {})
            if "prompt_format" in m:
                forms.setdefault(m["prompt_format"], set()).add(pair.task_id)
                systems.setdefault(pair.task_id, m.get("system") or "")
    if len(forms) > 1:
        raise UserError("the candidates were sampled both as chat turns and as text (prompt_format in their "
                        "metadata); write pairs of one kind per dataset")
    return systems if "chat" in forms else None


def _hf_row(pair: Pair, chat: dict[str, str] | None) -> dict[str, Any]:
    row = {**pair.to_dict(), "metadata": json.dumps(pair.metadata, sort_keys=True)}
    if chat is not None:
        system = chat.get(pair.task_id, "")
        row["prompt"] = ([{"role": "system", "content": system}] if system else []) \
            + [{"role": "user", "content": pair.prompt}]
        row["chosen"] = [{"role": "assistant", "content": pair.chosen}]
        row["rejected"] = [{"role": "assistant", "content": pair.rejected}]
    return row


def _held_out(task_id: str, fraction: float) -> bool:
    import hashlib

    return int(hashlib.sha256(task_id.encode()).hexdigest()[:8], 16) / 2**32 < fraction


def _features(datasets, chat: Any = None) -> Any:
    """The pairs columns' types, fixed so that an empty pairs list still saves a loadable dataset; ``chat``:
    prompt, chosen and rejected are lists of turns."""
    value = datasets.Value
    text: Any = [{"role": value("string"), "content": value("string")}] if chat is not None else value("string")
    return datasets.Features({
        "prompt": text, "chosen": text, "rejected": text,
        "task_id": value("string"), "margin": value("float64"), "weight": value("float64"),
        "rank": datasets.Sequence(value("int64")), "stage": value("int64"), "source": value("string"),
        "metadata": value("string")})


def read_pairs(path: str | os.PathLike) -> list[Pair]:
    """Pairs from a JSONL file or a ``datasets`` folder (``save_to_disk``; a DatasetDict's ``train`` split or
    its only one) with at least ``prompt``, ``chosen`` and ``rejected`` columns; ``metadata`` may be a JSON
    string (as :func:`save_pairs` writes it)."""
    if not Path(path).is_dir():
        return read_jsonl(path, Pair.from_dict)
    import datasets

    try:
        data = datasets.load_from_disk(str(path))
    except FileNotFoundError:
        raise UserError(f"{path}: a folder, but not one written by datasets' save_to_disk") from None
    if isinstance(data, datasets.DatasetDict):
        if "train" not in data and len(data) != 1:
            raise UserError(f"{path}: a DatasetDict with splits {', '.join(data)}; pairs are read from 'train'")
        data = data["train"] if "train" in data else next(iter(data.values()))
    pairs = []
    for i, row in enumerate(data):
        if isinstance(row.get("prompt"), list):  # conversational: the texts are the user's and assistant's turns
            row.update({key: (row[key] or [{}])[-1].get("content", "") for key in ("prompt", "chosen", "rejected")})
        metadata = row.pop("metadata", None)
        row["metadata"] = json.loads(metadata) if isinstance(metadata, str) else metadata or {}
        try:
            pairs.append(Pair.from_dict(row))
        except (TypeError, ValueError) as exc:
            raise UserError(f"{path}: row {i}: {exc}") from None
    return pairs
