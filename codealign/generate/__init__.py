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
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from codealign.errors import UserError
from codealign.registry import Registry
from codealign.types import Candidate, Task

GENERATORS: Registry[type["Generator"]] = Registry("generator", "codealign.generators")
"""Generator kinds → ``module:Class``, imported when :func:`get_generator` asks for one."""
GENERATORS.register("hf", "codealign.generate.hf:HFGenerator")
GENERATORS.register("file", "codealign.generate.file:FileGenerator")
GENERATORS.register("openai", "codealign.generate.openai:OpenAIGenerator")
GENERATORS.register("vllm", "codealign.generate.vllm:VLLMGenerator")


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
    chunk_prompts: int = 32
    """Prompts sampled between two hand-overs to a ``sink`` of :meth:`candidates` (a resumable run's writes)."""
    _bar: Any = None

    def advance(self, prompts_done: int) -> None:
        """Called by :meth:`sample` as prompts finish: advances the progress bar of :meth:`candidates`, if any."""
        if self._bar is not None:
            self._bar.update(prompts_done)

    @abc.abstractmethod
    def sample(self, prompts: Sequence[str], n: int, params: SamplingParams) -> list[list[Sample]]:
        """``n`` samples for each prompt (fewer only for backends that replay stored candidates), in prompt
        order. Prompts are task prompts; the backend applies :mod:`codealign.prompts` formatting."""

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
        return [[s.text for s in row] for row in self.sample(list(prompts), _check_n(n, params), params)]

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
        sink: Callable[[list[Candidate]], None] | None = None,
    ) -> list[Candidate]:
        """``n`` candidates per task, task by task, built with
        :func:`~codealign.domains.candidates.make_candidate` (code extraction recorded in metadata). Metadata also holds the generator kind, model, sample index, seed, sampling settings and
        finish reason. ``progress``: a progress bar over the tasks on stderr. ``sink``: called with the
        candidates of every :attr:`chunk_prompts` tasks as they are done (what a resumable run appends), so an
        error or interrupt later loses only the chunk in progress."""
        from codealign.domains.candidates import make_candidate

        params = SamplingParams(temperature, top_p, max_new_tokens, seed, tuple(stop or ()))
        _check_n(n, params)
        if progress:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=len(tasks), desc=f"sampling {n}/task", unit="task", file=sys.stderr)
        step = max(1, self.chunk_prompts) if sink is not None else max(1, len(tasks))
        out: list[Candidate] = []
        try:
            for start in range(0, len(tasks), step):
                part = tasks[start:start + step]
                made = [make_candidate(task, s.text, self._metadata(params, index, s), extract=extract)
                        for task, samples in zip(part, self.sample([t.prompt for t in part], n, params))
                        for index, s in enumerate(samples)]
                if sink is not None:
                    sink(made)
                out += made
        finally:
            if self._bar is not None:
                self._bar.close()
                self._bar = None
        return out

    def chat_turns(self) -> bool:
        """Whether prompts reach the model as chat turns (a chat template, or a chat endpoint) rather than as
        text; recorded in each candidate's metadata as ``prompt_format`` so pairs can carry the prompt as it
        was sampled."""
        return False

    def _metadata(self, params: SamplingParams, index: int, sample: Sample) -> dict[str, Any]:
        chat = self.chat_turns()
        system = getattr(self, "system", None)
        return {"generator": self.kind, "model": self.model_name, "sample_index": index, "seed": params.seed,
                "temperature": params.temperature, "top_p": params.top_p, "finish_reason": sample.finish_reason,
                "prompt_format": "chat" if chat else "text", **({"system": system} if chat and system else {}),
                **sample.metadata}


