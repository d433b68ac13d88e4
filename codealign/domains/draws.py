"""Per-job seeds for drawn stimuli: hidden from the candidate, yet reproducible.

A judge that draws its stimuli (input traces, inputs, exploit parameters) per job takes the seed from
:func:`draw_seed`: an HMAC-SHA256, under the harness's judge key, of the domain's purpose tag, the task's asset
hash and the candidate's text. The key is 32 random bytes in ``$CODEALIGN_HOME/judge.key`` (default
``~/.cache/codealign``), created once with mode 0600 by the first process that needs it.

Guaranteed: the same key, task assets and candidate text give the same seed (so a verdict is deterministic
and the verdict cache, keyed by the same content, stays true); without the key a candidate cannot compute the
seed of its own job. The key never enters a job: the harness computes the seed and hands the job only that
number. Not guaranteed: verdicts of a candidate that passes only some draws differ between machines with
different keys (copy ``judge.key`` to reproduce them elsewhere).
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


def key_path() -> Path:
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
            os.link(tmp, path)  # atomic and never replaces a key another process made first
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    key = path.read_bytes()
    if len(key) < KEY_BYTES:
        raise OSError(f"{path}: the judge key is {len(key)} bytes; expected {KEY_BYTES}")
    return key


def judge_key() -> bytes:
    """The harness's judge key (created on first use)."""
    return _load(key_path())


def draw_seed(purpose: str, task: Task, candidate_text: str) -> int:
    """A 63-bit seed for the stimuli of one (task, candidate) job of ``purpose`` (e.g. ``"ladder-traces"``)."""
    digest = hashlib.sha256(candidate_text.encode("utf-8", "surrogatepass")).hexdigest()
    message = "\0".join((purpose, task.asset_hash(), digest)).encode()
    mac = hmac.new(judge_key(), message, hashlib.sha256).digest()
    return int.from_bytes(mac[:8], "big") >> 1
