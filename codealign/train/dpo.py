"""DPO on TRL: ``DPORunConfig`` (everything TRL's ``DPOConfig`` offers, validated when built) and
``train_dpo``, which trains curriculum stages in order, each with its own checkpoints, and resumes.

Guaranteed:

* stages run in ascending ``stage`` order; with ``curriculum=True`` each stage is a separate TRL run whose
  policy *and reference* start from the previous stage's final policy (Curry-DPO's reference refresh); with
  ``curriculum=False`` all pairs are one run, still fed in stage order;
* within a stage pairs come in file order (``order='sequential'``) or in a permutation seeded by ``seed``
  (``order='shuffle'``); ``multi_pair=True`` keeps each prompt's ranked pairs together and normalises
  their weights so every prompt counts the same;
* a finished stage is never retrained: rerunning ``train_dpo`` with the same ``output_dir`` skips finished
  stages and resumes an interrupted one from its last checkpoint (``save_steps``);
* each stage logs to ``stage-K/train_log.jsonl`` (every logged step), ``stage-K/monitor.jsonl`` (the
  collapse monitor's probes and decisions) and TensorBoard (``stage-K/tensorboard``); each stage's policy
  is ``stage-K/final`` (LoRA merged) and ``output_dir/final.json`` names the last one;
* when the collapse monitor stops a stage, the run stops there (later stages are not trained) and the result
  says why; the stopped stage's policy is still saved, for inspection.

Not guaranteed: bit-identical results across devices or thread counts. Torch and TRL are imported only
inside functions.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import functools
import json
import math
import re
import shutil
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from codealign.config import IO
from codealign.errors import UserError
from codealign.jsonl import write_jsonl, write_text_atomic
from codealign.types import Pair

BATCH_COUPLED_LOSSES = ("aot", "aot_unpaired")
"""Losses that sort across the batch: per-pair weights are undefined for them."""

ORDERS = ("sequential", "shuffle")


@functools.cache
def _trl_dpo_fields() -> dict[str, dataclasses.Field]:
    # TRL's config module imports torch (through transformers.TrainingArguments): read it on first use only.
    from trl import DPOConfig

    return {f.name: f for f in dataclasses.fields(DPOConfig)}


@functools.cache
def _trl_dpo_help(field_name: str) -> str:
    """The help of ``DPOConfig.<field_name>`` as TRL's own source declares it, read without importing TRL (which
    takes seconds: a config error is reported before it); the imported class where the source is not in that
    shape."""
    import ast
    import importlib.util

    spec = importlib.util.find_spec("trl")
    folders = spec.submodule_search_locations if spec else None
    try:
        tree = ast.parse(Path(folders[0], "trainer", "dpo_config.py").read_text(encoding="utf-8"))
    except (OSError, SyntaxError, TypeError, IndexError):
        tree = None
    for node in ast.walk(tree) if tree else ():
        if (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.target.id == field_name
                and isinstance(node.value, ast.Call)):
            for keyword in node.value.keywords:
                if keyword.arg == "metadata":
                    try:
                        return ast.literal_eval(keyword.value)["help"]
                    except (ValueError, KeyError, TypeError):
                        break
    return _trl_dpo_fields()[field_name].metadata["help"]


def _quoted_choices(field_name: str) -> tuple[str, ...]:
    """The values TRL's help of ``DPOConfig.<field_name>`` names as backquoted, single-quoted words, in order."""
    found = tuple(re.findall(r"`'(\w+)'`", _trl_dpo_help(field_name)))
    if not found:
        raise RuntimeError(f"TRL's DPOConfig.{field_name} help lists no choices; codealign needs updating")
    return found


def loss_types() -> tuple[str, ...]:
    """The loss types TRL's ``DPOTrainer`` accepts, read from ``DPOConfig.loss_type``'s help (TRL checks them
    only at the first step; the config checks them at once)."""
    return _quoted_choices("loss_type")


def f_divergence_losses() -> tuple[str, ...]:
    """The loss types TRL generalises to an ``f_divergence_type`` other than ``reverse_kl`` (from its help)."""
    return _quoted_choices("f_divergence_type")


