"""``codealign run <domain>``: the whole loop in one run directory, resumable.

Stages, each writing its output into the run directory and a marker ``stages/<name>.json`` when complete:

``tasks`` → ``sft`` (warm-up, optional) → ``eval_before`` → ``rounds`` × (``generate`` → ``execute`` →
``pairs`` (strategy + weights + curriculum) → the method's training: ``dpo``, ``rft`` or ``rft`` then ``dpo``;
optionally ``eval@r``) → ``eval_after`` → the control (optional) → ``eval_control`` → ``report``.

Round ``r`` samples the train tasks from the policy round ``r-1`` left (round 1: the warm-up policy), executes
the samples and trains from that policy, so DPO's reference is the round's starting policy. Round 1's stages
and files keep their plain names (``generate``, ``candidates.jsonl``, ``dpo/``); round ``r`` > 1 names its
stages ``generate@r`` … and keeps its files under ``round<r>/``. The control (``control=sft|rft``) trains from
the warm-up policy with the method's number of optimizer steps; its files are under ``control/``.

Rerunning the same command skips completed stages; an interrupted ``execute`` reuses the verdicts already
streamed to ``verdicts.jsonl`` and the verdict cache; an interrupted ``sft``, ``rft`` or ``dpo`` resumes from its
last checkpoint. ``eval_before`` scores the starting model (after its SFT warm-up when there is one),
``eval_after`` the method's final policy and ``eval_control`` the control's, on the same evaluation tasks, seeds
and budget.

The whole config is built and checked before the first stage. A run directory remembers, per stage, the
config it ran with (``state.json``: the slice of the config the stage reads, :data:`STAGE_CONFIG`, and its step
budget, hashed together with the hashes of the stages it reads from, :func:`stage_plan`). Rerunning with a
changed config reruns the stages whose hash changed — the first changed stage and every stage after it — after
deleting their outputs (:data:`STAGE_OUTPUTS`), so nothing of the old config is resumed or mixed in. ``rounds``
is read by no round, so raising it on a finished run keeps the earlier rounds and runs only the new ones.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import platform
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from codealign.config import apply_overrides, build, load_yaml
from codealign.errors import UserError
from codealign.jsonl import read_jsonl, write_jsonl, write_text_atomic
from codealign.pairs.curriculum import CurriculumConfig
from codealign.pairs.stage import PairsConfig
from codealign.pairs.weights import MadpoConfig
from codealign.train.dpo import DPORunConfig
from codealign.train.sft import SFTRunConfig
from codealign.types import Candidate, ExecResult, Pair, Task, Verdict

METHODS = ("dpo", "rft", "rft+dpo")
"""What a round trains: DPO on the round's pairs; RFT (SFT on the round's distinct passing samples); or an RFT
step then a DPO step."""

CONTROLS = ("none", "sft", "rft")
"""The matched control: none; continued SFT on the train tasks' reference solutions; on-policy RFT rounds."""

ROUND_TASKS = ("unseen", "warmup")
"""Which train tasks the rounds sample: train-split tasks the warm-up never trained on, or the warm-up's own."""


@dataclass
class SampleConfig:
    """How candidates are sampled (training candidates and evaluation alike)."""

    n: int = 4
    """Samples per task."""
    temperature: float = 0.8
    """Sampling temperature (0 = greedy)."""
    top_p: float = 0.95
    """Nucleus sampling mass."""
    max_new_tokens: int = 256
    """Longest sample in tokens; a sample that hits it is counted as truncated."""
    seed: int = 0
    """Sampling seed of the training candidates (evaluation uses ``eval.seeds``)."""
    batch_size: int = 64
    """Sequences per ``generate`` call."""

    def __post_init__(self) -> None:
        if self.n < 1 or self.max_new_tokens < 1 or self.batch_size < 1:
            raise ValueError("sample.n, sample.max_new_tokens and sample.batch_size must be >= 1")


@dataclass
class EvalConfig:
    """The before/after evaluation."""

    benchmark: str = ""
    """Empty: the domain's bundled held-out tasks; else the name of one of the domain's benchmarks
    (``Domain.benchmarks()``, listed by ``codealign bench --help``) read from ``data``."""
    data: str = ""
    """Benchmark data path (with ``benchmark``)."""
    max_tasks: int = 48
    """Evaluate on at most this many tasks (0 = all), the same ones before and after."""
    heldout_tasks: int = 0
    """0: the domain's bundled held-out tasks; N: N tasks drawn from the held-out split of the domain's task
    family instead (a fixed draw, the same for every run seed, that holds the bundled ones when N is at least
    their number): a larger held-out set for comparisons whose error bars the bundled set leaves too wide."""
    n: int = 4
    """Samples per task and seed."""
    seeds: list[int] = field(default_factory=lambda: [1001, 1002])
    """Fresh sampling seeds, never used for training candidates."""
    temperature: float = 0.8
    """Sampling temperature for evaluation."""
    train_tasks: int = 16
    """Also score this many train tasks (a fixed, seeded sample of the run's train tasks) at every evaluation,
    reported as train pass@1 beside the held-out figure (0: held-out only)."""
    every_round: bool = False
    """Evaluate the method's policy after every round (``eval@r``), not only after the last one."""

    def __post_init__(self) -> None:
        if self.n < 1 or not self.seeds or min(self.max_tasks, self.train_tasks, self.heldout_tasks) < 0:
            raise ValueError("eval.n must be >= 1, eval.seeds non-empty, eval.max_tasks, eval.train_tasks and "
                             "eval.heldout_tasks >= 0")
        if self.benchmark and self.heldout_tasks:
            raise ValueError("eval.benchmark and eval.heldout_tasks both choose the evaluation tasks: set only one")
        if self.benchmark and not self.data:
            raise ValueError(f"eval.benchmark {self.benchmark!r} needs eval.data (a path)")


