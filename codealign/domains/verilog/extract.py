"""Verilog code in a model's answer: modules located, a missing ``endmodule`` closed, testbenches and
prose dropped (the generic fence handling is :mod:`codealign.extraction`)."""

from __future__ import annotations

import re

from codealign.extraction import Extraction

_VERILOG_MODULE = re.compile(r"^[ \t]*(?:module|macromodule)\s+([A-Za-z_]\w*)", re.MULTILINE)
_VERILOG_END = re.compile(r"\bendmodule\b")
_VERILOG_HINT = re.compile(r"\bendmodule\b|\b(assign|always|always_comb|always_ff|wire|reg|logic)\b[^;]*;")
_TESTBENCH_NAME = re.compile(r"^(tb|testbench|test_bench)(_|$)|_tb$", re.IGNORECASE)


def extract_verilog(parts: list[str], issues: list[str], truncated: bool, prose_possible: bool) -> Extraction:
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
                chunk = _close_module(_drop_incomplete_line(chunk, issues) if truncated else chunk)
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


def _close_module(chunk: str) -> str:
    """``chunk`` with the ``endmodule`` it lacks. Text that ends after a line break (a sample cut at the
    ``endmodule`` stop string) keeps its own trailing whitespace, so the completion is token for token what the
    model wrote: DPO and RFT train on it, and a normalised ending (``;\\n\\n`` rewritten to ``;\\n``) taught the
    tiny model an ending it never wrote (docs/dpo_compile_errors.md). Other text gets a line break."""
    tail = chunk[len(chunk.rstrip()):]
    return chunk + "endmodule" if "\n" in tail else chunk.rstrip() + "\nendmodule"


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