def own_fields() -> tuple[str, ...]:
    """``DPOConfig`` fields set from ``DPORunConfig``'s own fields of the same name; ``trl`` may not set them a
    second time."""
    return tuple(f.name for f in dataclasses.fields(DPORunConfig) if f.name in _trl_dpo_fields())


@dataclass
class DPORunConfig:
    """One DPO run: the model, the pairs, TRL's settings passed through, and codealign's additions."""

    model: str = field(metadata=IO)
    """Starting policy (and stage-1 reference): a local model folder, a hub id, or ``codealign-tiny``."""
    pairs: str = field(default="", metadata=IO)
    """Pairs JSONL (``codealign.types.Pair`` rows) or a ``datasets`` folder (``codealign pairs --format hf``).
    May be empty when pairs are passed to ``train_dpo``."""
    output_dir: str = field(default="runs/dpo", metadata=IO)
    """Run folder: one ``stage-K`` folder per stage (checkpoints, logs, ``final`` policy), ``final.json``,
    ``ref_cache``."""
    loss_type: list[str] = field(default_factory=lambda: ["sigmoid"])
    """TRL loss types (combined with ``loss_weights``); see :func:`loss_types`."""
    loss_weights: list[float] | None = None
    """Weight of each entry of ``loss_type`` (TRL's ``loss_weights``); None: all 1."""
    beta: float = 0.1
    """TRL's beta: the strength of the implicit KL to the reference."""
    label_smoothing: float = 0.0
    """TRL's label smoothing; for ``robust`` (rDPO) the estimated flip rate in [0, 0.5); > 0 for ``exo_pair``."""
    learning_rate: float = 1e-6
    """Peak learning rate of every stage."""
    num_train_epochs: float = 1.0
    """Epochs over each stage's pairs (ignored when ``max_steps`` > 0)."""
    max_steps: int = -1
    """Optimizer steps per stage (> 0 overrides ``num_train_epochs``; matched-step comparisons use it)."""
    per_device_train_batch_size: int = 4
    """Pairs per device per micro-batch."""
    gradient_accumulation_steps: int = 1
    """Micro-batches per optimizer step."""
    max_length: int | None = 1024
    """Longest prompt + completion in tokens (TRL's single length limit); None: no truncation."""
    precompute_ref_log_probs: bool = False
    """Compute the reference's log-probs once before each stage (and cache them on disk, see ``ref_cache``)."""
    ref_cache: bool = True
    """With ``precompute_ref_log_probs``: keep them in ``output_dir/ref_cache`` keyed by model and data, and
    reuse them on rerun and resume."""
    edit_focus: bool = False
    """Score DPO only on the tokens where chosen and rejected differ (shared prefix/suffix masked; RISE)."""
    dpop_lambda: float = 0.0
    """Weight of the DPO-Positive penalty (per-token nats the chosen completion lost vs the reference). When
    > 0 the reference log-probs are precomputed (the penalty reads them from the batch, as TRL's loss does)."""
    nll_alpha: float = 0.0
    """Weight of the mean per-token NLL of the whole chosen completion (RPO uses 1.0)."""
    raw_prompts: bool = False
    """Use pair prompts as they are; default: format them like SFT and sampling (chat template or ``sep``)."""
    system: str = ""
    """System message for chat-template models (same meaning as in SFT)."""
    use_weights: bool = True
    """Scale each pair's loss by its ``weight`` column (MADPO); False: every pair weighs 1."""
    multi_pair: bool = False
    """Ranked multi-pair batches: keep each prompt's pairs contiguous and divide their weights by the
    prompt's pair count (times the mean count), so a prompt with many ranked pairs does not dominate."""
    curriculum: bool = True
    """Train each ``stage`` as its own run with the reference refreshed to the previous stage's policy."""
    order: str = "sequential"
    """Order within a stage: ``sequential`` (file order) or ``shuffle`` (seeded by ``seed``)."""
    seed: int = 0
    """Seed of TRL/transformers and of the ``shuffle`` order."""
    lora_r: int = 0
    """LoRA rank (0: full fine-tuning). The adapter is merged into the policy at the end of each stage."""
    lora_alpha: int = 16
    """LoRA alpha."""
    lora_dropout: float = 0.0
    """LoRA dropout."""
    lora_target_modules: list[str] | str = "all-linear"
    """Modules that get adapters (PEFT's ``target_modules``); never the LM head (TRL refuses it)."""
    use_liger_kernel: bool = False
    """Liger's layer kernels through TRL (needs the ``liger-kernel`` package and a GPU)."""
    device: str = "auto"
    """``auto``, ``cpu``, ``cuda`` or ``mps``; picks precision and thread settings (``train.device``)."""
    save_steps: int = 50
    """Checkpoint every this many steps inside a stage (for resume after a kill)."""
    logging_steps: int = 1
    """Log every this many steps (JSONL and TensorBoard)."""
    report_tensorboard: bool = True
    """Write TensorBoard events to ``stage-K/tensorboard`` (``stage-K/train_log.jsonl`` is always written;
    other integrations go through ``trl: {report_to: [...]}``)."""
    monitor: bool = True
    """Attach the collapse monitor (``train.monitor``): stop a stage whose chosen log-prob or probe breaks down."""
    monitor_window: int = 5
    """Logged steps averaged by the monitor at the start and end of its chosen log-prob comparison."""
    monitor_max_chosen_drop: float = 5.0
    """Nats per sequence the chosen log-prob may fall before the monitor stops the stage."""
    monitor_probe_every: int = 0
    """Run the injected probe every this many steps (0: at the start and end of each stage only)."""
    monitor_max_rate_increase: float = 0.25
    """How far a probed failure rate may rise above its start before the monitor stops the stage."""
    trl: dict[str, Any] = field(default_factory=dict)
    """Any other ``trl.DPOConfig`` field, passed through (e.g. ``f_divergence_type``, ``ld_alpha``,
    ``use_weighting``, ``lr_scheduler_type``, ``warmup_ratio``, ``gradient_checkpointing``)."""

    def __post_init__(self) -> None:
        if isinstance(self.loss_type, str):
            self.loss_type = [self.loss_type]
        accepted = loss_types()
        unknown = [t for t in self.loss_type if t not in accepted]
        if not self.loss_type or unknown:
            close = difflib.get_close_matches(str(unknown[0]), accepted, n=1) if unknown else []
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise UserError(f"unknown loss_type {unknown or self.loss_type}; {hint}accepted: {', '.join(accepted)}")
        if self.loss_weights is not None and len(self.loss_weights) != len(self.loss_type):
            raise UserError(
                f"loss_weights has {len(self.loss_weights)} entries for {len(self.loss_type)} loss types"
            )
        if self.beta <= 0:
            raise UserError(f"beta must be > 0, got {self.beta}")
        if "robust" in self.loss_type and not 0.0 <= self.label_smoothing < 0.5:
            raise UserError(f"loss 'robust' needs label_smoothing (the flip rate) in [0, 0.5), got {self.label_smoothing}")
        if "exo_pair" in self.loss_type and not 0.0 < self.label_smoothing < 1.0:
            raise UserError("loss 'exo_pair' needs label_smoothing in (0, 1) (the EXO paper uses 1e-3)")
        if not 0.0 <= self.label_smoothing < 1.0:
            raise UserError(f"label_smoothing must be in [0, 1), got {self.label_smoothing}")
        for name in ("learning_rate", "per_device_train_batch_size", "gradient_accumulation_steps", "save_steps",
                     "logging_steps"):
            if getattr(self, name) <= 0:
                raise UserError(f"{name} must be > 0, got {getattr(self, name)}")
        if self.max_steps <= 0 and self.num_train_epochs <= 0:
            raise UserError("set max_steps > 0 or num_train_epochs > 0")
        if self.max_length is not None and self.max_length < 2:
            raise UserError(f"max_length must be >= 2 or None, got {self.max_length}")
        if self.dpop_lambda < 0 or self.nll_alpha < 0:
            raise UserError("dpop_lambda and nll_alpha must be >= 0")
        if self.order not in ORDERS:
            raise UserError(f"unknown order {self.order!r}; choose one of: {', '.join(ORDERS)}")
        if self.lora_r < 0:
            raise UserError(f"lora_r must be >= 0, got {self.lora_r}")
        targets = [self.lora_target_modules] if isinstance(self.lora_target_modules, str) else self.lora_target_modules
        if self.lora_r and "lm_head" in targets:
            raise UserError("LoRA on lm_head is not supported by TRL's DPO (its log-probs read lm_head.weight)")
        from codealign.train.device import DEVICES

        if self.device not in DEVICES and not self.device.startswith("cuda:"):
            raise UserError(f"unknown device {self.device!r}; choose one of: {', '.join(DEVICES)}")
        if self.monitor_window < 1 or self.monitor_max_chosen_drop <= 0 or self.monitor_probe_every < 0:
            raise UserError("monitor_window must be >= 1, monitor_max_chosen_drop > 0, monitor_probe_every >= 0")
        if not 0 < self.monitor_max_rate_increase <= 1:
            raise UserError("monitor_max_rate_increase must be in (0, 1]")
        self._validate_trl_passthrough()

    def _validate_trl_passthrough(self) -> None:
        if not self.trl:
            return
        unknown = sorted(set(self.trl) - set(_trl_dpo_fields()))
        if unknown:
            raise UserError(f"trl: unknown DPOConfig field(s): {', '.join(unknown)}")
        doubled = sorted(set(self.trl) & set(own_fields()))
        if doubled:
            raise UserError(f"trl: set {', '.join(doubled)} at the top level of the config, not under trl")
        divergence = self.trl.get("f_divergence_type", "reverse_kl")
        if divergence != "reverse_kl" and not set(self.loss_type) <= set(f_divergence_losses()):
            raise UserError(
                f"f_divergence_type={divergence!r} works only with loss types {', '.join(f_divergence_losses())}"
            )
        if self.trl.get("use_weighting") and set(self.loss_type) & set(BATCH_COUPLED_LOSSES):
            raise UserError("use_weighting (WPO) is not implemented for 'aot'/'aot_unpaired' (they sort the batch)")
        if self.trl.get("sync_ref_model"):
            if self.precompute_ref_log_probs or self.dpop_lambda:
                raise UserError("sync_ref_model excludes precompute_ref_log_probs and dpop_lambda (a synced "
                                "reference makes precomputed log-probs stale)")
            if self.lora_r:
                raise UserError("sync_ref_model is not supported with LoRA (TRL has no separate reference then)")
        if self.trl.get("padding_free"):
            raise UserError("padding_free is disabled in TRL 1.16's DPOTrainer; leave it unset")
        if self.use_liger_kernel:
            import importlib.util

            if importlib.util.find_spec("liger_kernel") is None:
                raise UserError("use_liger_kernel needs the liger-kernel package (pip install liger-kernel)")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class StageResult:
    """What one stage did: where its policy and reference came from and went, and how it ended."""

    stage: int
    n_pairs: int
    steps: int
    start_model: str
    reference: str
    model_dir: str
    skipped: bool = False
    resumed: bool = False
    ref_cache_hit: bool | None = None
    stopped_reason: str | None = None
    train_seconds: float = 0.0
    last_log: dict[str, float] = field(default_factory=dict)


