"""Generation: one interface over every way of getting candidates (Hugging Face ``generate``, a JSONL file of
existing candidates; vLLM and OpenAI-compatible servers plug in the same way).

A backend subclasses :class:`Generator` and implements :meth:`Generator.sample`, calling
:meth:`Generator.advance` as prompts finish; :meth:`Generator.generate` (texts only) and
:meth:`Generator.candidates` (tasks in, :class:`~codealign.types.Candidate` out, with code extracted and the
extraction recorded in metadata, optionally with a progress bar on stderr) come for free. Backends are
imported only when :func:`get_generator` asks for one, so importing this package never imports torch.
"""

from __future__ import annotations

import abc
import importlib
import os
import sys
from dataclasses import dataclass, field
from typing import Any, Sequence

from codealign.errors import UserError
from codealign.types import Candidate, Task

_REGISTRY: dict[str, str] = {
    "hf": "codealign.generate.hf:HFGenerator",
    "file": "codealign.generate.file:FileGenerator",
    "openai": "codealign.generate.openai:OpenAIGenerator",
    "vllm": "codealign.generate.vllm:VLLMGenerator",
}
"""Generator kinds → ``module:Class``; a new backend adds one line here."""

GENERATORS = tuple(_REGISTRY)


@dataclass
class Sample:
    """One sampled continuation. ``finish_reason``: ``eos`` (the model ended it), ``stop`` (cut at a stop
    string), ``length`` (hit ``max_new_tokens``: the text may be truncated) or ``file`` (read from a file)."""

    text: str
    finish_reason: str = "eos"
    num_tokens: int = 0
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SamplingParams:
    """Sampling settings shared by every backend.

    ``temperature`` 0 means greedy decoding. ``seed`` makes a backend's output reproducible where the backend
    can guarantee it (the HF backend does for the same prompts, ``n``, batch size and device). ``stop`` strings
    end a sample early; the stop string itself is not part of the text.
    """

    temperature: float = 0.8
    top_p: float = 0.95
    max_new_tokens: int = 512
    seed: int = 0
    stop: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.temperature < 0:
            raise UserError(f"temperature must be >= 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise UserError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.max_new_tokens < 1:
            raise UserError(f"max_new_tokens must be >= 1, got {self.max_new_tokens}")


class Generator(abc.ABC):
    """Turns prompts into ``n`` samples each. Subclasses set ``kind`` and implement :meth:`sample`."""

    kind: str = ""
    model_name: str = ""
    _bar: Any = None

    def advance(self, prompts_done: int) -> None:
        """Called by :meth:`sample` as prompts finish: advances the progress bar of :meth:`candidates`, if any."""
        if self._bar is not None:
            self._bar.update(prompts_done)

    @abc.abstractmethod
    def sample(self, prompts: Sequence[str], n: int, params: SamplingParams) -> list[list[Sample]]:
        """``n`` samples for each prompt (fewer only for backends that replay stored candidates), in prompt
        order. Prompts are task prompts; the backend applies :mod:`codealign.generate.prompts` formatting."""

    def generate(
        self,
        prompts: Sequence[str],
        n: int = 1,
        *,
        temperature: float = 0.8,
        top_p: float = 0.95,
        max_new_tokens: int = 512,
        seed: int = 0,
        stop: Sequence[str] | None = None,
    ) -> list[list[str]]:
        """The sampled texts: one list of ``n`` strings per prompt."""
        params = SamplingParams(temperature, top_p, max_new_tokens, seed, tuple(stop or ()))
        return [[s.text for s in row] for row in self.sample(list(prompts), _check_n(n), params)]

    def candidates(
        self,
        tasks: Sequence[Task],
        n: int = 1,
        *,
        extract: bool = True,
        temperature: float = 0.8,
        top_p: float = 0.95,
        max_new_tokens: int = 512,
        seed: int = 0,
        stop: Sequence[str] | None = None,
        progress: bool = False,
    ) -> list[Candidate]:
        """``n`` candidates per task, task by task, built with :func:`make_candidate` (code extraction recorded
        in metadata). Metadata also holds the generator kind, model, sample index, seed, sampling settings and
        finish reason. ``progress``: a progress bar over the tasks on stderr."""
        params = SamplingParams(temperature, top_p, max_new_tokens, seed, tuple(stop or ()))
        if progress:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=len(tasks), desc=f"sampling {_check_n(n)}/task", unit="task", file=sys.stderr)
        try:
            rows = self.sample([t.prompt for t in tasks], _check_n(n), params)
        finally:
            if self._bar is not None:
                self._bar.close()
                self._bar = None
        out = []
        for task, samples in zip(tasks, rows):
            for index, s in enumerate(samples):
                meta = {
                    "generator": self.kind,
                    "model": self.model_name,
                    "sample_index": index,
                    "seed": params.seed,
                    "temperature": params.temperature,
                    "top_p": params.top_p,
                    "finish_reason": s.finish_reason,
                    **s.metadata,
                }
                out.append(make_candidate(task, s.text, meta, extract=extract))
        return out


def make_candidate(task: Task, text: str, metadata: dict[str, Any], *, extract: bool = True) -> Candidate:
    """A :class:`Candidate` for ``task`` from a model's answer ``text``. With ``extract``, the completion is the
    code extracted for the task's language (``task.metadata["language"]``, else its domain) by the domain of that
    name (:meth:`~codealign.domains.base.Domain.extract`); a language that names no domain, e.g. ``text``,
    means no extraction. ``metadata["extraction"]`` records what extraction did and ``metadata["raw"]`` keeps
    the answer when it differs. ``metadata["finish_reason"] == "length"`` tells extraction the answer was cut
    off."""
    from codealign.domains import domain_names, get_domain
    from codealign.extraction import unextracted

    meta = dict(metadata)
    completion = text
    if extract:
        language = task.metadata.get("language", task.domain)
        truncated = meta.get("finish_reason") == "length"
        if language in domain_names():
            result = get_domain(language).extract(text, truncated=truncated)
        else:
            result = unextracted(text, language, truncated=truncated)
        meta["extraction"] = result.record()
        if result.code != text:
            meta["raw"] = text
        completion = result.code
    return Candidate(task_id=task.task_id, completion=completion, metadata=meta)


def generate_to_file(
    generator: Generator, tasks: Sequence[Task], n: int, out: str | os.PathLike, **sampling: Any
) -> list[Candidate]:
    """``codealign generate``: :meth:`Generator.candidates` for ``tasks``, written atomically to ``out`` (JSONL
    of candidates). ``sampling`` takes the keyword arguments of :meth:`Generator.candidates`."""
    from codealign.jsonl import write_jsonl

    candidates = generator.candidates(tasks, n, **sampling)
    write_jsonl(out, candidates)
    return candidates


def _check_n(n: int) -> int:
    if not isinstance(n, int) or n < 1:
        raise UserError(f"n (samples per prompt) must be a positive integer, got {n!r}")
    return n


def get_generator(kind: str, **kwargs: Any) -> Generator:
    """A generator of ``kind`` (``hf``: model=name or path; ``file``: path=candidates JSONL), built with
    ``kwargs``; its module is imported only now."""
    target = _REGISTRY.get(kind)
    if target is None:
        raise UserError(f"unknown generator {kind!r}; choose one of: {', '.join(GENERATORS)}")
    module, attr = target.split(":")
    return getattr(importlib.import_module(module), attr)(**kwargs)