@dataclass
class WarmupConfig(SFTRunConfig):
    """The SFT warm-up: an :class:`SFTRunConfig`, plus where a ready-made warm-up comes from instead."""

    fresh: bool = False
    """Train the warm-up in the run even when a ready-made one exists (``warmup``, or the domain's shipped
    checkpoint, :meth:`codealign.domains.base.Domain.warmup_checkpoint`, used when ``model`` is
    ``codealign-tiny`` with the ``tiny_model`` architecture it was trained with)."""
    warmup: str = ""
    """A model folder to start from as the warm-up policy, without training (it is copied, never written
    to); empty: the domain's shipped checkpoint where it applies."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.fresh and self.warmup:
            raise ValueError("fresh trains the warm-up, warmup gives a ready-made one: set only one of them")
        if self.warmup and not (Path(self.warmup).expanduser() / "config.json").is_file():
            raise ValueError(f"warmup {self.warmup!r}: not a model folder (no config.json)")


@dataclass
class PipelineConfig:
    """A whole run. Presets are YAML over this dataclass; every field can be overridden with key=value."""

    domain: str
    """A registered domain (:func:`codealign.domains.domain_names`); no default: a run names its domain."""
    model: str = "codealign-tiny"
    """Starting model: a hub id, a local folder, or ``codealign-tiny`` (built offline into the run dir)."""
    tiny_model: dict[str, Any] = field(default_factory=lambda: {
        "hidden_size": 128, "layers": 4, "heads": 4, "kv_heads": 2, "intermediate_size": 256})
    """Architecture of ``codealign-tiny`` (arguments of :func:`codealign.train.models.build_tiny_model`); the
    default ~0.8M-parameter model learns a domain's procedural task family in a few CPU minutes."""
    tasks: str = ""
    """Training tasks JSONL; empty: the domain's bundled train split."""
    max_tasks: int = 64
    """Use at most this many training tasks (0 = all)."""
    round_tasks: str = "unseen"
    """The tasks the rounds sample and train on (:data:`ROUND_TASKS`), when the run uses the domain's bundled
    family (no ``tasks``; with ``tasks``, or for a domain without a procedural family, the rounds use the
    given or demo tasks): ``unseen`` draws ``max_tasks``
    train-split tasks of the family whose prompts the warm-up never trained on (the shipped warm-ups are trained
    to their plateau on the bundled train tasks, 0.97 train pass@1 for Verilog, so sampling those gave 3 pairs
    from 256 samples); ``warmup`` draws them from the bundled train tasks themselves. Held-out tasks are never
    used: the split is the family's."""
    device: str = "auto"
    """auto, cpu, cuda or mps."""
    seed: int = 0
    """Seed of task selection, SFT and DPO."""
    sft_enabled: bool = True
    """Run the SFT warm-up on the reference solutions of every training task (all of them, not only the
    ``max_tasks`` sampled for DPO) before sampling."""
    sft: WarmupConfig = field(default_factory=lambda: WarmupConfig(**stage_defaults({})["sft"]))
    """The SFT warm-up (:class:`WarmupConfig`). Empty ``model`` / ``output_dir``: the starting model /
    ``<run dir>/sft``; the pipeline's own defaults are in :func:`stage_defaults`. A ready-made warm-up (the
    domain's shipped checkpoint, or ``sft.warmup``) replaces the training unless ``sft.fresh``."""
    sample: SampleConfig = field(default_factory=SampleConfig)
    """Sampling of training candidates."""
    mutants_per_task: int = 0
    """RISE: error-injection mutants of each task's reference, executed like any candidate; when > 0 the
    reference itself is executed too (the mutants' parent), so it can be a chosen sample."""
    pairs: PairsConfig = field(default_factory=PairsConfig)
    """``strategy`` plus that strategy's options, contamination and flip-rate settings
    (:class:`codealign.pairs.stage.PairsConfig`). The evaluation tasks are always checked for contamination."""
    weights: MadpoConfig | None = None
    """MADPO weights (:class:`codealign.pairs.weights.MadpoConfig`; ``weights={}`` for its defaults);
    None: every pair weighs 1."""
    curriculum: CurriculumConfig = field(default_factory=lambda: CurriculumConfig(stages=1))
    """Curriculum stages of the pairs (:class:`codealign.pairs.curriculum.CurriculumConfig`; one stage here)."""
    dpo: DPORunConfig = field(default_factory=lambda: DPORunConfig(**stage_defaults({})["dpo"]))
    """DPO (:class:`codealign.train.dpo.DPORunConfig`). Empty ``model`` / ``output_dir``: the round's starting
    policy / ``<run dir>/[round<r>/]dpo`` (a ``model`` given replaces only the warm-up policy as the start of
    round 1); ``max_steps`` stays unset: ``round_steps`` sets it. The pipeline's own defaults are in
    :func:`stage_defaults`."""
    method: str = "dpo"
    """What each round trains (:data:`METHODS`): ``dpo``; ``rft`` (SFT with the ``rft`` settings on the round's
    distinct passing samples); ``rft+dpo`` (an RFT step, then a DPO step from the RFT policy on the round's pairs).
    A domain's ``run_defaults`` may choose another (its comment quotes the measurement behind the choice)."""
    rounds: int = 1
    """On-policy rounds: each samples the train tasks from the previous round's policy, executes and trains."""
    round_steps: int = 40
    """Optimizer steps each round trains, whatever the method (so methods compare at the same budget): all to
    DPO or all to RFT; ``rft+dpo`` gives the first half (rounded down) to RFT and the rest to DPO. With
    curriculum stages DPO trains ``round_steps // stages`` per stage."""
    rft: SFTRunConfig = field(default_factory=lambda: SFTRunConfig(**stage_defaults({})["rft"]))
    """RFT training and the continued-SFT control (:class:`codealign.train.sft.SFTRunConfig`); the pipeline sets
    ``model``, ``output_dir`` and the rows; ``max_steps`` stays unset (``round_steps`` sets it)."""
    control: str = "sft"
    """The matched control (:data:`CONTROLS`), trained from the warm-up policy with as many optimizer steps as the
    method (``rounds * round_steps``) and evaluated like it, so a run's report says whether execution feedback did
    better than more SFT (``none``: skip it, saving its training and one evaluation): ``sft`` (default) continues
    SFT (``rft`` settings) on the reference solutions of the run's train tasks; ``rft`` runs on-policy RFT rounds (its round 1 reuses the
    method's round-1 samples: same policy, same seed)."""
    eval: EvalConfig = field(default_factory=EvalConfig)
    """Before/after evaluation."""
    probe_tasks: int = 4
    """Tasks the collapse monitor's probe samples during DPO (0: no probe)."""
    domain_options: dict[str, Any] = field(default_factory=dict)
    """Keyword arguments of the domain (its :attr:`Domain.options`, e.g. ``domain_options.simulator=verilator``);
    checked by building the domain before the first stage."""

    def __post_init__(self) -> None:
        from codealign.domains import domain_class, domain_names
        from codealign.errors import closest

        if self.domain not in domain_names():
            raise ValueError(f"unknown domain {self.domain!r}{closest(self.domain, domain_names())}")
        known = [o.name for o in domain_class(self.domain).options]
        for name in self.domain_options:
            if name not in known:
                raise ValueError(f"domain_options.{name}: not an option of domain {self.domain!r}"
                                 + (closest(name, known) if known else " (it has none)"))
        domain = domain_class(self.domain)(**self.domain_options)
        if self.eval.heldout_tasks:
            if not domain.task_module:
                raise ValueError(f"eval.heldout_tasks: domain {self.domain!r} has no task family to draw from")
            available = domain.count_tasks("heldout")
            if self.eval.heldout_tasks > available:
                raise ValueError(f"eval.heldout_tasks={self.eval.heldout_tasks}: the held-out split of domain "
                                 f"{self.domain!r} has {available} tasks")
        if self.max_tasks < 0 or self.mutants_per_task < 0 or self.probe_tasks < 0:
            raise ValueError("max_tasks, mutants_per_task and probe_tasks must be >= 0")
        if self.method not in METHODS:
            raise ValueError(f"unknown method {self.method!r}{closest(self.method, METHODS)}")
        if self.control not in CONTROLS:
            raise ValueError(f"unknown control {self.control!r}{closest(self.control, CONTROLS)}")
        if self.round_tasks not in ROUND_TASKS:
            raise ValueError(f"unknown round_tasks {self.round_tasks!r}{closest(self.round_tasks, ROUND_TASKS)}")
        if self.control == "rft" and self.method == "rft":
            raise ValueError("control 'rft' is the method itself; choose control=sft or another method")
        if self.rounds < 1:
            raise ValueError(f"rounds must be >= 1, got {self.rounds}")
        if self.round_steps < (2 if self.method == "rft+dpo" else 1):
            raise ValueError(f"round_steps must be >= {2 if self.method == 'rft+dpo' else 1} for method "
                             f"{self.method!r}, got {self.round_steps}")
        for section in ("dpo", "rft"):
            if getattr(self, section).max_steps != -1:
                raise ValueError(f"{section}.max_steps: the pipeline trains round_steps optimizer steps per round "
                                 "whatever the method; set round_steps instead")