@dataclass
class DPORunResult:
    """The whole run: per-stage results, the final policy folder, and why the monitor stopped it (if it did)."""

    output_dir: str
    final_model: str
    stages: list[StageResult]
    stopped_reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def load_pairs(path: str | Path) -> list[Pair]:
    """Pairs from a JSONL file or a ``datasets`` folder (:func:`codealign.pairs.command.read_pairs`); a missing
    file, a malformed row or no pairs raises :class:`UserError`."""
    from codealign.pairs.command import read_pairs

    pairs = read_pairs(path)
    if not pairs:
        raise UserError(f"{path}: no pairs")
    return pairs


def pair_rows(pairs: Sequence[Pair], config: DPORunConfig, tokenizer: Any = None) -> list[dict[str, Any]]:
    """Dataset rows for TRL (``prompt``, ``chosen``, ``rejected``) plus ``weight``, ``stage``, ``pair_index``
    (position in ``pairs``) and ``group`` (the prompt's identity, for ranked multi-pair ordering).

    Prompts are formatted exactly as SFT and sampling format them (``codealign.prompts.preference_row``: the
    chat template, or ``prompt + sep`` for the tiny model) unless ``config.raw_prompts`` or no tokenizer."""
    from codealign.prompts import preference_row

    rows = []
    for i, p in enumerate(pairs):
        weight = float(p.weight) if config.use_weights else 1.0
        if not math.isfinite(weight) or weight < 0:
            raise UserError(f"pair {i} ({p.task_id or 'no task_id'}): weight must be finite and >= 0, got {p.weight}")
        if config.raw_prompts or tokenizer is None:
            text = {"prompt": p.prompt, "chosen": p.chosen, "rejected": p.rejected}
        else:
            text = preference_row(p.prompt, p.chosen, p.rejected, tokenizer, system=config.system or None)
        rows.append({
            **text, "weight": weight, "stage": int(p.stage), "pair_index": i, "group": f"{p.task_id}\0{p.prompt}",
        })
    if config.multi_pair:
        sizes = Counter(r["group"] for r in rows)
        mean_size = len(rows) / len(sizes)
        for r in rows:
            r["weight"] *= mean_size / sizes[r["group"]]
    if set(config.loss_type) & set(BATCH_COUPLED_LOSSES) and any(r["weight"] != 1.0 for r in rows):
        raise UserError(
            "per-pair weights are undefined for loss 'aot'/'aot_unpaired' (they sort across the batch): "
            "set use_weights=false and multi_pair=false, or choose another loss"
        )
    return rows


