"""The stages of a run and what decides whether one reruns: :class:`Stage`, what each kind of stage reads from the
config (:data:`STAGE_CONFIG`) and writes (:data:`STAGE_OUTPUTS`), the per-stage hashes ``state.json`` records
(:func:`stage_hashes`: a stage's config slice and step budget, hashed with the hashes of the stages it reads) and
the dependency walks over a plan (:func:`downstream`, :func:`upstream`). Which stages a run has, and in what order,
is :func:`codealign.pipeline.rounds.stage_plan`."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any, Sequence

from codealign.pipeline.config import PipelineConfig, digest

_EVAL_CONFIG = ("eval.n", "eval.seeds", "eval.temperature", "eval.train_tasks", "sample.top_p",
                "sample.max_new_tokens", "sample.batch_size", "device", "domain_options")
STAGE_CONFIG: dict[str, tuple[str, ...]] = {
    "tasks": ("domain", "tasks", "allow_weak", "max_tasks", "round_tasks", "seed", "eval.benchmark", "eval.data",
              "eval.max_tasks", "eval.heldout_tasks"),
    "sft": ("model", "tiny_model", "seed", "device", "sft_enabled", "sft"),
    "eval_before": _EVAL_CONFIG,
    "generate": ("sample", "mutants_per_task", "seed", "device"),
    "execute": ("domain_options",),
    "pairs": ("pairs", "weights", "curriculum"),
    "rft": ("rft", "seed", "device"),
    "grpo": ("grpo", "sample", "domain_options", "seed", "device"),
    "dpo": ("dpo", "probe_tasks", "domain_options", "eval.temperature", "sample.batch_size", "sample.max_new_tokens", "seed",
            "device"),
    "control_sft": ("rft", "seed", "device"),
    "eval_round": _EVAL_CONFIG,
    "eval_after": _EVAL_CONFIG,
    "eval_control": _EVAL_CONFIG,
    "report": ("method", "rounds", "round_steps", "control"),
}
"""The parts of the config (dotted paths) each kind of stage reads; a change to one reruns that stage. A
training stage's step budget (:attr:`Stage.steps`) counts as part of its config."""

STAGE_OUTPUTS: dict[str, tuple[str, ...]] = {
    "tasks": ("sft_tasks.jsonl", "tasks.jsonl", "control_tasks.jsonl", "eval_tasks.jsonl"),
    "sft": ("base_model", "sft"),
    "eval_before": ("eval/before_*",), "generate": ("candidates.jsonl",), "execute": ("verdicts.jsonl",),
    "pairs": ("pairs.jsonl", "pair_gaps.png"), "rft": ("rft",), "dpo": ("dpo",), "grpo": ("grpo",),
    "control_sft": ("sft",),
    "eval_round": ("eval/round{round}_*",), "eval_after": ("eval/after_*",), "eval_control": ("eval/control_*",),
    "report": ("report.json", "report.md", "pass_at_1.png", "dpo_curves.png", "rounds.png"),
}
"""What each kind of stage writes (glob patterns, under the stage's :attr:`Stage.folder`): deleted before the
stage runs with a config other than the one that wrote them, so an old checkpoint or partial file is never
resumed."""


@dataclass(frozen=True)
class Stage:
    """One stage of a run (:func:`codealign.pipeline.rounds.stage_plan`)."""

    name: str
    """Its name in ``state.json``, ``stages/<name>.json`` and ``--stages``: the kind, with ``control-`` before a
    control stage's and ``@r`` after the stages of round ``r`` > 1 (``dpo@2``, ``control-rft@3``, ``eval@1``)."""
    kind: str
    """What it does: a key of :data:`STAGE_CONFIG`, :data:`STAGE_OUTPUTS` and
    :data:`codealign.pipeline.stages.STAGE_FUNCS`."""
    inputs: tuple[str, ...] = ()
    """The stages whose outputs it reads: it reruns whenever one of them does."""
    folder: str = ""
    """Where its files go, relative to the run directory: ``""``, ``round<r>/``, ``control/``, ``control/round<r>/``."""
    round: int = 0
    """Its round (0: outside the rounds)."""
    start: str = ""
    """The stage whose ``model`` it samples (``generate``, evaluations) or trains from (``rft``, ``dpo``)."""
    steps: int = 0
    """Optimizer steps it trains (training stages; 0 otherwise)."""

    def outputs(self) -> list[str]:
        return [self.folder + pattern.format(round=self.round) for pattern in STAGE_OUTPUTS[self.kind]]


PLAN_CONFIG = ("eval.every_round",)
"""Config no stage reads but the plan's shape does (which stages exist); the others that shape it (``method``,
``rounds``, ``control``, ``sft_enabled``) are read by stages too."""


def unread_keys(keys: Sequence[str], plan: dict[str, Stage]) -> list[str]:
    """The dotted config ``keys`` that no stage of ``plan`` reads (e.g. ``dpo.beta`` when the method is ``rft``):
    setting them changes nothing in this run."""
    read = {path for stage in plan.values() for path in STAGE_CONFIG[stage.kind]} | set(PLAN_CONFIG)
    return [key for key in keys
            if not any(key == p or key.startswith(p + ".") or p.startswith(key + ".") for p in read)]


def config_slice(config: PipelineConfig, kind: str) -> dict[str, Any]:
    """The config values a stage of ``kind`` reads, flattened to dotted keys."""
    data = json.loads(json.dumps(dataclasses.asdict(config), default=str))
    flat: dict[str, Any] = {}

    def walk(key: str, value: Any) -> None:
        if isinstance(value, dict) and value:
            for sub, item in value.items():
                walk(f"{key}.{sub}", item)
        else:
            flat[key] = value

    for key in STAGE_CONFIG[kind]:
        value = data
        for part in key.split("."):
            value = value[part]
        walk(key, value)
    return flat


def stage_settings(config: PipelineConfig, stage: Stage) -> dict[str, Any]:
    """What ``stage`` runs with: its kind's config slice and, for a training stage, its step budget."""
    return {**config_slice(config, stage.kind), **({"steps": stage.steps} if stage.steps else {})}


def stage_hashes(config: PipelineConfig, plan: dict[str, Stage]) -> dict[str, str]:
    """Per stage: the hash of its settings and of the hashes of the stages it reads from."""
    hashes: dict[str, str] = {}
    for name, stage in plan.items():
        hashes[name] = digest({"config": stage_settings(config, stage), "inputs": [hashes[s] for s in stage.inputs]})
    return hashes


def downstream(plan: dict[str, Stage], stage: str) -> list[str]:
    """``stage`` and every stage of ``plan`` that reads its outputs, directly or not, in run order."""
    found = {stage}
    for later in plan.values():
        if found & set(later.inputs):
            found.add(later.name)
    return [s for s in plan if s in found]


def upstream(plan: dict[str, Stage], stage: str) -> list[str]:
    """The stages of ``plan`` whose outputs ``stage`` reads, directly or not, in run order."""
    return [s for s in plan if s != stage and stage in downstream(plan, s)]

