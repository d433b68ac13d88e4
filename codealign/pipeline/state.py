"""A run directory and the state the stages share: :class:`Run` (which stages finished with this config, the
per-stage records in ``state.json``, deleting a stage's outputs before it reruns on another config) and the
helpers every stage uses (the run's tasks, policies, sampling and execution)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Callable

from codealign.jsonl import read_jsonl, write_text_atomic
from codealign.pipeline.config import PipelineConfig
from codealign.pipeline.plan import downstream, stage_hashes, stage_settings
from codealign.pipeline.rounds import stage_plan
from codealign.types import Candidate, ExecResult, Task


class Run:
    """One run directory and the stages' shared state."""

    def __init__(self, config: PipelineConfig, run_dir: Path, *, backend: str = "auto", executor: str = "local",
                 workers: int | None = None, cache: Any = None, quiet: bool = False,
                 log: Callable[[str], None] | None = None):
        self.config = config
        self.dir = run_dir
        self.backend = backend
        self.executor = executor
        self.workers = workers
        self.cache = cache
        self.quiet = quiet
        self.log = log or (lambda msg: None if quiet else print(f"[codealign] {msg}", file=sys.stderr, flush=True))
        self._domain = None
        self.plan = stage_plan(config)
        self.hashes = stage_hashes(config, self.plan)
        state = self.path("state.json")
        self.state: dict[str, Any] = json.loads(state.read_text()) if state.is_file() else {}

    @property
    def domain(self):
        if self._domain is None:
            from codealign.domains import get_domain

            self._domain = get_domain(self.config.domain, **self.config.domain_options)
        return self._domain

    def path(self, name: str) -> Path:
        return self.dir / name

    def marker(self, stage: str) -> Path:
        return self.dir / "stages" / f"{stage}.json"

    def done(self, stage: str) -> dict[str, Any] | None:
        m = self.marker(stage)
        return json.loads(m.read_text()) if m.is_file() else None

    def finish(self, stage: str, info: dict[str, Any]) -> None:
        write_text_atomic(self.marker(stage), json.dumps(info, indent=2, default=str))

    def current(self, stage: str) -> dict[str, Any] | None:
        """The stage's summary when it finished with this run's config (and so did every stage it reads)."""
        recorded = self.state.get(stage, {}).get("config_hash")
        return self.done(stage) if recorded == self.hashes[stage] else None

    def changes(self, selected: list[str]) -> list[str]:
        """A line for each stage whose own config slice differs from the one it last ran with, naming the
        changed keys and the stages (of ``selected``) that rerun; a stage an earlier line reruns gets none."""
        lines, covered = [], set()
        for stage in self.plan.values():
            old = self.state.get(stage.name, {}).get("config")
            new = stage_settings(self.config, stage)
            rerun = [s for s in downstream(self.plan, stage.name) if s in selected]
            if old is not None and old != new and rerun and stage.name not in covered:
                lines.append(f"{stage.name}: config changed ({_changes(old, new)}): rerunning {', '.join(rerun)}")
                covered.update(downstream(self.plan, stage.name))
        return lines

    def begin(self, stage: str) -> None:
        """Record that ``stage`` runs with this config. Outputs written under another config (or an unknown
        one) are deleted first; an interrupted run with the same config keeps them, to resume. Every stage
        downstream loses its record: it has to run again on the new outputs."""
        import shutil

        if self.state.get(stage, {}).get("config_hash") != self.hashes[stage]:
            for pattern in self.plan[stage].outputs():
                for found in self.dir.glob(pattern):
                    if found.is_dir():
                        shutil.rmtree(found)
                    else:
                        found.unlink()
        for later in downstream(self.plan, stage):
            self.marker(later).unlink(missing_ok=True)
            self.state.pop(later, None)
        self.state[stage] = {"config_hash": self.hashes[stage],
                             "config": stage_settings(self.config, self.plan[stage])}
        write_text_atomic(self.path("state.json"), json.dumps(self.state, indent=2))

    # -- helpers shared by stages ---------------------------------------------------------------------------
    def tasks(self, name: str = "tasks.jsonl") -> list[Task]:
        """The full tasks of ``name`` (what the judge reads)."""
        return read_jsonl(self.path(name), Task.from_dict)

    def training_tasks(self) -> list[Task]:
        """The round tasks as the method's training stages see them (sampling, pairs, RFT rows): with
        ``round_tasks=feedback`` stripped of assets and references (:func:`strip_task`), else in full."""
        tasks = self.tasks()
        return [strip_task(t) for t in tasks] if self.config.round_tasks == "feedback" else tasks

    def start_model(self) -> str:
        """The starting model: ``codealign-tiny`` is built (offline, seeded) into the run dir once."""
        if self.config.model != "codealign-tiny":
            return self.config.model
        path = self.path("base_model")
        if not (path / "config.json").is_file():
            from codealign.train.models import build_tiny_model

            build_tiny_model(path, seed=self.config.seed, **self.config.tiny_model)
        return str(path)

    def warmup_checkpoint(self) -> str | None:
        """The ready-made warm-up the ``sft`` stage copies instead of training: ``sft.warmup`` when set; else,
        unless ``sft.fresh``, the domain's shipped checkpoint when the run starts from ``codealign-tiny`` with
        the architecture that checkpoint was trained with (its ``warmup.json``); else None (train)."""
        cfg = self.config
        if cfg.sft.warmup or cfg.sft.fresh or cfg.model != "codealign-tiny":
            return cfg.sft.warmup or None
        shipped = self.domain.warmup_checkpoint()
        if shipped is None:
            return None
        recipe = json.loads((Path(shipped) / "warmup.json").read_text())
        return shipped if recipe["tiny_model"] == cfg.tiny_model else None

    def policy(self, stage: str) -> str:
        """The model that stage ``stage`` (the warm-up, a round's training) left."""
        return self.done(stage)["model"]

    def execute(self, tasks: list[Task], candidates: list[Candidate], out: Path) -> list[ExecResult]:
        from codealign.execution.executor import execute

        return execute(self.domain, tasks, candidates, backend=self.backend, executor=self.executor,
                       workers=self.workers, cache=self.cache, out=out, progress=not self.quiet)

    def sample(self, model: str, tasks: list[Task], n: int, seed: int, temperature: float) -> list[Candidate]:
        from codealign.generate import get_generator

        s = self.config.sample
        gen = get_generator("hf", model=model, device=self.config.device, batch_size=s.batch_size)
        return gen.candidates(tasks, n, temperature=temperature, top_p=s.top_p, max_new_tokens=s.max_new_tokens,
                              seed=seed, stop=self.domain.stop_sequences, progress=not self.quiet)


