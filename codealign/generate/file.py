"""Candidates that already exist: a JSONL file of :class:`~codealign.types.Candidate` rows (e.g. samples from
another system, or a benchmark's ``--candidates`` file) served through the generator interface."""

from __future__ import annotations

import os
from collections import defaultdict
from typing import Callable, Sequence

from codealign.errors import UserError
from codealign.domains.candidates import make_candidate
from codealign.generate import Generator, Sample, SamplingParams
from codealign.jsonl import read_jsonl
from codealign.types import Candidate, Task


class FileGenerator(Generator):
    """Replays the candidates in ``path``, in file order, at most ``n`` per task.

    :meth:`candidates` matches rows to tasks by ``task_id``. :meth:`sample` (prompts only) matches a prompt to
    rows through ``tasks`` (a list of :class:`Task` or a tasks JSONL path) or, without it, through a ``prompt``
    field in the rows. A task with no stored candidates gets none: the caller sees fewer than ``n`` and decides.
    Nothing is resampled, so sampling parameters are ignored.
    """

    kind = "file"

    def __init__(self, path: str | os.PathLike, *, tasks: Sequence[Task] | str | os.PathLike | None = None):
        self.path = str(path)
        self.model_name = f"file:{os.path.basename(self.path)}"
        rows = read_jsonl(path, Candidate.from_dict)
        self.by_task: dict[str, list[Candidate]] = defaultdict(list)
        for cand in rows:
            self.by_task[cand.task_id].append(cand)
        if isinstance(tasks, (str, os.PathLike)):
            tasks = read_jsonl(tasks, Task.from_dict)
        self.prompt_to_task: dict[str, str] = {}
        for task in tasks or ():
            self.prompt_to_task[task.prompt] = task.task_id
        for cand in rows:
            prompt = cand.metadata.get("prompt")
            if isinstance(prompt, str):
                self.prompt_to_task.setdefault(prompt, cand.task_id)

    def sample(self, prompts: Sequence[str], n: int, params: SamplingParams) -> list[list[Sample]]:
        out = []
        for prompt in prompts:
            task_id = self.prompt_to_task.get(prompt)
            if task_id is None:
                raise UserError(
                    f"{self.path}: no candidate row matches a prompt (pass tasks=, or store a 'prompt' field): {prompt[:60]!r}"
                )
            out.append([self._as_sample(c) for c in self.by_task.get(task_id, [])[:n]])
        self.advance(len(out))
        return out

    @staticmethod
    def _as_sample(cand: Candidate) -> Sample:
        return Sample(
            text=cand.completion,
            finish_reason=cand.metadata.get("finish_reason", "file"),
            metadata={"source_candidate_id": cand.candidate_id},
        )

    def candidates(self, tasks: Sequence[Task], n: int = 1, *, extract: bool = True,
                   sink: Callable[[list[Candidate]], None] | None = None, **_: object) -> list[Candidate]:
        """The stored candidates of each task (at most ``n``), re-extracted when ``extract`` (a stored
        completion that is already code comes back unchanged); handed to ``sink`` too, when given."""
        out = []
        for task in tasks:
            for index, cand in enumerate(self.by_task.get(task.task_id, [])[:n]):
                meta = {"generator": self.kind, "model": self.model_name, "sample_index": index, **cand.metadata}
                out.append(make_candidate(task, cand.completion, meta, extract=extract))
        if sink is not None:
            sink(out)
        return out
