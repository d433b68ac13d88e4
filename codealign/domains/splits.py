"""The fixed train / held-out split of procedural task families, for the domains that generate tasks.

A task is drawn from a family by a parameter combination and a phrasing of its spec (plus whatever else a
domain varies, e.g. the span to fill). The split is deterministic and independent of how many tasks are
drawn or with which seed:

* a parameter combination is *held out* when ``sha256("<family>|<canonical JSON of params>")``, read as a
  fraction in [0, 1), is below ``fraction`` (the domain's choice, typically 0.2);
* one phrasing index per family (the domain's choice, typically the last) is *held out*;
* a task is ``train`` when neither its parameters nor its phrasing are held out, else ``heldout``: every
  held-out task has parameters, a phrasing or both that no train task has (:func:`novelty` says which).

:func:`draw` picks tasks from per-family pools without replacement, round robin over the families, each pool
shuffled with its own seeded generator and interleaved by novelty, so a larger ``n`` extends a smaller one's
list and every prefix of a held-out list holds each kind of novelty in about equal numbers.

The ``feedback`` split (:func:`feedback_pools`) is the part of the held-out universe a run may sample and learn
from by execution alone: every evaluation draw of a family is a prefix of its seed-0 held-out draw (a larger
``n`` extends a smaller one), so the family reserves that draw's first ``reserve`` tasks (its
``EVAL_RESERVE``) for evaluation, and the feedback pool is every held-out task whose *novelty key* (what makes a
task new in that family: ``(family, params)``, or the contract shown) no reserved task has. Evaluation draws of
at most ``reserve`` tasks, the bundled held-out set among them, share no key with it; the train / held-out rule
is unchanged. Feedback tasks are judge-only: their references serve the judge and never reach training
(:func:`codealign.pipeline.state.strip_task`).

:class:`Bundle` is a family's shipped task files (``resources/tasks/{train,heldout}.jsonl``): read, the
generation they must equal, and the writer that regenerates them.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Hashable, Iterable, Mapping, Sequence, TypeVar

from codealign.errors import UserError
from codealign.types import Task

SPLITS = ("train", "heldout")
"""The splits of the train / held-out rule, each with a bundled file."""
FEEDBACK = "feedback"
DRAW_SPLITS = (*SPLITS, FEEDBACK)
"""What :func:`draw` and the families' ``generate_tasks`` accept."""

T = TypeVar("T")


def canonical(params: Mapping[str, Any]) -> str:
    """``params`` as canonical JSON (sorted keys, no spaces): the text the split and the seeds hash."""
    return json.dumps(params, sort_keys=True, separators=(",", ":"))