def _dpo_args(config: DPORunConfig, stage_dir: Path):
    from trl import DPOConfig

    from codealign.train.device import training_args_for_device

    kwargs: dict[str, Any] = dict(training_args_for_device(config.device))
    kwargs.update({name: copy.deepcopy(getattr(config, name)) for name in own_fields()})
    kwargs.update(
        output_dir=str(stage_dir),
        precompute_ref_log_probs=config.precompute_ref_log_probs or config.dpop_lambda > 0,
        save_strategy="steps",
        report_to="none",
        disable_tqdm=True,
    )
    kwargs.update(config.trl)
    return DPOConfig(**kwargs)


def _lora_config(config: DPORunConfig):
    if not config.lora_r:
        return None
    from peft import LoraConfig

    return LoraConfig(
        r=config.lora_r,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        target_modules=config.lora_target_modules,
        task_type="CAUSAL_LM",
    )


def build_trainer(
    config: DPORunConfig,
    rows: list[dict[str, Any]],
    model_path: str,
    stage_dir: Path,
    *,
    callbacks: Sequence[Any] = (),
    record_batches: bool = False,
    quiet: bool = False,
):
    """A :class:`CodeAlignDPOTrainer` for one stage: policy and reference loaded from ``model_path``, data
    from ``rows`` (see :func:`pair_rows`), TRL settings from ``config``; ``quiet`` drops the trainer's
    printing of log rows to stdout. Exposed for tests and benchmarks."""
    from datasets import Dataset

    from codealign.train.dpo_trainer import CodeAlignDPOTrainer
    from codealign.train.models import load_tokenizer, resolve_model_path
    from codealign.train.refcache import RefLogpCache

    location = resolve_model_path(model_path)
    tokenizer = load_tokenizer(location)
    ref_cache = None
    if config.precompute_ref_log_probs and config.ref_cache:
        ref_cache = RefLogpCache(Path(config.output_dir) / "ref_cache")
    trainer = CodeAlignDPOTrainer(
        location,
        args=_dpo_args(config, stage_dir),
        train_dataset=Dataset.from_list(rows),
        processing_class=tokenizer,
        peft_config=_lora_config(config),
        callbacks=list(callbacks),
        edit_focus=config.edit_focus,
        dpop_lambda=config.dpop_lambda,
        nll_alpha=config.nll_alpha,
        shuffle=config.order == "shuffle",
        group_prompts=config.multi_pair,
        order_seed=config.seed,
        ref_cache=ref_cache,
        record_batches=record_batches,
    )
    if quiet:
        from transformers.trainer_callback import PrinterCallback

        trainer.remove_callback(PrinterCallback)
    return trainer


