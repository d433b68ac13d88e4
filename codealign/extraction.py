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
from typing import Any, Callable

_FENCE = re.compile(r"^[ \t]*(```+|~~~+)[ \t]*([\w+#.-]*)[^\n]*$", re.MULTILINE)
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
