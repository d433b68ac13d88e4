"""``codealign generate`` as a library call: sample candidates for every task of a tasks file, extract the
code and record what extraction did, and write the candidates as JSONL."""

from __future__ import annotations

import collections
import os
import sys
from typing import Any, Sequence

from codealign.errors import UserError


def make_generator(generator: str = "hf", *, model: str = "codealign-tiny", tasks: str | os.PathLike | None = None,
                   from_file: str | os.PathLike | None = None, system: str | None = None, device: str = "auto",
                   batch_size: int = 32, raw_prompts: bool = False,
                   base_url: str = "http://127.0.0.1:8000/v1", chat: bool = False, concurrency: int = 8,
                   retries: int = 3, api_key: str | None = None) -> Any:
    """A generator of kind ``generator`` (see :data:`codealign.generate.GENERATORS`) with the options that kind
    takes: ``file`` replays ``from_file`` for ``tasks``; ``hf`` uses ``device``, ``batch_size``,
    ``raw_prompts``; ``vllm`` ``raw_prompts``; ``openai`` ``base_url``, ``chat`` (chat completions),
    ``concurrency`` (requests in flight), ``retries`` and ``api_key`` (default: ``OPENAI_API_KEY``).
    ``system`` is the system turn of chat models (a chat template for ``hf``/``vllm``, a system message for
    ``openai`` with ``chat``)."""
    from codealign.generate import get_generator

    if generator == "file":
        if not from_file:
            raise UserError("--generator file needs --from-file CANDIDATES.jsonl")
        return get_generator("file", path=from_file, tasks=tasks)
    options: dict[str, Any] = {"model": model, "system": system}
    if generator == "hf":
        options.update(device=device, batch_size=batch_size, raw_prompts=raw_prompts)
    elif generator == "vllm":
        options.update(raw_prompts=raw_prompts)
    elif generator == "openai":
        options.update(base_url=base_url, chat=chat, concurrency=concurrency, retries=retries, api_key=api_key)
    return get_generator(generator, **options)


def generate_candidates(tasks: str | os.PathLike, out: str | os.PathLike, generator: Any, *, n: int = 1,
                        extract: bool = True, temperature: float = 0.8, top_p: float = 0.95,
                        max_new_tokens: int = 512, seed: int = 0, stop: Sequence[str] | None = None,
                        progress: bool = False) -> dict:
    """``n`` samples per task of the ``tasks`` file from ``generator`` written to ``out``; the summary
    (counts, finish reasons, extraction failures). ``stop`` None: the stop sequences of the tasks' domain
    (:attr:`~codealign.domains.base.Domain.stop_sequences`) when they all share one; ``[]``: none.
    ``progress``: a progress bar on stderr."""
    from codealign.generate import generate_to_file, resume_candidates
    from codealign.jsonl import read_completed, read_jsonl
    from codealign.types import Task

    rows = read_jsonl(tasks, Task.from_dict)
    if stop is None:
        stop = default_stop(rows)
    sampling = dict(extract=extract, temperature=temperature, top_p=top_p, max_new_tokens=max_new_tokens, seed=seed,
                    stop=stop, progress=progress)
    kept = resume_candidates(out, rows, n, generator, **sampling) if generator.kind != "file" else []
    resumed = len({c.task_id for c in kept})
    if resumed:
        print(f"resuming: {resumed} of {len(rows)} tasks already have their {n} candidates in {out}",
              file=sys.stderr)
    try:
        candidates = generate_to_file(generator, rows, n, out, kept=kept, **sampling)
    except (UserError, KeyboardInterrupt) as exc:
        done = len({row.get("task_id") for row in read_completed(out)})
        keep = f"{done} of {len(rows)} tasks' candidates are kept in {out}; rerun the same command to continue"
        if isinstance(exc, UserError):
            raise UserError(f"{exc} ({keep})" if done else str(exc)) from None
        print(f"codealign: {keep}", file=sys.stderr)
        raise
    finish = collections.Counter(c.metadata.get("finish_reason", "?") for c in candidates)
    failed = sum(1 for c in candidates if not c.metadata.get("extraction", {}).get("ok", True))
    return {"tasks": len(rows), "candidates": len(candidates), "resumed_tasks": resumed, "out": out,
            "finish_reasons": dict(finish), "extraction_failures": failed, "stop": list(stop)}


def default_stop(tasks: Sequence[Any]) -> tuple[str, ...]:
    """The stop sequences of the domain every task belongs to; none for mixed or unregistered domains."""
    from codealign.domains import domain_names, get_domain

    domains = {t.domain for t in tasks}
    if len(domains) != 1 or next(iter(domains)) not in domain_names():
        return ()
    return tuple(get_domain(next(iter(domains))).stop_sequences)
