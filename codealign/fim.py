"""Fill-in-the-middle prompt layouts (PSM and SPM) with the sentinels of StarCoder, Qwen2.5-Coder,
DeepSeek-Coder and CodeLlama, in one place: the corpus builder, the FIM tasks of domains and generation all
use these. Plain data and string formatting; it imports nothing of codealign but the error type.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from codealign.errors import UserError


@dataclass(frozen=True)
class FimFormat:
    """Sentinels of one model family's fill-in-the-middle format.

    ``psm_template`` / ``spm_template`` are format strings over ``{prefix}``, ``{suffix}`` and the sentinels;
    a family without a documented SPM layout leaves ``spm_template`` empty. ``file_sep`` and ``repo_name`` are
    the repository-context sentinels of families that have them (empty otherwise).
    """

    family: str
    prefix: str
    suffix: str
    middle: str
    psm_template: str
    spm_template: str = ""
    eot: str = ""
    file_sep: str = ""
    repo_name: str = ""

    def render(self, prefix: str, suffix: str, *, mode: str = "psm", context: str = "") -> str:
        """The FIM prompt for the hole between ``prefix`` and ``suffix``; the model writes the middle next.
        ``context`` (e.g. retrieved cross-file code, already laid out with :meth:`repo_context`) goes first."""
        if mode == "psm":
            template = self.psm_template
        elif mode == "spm":
            template = self.spm_template
            if not template:
                raise UserError(f"FIM family {self.family!r} has no SPM layout; use mode='psm'")
        else:
            raise UserError(f"unknown FIM mode {mode!r}; choose psm or spm")
        body = template.format(pre=self.prefix, suf=self.suffix, mid=self.middle, prefix=prefix, suffix=suffix)
        return context + body

    def repo_context(self, files: list[tuple[str, str]], repo: str = "") -> str:
        """Cross-file context as this family lays it out: ``[(path, text)]`` joined with its file separator
        (plain ``# path`` headers for families without one)."""
        parts = [f"{self.repo_name}{repo}\n"] if self.repo_name and repo else []
        for path, text in files:
            if self.file_sep:
                parts.append(f"{self.file_sep}{path}\n{text}\n")
            else:
                parts.append(f"# {path}\n{text}\n")
        return "".join(parts)


FIM_PRESETS: dict[str, FimFormat] = {
    "starcoder": FimFormat(
        family="starcoder",
        prefix="<fim_prefix>",
        suffix="<fim_suffix>",
        middle="<fim_middle>",
        psm_template="{pre}{prefix}{suf}{suffix}{mid}",
        spm_template="{pre}{suf}{suffix}{mid}{prefix}",
        eot="<|endoftext|>",
        file_sep="<file_sep>",
        repo_name="<repo_name>",
    ),
    "qwen2.5-coder": FimFormat(
        family="qwen2.5-coder",
        prefix="<|fim_prefix|>",
        suffix="<|fim_suffix|>",
        middle="<|fim_middle|>",
        psm_template="{pre}{prefix}{suf}{suffix}{mid}",
        eot="<|endoftext|>",
        file_sep="<|file_sep|>",
        repo_name="<|repo_name|>",
    ),
    "deepseek-coder": FimFormat(
        family="deepseek-coder",
        prefix="<｜fim▁begin｜>",
        suffix="<｜fim▁hole｜>",
        middle="<｜fim▁end｜>",
        psm_template="{pre}{prefix}{suf}{suffix}{mid}",
        eot="<|EOT|>",
    ),
    "codellama": FimFormat(
        family="codellama",
        prefix="<PRE>",
        suffix="<SUF>",
        middle="<MID>",
        psm_template="{pre} {prefix} {suf}{suffix} {mid}",
        spm_template="{pre}{suf}{suffix}{mid}{prefix}",
        eot="<EOT>",
    ),
}
"""FIM formats by family. ``codealign-tiny`` uses the StarCoder sentinels."""

_FAMILY_HINTS = (
    ("qwen", "qwen2.5-coder"),
    ("deepseek", "deepseek-coder"),
    ("codellama", "codellama"),
    ("code-llama", "codellama"),
    ("starcoder", "starcoder"),
    ("codealign-tiny", "starcoder"),
)


def fim_format(family_or_model: str, tokenizer: Any = None) -> FimFormat:
    """The FIM format for a family name (a key of :data:`FIM_PRESETS`) or a model name containing one; with
    only a tokenizer to go on, the family whose prefix sentinel is in its vocabulary. Unknown → UserError."""
    key = family_or_model.lower()
    if key in FIM_PRESETS:
        return FIM_PRESETS[key]
    for hint, family in _FAMILY_HINTS:
        if hint in key:
            return FIM_PRESETS[family]
    if tokenizer is not None:
        vocab = tokenizer.get_vocab()
        for fmt in FIM_PRESETS.values():
            if fmt.prefix in vocab and fmt.middle in vocab:
                return fmt
    raise UserError(
        f"no FIM format known for {family_or_model!r}; choose one of: {', '.join(FIM_PRESETS)}"
    )


FILL_TYPES = {
    "grammar-based: expression": "expression",
    "grammar-based: statement": "statement",
    "grammar-based: block": "block",
    "random span": "random_span",
    "random single-line": "line",
    "random multi-line": "lines",
}
"""ExecRepoBench's fill types and the span kind each one is (one to one)."""