TRAINING_METADATA = ("family", "language", "novel", "split")
"""The metadata a stripped task keeps: none of it holds or derives a reference."""


def strip_task(task: Task) -> Task:
    """``task`` as a judge-only task reaches training: its id, domain, prompt and :data:`TRAINING_METADATA`; no
    assets (references, tests, traces, labels), limits or other metadata."""
    return Task(task.task_id, task.domain, task.prompt,
                metadata={k: task.metadata[k] for k in TRAINING_METADATA if k in task.metadata})


def select_tasks(tasks: list[Task], limit: int, seed: int) -> list[Task]:
    """``limit`` of ``tasks`` (all when 0 or when there are no more), a seeded sample kept in their order."""
    if not limit or len(tasks) <= limit:
        return tasks
    import random

    picked = sorted(random.Random(seed).sample(range(len(tasks)), limit))
    return [tasks[i] for i in picked]


def _changes(old: dict[str, Any], new: dict[str, Any]) -> str:
    keys = [k for k in sorted(set(old) | set(new)) if old.get(k, "unset") != new.get(k, "unset")]
    shown = ", ".join(f"{k} {old.get(k, 'unset')} -> {new.get(k, 'unset')}" for k in keys[:4])
    return shown + (f" and {len(keys) - 4} more" if len(keys) > 4 else "")

