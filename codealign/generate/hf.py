"""Sampling with Hugging Face ``generate``: batched, ``n`` samples per prompt, seeded."""

from __future__ import annotations

from typing import Any, Sequence

from codealign.errors import UserError
from codealign.generate import Generator, Sample, SamplingParams
from codealign.prompts import encode_prompt, format_prompt, has_chat_template


class HFGenerator(Generator):
    """Samples from a causal LM with ``model.generate``.

    ``model`` is a hub id, a local folder or ``codealign-tiny`` (loaded with
    :func:`codealign.train.models.load_model`), or an already loaded model passed together with ``tokenizer``.
    Prompts are formatted with :func:`codealign.prompts.format_prompt` unless ``raw_prompts`` (e.g.
    FIM prompts built with a :class:`~codealign.fim.FimFormat`). ``batch_size`` counts sequences:
    each ``generate`` call takes ``max(1, batch_size // n)`` prompts.

    Guaranteed: the same prompts, ``n``, sampling parameters (seed included), batch size, model and device give
    the same samples; the global torch RNG state is left as it was. Not guaranteed: identical samples across
    devices, dtypes or batch sizes.
    """

    kind = "hf"

    def __init__(
        self,
        model: Any = "codealign-tiny",
        *,
        tokenizer: Any = None,
        device: str = "auto",
        dtype: Any = None,
        batch_size: int = 32,
        system: str | None = None,
        raw_prompts: bool = False,
    ):
        if batch_size < 1:
            raise UserError(f"batch_size must be >= 1, got {batch_size}")
        if isinstance(model, str):
            from codealign.train.models import load_model

            self.model_name = model
            model, loaded_tokenizer = load_model(model, device=device, dtype=dtype)
            tokenizer = tokenizer or loaded_tokenizer
        else:
            if tokenizer is None:
                raise UserError("HFGenerator: pass the tokenizer together with an already loaded model")
            self.model_name = getattr(getattr(model, "config", None), "_name_or_path", "") or type(model).__name__
        self.model = model
        self.tokenizer = tokenizer
        self.batch_size = batch_size
        self.system = system
        self.raw_prompts = raw_prompts

    def _eos_ids(self) -> set[int]:
        ids = self.model.generation_config.eos_token_id
        ids = set(ids) if isinstance(ids, (list, tuple)) else ({ids} if ids is not None else set())
        if self.tokenizer.eos_token_id is not None:
            ids.add(self.tokenizer.eos_token_id)
        return ids

    def chat_turns(self) -> bool:
        return not self.raw_prompts and has_chat_template(self.tokenizer)

    def sample(self, prompts: Sequence[str], n: int, params: SamplingParams) -> list[list[Sample]]:
        import torch

        tok = self.tokenizer
        texts = [p if self.raw_prompts else format_prompt(p, tok, system=self.system) for p in prompts]
        encoded = [encode_prompt(tok, t) for t in texts]
        eos_ids = self._eos_ids()
        pad_id = tok.pad_token_id if tok.pad_token_id is not None else next(iter(eos_ids))
        device = next(self.model.parameters()).device
        per_call = max(1, self.batch_size // n)
        greedy = params.temperature == 0
        options: dict[str, Any] = {
            "do_sample": not greedy,
            "max_new_tokens": params.max_new_tokens,
            "num_return_sequences": n,
            "pad_token_id": pad_id,
            "eos_token_id": sorted(eos_ids),
        }
        if not greedy:
            options.update(temperature=params.temperature, top_p=params.top_p, top_k=0)
        if params.stop:
            options.update(stop_strings=list(params.stop), tokenizer=tok)
        fork_devices = [device] if device.type == "cuda" else []
        out: list[list[Sample]] = []
        was_training = self.model.training
        self.model.eval()
        try:
            with torch.random.fork_rng(devices=fork_devices), torch.inference_mode():
                torch.manual_seed(params.seed)
                for start in range(0, len(encoded), per_call):
                    chunk = encoded[start : start + per_call]
                    width = max(len(ids) for ids in chunk)
                    input_ids = torch.full((len(chunk), width), pad_id, dtype=torch.long)
                    attention = torch.zeros((len(chunk), width), dtype=torch.long)
                    for row, ids in enumerate(chunk):
                        input_ids[row, width - len(ids) :] = torch.tensor(ids, dtype=torch.long)
                        attention[row, width - len(ids) :] = 1
                    generated = self.model.generate(
                        input_ids=input_ids.to(device), attention_mask=attention.to(device), **options
                    )
                    new_tokens = generated[:, width:].tolist()
                    for i in range(len(chunk)):
                        out.append([self._decode(new_tokens[i * n + j], eos_ids, params) for j in range(n)])
                    self.advance(len(chunk))
        finally:
            self.model.train(was_training)
        return out

    def _decode(self, ids: list[int], eos_ids: set[int], params: SamplingParams) -> Sample:
        finish = "length"
        for pos, token in enumerate(ids):
            if token in eos_ids:
                ids, finish = ids[:pos], "eos"
                break
        text = self.tokenizer.decode(ids, skip_special_tokens=True)
        cut = min((i for i in (text.find(s) for s in params.stop) if i >= 0), default=-1)
        if cut >= 0:
            text, finish = text[:cut], "stop"
        return Sample(text=text, finish_reason=finish, num_tokens=len(ids))