def make_config(domain: str, preset: str | None = None, config_file: str | None = None,
                overrides: list[str] = ()) -> PipelineConfig:
    """The domain's ``run_defaults``, then the preset, the config file and the overrides."""
    import copy

    from codealign.config import deep_merge
    from codealign.domains import domain_class, preset_data

    data: dict[str, Any] = copy.deepcopy(dict(domain_class(domain).run_defaults))
    if preset:
        owner, found = preset_data(preset)
        if owner != domain:
            raise UserError(f"preset {preset!r} is for domain {owner!r}, not {domain!r}")
        data = deep_merge(data, found)
    if config_file:
        data = deep_merge(data, load_yaml(config_file))
    data["domain"] = domain
    data = apply_overrides(data, list(overrides))
    return build(PipelineConfig, deep_merge(stage_defaults(data), data))


def stage_defaults(data: dict[str, Any]) -> dict[str, Any]:
    """The pipeline's defaults of its ``sft``, ``dpo`` and ``rft`` sections for a run whose top-level settings
    (``model``, ``seed``, ``device``) are ``data``; every other source of settings applies on top.

    The tiny model learns with far larger steps than a pretrained one. DPO's and RFT's defaults come from
    an earlier benchmarks/alignment_effect.py: plain sigmoid DPO on execution pairs drove the tiny model towards
    collapse within one round, an NLL anchor on the chosen side (RPO-style) kept it at the SFT level, RFT trains at
    DPO's rate. The method itself is the domain's choice (``run_defaults``): over three on-policy rounds from the
    shipped Verilog warm-up every DPO variant, anchored or not, lowered held-out pass@1 against RFT (README)."""
    tiny = data.get("model", "codealign-tiny") == "codealign-tiny"
    run = {"model": "", "output_dir": "", "seed": data.get("seed", 0), "device": data.get("device", "auto")}
    return {
        "sft": {**run, "save_steps": 50, "learning_rate": 3e-3 if tiny else 2e-5, "max_steps": 300,
                "per_device_train_batch_size": 16, "logging_steps": 25},
        "dpo": {**run, "learning_rate": 1e-4 if tiny else 5e-7, "nll_alpha": 1.0,
                "per_device_train_batch_size": 8, "save_steps": 20, "logging_steps": 5},
        "rft": {**run, "learning_rate": 1e-4 if tiny else 1e-5, "per_device_train_batch_size": 8, "save_steps": 20,
                "logging_steps": 5},
    }


