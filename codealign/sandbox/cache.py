"""A content-addressed verdict cache in SQLite.

The key hashes everything a verdict depends on: the judge's fingerprint (its domain's code and assets, the
toolchain versions, the backend and the domain options: :meth:`~codealign.domains.base.Domain.fingerprint`),
the limits, the task's assets and the candidate text as the domain normalises it (identity unless the domain
proves a normalisation changes nothing). A verdict of one backend is never served to a run on another.
SANDBOX_ERROR is never stored: it blames the harness, not the candidate.

Guarantees: each insert is one SQLite transaction, so a process killed mid-write leaves either the old state
or the new row, never a torn one; WAL mode and a busy timeout let two runs share one cache file. Not
guaranteed: a toolchain upgraded in place without a version change keeps old verdicts (``prune`` clears), and
so does a change to code outside the fingerprinted files that changes verdicts.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from codealign.errors import UserError
from codealign.types import Candidate, ExecResult, Task, Verdict


def default_cache_path() -> Path:
    home = Path(os.environ.get("CODEALIGN_HOME", Path.home() / ".cache" / "codealign"))
    return home / "verdicts.sqlite"


class VerdictCache:
    """Verdicts by content key. Thread-safe (one connection behind a lock)."""

    def __init__(self, path: str | os.PathLike | None = None, *, create: bool = True):
        """Opens the cache at ``path`` (default: :func:`default_cache_path`); without ``create``, a missing
        file is a :class:`~codealign.errors.UserError` instead of a new empty cache (a mistyped path)."""
        self.path = Path(path) if path else default_cache_path()
        if not create and not self.path.is_file():
            raise UserError(f"{self.path}: no such cache file (nothing has been cached there; check --cache)")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, timeout=60, check_same_thread=False, isolation_level=None)
        # Two processes opening a new cache at once: switching it to WAL can fail at once with "locked"
        # (SQLite does not wait on the busy timeout for that), so retry within the same 60 s.
        deadline = time.monotonic() + 60
        while True:
            try:
                self._db.execute("PRAGMA journal_mode=WAL")
                break
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=60000")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS verdicts (key TEXT PRIMARY KEY, domain TEXT NOT NULL, "
            "verdict TEXT NOT NULL, result TEXT NOT NULL, created REAL NOT NULL)"
        )

    @staticmethod
    def key(judge: str, limits: dict[str, Any], task: Task, text: str) -> str:
        """The key of a verdict on ``text`` for ``task`` by the judge whose fingerprint is ``judge``."""
        h = hashlib.sha256()
        for part in (judge, json.dumps(limits, sort_keys=True), task.asset_hash()):
            h.update(part.encode())
            h.update(b"\0")
        h.update(text.encode("utf-8", "surrogatepass"))
        return h.hexdigest()

    def get(self, key: str, task: Task, candidate: Candidate) -> ExecResult | None:
        with self._lock:
            row = self._db.execute("SELECT result FROM verdicts WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        data = json.loads(row[0])
        data.update(task_id=task.task_id, candidate_id=candidate.candidate_id, completion=candidate.completion,
                    cached=True)
        return ExecResult.from_dict(data)

    def put(self, key: str, domain_name: str, result: ExecResult) -> bool:
        """Store a verdict; returns False (and stores nothing) for SANDBOX_ERROR."""
        if result.verdict is Verdict.SANDBOX_ERROR:
            return False
        data = result.to_dict()
        for field in ("task_id", "candidate_id", "completion", "cached"):
            data.pop(field, None)
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO verdicts (key, domain, verdict, result, created) VALUES (?, ?, ?, ?, ?)",
                (key, domain_name, result.verdict.value, json.dumps(data), time.time()),
            )
        return True

    def stats(self) -> dict[str, Any]:
        with self._lock:
            total = self._db.execute("SELECT COUNT(*) FROM verdicts").fetchone()[0]
            by_domain = dict(self._db.execute("SELECT domain, COUNT(*) FROM verdicts GROUP BY domain").fetchall())
            by_verdict = dict(self._db.execute("SELECT verdict, COUNT(*) FROM verdicts GROUP BY verdict").fetchall())
        size = sum(p.stat().st_size for p in self.path.parent.glob(self.path.name + "*") if p.is_file())
        return {"path": str(self.path), "entries": total, "bytes": size, "by_domain": by_domain,
                "by_verdict": by_verdict}

    def prune(self, older_than_days: float | None = None, domain: str | None = None) -> int:
        """Delete entries (all, or older than N days, or of one domain); returns how many."""
        clauses, args = [], []
        if older_than_days is not None:
            clauses.append("created < ?")
            args.append(time.time() - older_than_days * 86400)
        if domain is not None:
            clauses.append("domain = ?")
            args.append(domain)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        with self._lock:
            n = self._db.execute(f"DELETE FROM verdicts{where}", args).rowcount
            self._db.execute("VACUUM")
        return n

    def close(self) -> None:
        with self._lock:
            self._db.close()
