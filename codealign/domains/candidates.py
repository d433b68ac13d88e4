"""A model's answer as a :class:`~codealign.types.Candidate` of its task, with the code extracted by the task's
domain: what sampling (:mod:`codealign.generate`) and online-RL scoring (:mod:`codealign.reward`) both do to an
answer before it is judged, in one place below both, so neither imports the other for it."""

from __future__ import annotations

from typing import Any

from codealign.domains import domain_names, get_domain
from codealign.extraction import unextracted
from codealign.types import Candidate, Task


def make_candidate(task: Task, text: str, metadata: dict[str, Any], *, extract: bool = True) -> Candidate:
    """A :class:`Candidate` for ``task`` from a model's answer ``text``. With ``extract``, the completion is the
    code extracted for the task's language (``task.metadata["language"]``, else its domain) by the domain of that
    name (:meth:`~codealign.domains.base.Domain.extract`); a language that names no domain, e.g. ``text``,
    means no extraction. ``metadata["extraction"]`` records what extraction did and ``metadata["raw"]`` keeps
    the answer when it differs. ``metadata["finish_reason"] == "length"`` tells extraction the answer was cut
    off."""
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