def config_hash(config: PipelineConfig) -> str:
    return _hash(dataclasses.asdict(config))


def _hash(data: Any) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:16]


# -- per-stage run state --------------------------------------------------------------------------------------
_EVAL_CONFIG = ("eval.n", "eval.seeds", "eval.temperature", "eval.train_tasks", "sample.top_p",
                "sample.max_new_tokens", "sample.batch_size", "device", "domain_options")
STAGE_CONFIG: dict[str, tuple[str, ...]] = {
    "tasks": ("domain", "tasks", "max_tasks", "round_tasks", "seed", "eval.benchmark", "eval.data", "eval.max_tasks",
              "eval.heldout_tasks"),
    "sft": ("model", "tiny_model", "seed", "device", "sft_enabled", "sft"),
    "eval_before": _EVAL_CONFIG,
    "generate": ("sample", "mutants_per_task", "seed", "device"),
    "execute": ("domain_options",),
    "pairs": ("pairs", "weights", "curriculum"),
    "rft": ("rft", "seed", "device"),
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
    "tasks": ("sft_tasks.jsonl", "tasks.jsonl", "eval_tasks.jsonl"), "sft": ("base_model", "sft"),
    "eval_before": ("eval/before_*",), "generate": ("candidates.jsonl",), "execute": ("verdicts.jsonl",),
    "pairs": ("pairs.jsonl", "pair_gaps.png"), "rft": ("rft",), "dpo": ("dpo",), "control_sft": ("sft",),
    "eval_round": ("eval/round{round}_*",), "eval_after": ("eval/after_*",), "eval_control": ("eval/control_*",),
    "report": ("report.json", "report.md", "pass_at_1.png", "dpo_curves.png"),
}
"""What each kind of stage writes (glob patterns, under the stage's :attr:`Stage.folder`): deleted before the
stage runs with a config other than the one that wrote them, so an old checkpoint or partial file is never
resumed."""


@dataclass(frozen=True)
class Stage:
    """One stage of a run (:func:`stage_plan`)."""

    name: str
    """Its name in ``state.json``, ``stages/<name>.json`` and ``--stages``: the kind, with ``control-`` before a
    control stage's and ``@r`` after the stages of round ``r`` > 1 (``dpo@2``, ``control-rft@3``, ``eval@1``)."""
    kind: str
    """What it does: a key of :data:`STAGE_FUNCS`, :data:`STAGE_CONFIG` and :data:`STAGE_OUTPUTS`."""
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