def params_held_out(family: str, params: Mapping[str, Any], fraction: float) -> bool:
    """True when this parameter combination of ``family`` belongs to the held-out split."""
    digest = hashlib.sha256(f"{family}|{canonical(params)}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < fraction


def novelty(family: str, params: Mapping[str, Any], phrasing: int, *, fraction: float,
            heldout_phrasing: int) -> list[str]:
    """What a task has that no train task has: a subset of ``["params", "phrasing"]`` (empty: train)."""
    held = (("params", params_held_out(family, params, fraction)), ("phrasing", phrasing == heldout_phrasing))
    return [name for name, is_held in held if is_held]


def family_names(families: str | Iterable[str] | None, known: Sequence[str]) -> list[str]:
    """The family names asked for (None: all of ``known``), in order, without repeats; UserError for an
    unknown one or an empty selection, naming the choices."""
    if families is None:
        return list(known)
    names = [families] if isinstance(families, str) else list(families)
    if not names:
        raise UserError(f"no task family given; choose from: {', '.join(known)}")
    for name in names:
        if name not in known:
            raise UserError(f"unknown task family {name!r}; choose from: {', '.join(known)}")
    return list(dict.fromkeys(names))


def params_slug(params: Mapping[str, Any], symbols: Mapping[str, str] | None = None) -> str:
    """``params`` as a task-id fragment: ``key3`` for ints, ``key`` / ``nokey`` for booleans, the value for
    strings (spelled by ``symbols`` where it has the value, e.g. ``">=": "ge"``), joined by ``-``."""
    parts = []
    for key, value in params.items():
        if isinstance(value, bool):
            parts.append(key if value else f"no{key}")
        elif isinstance(value, int):
            parts.append(f"{key}{value}")
        else:
            parts.append((symbols or {}).get(str(value), str(value)))
    return "-".join(parts)


def check_split(split: str, allowed: Sequence[str] = DRAW_SPLITS) -> None:
    if split not in allowed:
        raise UserError(f"unknown split {split!r}; choose from: {', '.join(allowed)}")


def params_key(family: str, item: Sequence[Any]) -> tuple[str, str]:
    """The novelty key of a family item whose first element is its parameters: ``(family, canonical params)``."""
    return family, canonical(item[0])


def feedback_pools(heldout: Mapping[str, Sequence[T]], reserve: int, stratum: Callable[[str, T], Hashable],
                   key: Callable[[str, T], Hashable]) -> dict[str, list[T]]:
    """Family → the held-out items (``heldout``: every family's whole held-out universe, in its fixed order)
    whose ``key`` none of the first ``reserve`` items of the seed-0 held-out draw has."""
    reserved = {key(family, item) for family, item in draw(heldout, reserve, 0, "heldout", stratum)}
    return {family: [item for item in pool if key(family, item) not in reserved] for family, pool in heldout.items()}


def labelled(task: Task, split: str) -> Task:
    """``task`` with ``metadata["split"]`` set to ``split`` (a feedback task is a held-out task by the rule)."""
    task.metadata["split"] = split
    return task


def draw(pools: Mapping[str, Sequence[T]], n: int, seed: int, split: str,
         stratum: Callable[[str, T], Hashable]) -> list[tuple[str, T]]:
    """``n`` distinct ``(family, item)`` of ``split`` from ``pools`` (family → every item of the split, in a
    fixed order): each pool shuffled with ``Random(f"{seed}|{family}|{split}")``, interleaved across its
    ``stratum(family, item)`` groups (sorted), then taken round robin over the families in ``pools`` order.
    Raises UserError when ``n`` is not a non-negative integer or exceeds what the pools hold."""
    check_split(split)
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise UserError(f"n must be a non-negative integer, got {n!r}")
    available = sum(len(pool) for pool in pools.values())
    if n > available:
        raise UserError(f"only {available} {split} tasks exist for families {', '.join(pools)}; asked for {n}")
    queues = []
    for family, pool in pools.items():
        rng = random.Random(f"{seed}|{family}|{split}")
        strata: dict[Hashable, list[T]] = {}
        for item in pool:
            strata.setdefault(stratum(family, item), []).append(item)
        groups = [strata[key] for key in sorted(strata)]
        for group in groups:
            rng.shuffle(group)
        queues.append([(family, item) for row in itertools.zip_longest(*groups) for item in row if item is not None])
    picked: list[tuple[str, T]] = []
    for row in itertools.zip_longest(*queues):
        picked.extend(entry for entry in row if entry is not None)
        if len(picked) >= n:
            break
    return picked[:n]


@dataclass(frozen=True)
class Bundle:
    """The bundled tasks of one family module: ``folder/<split>.jsonl`` for each of :data:`SPLITS`, equal to
    ``generate(None, counts[split], seed, split)`` (a test per domain checks that byte for byte)."""

    folder: Path
    """The folder of the JSONL files (the domain package's ``resources/tasks``)."""
    generate: Callable[[None, int, int, str], list[Task]]
    """The family module's ``generate_tasks(families, n, seed, split)``."""
    counts: Mapping[str, int]
    """Tasks per split."""
    seed: int = 0
    """The seed the bundled files are drawn with."""

    def tasks(self, split: str = "train") -> list[Task]:
        """The tasks shipped for ``split``; UserError for an unknown split."""
        from codealign.jsonl import read_jsonl

        check_split(split, SPLITS)
        return read_jsonl(self.folder / f"{split}.jsonl", Task.from_dict)

    def generation(self, split: str) -> list[Task]:
        """What the bundled file for ``split`` must contain."""
        return self.generate(None, self.counts[split], self.seed, split)

    def write(self, root: str | Path | None = None) -> dict[str, int]:
        """Regenerate the files (into ``root`` instead of the package when given); returns tasks per split."""
        from codealign.jsonl import write_jsonl

        base = Path(root) if root else self.folder
        base.mkdir(parents=True, exist_ok=True)
        counts = {}
        for split in SPLITS:
            counts[split] = write_jsonl(base / f"{split}.jsonl", self.generation(split))
            (base / f"{split}.jsonl").chmod(0o644)
        return counts
