"""JSONL reading with errors that name the file and line, and atomic writing (temp file or folder, then rename)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, TypeVar

from codealign.errors import UserError

T = TypeVar("T")


def read_jsonl(path: str | os.PathLike, parse: Callable[[dict[str, Any]], T] | None = None) -> list[T]:
    """All rows of a JSONL file; blank lines are skipped. A malformed line raises :class:`UserError` naming
    ``path:line`` before anything is returned, so a caller never acts on half a file."""
    return list(iter_jsonl(path, parse))


def iter_jsonl(path: str | os.PathLike, parse: Callable[[dict[str, Any]], T] | None = None) -> Iterator[T]:
    p = Path(path)
    if not p.is_file():
        raise UserError(f"{p}: no such file")
    with open(p, "rb") as fh:
        for lineno, raw in enumerate(fh, 1):
            if not raw.strip():
                continue
            try:
                row = json.loads(raw.decode("utf-8"))
            except UnicodeDecodeError as exc:
                raise UserError(f"{p}:{lineno}: not valid UTF-8 ({exc.reason} at byte {exc.start})") from None
            except json.JSONDecodeError as exc:
                raise UserError(f"{p}:{lineno}: malformed JSON ({exc.msg} at column {exc.colno})") from None
            if b"\\ud" in raw.lower():
                where = lone_surrogate(row)
                if where:
                    raise UserError(f"{p}:{lineno}: {where} holds a lone surrogate (an escaped \\ud800-\\udfff "
                                    "with no pair), which no UTF-8 text can carry; fix the text that made it")
            if parse is None:
                yield row
                continue
            try:
                yield parse(row)
            except (ValueError, TypeError) as exc:
                raise UserError(f"{p}:{lineno}: {exc}") from None


def lone_surrogate(value: Any, where: str = "the row") -> str:
    """Where in ``value`` (a JSON value) a string holds a lone surrogate, e.g. ``field 'completion'``; empty
    when none does."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return where
        return ""
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        found = lone_surrogate(item, f"field {key!r}" if where == "the row" else f"{where}[{key!r}]")
        if found:
            return found
    return ""


def clean_text(text: str) -> str:
    """``text`` with each lone surrogate replaced by U+FFFD (what a server's broken answer becomes)."""
    return _SURROGATE.sub("\ufffd", text)


_SURROGATE = re.compile("[\ud800-\udfff]")
"""A surrogate code point; in a Python string (where a JSON pair is already one code point) always a lone one."""


def _dumps(row: Any) -> str:
    if hasattr(row, "to_dict"):
        row = row.to_dict()
    text = json.dumps(row, ensure_ascii=False, default=str)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        # A lone surrogate (e.g. read from a JSON-escaped "\udcff") has no UTF-8 form: keep it escaped, which
        # reads back to the same string.
        return json.dumps(row, ensure_ascii=True, default=str)
    return text


def _umask_mode(base: int) -> int:
    """``base`` less the process umask: what ``open`` would have made (``mkstemp`` makes 0600 whatever it is).
    Read from /proc where it can be: setting the umask to read it would briefly change it for every thread."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            mask = next(int(line.split()[1], 8) for line in fh if line.startswith("Umask:"))
    except (OSError, StopIteration, ValueError):
        mask = os.umask(0o022)
        os.umask(mask)
    return base & ~mask


def write_jsonl(path: str | os.PathLike, rows: Iterable[Any]) -> int:
    """Write rows (dicts or objects with ``to_dict``) atomically; returns the row count. The file either
    holds every row or is left as it was."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
    n = 0
    try:
        os.fchmod(fd, _umask_mode(0o666))
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            for row in rows:
                fh.write(_dumps(row) + "\n")
                n += 1
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, p)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return n


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """Write a text file atomically (temp file in the same folder, then rename)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
    try:
        os.fchmod(fd, _umask_mode(0o666))
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, p)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike, replace: bool = True) -> Iterator[Path]:
    """A fresh temp folder beside ``path`` to fill; when the block ends it replaces ``path`` (an old folder
    there is removed first), and when the block raises it is removed and ``path`` is left as it was. Readers
    see the old folder, no folder in the instant between removal and rename, or the new one: never half of
    one. ``replace=False`` keeps a ``path`` that exists when the block ends (another process built the same
    thing first) and discards the new folder, so a reader of ``path`` never sees it vanish."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    tmp.chmod(_umask_mode(0o777))
    try:
        yield tmp
        if out.exists() and not replace:
            shutil.rmtree(tmp)
            return
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


class JsonlAppender:
    """Appends rows to a JSONL file as results stream in, one flushed line per row, so a killed run keeps
    every finished row. A torn last line (kill mid-write) is ignored by :func:`read_completed`."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = open(self.path, "a", encoding="utf-8")

    def append(self, row: Any) -> None:
        self._fh.write(_dumps(row) + "\n")
        self._fh.flush()

    def close(self) -> None:
        self._fh.close()

    def __enter__(self) -> "JsonlAppender":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def read_completed(path: str | os.PathLike) -> list[dict[str, Any]]:
    """Rows of a streamed JSONL file, skipping a torn final line left by a kill."""
    p = Path(path)
    if not p.exists():
        return []
    rows = []
    for raw in p.read_bytes().splitlines():
        try:
            rows.append(json.loads(raw))
        except (json.JSONDecodeError, UnicodeDecodeError):
            continue
    return rows
