"""Ladder rungs in a model's answer: rung lines kept, prose and a truncated last rung dropped (the generic
fence handling is :mod:`codealign.extraction`)."""

from __future__ import annotations

import re

from codealign.extraction import Extraction

_RUNG = re.compile(r"^\s*(\[|\|)?\s*(NO|NC|P|N|OUT|NOUT|SET|RST|TON|TOF|CTU|GT|GE|LT|LE|EQ|NE)\(")


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