def _stage_plan(rows: list[dict[str, Any]], curriculum: bool) -> list[tuple[int, list[dict[str, Any]]]]:
    by_stage: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        by_stage[r["stage"]].append(r)
    if not curriculum:
        return [(min(by_stage), rows)]
    return [(s, by_stage[s]) for s in sorted(by_stage)]


def _latest_checkpoint(stage_dir: Path) -> Path | None:
    """The newest completely written checkpoint of a stage (a kill mid-save leaves a partial one behind)."""
    from codealign.train.sft import last_complete_checkpoint

    found = last_complete_checkpoint(stage_dir)
    return Path(found) if found else None


def train_dpo(
    config: DPORunConfig,
    pairs: Sequence[Pair] | None = None,
    *,
    probe: Callable[[Any, Any], dict[str, float]] | None = None,
    callbacks: Sequence[Any] = (),
    record_batches: bool = False,
    on_trainer: Callable[[Any], None] | None = None,
    quiet: bool = False,
) -> DPORunResult:
    """Train DPO on ``pairs`` (or ``config.pairs``) stage by stage; see the module doc for guarantees.

    ``probe(model, tokenizer) -> {rate name: value in [0, 1]}`` is handed to the collapse monitor (the pipeline
    passes one that samples tasks and executes them; ``train`` itself never runs code). ``callbacks`` are
    extra ``TrainerCallback`` objects; ``on_trainer`` is called with each stage's trainer after it trains
    (tests and benchmarks read ``batch_history`` there); ``quiet`` keeps log rows off stdout.
    """
    from codealign.train.models import load_tokenizer

    rows = pair_rows(_given_pairs(config, pairs), config, load_tokenizer(config.model))
    out = Path(config.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out / "config.json", json.dumps(config.to_dict(), indent=2, default=str))

    results: list[StageResult] = []
    current = config.model
    for stage, stage_rows in _stage_plan(rows, config.curriculum):
        stage_dir = out / f"stage-{stage}"
        result = _finished_stage(stage_dir)
        if result is None:
            result = _train_stage(config, stage, stage_rows, current, stage_dir, probe=probe, callbacks=callbacks,
                                  record_batches=record_batches, on_trainer=on_trainer, quiet=quiet)
        results.append(result)
        current = str(stage_dir / "final")
        if result.stopped_reason:
            break
    stopped = next((r.stopped_reason for r in results if r.stopped_reason), None)
    write_text_atomic(out / "final.json", json.dumps({"model": current, "stopped_reason": stopped}, indent=2))
    return DPORunResult(output_dir=str(out), final_model=str(current), stages=results, stopped_reason=stopped)


