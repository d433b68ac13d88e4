"""Getting the code out of what a model answered, and saying what it took: the language-independent part.

Models wrap code in Markdown fences, surround it with prose, split it over several blocks, repeat a module
after "fixing" it, or stop mid-way when they hit the token limit. :func:`extract_code` finds the fenced blocks
a language may use (its fence tags, untagged fences, ``text``/``code``), drops ``<think>`` reasoning, and hands
the blocks (or, without usable blocks, the whole answer) to the language's :data:`PartsExtractor`, which lives
in its domain package and is reached through :meth:`codealign.domains.base.Domain.extract`. The result is an
:class:`Extraction` record (method, issues, repairs) that callers store in the candidate's metadata, so an
extraction failure is visible in the verdicts instead of looking like a model that cannot code. The only
repairs are closing what is unambiguous to close (a missing ``endmodule``, missing closing braces, an unclosed
fence) and dropping text that is not code; each is recorded as an issue.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

_FENCE = re.compile(r"^[ \t]*(```+|~~~+)[ \t]*([\w+#.-]*)([^\n]*)$", re.MULTILINE)
_PATH = r"[\w.-]+(?:/[\w.-]+)*\.\w+"
_PATH_LINE = re.compile(rf"^[ \t#>*-]*(?:file(?:name)?\s*:\s*)?[`*\"']*({_PATH})[`*\"':]*[ \t]*$", re.IGNORECASE)
_THINK = re.compile(r"<think>.*?(</think>|$)", re.DOTALL | re.IGNORECASE)


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


PartsExtractor = Callable[[list[str], list[str], bool, bool], Extraction]
"""A language's extractor: ``(parts, issues, truncated, prose_possible) -> Extraction``. ``parts`` are the
usable fenced blocks' texts, or the whole answer alone when ``prose_possible`` (no usable fence, so prose may
surround the code); ``issues`` is the list recorded so far, to append to; ``truncated`` says the generator hit
its token limit (repairs may then drop an incomplete last line)."""


@dataclass
class CodeBlock:
    """One Markdown code block: its fence tag (lower-cased, '' when untagged), its text, and whether its
    closing fence was there."""

    tag: str
    text: str
    closed: bool
    start: int = 0
    """Offset of the opening fence in the answer."""
    info: str = ""
    """The opening fence's line after the tag (e.g. a file name: ```` ```verilog rtl/a.sv ````)."""


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
            blocks.append(CodeBlock(opening.group(2).lower(), text[start:], False, opening.start(), opening.group(3)))
            return blocks
        blocks.append(CodeBlock(opening.group(2).lower(), text[start : end.start()], True, opening.start(),
                                opening.group(3)))
        pos = end.end()


def unextracted(text: str, language: str, *, truncated: bool = False) -> Extraction:
    """The answer unchanged (method ``none``): for languages without an extractor, e.g. ``text``."""
    return Extraction(text, language, "none", ok=bool(text.strip()), issues=["truncated"] if truncated else [])


def extract_code(text: str, language: str, tags: frozenset[str], extractor: PartsExtractor, *,
                 truncated: bool = False) -> Extraction:
    """The code in ``text`` for ``language``, whose fences carry one of ``tags`` (untagged, ``text`` and
    ``code`` fences count too) and whose code ``extractor`` recognises. ``truncated`` says the generator stopped
    at its token limit; it is recorded and makes repairs more willing (e.g. dropping an incomplete last line)."""
    issues: list[str] = []
    if truncated:
        issues.append("truncated")
    if _THINK.search(text):
        text = _THINK.sub("", text)
        issues.append("dropped_reasoning")
    if not text.strip():
        return Extraction("", language, "empty", ok=False, issues=issues + ["empty"])
    blocks = fenced_blocks(text)
    usable = [b for b in blocks if (b.tag in tags or not b.tag or b.tag in ("text", "code")) and b.text.strip()]
    if usable:
        if any(not b.closed for b in usable):
            issues.append("unclosed_fence")
        if len(blocks) > len(usable):
            issues.append("skipped_other_blocks")
        result = extractor([b.text for b in usable], issues, truncated, False)
        if result.ok:
            result.method = "fenced"
    else:
        if blocks:
            issues.append("skipped_other_blocks")
        result = extractor([text], issues, truncated, True)
    result.language = language
    result.blocks = len(blocks)
    result.issues = list(dict.fromkeys(result.issues))
    if result.ok:
        result.code = result.code.strip("\n") + "\n"
    return result


def extract_files(text: str, tags: frozenset[str], expected: Sequence[str]) -> tuple[dict[str, str], list[str]]:
    """The files of an answer that may hold several (CVDP-style ``rtl/a.sv``), as path → text, and the issues
    met. A file is a fenced block whose opening line names a path after the tag (```` ```verilog rtl/a.sv ````)
    or whose preceding non-blank line is a path alone (``rtl/a.sv``, ``**rtl/a.sv**``, ``### File:
    rtl/a.sv``). An answer that names no file is the one file when ``expected`` holds exactly one: its usable
    blocks (tags in ``tags``, untagged, ``text``, ``code``) joined, or the whole answer when it has none.
    Later blocks of the same path replace earlier ones (a model that "fixes" a file repeats it)."""
    issues: list[str] = []
    if _THINK.search(text):
        text = _THINK.sub("", text)
        issues.append("dropped_reasoning")
    files: dict[str, str] = {}
    blocks = fenced_blocks(text)
    for block in blocks:
        named = _PATH_LINE.match(block.info.strip() or "-") or _PATH_LINE.match(block.tag + block.info.strip())
        if named is None:
            before = [ln for ln in text[: block.start].splitlines() if ln.strip()]
            named = _PATH_LINE.match(before[-1]) if before else None
        if named is not None:
            if named.group(1) in files:
                issues.append("repeated_file")
            if not block.closed:
                issues.append("unclosed_fence")
            files[named.group(1)] = block.text.strip("\n") + "\n"
    if files or len(expected) != 1:
        return files, list(dict.fromkeys(issues + ([] if files else ["no_file_names"])))
    usable = [b for b in blocks if (b.tag in tags or not b.tag or b.tag in ("text", "code")) and b.text.strip()]
    body = "\n".join(b.text.strip("\n") for b in usable) if usable else text.strip("\n")
    if not body.strip():
        return {}, issues + ["empty"]
    return {expected[0]: body + "\n"}, list(dict.fromkeys(issues + ([] if usable else ["unfenced"])))


def format_files(files: dict[str, str], tag: str = "") -> str:
    """Files as an answer :func:`extract_files` reads back: each path on its own line, then its text fenced
    (with more backticks than the text holds in a row)."""
    out = []
    for path, body in files.items():
        fence = "`" * max(3, 1 + max((len(run) for run in re.findall(r"`+", body)), default=0))
        out.append(f"{path}\n{fence}{tag}\n{body.rstrip(chr(10))}\n{fence}\n")
    return "\n".join(out)