def generate_to_file(
    generator: Generator, tasks: Sequence[Task], n: int, out: str | os.PathLike,
    kept: Sequence[Candidate] | None = None, **sampling: Any
) -> list[Candidate]:
    """``codealign generate``: :meth:`Generator.candidates` for ``tasks``, written to ``out`` (JSONL of
    candidates); returns every candidate now in ``out``. ``sampling`` takes the keyword arguments of
    :meth:`Generator.candidates`.

    Resumable for a sampling generator: candidates are appended as each chunk of tasks is done, and a task
    whose ``n`` candidates ``out`` already holds (``kept``, default :func:`resume_candidates`) is not sampled
    again, so an interrupted run or one stopped by a server error continues where it stopped when rerun. A
    task that was only partly written is sampled afresh. The ``file`` generator (a replay) rewrites ``out``
    atomically."""
    from codealign.jsonl import JsonlAppender, write_jsonl

    if generator.kind == "file":
        candidates = generator.candidates(tasks, n, **sampling)
        write_jsonl(out, candidates)
        return candidates
    if kept is None:
        kept = resume_candidates(out, tasks, n, generator, **sampling)
    done = {c.task_id for c in kept}
    with JsonlAppender(out) as file:
        def append(rows: list[Candidate]) -> None:
            for row in rows:
                file.append(row)

        new = generator.candidates([t for t in tasks if t.task_id not in done], n, sink=append, **sampling)
    return [*kept, *new]


def resume_candidates(out: str | os.PathLike, tasks: Sequence[Task], n: int, generator: Generator,
                      **sampling: Any) -> list[Candidate]:
    """The candidates an earlier run of the same sampling (generator kind, model, seed, temperature, top_p)
    left in ``out`` for tasks it finished (``n`` each); ``out`` is rewritten to hold just those when it holds
    more (a torn last line, a task cut off midway). A UserError when ``out`` holds other rows: candidates of
    another model or settings, tasks not in ``tasks``, more than ``n`` per task, or rows that are no
    candidates."""
    import inspect

    from codealign.jsonl import read_completed, write_jsonl

    rows = read_completed(out)
    if not rows:
        return []
    defaults = inspect.signature(Generator.candidates).parameters
    settings = {"generator": generator.kind, "model": generator.model_name,
                **{k: sampling.get(k, defaults[k].default) for k in ("seed", "temperature", "top_p")}}
    try:
        found = [Candidate.from_dict(row) for row in rows]
    except (ValueError, TypeError) as exc:
        raise UserError(f"--out {out} exists and holds rows that are no candidates ({exc}); give another --out") \
            from None
    for cand in found:
        theirs = {k: cand.metadata.get(k) for k in settings}
        if theirs != settings:
            differ = ", ".join(f"{k} {theirs[k]!r} (now {v!r})" for k, v in settings.items() if theirs[k] != v)
            raise UserError(f"--out {out} holds candidates of other sampling: {differ}; give another --out, or "
                            "remove it to start over")
    by_task: dict[str, list[Candidate]] = {}
    for cand in found:
        by_task.setdefault(cand.task_id, []).append(cand)
    known = {t.task_id for t in tasks}
    stray = sorted(set(by_task) - known)
    if stray:
        raise UserError(f"--out {out} holds candidates of {len(stray)} task(s) not in the tasks file (e.g. "
                        f"{stray[0]}); give another --out, or remove it to start over")
    over = next((tid for tid, cs in by_task.items() if len(cs) > n), None)
    if over:
        raise UserError(f"--out {out} holds {len(by_task[over])} candidates of {over}, more than n={n}; give "
                        "another --out, or remove it to start over")
    kept = [c for t in tasks for c in by_task.get(t.task_id, []) if len(by_task[t.task_id]) == n]
    if len(kept) != sum(1 for line in Path(out).read_bytes().splitlines() if line.strip()):
        write_jsonl(out, kept)
    return kept


def _check_n(n: int, params: SamplingParams | None = None) -> int:
    if not isinstance(n, int) or n < 1:
        raise UserError(f"n (samples per prompt) must be a positive integer, got {n!r}")
    if params is not None and params.temperature == 0 and n > 1:
        raise UserError(f"temperature 0 is greedy decoding: its {n} samples per prompt would all be the same; "
                        "give a temperature above 0, or n = 1")
    return n


def get_generator(kind: str, **kwargs: Any) -> Generator:
    """A generator of ``kind`` (``hf``: model=name or path; ``file``: path=candidates JSONL), built with
    ``kwargs``; its module is imported only now."""
    return GENERATORS.get(kind)(**kwargs)