def stage_plan(config: PipelineConfig) -> dict[str, Stage]:
    """Every stage of a run with ``config``, by name, in run order."""
    plan: dict[str, Stage] = {}

    def add(name: str, kind: str, inputs: tuple[str, ...], **fields: Any) -> str:
        plan[name] = Stage(name, kind, inputs, **fields)
        return name

    add("tasks", "tasks", ())
    add("sft", "sft", ("tasks",))
    evals = [add("eval_before", "eval_before", ("sft",), start="sft")]
    rft_steps = config.round_steps // 2 if config.method == "rft+dpo" else config.round_steps
    dpo_steps = config.round_steps - (rft_steps if config.method == "rft+dpo" else 0)
    policy = "sft"
    for r in range(1, config.rounds + 1):
        at, folder = ("", "") if r == 1 else (f"@{r}", f"round{r}/")
        executed = add("execute" + at, "execute", (add("generate" + at, "generate", (policy,), folder=folder, round=r,
                                                       start=policy),), folder=folder, round=r)
        if config.method != "dpo":
            policy = add("rft" + at, "rft", (executed, policy), folder=folder, round=r, start=policy, steps=rft_steps)
        if config.method != "rft":
            pairs = add("pairs" + at, "pairs", (executed,), folder=folder, round=r)
            policy = add("dpo" + at, "dpo", (pairs, policy), folder=folder, round=r, start=policy, steps=dpo_steps)
        if config.eval.every_round and r < config.rounds:
            evals.append(add(f"eval@{r}", "eval_round", (policy,), round=r, start=policy))
    evals.append(add("eval_after", "eval_after", (policy,), start=policy))
    control = "sft"
    if config.control == "sft":
        control = add("control-sft", "control_sft", ("sft",), folder="control/", start="sft",
                      steps=config.rounds * config.round_steps)
    elif config.control == "rft":
        executed = "execute"  # round 1 samples the warm-up policy with round 1's seed: the method's samples
        for r in range(1, config.rounds + 1):
            at, folder = ("", "control/") if r == 1 else (f"@{r}", f"control/round{r}/")
            if r > 1:
                executed = add("control-execute" + at, "execute", (
                    add("control-generate" + at, "generate", (control,), folder=folder, round=r, start=control),),
                    folder=folder, round=r)
            control = add("control-rft" + at, "rft", (executed, control), folder=folder, round=r, start=control,
                          steps=config.round_steps)
    if config.control != "none":
        evals.append(add("eval_control", "eval_control", (control,), start=control))
    add("report", "report", tuple(evals))
    return plan


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
        hashes[name] = _hash({"config": stage_settings(config, stage), "inputs": [hashes[s] for s in stage.inputs]})
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


def _changes(old: dict[str, Any], new: dict[str, Any]) -> str:
    keys = [k for k in sorted(set(old) | set(new)) if old.get(k, "unset") != new.get(k, "unset")]
    shown = ", ".join(f"{k} {old.get(k, 'unset')} -> {new.get(k, 'unset')}" for k in keys[:4])
    return shown + (f" and {len(keys) - 4} more" if len(keys) > 4 else "")


# -- the run ------------------------------------------------------------------------------------------------
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
        return read_jsonl(self.path(name), Task.from_dict)

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


def _select(tasks: list[Task], limit: int, seed: int) -> list[Task]:
    if not limit or len(tasks) <= limit:
        return tasks
    import random

    picked = sorted(random.Random(seed).sample(range(len(tasks)), limit))
    return [tasks[i] for i in picked]


def _unseen_train_tasks(domain, seen: list[Task], limit: int, seed: int) -> list[Task]:
    """Up to ``limit`` (0: all) train-split tasks of ``domain``'s family, in the family's draw order for
    ``seed``, whose prompts are not among ``seen``'s; UserError when there is none."""
    seen_prompts = {t.prompt for t in seen}
    available = domain.count_tasks("train")
    pool = domain.generate_tasks(None, min(available, len(seen) + limit) if limit else available, seed, "train")
    unseen = [t for t in pool if t.prompt not in seen_prompts]
    if not unseen:
        raise UserError(f"every train task of domain {domain.name!r} is a warm-up task; use round_tasks=warmup")
    return unseen[:limit] if limit else unseen


def stage_tasks(run: Run, stage: Stage) -> dict[str, Any]:
    cfg = run.config
    train = read_jsonl(cfg.tasks, Task.from_dict) if cfg.tasks else run.domain.demo_tasks("train")
    wrong = sorted({t.domain for t in train} - {cfg.domain})
    if wrong:
        raise UserError(f"tasks are for domain(s) {', '.join(wrong)}, not {cfg.domain!r}")
    warmup = train
    if not cfg.tasks and cfg.round_tasks == "unseen" and run.domain.task_module:
        train = _unseen_train_tasks(run.domain, train, cfg.max_tasks, cfg.seed)
    else:
        train = _select(train, cfg.max_tasks, cfg.seed)
    if cfg.eval.benchmark:
        from codealign.bench import load_benchmark

        evals = load_benchmark(cfg.eval.benchmark, cfg.eval.data)
    elif cfg.eval.heldout_tasks:
        evals = run.domain.generate_tasks(None, cfg.eval.heldout_tasks, 0, "heldout")
    else:
        evals = run.domain.demo_tasks("heldout")
    evals = _select(evals, cfg.eval.max_tasks, cfg.seed + 1)
    if not train or not evals:
        raise UserError("no training or evaluation tasks")
    if cfg.control == "sft":
        control_rows(run, train)
    write_jsonl(run.path("sft_tasks.jsonl"), warmup)
    write_jsonl(run.path("tasks.jsonl"), train)
    write_jsonl(run.path("eval_tasks.jsonl"), evals)
    overlap = {t.prompt for t in train} & {t.prompt for t in evals}
    return {"train_tasks": len(train), "eval_tasks": len(evals), "prompt_overlap": len(overlap),
            "round_tasks": "file" if cfg.tasks else cfg.round_tasks}


