"""Solidity code in a model's answer: the contract located in prose, missing closing braces added (the
generic fence handling is :mod:`codealign.extraction`)."""

from __future__ import annotations

import re

from codealign.extraction import Extraction

_SOL_START = re.compile(
    r"^[ \t]*(//\s*SPDX|pragma\s+solidity|import\s|(abstract\s+)?contract\s|library\s|interface\s)", re.MULTILINE
)


def extract_solidity(parts: list[str], issues: list[str], truncated: bool, prose_possible: bool) -> Extraction:
    code = "\n\n".join(p.strip("\n") for p in parts)
    method = "fenced"
    if prose_possible:
        method = "raw"
        start = _SOL_START.search(code)
        if start is None:
            return Extraction("", "solidity", "empty", ok=False, issues=issues + ["no_code"])
        last_brace = code.rfind("}")
        end = last_brace + 1 if last_brace > start.start() else len(code)
        located = code[start.start() : end]
        if code[: start.start()].strip() or code[end:].strip():
            issues.append("dropped_prose")
            method = "unfenced"
        code = located
    depth = code.count("{") - code.count("}")
    if depth > 0:
        code = code.rstrip() + "\n" + "}\n" * depth
        issues.append("added_closing_braces")
    return Extraction(code, "solidity", method, issues=issues)
