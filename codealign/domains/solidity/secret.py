"""The seed of a job's hidden draws: HMAC-SHA256, under a key only the harness holds, of the task id and the
candidate's text.

Guaranteed: the same key, task and candidate give the same seed (so verdicts stay deterministic and the
verdict cache stays sound), and without the key no one can tell which draws a candidate will meet. The key is
``$CODEALIGN_JUDGE_KEY`` (hex) when set (machines that must agree, e.g. a cluster, share it), else 32 random
bytes in ``$CODEALIGN_HOME/judge.key`` (default ``~/.cache/codealign``), created once with mode 0600 by the
first process that needs it. Neither is shown to a sandboxed job: jobs get a scrubbed environment and see only
the folders their domain binds (the compilers' folder under ``$CODEALIGN_HOME``, never the key file).
Not guaranteed: secrecy against someone who can read the harness user's home.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from pathlib import Path


def key_path() -> Path:
    return Path(os.environ.get("CODEALIGN_HOME", Path.home() / ".cache" / "codealign")) / "judge.key"


def judge_key() -> bytes:
    """The harness's key (see the module docstring), created on first use."""
    shared = os.environ.get("CODEALIGN_JUDGE_KEY")
    if shared:
        return bytes.fromhex(shared)
    path = key_path()
    try:
        return path.read_bytes()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".judge.key.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(secrets.token_bytes(32))
    try:
        os.link(tmp, path)  # the first writer wins; later ones read its key
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
    return path.read_bytes()


def job_seed(task_id: str, candidate: str) -> str:
    """The seed of one (task, candidate) job's draws."""
    digest = hashlib.sha256(candidate.encode("utf-8", "surrogatepass")).hexdigest()
    return hmac.new(judge_key(), json.dumps([task_id, digest]).encode(), hashlib.sha256).hexdigest()