def stage_sft(run: Run, stage: Stage) -> dict[str, Any]:
    """The warm-up policy: the starting model itself (``sft_enabled=false``), a ready-made warm-up copied into
    the run directory (:meth:`Run.warmup_checkpoint`), or SFT on the reference solutions."""
    cfg = run.config
    if not cfg.sft_enabled:
        return {"model": run.start_model(), "warmup": "none", "skipped": True}
    ready = run.warmup_checkpoint()
    if ready:
        import shutil

        final = run.path("sft/final")
        shutil.rmtree(final, ignore_errors=True)
        final.mkdir(parents=True)
        for item in Path(ready).expanduser().iterdir():  # file by file: an installed package may be read-only
            if item.is_file():
                shutil.copyfile(item, final / item.name)
        recipe = final / "warmup.json"
        shipped = json.loads(recipe.read_text()) if recipe.is_file() else {}
        return {"model": str(final), "warmup": "ready-made", "warmup_from": ready, "steps": 0,
                "warmup_steps": shipped.get("steps"), "warmup_heldout_pass@1": shipped.get("heldout_pass@1")}
    from codealign.train.sft import train_sft

    rows = reference_rows(run, run.tasks("sft_tasks.jsonl"))
    if not rows:
        raise UserError("no reference solutions to warm up on; set sft_enabled=false")
    config = dataclasses.replace(cfg.sft, model=cfg.sft.model or run.start_model(),
                                 output_dir=cfg.sft.output_dir or str(run.path("sft")))
    result = train_sft(config, rows)
    return {"model": result.final_dir, "warmup": "trained", "rows": len(rows),
            "steps": result.global_step, "train_loss": result.train_loss}


def reference_rows(run: Run, tasks: list[Task]) -> list[dict[str, str]]:
    """SFT rows (prompt, reference solution) of the tasks that have a reference."""
    return [{"prompt": t.prompt, "completion": ref} for t in tasks if (ref := run.domain.reference_solution(t))]


def control_rows(run: Run, tasks: list[Task]) -> list[dict[str, str]]:
    """The continued-SFT control's rows; UserError when no task has a reference (checked by the tasks stage,
    and again by the control's own stage: a resumed run may have turned the control on after its tasks)."""
    rows = reference_rows(run, tasks)
    if not rows:
        raise UserError("control=sft continues SFT on the train tasks' reference solutions, and none of the "
                        f"{len(tasks)} train tasks has one; use control=rft or control=none")
    return rows


def evaluate_policy(run: Run, model: str, tasks: list[Task], tag: str) -> dict[str, Any]:
    """Sampled pass@1 of ``model`` on ``tasks`` with the run's ``eval`` settings (every seed of ``eval.seeds``,
    ``eval.n`` samples each), ± its SE over tasks, with truncation and compile-error rates; candidates and
    verdicts go to ``eval/<tag>_…`` in the run directory."""
    cfg = run.config
    per_task: dict[str, list[float]] = {t.task_id: [] for t in tasks}
    truncated = compile_errors = total = 0
    verdicts: dict[str, int] = {}
    skipped: dict[str, str] = {}
    for seed in cfg.eval.seeds:
        cands = run.sample(model, tasks, cfg.eval.n, seed, cfg.eval.temperature)
        # Kept for their finish reasons and raw text (benchmarks/dpo_compile_errors.py reads them).
        write_jsonl(run.path(f"eval/{tag}_candidates_seed{seed}.jsonl"), cands)
        results = run.execute(tasks, cands, run.path(f"eval/{tag}_seed{seed}.jsonl"))
        by_task: dict[str, list[ExecResult]] = {}
        for cand, res in zip(cands, results):
            if "skipped" in res.details:  # a harness that cannot run here (e.g. a commercial simulator): no score
                skipped[res.task_id] = res.details["skipped"]
                continue
            by_task.setdefault(res.task_id, []).append(res)
            truncated += cand.metadata.get("finish_reason") == "length"
            compile_errors += res.verdict is Verdict.COMPILE_ERROR
            verdicts[res.verdict.value] = verdicts.get(res.verdict.value, 0) + 1
            total += 1
        for task_id, rs in by_task.items():
            per_task[task_id].append(sum(r.passed for r in rs) / len(rs))
    scores = {k: sum(v) / len(v) for k, v in per_task.items() if k not in skipped}
    pass1 = sum(scores.values()) / max(1, len(scores))
    return {"model": model, "pass@1": pass1, "se": _se(list(scores.values())), "per_task": scores,
            "truncation_rate": truncated / max(1, total), "compile_error_rate": compile_errors / max(1, total),
            "samples": total, "verdicts": verdicts, "skipped": skipped}


def _se(values: list[float]) -> float:
    if len(values) < 2:
        return 0.0
    mean = sum(values) / len(values)
    return math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1) / len(values))


EVAL_TAGS = {"eval_before": "before", "eval_round": "round{round}", "eval_after": "after", "eval_control": "control"}
"""The prefix of each evaluation's files under ``eval/`` (``<tag>_seed<s>.jsonl``; ``<tag>_train_…`` for the
train tasks)."""


