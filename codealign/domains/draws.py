"""Per-job seeds for drawn stimuli: hidden from the candidate, yet reproducible.

A judge that draws its stimuli (input traces, function inputs, exploit scenarios) per job takes the seed from
:func:`draw_seed`: an HMAC-SHA256, under the harness's judge key, of the judge's purpose tag, the task's asset
hash and the candidate's text. The key is ``$CODEALIGN_JUDGE_KEY`` (hex, at least 16 bytes) when set — machines
that must agree, e.g. the nodes of a Ray cluster, share it — else 32 random bytes in
``$CODEALIGN_HOME/judge.key`` (default ``~/.cache/codealign``), created once with mode 0600 by the first process
that needs it (atomically: concurrent first uses agree on one key).

Guaranteed: the same key, task assets and candidate text give the same seed (so a verdict is deterministic
and the verdict cache, keyed by the same content, stays true); without the key a candidate cannot compute the
seed of its own job. The key never enters a job: the harness computes the seed on the host and hands the job
only the number (or the drawn stimuli), and the sandboxes show no home folder. Not guaranteed: secrecy against
whoever can read the harness user's home (the process backend run by a non-root user runs jobs as that user);
verdicts of a candidate that passes only some draws differ between machines with different keys (copy
``judge.key`` or set ``$CODEALIGN_JUDGE_KEY`` to reproduce them elsewhere).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import os
import secrets
from pathlib import Path

from codealign.types import Task

KEY_NAME = "judge.key"
KEY_BYTES = 32
KEY_ENV = "CODEALIGN_JUDGE_KEY"


def key_path() -> Path:
    """Where the judge key is stored: ``$CODEALIGN_HOME/judge.key``."""
    return Path(os.environ.get("CODEALIGN_HOME") or Path.home() / ".cache" / "codealign") / KEY_NAME


@functools.lru_cache(maxsize=None)
def _load(path: Path) -> bytes:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{KEY_NAME}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(secrets.token_bytes(KEY_BYTES))
        try:
            os.link(tmp, path)  # atomic, and never replaces a key another process made first
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    key = path.read_bytes()
    if len(key) != KEY_BYTES:
        raise ValueError(f"{path}: a judge key holds {KEY_BYTES} bytes, found {len(key)}")
    return key


def judge_key() -> bytes:
    """The harness's judge key (see the module docstring); ValueError for a malformed ``$CODEALIGN_JUDGE_KEY``."""
    shared = os.environ.get(KEY_ENV)
    if shared:
        try:
            key = bytes.fromhex(shared)
        except ValueError:
            raise ValueError(f"{KEY_ENV} must be hex") from None
        if len(key) < 16:
            raise ValueError(f"{KEY_ENV} must hold at least 16 bytes")
        return key
    return _load(key_path())


def draw_seed(purpose: str, task: Task, candidate_text: str) -> int:
    """A 63-bit seed for the stimuli of one (task, candidate) job of ``purpose`` (e.g. ``"ladder-traces"``)."""
    digest = hashlib.sha256(candidate_text.encode("utf-8", "surrogatepass")).hexdigest()
    message = "\0".join((purpose, task.asset_hash(), digest)).encode()
    mac = hmac.new(judge_key(), message, hashlib.sha256).digest()
    return int.from_bytes(mac[:8], "big") >> 1
