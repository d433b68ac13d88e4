"""Reference log-probabilities cached on disk, keyed by the reference model and the tokenized data.

TRL's ``precompute_ref_log_probs`` computes the reference model's log-probs of every pair once, before
training, and keeps them in a ``datasets`` cache file whose key does not survive a new process for in-memory
datasets. This cache makes them survive: a rerun or a resumed stage with the same reference weights and the
same tokenized pairs (and the same masking) reads them back instead of running the reference model again.

The key is ``sha256(model fingerprint, data fingerprint)``; the model fingerprint is TRL's hash of the
reference's state dict, the data fingerprint hashes the token ids and every setting that changes which
tokens are scored. A file holds two float lists in dataset order and is written atomically.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Iterable, Sequence

from codealign.jsonl import write_text_atomic


def data_fingerprint(rows: Iterable[dict[str, Any]], settings: dict[str, Any]) -> str:
    """Hash of the token ids of every pair (``prompt_ids``, ``chosen_ids``, ``rejected_ids``, in order)
    and of ``settings`` (anything that changes the scored tokens: masking, ``max_length``, truncation)."""
    h = hashlib.sha256(json.dumps(settings, sort_keys=True).encode())
    for row in rows:
        for key in ("prompt_ids", "chosen_ids", "rejected_ids"):
            h.update(key.encode())
            h.update(json.dumps(list(row[key])).encode())
    return h.hexdigest()


class RefLogpCache:
    """A folder of ``<key>.json`` files, one per (reference model, data) combination."""

    def __init__(self, directory: str | os.PathLike):
        self.directory = Path(directory)

    @staticmethod
    def key(model_fingerprint: str, data_fp: str) -> str:
        return hashlib.sha256(f"{model_fingerprint}\0{data_fp}".encode()).hexdigest()[:32]

    def path(self, key: str) -> Path:
        return self.directory / f"{key}.json"

    def load(self, key: str, n_rows: int) -> tuple[list[float], list[float]] | None:
        """The cached (chosen, rejected) log-prob lists, or None when absent, unreadable or of another length."""
        p = self.path(key)
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
            chosen, rejected = data["ref_chosen_logps"], data["ref_rejected_logps"]
        except (OSError, ValueError, KeyError, TypeError):
            return None
        if len(chosen) != n_rows or len(rejected) != n_rows:
            return None
        return [float(x) for x in chosen], [float(x) for x in rejected]

    def save(self, key: str, chosen: Sequence[float], rejected: Sequence[float]) -> Path:
        p = self.path(key)
        payload = {"ref_chosen_logps": [float(x) for x in chosen], "ref_rejected_logps": [float(x) for x in rejected]}
        write_text_atomic(p, json.dumps(payload))
        return p
