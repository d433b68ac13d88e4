"""Python code in a model's answer: example blocks skipped, prose dropped where the code compiles without
it, a truncated tail trimmed (the generic fence handling is :mod:`codealign.extraction`)."""

from __future__ import annotations

import re

from codealign.extraction import Extraction

_PY_CODE_START = re.compile(r"^(def |class |import |from \S+ import |@|async def |if __name__|#!|[A-Za-z_][\w.]*\s*(=|\(|\[))")


def extract_python(parts: list[str], issues: list[str], truncated: bool, prose_possible: bool) -> Extraction:
    if len(parts) > 1:
        defining = [p for p in parts if re.search(r"^\s*(def|class|import|from)\s", p, re.MULTILINE)]
        if defining and len(defining) < len(parts):
            issues.append("skipped_example_blocks")
            parts = defining
        if len(parts) > 1:
            issues.append("joined_blocks")
    code = "\n\n".join(p.strip("\n") for p in parts)
    method = "fenced"
    if prose_possible:
        method = "raw"
        if not _compiles(code):
            located = _locate_python(code)
            if located is not None and located != code:
                issues.append("dropped_prose")
                code, method = located, "unfenced"
    if not code.strip():
        return Extraction("", "python", "empty", ok=False, issues=issues + ["no_code"])
    if not _compiles(code):
        trimmed = _trim_python_tail(code)
        if trimmed is not None and truncated:
            issues.append("dropped_incomplete_tail")
            code = trimmed
        else:
            issues.append("syntax_error")
    return Extraction(code, "python", method, issues=issues)


def _compiles(code: str) -> bool:
    try:
        compile(code, "<candidate>", "exec")
    except (SyntaxError, ValueError):
        return False
    return True


def _locate_python(text: str) -> str | None:
    lines = text.split("\n")
    start = next((i for i, ln in enumerate(lines) if _PY_CODE_START.match(ln)), None)
    if start is None:
        return None
    end = len(lines)
    while end > start + 1 and not _compiles("\n".join(lines[start:end])):
        end -= 1
    candidate = "\n".join(lines[start:end])
    return candidate if _compiles(candidate) else "\n".join(lines[start:])


def _trim_python_tail(code: str) -> str | None:
    lines = code.split("\n")
    for end in range(len(lines) - 1, 0, -1):
        candidate = "\n".join(lines[:end])
        if candidate.strip() and _compiles(candidate):
            return candidate
    return None