def _given_pairs(config: DPORunConfig, pairs: Sequence[Pair] | None) -> Sequence[Pair]:
    """``pairs``, or those of the ``config.pairs`` file when None; no pairs at all is a UserError."""
    if pairs is None:
        if not config.pairs:
            raise UserError("no pairs: set 'pairs' in the config or pass them")
        pairs = load_pairs(config.pairs)
    if not pairs:
        raise UserError("no pairs to train on")
    return pairs


def _finished_stage(stage_dir: Path) -> StageResult | None:
    """The result a finished stage recorded (marked ``skipped``: it is not retrained); None when it did not finish."""
    done = stage_dir / "done.json"
    if done.is_file() and (stage_dir / "final" / "config.json").is_file():
        return StageResult(**{**json.loads(done.read_text(encoding="utf-8")), "skipped": True})
    return None


def _train_stage(
    config: DPORunConfig,
    stage: int,
    stage_rows: list[dict[str, Any]],
    start: str,
    stage_dir: Path,
    *,
    probe: Callable[[Any, Any], dict[str, float]] | None,
    callbacks: Sequence[Any],
    record_batches: bool,
    on_trainer: Callable[[Any], None] | None,
    quiet: bool,
) -> StageResult:
    """Train one stage from policy (and reference) ``start``, resuming from its newest checkpoint; save its policy
    to ``stage_dir/final``, its monitor events and ``done.json``, and drop its checkpoints."""
    import time

    final_dir = stage_dir / "final"
    stage_callbacks, monitor = _stage_callbacks(config, stage_dir, callbacks, probe)
    trainer = build_trainer(config, stage_rows, start, stage_dir, callbacks=stage_callbacks,
                            record_batches=record_batches, quiet=quiet)
    checkpoint = _latest_checkpoint(stage_dir)
    started = time.perf_counter()
    trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    elapsed = time.perf_counter() - started
    if on_trainer is not None:
        on_trainer(trainer)
    _save_policy(trainer, final_dir)
    logs = [h for h in trainer.state.log_history if "loss" in h]
    result = StageResult(
        stage=stage,
        n_pairs=len(stage_rows),
        steps=trainer.state.global_step,
        start_model=str(start),
        reference=str(start),
        model_dir=str(final_dir),
        resumed=checkpoint is not None,
        ref_cache_hit=trainer.ref_cache_hit,
        stopped_reason=monitor.stopped_reason if monitor else None,
        train_seconds=round(elapsed, 3),
        last_log={k: v for k, v in (logs[-1] if logs else {}).items() if isinstance(v, (int, float))},
    )
    if monitor is not None:
        write_jsonl(stage_dir / "monitor.jsonl", [dataclasses.asdict(e) for e in monitor.events])
    _mark_finished(stage_dir, result)
    return result