def stage_eval(run: Run, stage: Stage) -> dict[str, Any]:
    """Held-out pass@1 of the policy ``stage.start`` left and, with ``eval.train_tasks``, train pass@1 (key
    ``train``) on a fixed seeded sample of the run's train tasks."""
    cfg = run.config
    model = run.policy(stage.start)
    tag = EVAL_TAGS[stage.kind].format(round=stage.round)
    info = evaluate_policy(run, model, run.tasks("eval_tasks.jsonl"), tag)
    if cfg.eval.train_tasks:
        train = _select(run.tasks(), cfg.eval.train_tasks, cfg.seed + 2)
        info["train"] = evaluate_policy(run, model, train, f"{tag}_train")
    return info


def stage_generate(run: Run, stage: Stage) -> dict[str, Any]:
    cfg = run.config
    tasks = run.tasks()
    # A fresh sampling seed each round; round 1 uses sample.seed.
    cands = run.sample(run.policy(stage.start), tasks, cfg.sample.n, cfg.sample.seed + stage.round - 1,
                       cfg.sample.temperature)
    if cfg.mutants_per_task:
        from codealign.domains.mutants import rise_candidates

        solutions = {t.task_id: ref for t in tasks if (ref := run.domain.reference_solution(t))}
        cands += rise_candidates(run.domain, tasks, solutions, seed=cfg.seed, max_per_task=cfg.mutants_per_task)
    write_jsonl(run.path(stage.folder + "candidates.jsonl"), cands)
    truncated = sum(c.metadata.get("finish_reason") == "length" for c in cands)
    return {"candidates": len(cands), "truncated": truncated}


def stage_execute(run: Run, stage: Stage) -> dict[str, Any]:
    from collections import Counter

    tasks = run.tasks()
    cands = read_jsonl(run.path(stage.folder + "candidates.jsonl"), Candidate.from_dict)
    results = run.execute(tasks, cands, run.path(stage.folder + "verdicts.jsonl"))
    counts = Counter(r.verdict.value for r in results)
    return {"verdicts": dict(counts), "cached": sum(r.cached for r in results),
            "pass_rate": counts.get("PASS", 0) / max(1, len(results))}


def stage_pairs(run: Run, stage: Stage) -> dict[str, Any]:
    from codealign.pairs.stage import flip_summary, make_pairs
    from codealign.pairs.summary import gap_histogram, summarize

    cfg = run.config
    # Bundled held-out tasks are the training family's own split (similar by design); a named benchmark is not.
    benchmark = run.tasks("eval_tasks.jsonl") if cfg.eval.benchmark else ()
    made = make_pairs(read_jsonl(run.path(stage.folder + "verdicts.jsonl"), ExecResult.from_dict), run.tasks(),
                      cfg.pairs, candidates=read_jsonl(run.path(stage.folder + "candidates.jsonl"), Candidate.from_dict),
                      weights=cfg.weights, stages=cfg.curriculum, benchmark_tasks=benchmark, log=run.log)
    pairs = made.pairs
    write_jsonl(run.path(stage.folder + "pairs.jsonl"), pairs)
    if pairs:
        gap_histogram(pairs, run.path(stage.folder + "pair_gaps.png"))
    info = {"pairs": len(pairs), "strategy": cfg.pairs.strategy, "summary": summarize(pairs),
            "report": {k: v for k, v in made.build.items() if isinstance(v, (int, float, str, dict))}}
    if made.contamination is not None:
        info["contamination"] = made.contamination
    if made.flip_rate is not None:
        info["flip_rate"] = flip_summary(made.flip_rate)
    return info


def _probe(run: Run) -> Callable[[Any, Any], dict[str, float]] | None:
    cfg = run.config
    if not cfg.probe_tasks:
        return None
    tasks = run.tasks()[: cfg.probe_tasks]

    def probe(model, tokenizer) -> dict[str, float]:
        from codealign.generate.hf import HFGenerator

        gen = HFGenerator(model, tokenizer=tokenizer, batch_size=cfg.sample.batch_size)
        cands = gen.candidates(tasks, 2, temperature=cfg.eval.temperature, max_new_tokens=cfg.sample.max_new_tokens,
                               seed=7, stop=run.domain.stop_sequences)
        from codealign.execution.executor import execute

        results = execute(run.domain, tasks, cands, backend=run.backend, workers=run.workers, progress=False)
        n = max(1, len(cands))
        return {"truncation": sum(c.metadata.get("finish_reason") == "length" for c in cands) / n,
                "compile_error": sum(r.verdict is Verdict.COMPILE_ERROR for r in results) / n}

    return probe


