"""The ladder tasks and subroutine library bundled with codealign (written for this project).

``codealign/domains/ladder/resources/tasks/tasks.jsonl`` holds :class:`~codealign.types.Task` rows (domain
``ladder``; assets as in :mod:`.assets`); each task's ``metadata`` has ``split`` (``train`` or ``test``, the
held-out part), ``solution`` (a correct program), ``title``, ``tags`` and ``kind`` (``traces`` or
``reference``). ``library.jsonl`` holds LD subroutines ``{name, description, ld}`` for retrieval. These are the
``ladder`` benchmark's tasks; ``codealign run ladder`` trains and evaluates on the procedural family of
:mod:`.tasks` (``train.jsonl`` / ``heldout.jsonl`` beside them).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from codealign.errors import UserError
from codealign.jsonl import read_jsonl
from codealign.types import Task

RESOURCE_DIR = Path(__file__).resolve().parent / "resources" / "tasks"
SPLITS = ("train", "test")


def bundled_tasks(split: str | None = None, path: str | Path | None = None) -> list[Task]:
    """The bundled tasks (or those of ``path``), all or one ``split``, in file order. ``path`` may also hold
    records of the shared fixture format (``id``, ``ldt``, ``test``: :func:`~.task.fixture_task`); those have
    no split of their own and are all ``test`` (a benchmark set). Any other row is one line naming what a row
    needs."""
    from codealign.domains.ladder.assets import fixture_task

    if split is not None and split not in SPLITS:
        raise UserError(f"unknown split {split!r}; choose one of: {', '.join(SPLITS)}")
    source = path or RESOURCE_DIR / "tasks.jsonl"
    tasks = []
    for number, row in enumerate(read_jsonl(source), 1):
        if isinstance(row, dict) and "task_id" not in row and "ldt" in row:
            task = fixture_task(row)
            task.metadata["split"] = "test"
        else:
            try:
                task = Task.from_dict(row)
            except ValueError as exc:
                raise UserError(f"{source}: row {number}: {exc}; a ladder task row is a Task (task_id, domain, "
                                "prompt, assets) or a fixture record (id, ldt, test)") from None
        tasks.append(task)
    return [t for t in tasks if split is None or t.metadata.get("split") == split]


def library(path: str | Path | None = None) -> list[dict[str, Any]]:
    """The LD subroutine library: rows ``{name, description, ld}``; each ``ld`` parses (checked here)."""
    from codealign.domains.ladder.parser import parse_program

    source = path or RESOURCE_DIR / "library.jsonl"
    rows = read_jsonl(source)
    for row in rows:
        missing = [k for k in ("name", "description", "ld") if not isinstance(row.get(k), str)]
        if missing:
            raise UserError(f"{source}: entry {row.get('name', '?')!r} lacks {', '.join(missing)}")
        try:
            parse_program(row["ld"])
        except UserError as exc:
            raise UserError(f"{source}: entry {row['name']!r}: {exc}") from None
    return rows
