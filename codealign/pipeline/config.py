"""The configuration of a run: :class:`PipelineConfig` and its sections, the pipeline's defaults for the training
sections, and :func:`make_config` (domain defaults, then preset, config file and ``key=value`` overrides). The
whole config is built and checked here, before the first stage."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codealign.config import apply_overrides, build, io_fields, load_yaml
from codealign.errors import UserError
from codealign.pairs.curriculum import CurriculumConfig
from codealign.pairs.make import PairsConfig
from codealign.pairs.weights import MadpoConfig
from codealign.train.dpo import DPORunConfig
from codealign.train.grpo import GRPORunConfig
from codealign.train.sft import SFTRunConfig

METHODS = ("dpo", "rft", "rft+dpo", "grpo")
"""What a round trains: DPO on the round's pairs; RFT (SFT on the round's distinct passing samples); an RFT
step then a DPO step; or GRPO (TRL's ``GRPOTrainer``) with the domain's execution reward."""

CONTROLS = ("none", "sft", "rft")
"""The matched control: none; continued SFT on the train tasks' reference solutions; on-policy RFT rounds."""

RUN_IO = {"sft": ("model", "output_dir"), "dpo": ("model", "output_dir")}
"""The file inputs and outputs (:data:`codealign.config.IO` fields) of the training sections that a run reads (see
``sft`` and ``dpo``). A run gives its training stages every other one itself (their rows, the model ``rft`` and
``grpo`` start from, their folders), so a value set for one of those is an error: nothing would read it."""

ROUND_TASKS = ("feedback", "unseen", "warmup")
"""Which tasks the rounds sample: the family's ``feedback`` pool (judge-only: no reference reaches training),
train-split tasks the warm-up never trained on, or the warm-up's own."""


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
    """Training tasks JSONL; empty: the domain's bundled train split. Given tasks go through the domain's
    test-strength screen (:mod:`codealign.bench.screen`) first; those it marks weak are left out unless
    ``allow_weak``."""
    allow_weak: bool = False
    """Keep given training tasks whose test a constant, all-X/Z or inverted design passes (marked weak)."""
    max_tasks: int = 64
    """Use at most this many training tasks (0 = all)."""
    round_tasks: str = "feedback"
    """The tasks the rounds sample and train on (:data:`ROUND_TASKS`). ``feedback`` (default) draws ``max_tasks``
    tasks of the family's ``feedback`` pool (held-out tasks that share no novelty key and no prompt with any
    evaluation draw of at most the family's ``EVAL_RESERVE`` tasks: :mod:`codealign.domains.splits`) and treats
    the round tasks as judge-only: the judge reads the full tasks, every training stage of the method reads
    copies stripped of assets and references (:func:`codealign.pipeline.state.strip_task`), so no mutants are
    made (``mutants_per_task`` must be 0) and the ``sft`` control trains on ``max_tasks`` unseen train-split
    tasks instead. With ``tasks`` (or a domain without a procedural family) the rounds use the given (or demo)
    tasks, judge-only under ``feedback``, labelled under the others. ``unseen`` draws ``max_tasks``
    train-split tasks of the family whose prompts the warm-up never trained on (the shipped warm-ups are trained
    to their plateau on the bundled train tasks, so sampling those leaves few failing samples and few pairs:
    docs/pipeline.md); ``warmup`` draws them from the bundled train tasks themselves. Held-out tasks are never
    used by ``unseen`` and ``warmup``: the split is the family's."""
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
    (:class:`codealign.pairs.make.PairsConfig`). The evaluation tasks are always checked for contamination."""
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
    distinct passing samples); ``rft+dpo`` (an RFT step, then a DPO step from the RFT policy on the round's pairs);
    ``grpo`` (the ``grpo`` settings; it samples inside training: ``sample.n`` completions per prompt, every round
    task once per round, see ``round_steps``).
    A domain's ``run_defaults`` may choose another (its comment quotes the measurement behind the choice)."""
    rounds: int = 1
    """On-policy rounds: each samples the train tasks from the previous round's policy, executes and trains."""
    round_steps: int = 40
    """Optimizer steps each round trains, whatever the method (so methods compare at the same budget): all to
    DPO, RFT or GRPO; ``rft+dpo`` gives the first half (rounded down) to RFT and the rest to DPO. With
    curriculum stages DPO trains ``round_steps // stages`` per stage. GRPO samples
    ``ceil(round tasks / round_steps)`` prompts × ``sample.n`` completions per step, so a round samples every
    round task's ``sample.n`` completions once, as the ``generate`` stage does for the others (exactly when
    ``round_steps`` divides the number of round tasks, else up to ``round_steps - 1`` prompts more)."""
    grpo: GRPORunConfig = field(default_factory=lambda: GRPORunConfig(**stage_defaults({})["grpo"]))
    """GRPO (:class:`codealign.train.grpo.GRPORunConfig`) for ``method=grpo``; the pipeline sets ``model``,
    ``output_dir``, ``max_steps`` (``round_steps``) and the sampling (``sample.n``, ``sample.temperature``,
    ``sample.top_p``, ``sample.max_new_tokens``); the round's sampling seed is ``seed + round - 1``."""
    rft: SFTRunConfig = field(default_factory=lambda: SFTRunConfig(**stage_defaults({})["rft"]))
    """RFT training and the continued-SFT control (:class:`codealign.train.sft.SFTRunConfig`); the pipeline sets
    ``model``, ``output_dir`` and the rows; ``max_steps`` stays unset (``round_steps`` sets it)."""
    control: str = "sft"
    """The matched control (:data:`CONTROLS`), trained from the warm-up policy with as many optimizer steps as the
    method (``rounds * round_steps``) and evaluated like it, so a run's report says whether execution feedback did
    better than more SFT (``none``: skip it, saving its training and one evaluation): ``sft`` (default) continues
    SFT (``rft`` settings) on the reference solutions of labelled train tasks (``control_tasks.jsonl``: with
    ``round_tasks=feedback`` unseen train-split tasks, else the round tasks); ``rft`` runs on-policy RFT rounds
    (its round 1 reuses the method's round-1 samples: same policy, same seed)."""
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
        feedback_pool = self.round_tasks == "feedback" and not self.tasks and domain.task_module
        if feedback_pool and self.eval.heldout_tasks > domain.eval_reserve:
            raise ValueError(f"eval.heldout_tasks={self.eval.heldout_tasks}: round_tasks=feedback keeps the first "
                             f"{domain.eval_reserve} held-out tasks of domain {self.domain!r} for evaluation; ask "
                             "for at most that many or use round_tasks=unseen")
        if self.max_tasks < 0 or self.mutants_per_task < 0 or self.probe_tasks < 0:
            raise ValueError("max_tasks, mutants_per_task and probe_tasks must be >= 0")
        if self.method not in METHODS:
            raise ValueError(f"unknown method {self.method!r}{closest(self.method, METHODS)}")
        if self.control not in CONTROLS:
            raise ValueError(f"unknown control {self.control!r}{closest(self.control, CONTROLS)}")
        if self.round_tasks not in ROUND_TASKS:
            raise ValueError(f"unknown round_tasks {self.round_tasks!r}{closest(self.round_tasks, ROUND_TASKS)}")
        if self.round_tasks == "feedback" and self.mutants_per_task:
            raise ValueError("mutants_per_task: mutants are made from reference solutions, and round_tasks=feedback "
                             "gives training none; set mutants_per_task=0 or round_tasks=unseen")
        if self.control == "rft" and self.method == "rft":
            raise ValueError("control 'rft' is the method itself; choose control=sft or another method")
        if self.rounds < 1:
            raise ValueError(f"rounds must be >= 1, got {self.rounds}")
        if self.round_steps < (2 if self.method == "rft+dpo" else 1):
            raise ValueError(f"round_steps must be >= {2 if self.method == 'rft+dpo' else 1} for method "
                             f"{self.method!r}, got {self.round_steps}")
        if self.method == "grpo" and self.sample.n < 2:
            raise ValueError("method=grpo compares each prompt's completions with each other: sample.n must be >= 2")
        self._refuse_unread_io()
        for section in ("dpo", "rft", "grpo"):
            if getattr(self, section).max_steps != -1:
                raise ValueError(f"{section}.max_steps: the pipeline trains round_steps optimizer steps per round "
                                 "whatever the method; set round_steps instead")

    def _refuse_unread_io(self) -> None:
        """A ValueError for a trainer input or output (:data:`RUN_IO`) set to anything but what a run leaves there."""
        unset = stage_defaults({})
        for section in ("sft", "dpo", "rft", "grpo"):
            config = getattr(self, section)
            for name, default in io_fields(config).items():
                if name not in RUN_IO.get(section, ()) and getattr(config, name) != unset[section].get(name, default):
                    raise ValueError(f"{section}.{name}: a run gives its {section} stage its inputs and outputs "
                                     "itself, so nothing reads this key; remove it")


def make_config(domain: str, preset: str | None = None, config_file: str | None = None,
                overrides: list[str] = ()) -> PipelineConfig:
    """The domain's ``run_defaults``, then the preset, the config file and the overrides. An ``eval.benchmark``
    named by any of these replaces the defaults' choice of evaluation tasks (``eval.heldout_tasks``,
    ``eval.max_tasks``)."""
    import copy

    from codealign.config import deep_merge
    from codealign.domains import domain_class, preset_data

    defaults: dict[str, Any] = copy.deepcopy(dict(domain_class(domain).run_defaults))
    data: dict[str, Any] = {}
    if preset:
        owner, found = preset_data(preset)
        if owner != domain:
            raise UserError(f"preset {preset!r} is for domain {owner!r}, not {domain!r}")
        data = deep_merge(data, found)
    if config_file:
        data = deep_merge(data, load_yaml(config_file))
    data["domain"] = domain
    data = apply_overrides(data, list(overrides))
    if isinstance(data.get("eval"), dict) and data["eval"].get("benchmark"):
        for key in ("heldout_tasks", "max_tasks"):
            defaults.get("eval", {}).pop(key, None)
    data = deep_merge(defaults, data)
    return build(PipelineConfig, deep_merge(stage_defaults(data), data))


def stage_defaults(data: dict[str, Any]) -> dict[str, Any]:
    """The pipeline's defaults of its ``sft``, ``dpo``, ``rft`` and ``grpo`` sections for a run whose top-level settings
    (``model``, ``seed``, ``device``) are ``data``; every other source of settings applies on top.

    The tiny model gets far larger learning rates than a pretrained one; DPO carries an NLL anchor on the chosen
    side (RPO-style) and RFT trains at DPO's rate. The measurements behind these choices are in docs/pipeline.md
    ("Training defaults"); the method itself is the domain's choice (``run_defaults``)."""
    tiny = data.get("model", "codealign-tiny") == "codealign-tiny"
    run = {"model": "", "output_dir": "", "seed": data.get("seed", 0), "device": data.get("device", "auto")}
    return {
        "sft": {**run, "save_steps": 50, "learning_rate": 3e-3 if tiny else 2e-5, "max_steps": 300,
                "per_device_train_batch_size": 16, "logging_steps": 25},
        "dpo": {**run, "learning_rate": 1e-4 if tiny else 5e-7, "nll_alpha": 1.0,
                "per_device_train_batch_size": 8, "save_steps": 20, "logging_steps": 5},
        "rft": {**run, "learning_rate": 1e-4 if tiny else 1e-5, "per_device_train_batch_size": 8, "save_steps": 20,
                "logging_steps": 5},
        "grpo": {**run, "learning_rate": 1e-4 if tiny else 1e-6, "save_steps": 20, "logging_steps": 5},
    }


def config_hash(config: PipelineConfig) -> str:
    return digest(dataclasses.asdict(config))


def digest(data: Any) -> str:
    """A short hash of JSON-able ``data`` (keys sorted): what ``state.json`` records per stage."""
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:16]