def stage_dpo(run: Run, stage: Stage) -> dict[str, Any]:
    """DPO from the round's starting policy (also its reference) on the round's pairs, ``stage.steps`` optimizer
    steps (split evenly over curriculum stages)."""
    from codealign.train.dpo import train_dpo

    cfg = run.config
    pairs = read_jsonl(run.path(stage.folder + "pairs.jsonl"), Pair.from_dict)
    start = cfg.dpo.model if cfg.dpo.model and stage.start == "sft" else run.policy(stage.start)
    if not pairs:
        run.log(f"{stage.name}: no preference pairs (no task had both a better and a worse candidate): DPO skipped")
        return {"model": start, "start": start, "steps": 0, "skipped": True, "reason": "no pairs"}
    output = Path(cfg.dpo.output_dir) / stage.folder if cfg.dpo.output_dir else run.path(stage.folder + "dpo")
    config = dataclasses.replace(cfg.dpo, model=start, output_dir=str(output),
                                 max_steps=max(1, stage.steps // cfg.curriculum.stages))
    result = train_dpo(config, pairs, probe=_probe(run))
    return {"model": result.final_model, "start": start, "steps": sum(s.steps for s in result.stages),
            "stopped_reason": result.stopped_reason, "stages": [dataclasses.asdict(s) for s in result.stages]}


def _train_rows(run: Run, stage: Stage, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """SFT with the ``rft`` settings from the policy ``stage.start`` left, ``stage.steps`` optimizer steps."""
    from codealign.train.sft import train_sft

    start = run.policy(stage.start)
    config = dataclasses.replace(run.config.rft, model=start, max_steps=stage.steps,
                                 output_dir=str(run.path(stage.outputs()[0])))
    result = train_sft(config, rows, quiet=run.quiet)
    return {"model": result.final_dir, "start": start, "rows": len(rows), "steps": result.global_step,
            "train_loss": result.train_loss}


def stage_rft(run: Run, stage: Stage) -> dict[str, Any]:
    """RFT: SFT on the distinct passing samples of the round (verdicts of the ``execute`` stage it reads)."""
    from codealign.train.sft import rft_rows

    executed = run.plan[stage.inputs[0]]
    results = read_jsonl(run.path(executed.folder + "verdicts.jsonl"), ExecResult.from_dict)
    rows = rft_rows(results, run.tasks(), max_per_task=run.config.rft.rft_max_per_task)
    if not rows:
        run.log(f"{stage.name}: no passing samples: RFT skipped")
        start = run.policy(stage.start)
        return {"model": start, "start": start, "rows": 0, "steps": 0, "skipped": True, "reason": "no passing samples"}
    return _train_rows(run, stage, rows)


def stage_control_sft(run: Run, stage: Stage) -> dict[str, Any]:
    """The continued-SFT control: the reference solutions of the run's train tasks."""
    return _train_rows(run, stage, control_rows(run, run.tasks()))


def stage_report(run: Run, stage: Stage) -> dict[str, Any]:
    from codealign.report import write_report

    return write_report(run)


STAGE_FUNCS: dict[str, Callable[[Run, Stage], dict[str, Any]]] = {
    "tasks": stage_tasks, "sft": stage_sft, "eval_before": stage_eval, "generate": stage_generate,
    "execute": stage_execute, "pairs": stage_pairs, "rft": stage_rft, "dpo": stage_dpo,
    "control_sft": stage_control_sft, "eval_round": stage_eval, "eval_after": stage_eval, "eval_control": stage_eval,
    "report": stage_report,
}


def manifest(run: Run) -> dict[str, Any]:
    from importlib import metadata

    from codealign.doctor import PY_PACKAGES
    from codealign.sandbox.backends import get_backend

    versions = {}
    for name in ("codealign", *PY_PACKAGES):
        try:
            versions[name] = metadata.version(name.replace("_", "-"))
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {"config": dataclasses.asdict(run.config), "config_hash": config_hash(run.config),
            "python": platform.python_version(), "platform": platform.platform(), "packages": versions,
            "toolchain": run.domain.toolchain_version(), "backend": run.backend, "executor": run.executor,
            "judge": run.domain.fingerprint(get_backend(run.backend).identity()),
            # The ready-made warm-up the run starts from (None: trained in the run, or no warm-up).
            "warmup": run.warmup_checkpoint() if run.config.sft_enabled else None}


def run_pipeline(config: PipelineConfig, run_dir: str | os.PathLike, *, stages: list[str] | None = None,
                 **options: Any) -> dict[str, Any]:
    """Run (or resume) the pipeline; returns the final report (or the stage summaries when ``report`` is not
    among ``stages``). Everything that can be checked is checked before anything is written."""
    path = Path(run_dir)
    run = Run(config, path, **options)
    selected = stages or list(run.plan)
    unknown = [s for s in selected if s not in run.plan]
    if unknown:
        raise UserError(f"unknown stage(s) {', '.join(unknown)}; this run's stages: {', '.join(run.plan)}")
    problem = run.domain.check_toolchain()
    if problem:
        raise UserError(f"{config.domain} toolchain: {problem}")
    for stage in selected:
        for needed in upstream(run.plan, stage):
            if needed not in selected and run.current(needed) is None:
                raise UserError(f"stage {stage!r} needs stage {needed!r}, which has not run in {path} "
                                f"with this config")
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise UserError(f"run directory {path} is not writable: {exc.strerror}") from None
    write_text_atomic(path / "manifest.json", json.dumps(manifest(run), indent=2, default=str))
    for line in run.changes(selected):
        run.log(line)
    summaries = {}
    for stage in run.plan:
        if stage not in selected:
            continue
        info = run.current(stage)
        if info is not None:
            run.log(f"{stage}: done earlier, skipped")
            summaries[stage] = info
            continue
        run.begin(stage)
        run.log(f"{stage}: running")
        t0 = time.monotonic()
        info = STAGE_FUNCS[run.plan[stage].kind](run, run.plan[stage])
        info["seconds"] = round(time.monotonic() - t0, 2)
        run.finish(stage, info)
        summaries[stage] = info
        run.log(f"{stage}: done in {info['seconds']:.1f} s")
    return summaries.get("report", summaries)
