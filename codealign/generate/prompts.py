"""How a task prompt becomes model input, for every model family, in one place.

SFT, DPO, sampling and the benchmarks all call these functions, so a model is trained on exactly the text it
is later sampled with:

* a tokenizer with a chat template gets the prompt as one user turn (``apply_chat_template`` with the
  generation prompt) and its special tokens come from the template, not from the tokenizer call;
* a tokenizer with a separator token and no template (the tiny model) gets ``prompt + sep``, so the prompt
  ends on a token boundary;
* any other tokenizer gets the plain prompt.

Fill-in-the-middle layouts (PSM and SPM) with the sentinels of StarCoder, Qwen2.5-Coder, DeepSeek-Coder and
CodeLlama are in :data:`FIM_PRESETS`. Nothing here imports torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from codealign.errors import UserError


def has_chat_template(tokenizer: Any) -> bool:
    return bool(getattr(tokenizer, "chat_template", None))


def format_prompt(prompt: str, tokenizer: Any = None, *, system: str | None = None) -> str:
    """The text a model is conditioned on for ``prompt`` (see the module docstring for the three cases).
    ``system`` is used only with a chat template; without one it is prepended with a blank line."""
    if tokenizer is not None and has_chat_template(tokenizer):
        messages = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": prompt}]
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    text = f"{system}\n\n{prompt}" if system else prompt
    sep = getattr(tokenizer, "sep_token", None) if tokenizer is not None else None
    return text + sep if sep else text


def add_special_tokens(tokenizer: Any) -> bool:
    """Whether encoding a formatted prompt should add the tokenizer's special tokens (BOS): no when a chat
    template already wrote them into the text, yes otherwise. TRL follows the same rule for conversational and
    plain rows."""
    return not has_chat_template(tokenizer)


def encode_prompt(tokenizer: Any, formatted: str) -> list[int]:
    """Token ids of an already formatted prompt, with special tokens added exactly as in training."""
    return tokenizer(formatted, add_special_tokens=add_special_tokens(tokenizer))["input_ids"]


def sft_row(prompt: str, completion: str, tokenizer: Any, *, system: str | None = None) -> dict[str, Any]:
    """One TRL prompt/completion row. With a chat template the row is conversational (TRL renders it with the
    same template as :func:`format_prompt`, and ends the completion with the template's end-of-turn); without,
    the prompt is :func:`format_prompt`'s text and TRL appends EOS to the completion."""
    if has_chat_template(tokenizer):
        messages = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": prompt}]
        return {"prompt": messages, "completion": [{"role": "assistant", "content": completion}]}
    return {"prompt": format_prompt(prompt, tokenizer, system=system), "completion": completion}


def preference_row(prompt: str, chosen: str, rejected: str, tokenizer: Any, *, system: str | None = None) -> dict[str, Any]:
    """One TRL prompt/chosen/rejected row, formatted like :func:`sft_row`."""
    row = sft_row(prompt, chosen, tokenizer, system=system)
    rejected_part = sft_row(prompt, rejected, tokenizer, system=system)["completion"]
    return {"prompt": row["prompt"], "chosen": row["completion"], "rejected": rejected_part}


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
