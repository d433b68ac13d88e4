"""Sampling with vLLM's offline engine (``LLM.generate`` with ``n`` samples per prompt). GPU only.

Prompts are formatted exactly as for training (:func:`codealign.prompts.format_prompt` with the
model's tokenizer). vLLM is imported when the generator is built; without vLLM installed that is a clear
error. Not run on the CPU-only development machines: its test skips there.
"""

from __future__ import annotations

from typing import Any, Sequence

from codealign.errors import UserError
from codealign.generate import Generator, Sample, SamplingParams
from codealign.prompts import format_prompt, has_chat_template


class VLLMGenerator(Generator):
    kind = "vllm"

    def __init__(self, model: str, *, dtype: str = "auto", gpu_memory_utilization: float = 0.85,
                 tensor_parallel_size: int = 1, system: str | None = None, raw_prompts: bool = False,
                 max_model_len: int | None = None, **engine_options: Any):
        try:
            from vllm import LLM
        except ImportError:
            raise UserError("the vllm generator needs vLLM (pip install vllm) and a GPU") from None
        self.model_name = model
        self.system = system
        self.raw_prompts = raw_prompts
        self.llm = LLM(model=model, dtype=dtype, gpu_memory_utilization=gpu_memory_utilization,
                       tensor_parallel_size=tensor_parallel_size, max_model_len=max_model_len, **engine_options)
        self.tokenizer = self.llm.get_tokenizer()

    def chat_turns(self) -> bool:
        return not self.raw_prompts and has_chat_template(self.tokenizer)

    def sample(self, prompts: Sequence[str], n: int, params: SamplingParams) -> list[list[Sample]]:
        from vllm import SamplingParams as VSamplingParams

        texts = [p if self.raw_prompts else format_prompt(p, self.tokenizer, system=self.system) for p in prompts]
        vparams = VSamplingParams(n=n, temperature=params.temperature, top_p=params.top_p,
                                  max_tokens=params.max_new_tokens, seed=params.seed,
                                  stop=list(params.stop) or None)
        outputs = self.llm.generate(texts, vparams, use_tqdm=False)
        rows = []
        for out in outputs:
            row = []
            for choice in out.outputs:
                reason = "length" if choice.finish_reason == "length" else (
                    "stop" if choice.stop_reason is not None and isinstance(choice.stop_reason, str) else "eos")
                row.append(Sample(choice.text, reason, len(choice.token_ids)))
            rows.append(row)
        self.advance(len(rows))
        return rows
