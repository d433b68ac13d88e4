"""Ladder rungs in a model's answer: rung lines kept, prose and a truncated last rung dropped (the generic
fence handling is :mod:`codealign.extraction`).

A line is kept when it starts the way the grammar lets a line start (:mod:`.parser`): any opening of branch
groups, then an element of any kind the model knows (the pattern is built from the model's kind lists, so a
new kind is never dropped), or a ``(*`` comment. A kept line that does not parse is the parser's to reject.
"""

from __future__ import annotations

import re

from codealign.domains.ladder.model import BLOCK_KINDS, COIL_KINDS, COMPARE_OPS, CONTACT_KINDS
from codealign.extraction import Extraction

_KINDS = "|".join(sorted(CONTACT_KINDS + COMPARE_OPS + COIL_KINDS + BLOCK_KINDS, key=len, reverse=True))
_RUNG = re.compile(rf"^[\s\[|]*(?:(?:{_KINDS})\s*\(|\(\*)")


def extract_ladder(parts: list[str], issues: list[str], truncated: bool, prose_possible: bool) -> Extraction:
    lines = [ln.rstrip() for p in parts for ln in p.split("\n") if ln.strip()]
    rungs = [ln for ln in lines if _RUNG.match(ln)]
    if not rungs:
        return Extraction("", "ladder", "empty", ok=False, issues=issues + ["no_code"])
    if len(rungs) < len(lines):
        issues.append("dropped_prose")
    if truncated and rungs[-1].count("(") != rungs[-1].count(")"):
        rungs.pop()
        issues.append("dropped_incomplete_line")
    method = "fenced" if not prose_possible else ("unfenced" if len(rungs) < len(lines) else "raw")
    return Extraction("\n".join(rungs), "ladder", method, ok=bool(rungs), issues=issues)