def _stage_callbacks(config: DPORunConfig, stage_dir: Path, callbacks: Sequence[Any],
                     probe: Callable[[Any, Any], dict[str, float]] | None) -> tuple[list[Any], Any]:
    """A stage's callbacks (its JSONL log, the given ``callbacks``, TensorBoard, the collapse monitor as
    configured) and the monitor (None when off)."""
    from codealign.train.callbacks import JsonlLogCallback, tensorboard_callback
    from codealign.train.monitor import CollapseMonitor, MonitorConfig

    found = [JsonlLogCallback(stage_dir / "train_log.jsonl"), *callbacks]
    if config.report_tensorboard:
        found.append(tensorboard_callback(stage_dir / "tensorboard"))
    monitor = None
    if config.monitor:
        monitor = CollapseMonitor(
            MonitorConfig(config.monitor_window, config.monitor_max_chosen_drop, config.monitor_probe_every,
                          config.monitor_max_rate_increase),
            probe=probe,
        )
        found.append(monitor)
    return found, monitor


def _mark_finished(stage_dir: Path, result: StageResult) -> None:
    """Record ``result`` in ``done.json`` (what :func:`_finished_stage` reads back) and drop the stage's
    checkpoints: a finished stage is never resumed."""
    info = dataclasses.asdict(result)
    info.pop("skipped")
    write_text_atomic(stage_dir / "done.json", json.dumps(info, indent=2))
    for ckpt in stage_dir.glob("checkpoint-*"):
        shutil.rmtree(ckpt, ignore_errors=True)


def _save_policy(trainer, final_dir: Path) -> None:
    """Save the stage's policy as a full model with its tokenizer into ``final_dir``, atomically (a sibling
    temp folder, then a rename). A LoRA adapter is merged first (single process or DDP; merging a ZeRO-3
    sharded adapter is not supported). Every process must call it; the main process writes."""
    import os

    from peft import PeftModel

    tmp = final_dir.parent / ".final.tmp"
    model = trainer.accelerator.unwrap_model(trainer.model)
    if isinstance(model, PeftModel):
        if trainer.accelerator.is_main_process:
            shutil.rmtree(tmp, ignore_errors=True)
            model.merge_and_unload().save_pretrained(tmp)
            trainer.processing_class.save_pretrained(tmp)
    else:
        trainer.save_model(str(tmp))
    trainer.accelerator.wait_for_everyone()
    if trainer.accelerator.is_main_process:
        if final_dir.exists():
            shutil.rmtree(final_dir)
        os.replace(tmp, final_dir)
    trainer.accelerator.wait_for_everyone()
