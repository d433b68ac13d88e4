"""The judge's secret and the per-job seeds derived from it (host side only; nothing here enters a sandbox).

A job's drawn stimuli (the inputs a function task is called on) come from ``job_seed(task, candidate)``:
HMAC-SHA256 under the judge key of the task id, the task's call assets and the candidate's text. So the same
task and candidate always get the same draw (verdicts stay deterministic and cacheable), while the draw cannot
be known without the key, which lives outside every sandbox and every task file:

* ``$CODEALIGN_JUDGE_KEY`` (hex, at least 16 bytes) when set — to reproduce verdicts on another machine, and
  on every node of a Ray cluster (each node otherwise makes its own key, and the same job draws differently);
* else ``$CODEALIGN_HOME/judge.key`` (``~/.cache/codealign/judge.key``), 32 random bytes created once with mode
  0600 (atomically: concurrent first uses agree on one key).

Not guaranteed: the process backend runs jobs as the harness's uid when the harness is not root, and such a
job can read the key file (that backend is safe against accidents only); bwrap and docker show a job no home
folder.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from pathlib import Path

KEY_BYTES = 32


def key_path() -> Path:
    """Where the judge key is stored: ``$CODEALIGN_HOME/judge.key`` (default ``~/.cache/codealign``)."""
    return Path(os.environ.get("CODEALIGN_HOME") or Path.home() / ".cache" / "codealign") / "judge.key"


def judge_key() -> bytes:
    """The judge key (see the module docstring); ValueError for a malformed ``$CODEALIGN_JUDGE_KEY``."""
    env = os.environ.get("CODEALIGN_JUDGE_KEY")
    if env:
        try:
            key = bytes.fromhex(env)
        except ValueError:
            raise ValueError("CODEALIGN_JUDGE_KEY must be hex") from None
        if len(key) < 16:
            raise ValueError("CODEALIGN_JUDGE_KEY must hold at least 16 bytes")
        return key
    path = key_path()
    try:
        key = path.read_bytes()
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        fresh = path.with_name(f".judge.key.{os.getpid()}.{os.urandom(4).hex()}")
        fd = os.open(fresh, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, os.urandom(KEY_BYTES))
        finally:
            os.close(fd)
        try:
            os.link(fresh, path)  # fails if another process made the key first: then use that one
        except FileExistsError:
            pass
        finally:
            fresh.unlink()
        key = path.read_bytes()
    if len(key) != KEY_BYTES:
        raise ValueError(f"{path}: a judge key holds {KEY_BYTES} bytes, found {len(key)}")
    return key


def job_seed(task_id: str, assets: object, completion: str) -> int:
    """The seed of one job's draws: deterministic in (task id, ``assets``, candidate text), unknowable
    without the judge key."""
    message = json.dumps([task_id, assets, completion], sort_keys=True).encode()
    return int.from_bytes(hmac.new(judge_key(), message, hashlib.sha256).digest(), "big")
