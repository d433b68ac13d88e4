"""Getting the code out of what a model answered, and saying what it took.

Models wrap code in Markdown fences, surround it with prose, split it over several blocks, repeat a module
after "fixing" it, or stop mid-way when they hit the token limit. :func:`extract_code` returns the code for one
language together with an :class:`Extraction` record (method, issues, repairs) that callers store in the
candidate's metadata, so an extraction failure is visible in the verdicts instead of looking like a model that
cannot code. The only repairs are closing what is unambiguous to close (a missing ``endmodule``, missing
closing braces, an unclosed fence) and dropping text that is not code; each is recorded as an issue.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

_FENCE = re.compile(r"^[ \t]*(```+|~~~+)[ \t]*([\w+#.-]*)[^\n]*$", re.MULTILINE)
_THINK = re.compile(r"<think>.*?(</think>|$)", re.DOTALL | re.IGNORECASE)

LANGUAGE_TAGS: dict[str, frozenset[str]] = {
    "verilog": frozenset({"verilog", "v", "systemverilog", "sv", "vlog"}),
    "python": frozenset({"python", "py", "python3", "py3"}),
    "solidity": frozenset({"solidity", "sol"}),
    "ladder": frozenset({"ladder", "ld", "lad", "plc"}),
}
"""Fence tags taken as each language; untagged fences count for every language."""


@dataclass
class Extraction:
    """What :func:`extract_code` found.

    ``method``: ``fenced`` (from Markdown code blocks), ``unfenced`` (code located in surrounding prose),
    ``raw`` (the answer was taken as is), ``none`` (no extractor for the language) or ``empty`` (nothing
    usable). ``ok`` is False when no code was found. ``issues`` names every irregularity and repair, e.g.
    ``unclosed_fence``, ``dropped_prose``, ``added_endmodule``, ``truncated``, ``syntax_error``.
    """

    code: str
    language: str
    method: str
    ok: bool = True
    issues: list[str] = field(default_factory=list)
    blocks: int = 0

    def record(self) -> dict[str, Any]:
        """The JSON-able record stored under ``Candidate.metadata["extraction"]``."""
        return {"language": self.language, "method": self.method, "ok": self.ok, "issues": list(self.issues), "blocks": self.blocks}


@dataclass
class CodeBlock:
    """One Markdown code block: its fence tag (lower-cased, '' when untagged), its text, and whether its
    closing fence was there."""

    tag: str
    text: str
    closed: bool


def fenced_blocks(text: str) -> list[CodeBlock]:
    """Markdown code blocks in order; a final block whose closing fence is missing runs to the end."""
    blocks = []
    pos = 0
    while True:
        opening = _FENCE.search(text, pos)
        if opening is None:
            return blocks
        marker = opening.group(1)
        start = opening.end() + 1
        closing = re.compile(r"^[ \t]*" + re.escape(marker[0]) + "{" + str(len(marker)) + r",}[ \t]*$", re.MULTILINE)
        end = closing.search(text, start)
        if end is None:
            blocks.append(CodeBlock(opening.group(2).lower(), text[start:], closed=False))
            return blocks
        blocks.append(CodeBlock(opening.group(2).lower(), text[start : end.start()], closed=True))
        pos = end.end()


def extract_code(text: str, language: str, *, truncated: bool = False) -> Extraction:
    """The code in ``text`` for ``language`` (``verilog``, ``python``, ``solidity``, ``ladder``; anything else,
    e.g. ``text``, is returned unchanged with method ``none``). ``truncated`` says the generator stopped at its
    token limit; it is recorded and makes repairs more willing (e.g. dropping an incomplete last line)."""
    issues: list[str] = []
    if truncated:
        issues.append("truncated")
    extractor = _EXTRACTORS.get(language)
    if extractor is None:
        return Extraction(text, language, "none", ok=bool(text.strip()), issues=issues)
    if _THINK.search(text):
        text = _THINK.sub("", text)
        issues.append("dropped_reasoning")
    if not text.strip():
        return Extraction("", language, "empty", ok=False, issues=issues + ["empty"])
    blocks = fenced_blocks(text)
    tags = LANGUAGE_TAGS[language]
    usable = [b for b in blocks if (b.tag in tags or not b.tag or b.tag in ("text", "code")) and b.text.strip()]
    if usable:
        if any(not b.closed for b in usable):
            issues.append("unclosed_fence")
        if len(blocks) > len(usable):
            issues.append("skipped_other_blocks")
        result = extractor([b.text for b in usable], issues, truncated)
        if result.ok:
            result.method = "fenced"
    else:
        if blocks:
            issues.append("skipped_other_blocks")
        result = extractor([text], issues, truncated, prose_possible=True)
    result.language = language
    result.blocks = len(blocks)
    result.issues = list(dict.fromkeys(result.issues))
    if result.ok:
        result.code = result.code.strip("\n") + "\n"
    return result


_VERILOG_MODULE = re.compile(r"^[ \t]*(?:module|macromodule)\s+([A-Za-z_]\w*)", re.MULTILINE)
_VERILOG_END = re.compile(r"\bendmodule\b")
_VERILOG_HINT = re.compile(r"\bendmodule\b|\b(assign|always|always_comb|always_ff|wire|reg|logic)\b[^;]*;")
_TESTBENCH_NAME = re.compile(r"^(tb|testbench|test_bench)(_|$)|_tb$", re.IGNORECASE)


def _verilog(parts: list[str], issues: list[str], truncated: bool, prose_possible: bool = False) -> Extraction:
    modules: dict[str, str] = {}
    bodies: list[str] = []
    for part in parts:
        starts = list(_VERILOG_MODULE.finditer(part))
        if not starts:
            bodies.append(part)
            continue
        head = part[: starts[0].start()]
        preamble = head.strip() if _looks_like_verilog_preamble(head) else ""
        if head.strip() and not preamble:
            issues.append("dropped_prose")
        for i, match in enumerate(starts):
            limit = starts[i + 1].start() if i + 1 < len(starts) else len(part)
            chunk = part[match.start() : limit]
            if i == 0 and preamble:
                chunk = preamble + "\n" + chunk
            end = _VERILOG_END.search(chunk)
            if end is None:
                chunk = _drop_incomplete_line(chunk, issues) if truncated else chunk
                chunk = chunk.rstrip() + "\nendmodule"
                issues.append("added_endmodule")
            else:
                tail = chunk[end.end() :]
                if tail.strip() and not _looks_like_verilog_preamble(tail):
                    issues.append("dropped_prose")
                chunk = chunk[: end.end()]
            name = match.group(1)
            if name in modules:
                issues.append(f"duplicate_module:{name}")
            modules[name] = chunk
    if not modules:
        body = "\n".join(b.strip("\n") for b in bodies).rstrip()
        if not _VERILOG_HINT.search(body):
            return Extraction("", "verilog", "empty", ok=False, issues=issues + ["no_code"])
        issues.append("no_module_header")
        return Extraction(body, "verilog", "raw", issues=issues)
    testbenches = [n for n in modules if _TESTBENCH_NAME.search(n)]
    if testbenches and len(testbenches) < len(modules):
        for name in testbenches:
            del modules[name]
        issues.append("dropped_testbench")
    if len(modules) > 1:
        issues.append("several_modules")
    code = "\n\n".join(modules.values())
    if _unbalanced(code, r"\bbegin\b", r"\bend\b") or _unbalanced(code, r"\bcase[xz]?\b", r"\bendcase\b"):
        issues.append("unbalanced_blocks")
    method = "unfenced" if "dropped_prose" in issues else "raw"
    return Extraction(code, "verilog", method, issues=issues)


def _looks_like_verilog_preamble(text: str) -> bool:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return all(ln.startswith(("`", "//", "/*", "*", "*/")) for ln in lines)


def _unbalanced(code: str, open_pattern: str, close_pattern: str) -> bool:
    stripped = re.sub(r"//[^\n]*|/\*.*?\*/", "", code, flags=re.DOTALL)
    return len(re.findall(open_pattern, stripped)) != len(re.findall(close_pattern, stripped))


def _drop_incomplete_line(chunk: str, issues: list[str]) -> str:
    lines = chunk.rstrip("\n").split("\n")
    last = lines[-1].rstrip()
    if len(lines) > 1 and last and not last.endswith((";", "end", "begin", ")", "endcase", "*/")) and not last.lstrip().startswith("//"):
        issues.append("dropped_incomplete_line")
        return "\n".join(lines[:-1])
    return chunk


_PY_CODE_START = re.compile(r"^(def |class |import |from \S+ import |@|async def |if __name__|#!|[A-Za-z_][\w.]*\s*(=|\(|\[))")


def _python(parts: list[str], issues: list[str], truncated: bool, prose_possible: bool = False) -> Extraction:
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


_SOL_START = re.compile(
    r"^[ \t]*(//\s*SPDX|pragma\s+solidity|import\s|(abstract\s+)?contract\s|library\s|interface\s)", re.MULTILINE
)


def _solidity(parts: list[str], issues: list[str], truncated: bool, prose_possible: bool = False) -> Extraction:
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


_RUNG = re.compile(r"^\s*(\[|\|)?\s*(NO|NC|P|N|OUT|NOUT|SET|RST|TON|TOF|CTU|GT|GE|LT|LE|EQ|NE)\(")


def _ladder(parts: list[str], issues: list[str], truncated: bool, prose_possible: bool = False) -> Extraction:
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


_EXTRACTORS = {"verilog": _verilog, "python": _python, "solidity": _solidity, "ladder": _ladder}
