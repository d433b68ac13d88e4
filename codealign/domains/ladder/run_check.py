"""The sandboxed ladder checker: ``python -m codealign.domains.ladder.run_check TASK.json CANDIDATE SEED``.

Reads a task (JSON of :class:`~codealign.types.Task`), a candidate's text and the job's draw seed (a file
holding the integer the harness derived with :func:`codealign.domains.draws.draw_seed`; the key stays
outside), scores it with :func:`~codealign.domains.ladder.scoring.score_candidate`, and writes the result
as one JSON object to file descriptor 3, the sandbox's trusted channel. Nothing of the candidate is executed:
it is parsed and simulated by this (trusted) code, so the result on fd 3 is trustworthy. Exit status 0 when a
result was written; 2 when the task itself is bad (its message on stderr).
"""

from __future__ import annotations

import json
import os
import sys

from codealign.domains.ladder.scoring import score_candidate
from codealign.domains.ladder.assets import LadderTask
from codealign.errors import UserError
from codealign.types import Task


def main(argv: list[str]) -> int:
    task_path, candidate_path, seed_path = argv
    with open(task_path, encoding="utf-8") as fh:
        task = Task.from_dict(json.load(fh))
    with open(candidate_path, encoding="utf-8", errors="replace") as fh:
        completion = fh.read()
    with open(seed_path, encoding="ascii") as fh:
        seed = int(fh.read())
    try:
        result = score_candidate(LadderTask.from_task(task), completion, seed=seed)
    except UserError as exc:
        print(f"bad task: {exc}", file=sys.stderr)
        return 2
    with os.fdopen(3, "w", encoding="utf-8") as channel:
        json.dump(result, channel)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
