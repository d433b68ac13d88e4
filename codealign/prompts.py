"""How a task prompt becomes model input, for every model family, in one place.

SFT, DPO, sampling and the benchmarks all call these functions, so a model is trained on exactly the text it
is later sampled with:

* a tokenizer with a chat template gets the prompt as one user turn (``apply_chat_template`` with the
  generation prompt) and its special tokens come from the template, not from the tokenizer call;
* a tokenizer with a separator token and no template (the tiny model) gets ``prompt + sep``, so the prompt
  ends on a token boundary;
* any other tokenizer gets the plain prompt.

It sits with the base modules so that sampling (:mod:`codealign.generate`) and training (:mod:`codealign.train`)
both use it without importing each other. Fill-in-the-middle layouts (the sentinels of each model family) are in
:mod:`codealign.fim`. Nothing here imports torch.
"""

from __future__ import annotations

from typing import Any


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
