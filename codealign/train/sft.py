"""Supervised fine-tuning on prompt/completion rows with TRL's ``SFTTrainer``: completion-only loss, a
curriculum of stages trained in the given order, rejection-sampling fine-tuning (RFT: SFT on the samples that
passed execution), checkpoints with resume, and JSONL + TensorBoard logs.

Curriculum order is owned here, not left to the trainer: transformers shuffles the whole dataset by default,
so :class:`CurriculumSFTTrainer` replaces the sampler with :class:`~codealign.train.order.StageOrderSampler`
(DPO's too), which walks the stages in order and shuffles (seeded) only within a stage. The order survives a
resume, because the sampler is a pure function of (seed, epoch).

Prompts are formatted by :mod:`codealign.prompts`, the same code that formats them for sampling.
This module imports torch and TRL only inside functions; it reads ``codealign.types`` but never the sandbox
or the domains (RFT rows are built from :class:`~codealign.types.ExecResult` data).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from codealign.config import IO
from codealign.errors import UserError
from codealign.train.order import StageOrderSampler
from codealign.types import ExecResult, Task, Verdict

Row = Mapping[str, Any]

MODES = ("sft", "rft")

STAGE_COLUMN = "curriculum_stage"
"""Dataset column holding each row's stage index (dropped before batches reach the model)."""


@dataclass
class SFTRunConfig:
    """One SFT (or RFT) run. Every field can be set from YAML or ``key=value`` overrides."""

    model: str = field(default="codealign-tiny", metadata=IO)
    """Hub id, local model folder, or ``codealign-tiny`` (the offline tiny model)."""

    output_dir: str = field(default="runs/sft", metadata=IO)
    """Run folder: checkpoints (``checkpoint-N``), the final model (``final/``), ``train_log.jsonl`` and
    ``tensorboard/``."""

    mode: str = field(default="sft", metadata=IO)
    """``sft``: train on the rows given (``data`` files or the rows passed to :func:`train_sft`); ``rft``: build
    rows from execution verdicts (``verdicts`` + ``tasks``) keeping only PASS samples."""

    data: list[str] = field(default_factory=list, metadata=IO)
    """SFT row files (JSONL with ``prompt`` and ``completion``), one per curriculum stage, in stage order."""

    verdicts: str = field(default="", metadata=IO)
    """RFT: verdicts JSONL (ExecResult rows with the candidate text in ``completion``)."""

    tasks: str = field(default="", metadata=IO)
    """RFT: tasks JSONL that the verdicts refer to (their prompts become the training prompts)."""

    rft_max_per_task: int = 0
    """RFT: keep at most this many distinct passing samples per task (0 = all)."""

    learning_rate: float = 5e-4
    """Peak learning rate (AdamW)."""

    lr_scheduler_type: str = "cosine"
    """transformers scheduler name (``constant``, ``linear``, ``cosine``, ...)."""

    warmup_ratio: float = 0.03
    """Fraction of the steps spent warming up the learning rate."""

    weight_decay: float = 0.0
    """AdamW weight decay."""

    epochs: int = 1
    """Passes over each stage before moving to the next one (the curriculum is never interleaved)."""

    max_steps: int = -1
    """Stop after this many optimizer steps (-1: run the whole curriculum once). More steps than one pass holds
    start the curriculum again from stage 0, reshuffled within stages."""

    per_device_train_batch_size: int = 8
    """Rows per device per forward pass."""

    gradient_accumulation_steps: int = 1
    """Forward passes per optimizer step."""

    max_length: int = 1024
    """Longest tokenized prompt + completion; longer rows are truncated (TRL's only length limit)."""

    shuffle_within_stage: bool = True
    """Shuffle rows (seeded) inside each stage; stages always stay in order. False keeps file order."""

    completion_only_loss: bool = True
    """Loss on completion tokens only (the prompt is context)."""

    raw_prompts: bool = False
    """Use prompts as given (e.g. FIM prompts with sentinels) instead of formatting them for the model."""

    system: str = ""
    """Optional system message: a system turn for chat-template models, a leading paragraph otherwise."""

    seed: int = 0
    """Seed for weights of new heads, dropout and within-stage shuffling."""

    device: str = "auto"
    """``auto``, ``cpu``, ``cuda`` or ``mps``; CPU/GPU settings follow from it (``codealign.train.device``)."""

    save_steps: int = 0
    """Save a checkpoint every this many steps (0: only at the end)."""

    save_total_limit: int = 2
    """Keep at most this many checkpoints (0: keep all)."""

    logging_steps: int = 10
    """Log loss and learning rate every this many steps."""

    resume_from_checkpoint: str = "auto"
    """``auto``: continue from the newest checkpoint in ``output_dir`` if there is one; ``never``: start over;
    or a checkpoint folder."""

    report_tensorboard: bool = True
    """Write TensorBoard event files to ``output_dir/tensorboard``."""

    peft: dict[str, Any] = field(default_factory=dict)
    """LoRA settings passed to ``peft.LoraConfig`` (e.g. ``{r: 16, lora_alpha: 32}``); empty: full fine-tuning."""

    trl: dict[str, Any] = field(default_factory=dict)
    """Extra ``trl.SFTConfig`` arguments passed through as is (e.g. ``packing``, ``use_liger_kernel``)."""

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise UserError(f"sft config: unknown mode {self.mode!r}; choose one of: {', '.join(MODES)}")
        if isinstance(self.data, str):
            self.data = [self.data]
        if self.learning_rate <= 0:
            raise UserError(f"sft config: learning_rate must be > 0, got {self.learning_rate}")
        if self.epochs < 1:
            raise UserError(f"sft config: epochs must be >= 1, got {self.epochs}")
        if self.max_steps == 0 or self.max_steps < -1:
            raise UserError(f"sft config: max_steps must be -1 or > 0, got {self.max_steps}")
        for name in ("per_device_train_batch_size", "gradient_accumulation_steps", "max_length", "logging_steps"):
            if getattr(self, name) < 1:
                raise UserError(f"sft config: {name} must be >= 1, got {getattr(self, name)}")
        for name in ("save_steps", "save_total_limit", "rft_max_per_task"):
            if getattr(self, name) < 0:
                raise UserError(f"sft config: {name} must be >= 0, got {getattr(self, name)}")
        if not 0 <= self.warmup_ratio < 1:
            raise UserError(f"sft config: warmup_ratio must be in [0, 1), got {self.warmup_ratio}")
        if self.mode == "rft" and self.data:
            raise UserError("sft config: mode 'rft' builds rows from verdicts + tasks; do not also give data")
        reserved = {"output_dir", "max_length", "learning_rate", "seed", "completion_only_loss", "max_steps"}
        clash = reserved & set(self.trl)
        if clash:
            raise UserError(f"sft config: set {', '.join(sorted(clash))} as top-level fields, not under trl")


@dataclass
class SFTResult:
    """What a run produced. ``final_dir`` holds the trained model and tokenizer (``from_pretrained``-ready)."""

    output_dir: str
    final_dir: str
    global_step: int
    train_loss: float
    stage_sizes: list[int]
    resumed_from: str | None
    log_path: str


def _curriculum_trainer_class():
    from trl import SFTTrainer

    class CurriculumSFTTrainer(SFTTrainer):
        """TRL's SFTTrainer whose training sampler is a :class:`~codealign.train.order.StageOrderSampler` over
        the rows' stages, each stage repeated ``epochs`` times."""

        def __init__(self, *args, epochs: int, shuffle: bool, sampler_seed: int, **kwargs):
            super().__init__(*args, **kwargs)
            # Read after TRL's preparation, which drops rows that truncation left without a completion token.
            self.curriculum = StageOrderSampler(
                self.train_dataset[STAGE_COLUMN], shuffle=shuffle, seed=sampler_seed, repeats=epochs)

        def _get_train_sampler(self, train_dataset=None):
            return self.curriculum

    return CurriculumSFTTrainer


def as_stages(data: Sequence[Row] | Sequence[Sequence[Row]]) -> list[list[Row]]:
    """Curriculum stages from what a caller passes: a list of stages (lists of rows) kept in that order; or one
    list of rows, which is one stage unless rows carry an integer ``stage`` (then grouped by ascending stage,
    file order kept within a stage). Empty stages are dropped; no rows at all raises :class:`UserError`."""
    data = list(data)
    if data and all(isinstance(item, Mapping) for item in data):
        if all("stage" in row for row in data):
            by_stage: dict[int, list[Row]] = {}
            for row in data:
                by_stage.setdefault(int(row["stage"]), []).append(row)
            stages = [by_stage[k] for k in sorted(by_stage)]
        else:
            stages = [data]
    else:
        stages = [list(stage) for stage in data]
    stages = [s for s in stages if s]
    if not stages:
        raise UserError("sft: no training rows")
    for s_index, stage in enumerate(stages):
        for r_index, row in enumerate(stage):
            if not isinstance(row, Mapping) or not isinstance(row.get("prompt"), str) or not isinstance(row.get("completion"), str):
                raise UserError(f"sft: stage {s_index} row {r_index} needs string 'prompt' and 'completion' fields")
    return stages


def rft_rows(
    results: Sequence[ExecResult],
    tasks: Sequence[Task],
    *,
    max_per_task: int = 0,
    candidates: Mapping[str, str] | None = None,
) -> list[dict[str, Any]]:
    """RFT training rows: one ``{"prompt", "completion", "task_id", "score"}`` per distinct passing sample.

    Only verdict PASS is kept (SANDBOX_ERROR and every failure are dropped). The completion is
    ``result.completion``, or ``candidates[candidate_id]`` when the verdicts do not carry the text. Duplicate
    completions of a task count once; ``max_per_task`` > 0 keeps the first that many per task. Results whose
    task is unknown raise :class:`UserError` (a verdicts file paired with the wrong tasks file)."""
    by_id = {t.task_id: t for t in tasks}
    seen: dict[str, set[str]] = {}
    rows = []
    for result in results:
        if result.verdict is not Verdict.PASS:
            continue
        task = by_id.get(result.task_id)
        if task is None:
            raise UserError(f"rft: verdict for unknown task {result.task_id!r} (wrong tasks file?)")
        completion = result.completion or (candidates or {}).get(result.candidate_id, "")
        if not completion.strip():
            raise UserError(f"rft: passing verdict {result.candidate_id} of task {result.task_id} carries no completion")
        kept = seen.setdefault(task.task_id, set())
        if completion in kept or (max_per_task and len(kept) >= max_per_task):
            continue
        kept.add(completion)
        rows.append({"prompt": task.prompt, "completion": completion, "task_id": task.task_id, "score": result.score})
    return rows


def _load_rows(config: SFTRunConfig) -> list[list[Row]]:
    from codealign.jsonl import read_jsonl

    if config.mode == "rft":
        if not config.verdicts or not config.tasks:
            raise UserError("sft config: mode 'rft' needs both verdicts and tasks files")
        results = read_jsonl(config.verdicts, ExecResult.from_dict)
        tasks = read_jsonl(config.tasks, Task.from_dict)
        rows = rft_rows(results, tasks, max_per_task=config.rft_max_per_task)
        if not rows:
            raise UserError(f"rft: no passing samples in {config.verdicts}")
        return [rows]
    if not config.data:
        raise UserError("sft config: no data files (set data: [stage0.jsonl, ...]) and no rows passed")
    return as_stages([read_jsonl(path) for path in config.data])


def last_complete_checkpoint(output_dir: str | os.PathLike) -> str | None:
    """The newest ``checkpoint-N`` folder in ``output_dir`` that was completely written (its
    ``trainer_state.json``, saved last, exists); a folder left half-written by a kill is skipped."""
    root = Path(output_dir)
    if not root.is_dir():
        return None
    done = [
        p for p in root.glob("checkpoint-*")
        if p.name.split("-", 1)[1].isdigit() and (p / "trainer_state.json").is_file()
    ]
    return str(max(done, key=lambda p: int(p.name.split("-", 1)[1]))) if done else None


def _resume_point(config: SFTRunConfig) -> str | None:
    choice = config.resume_from_checkpoint
    if choice == "never":
        return None
    if choice == "auto":
        return last_complete_checkpoint(config.output_dir)
    if not os.path.isdir(choice):
        raise UserError(f"sft: checkpoint {choice!r} not found")
    return choice


def _sft_dataset(config: SFTRunConfig, stages: list[list[Row]], tokenizer: Any):
    """The stages' rows as one dataset for TRL: formatted like sampling formats them (unless ``raw_prompts``),
    each tagged with its stage index in :data:`STAGE_COLUMN`."""
    from datasets import Dataset

    from codealign.prompts import sft_row

    system = config.system or None

    def to_trl(row: Row) -> dict[str, Any]:
        if config.raw_prompts:
            return {"prompt": row["prompt"], "completion": row["completion"]}
        return sft_row(row["prompt"], row["completion"], tokenizer, system=system)

    dataset = Dataset.from_list([{**to_trl(row), STAGE_COLUMN: index} for index, stage in enumerate(stages)
                                 for row in stage])
    if len(stages) > 1 and (config.trl.get("packing") or config.trl.get("shuffle_dataset")):
        raise UserError("sft config: packing / shuffle_dataset reorder rows across stages; a curriculum needs them off")
    return dataset


def _sft_model(config: SFTRunConfig, device: str):
    """The policy to train; on CPU always in float32, whatever dtype its checkpoint was saved in."""
    import torch
    from transformers import AutoModelForCausalLM

    from codealign.train.models import resolve_model_path

    model = AutoModelForCausalLM.from_pretrained(resolve_model_path(config.model),
                                                 dtype=torch.float32 if device == "cpu" else "auto")
    if device == "cpu" and model.dtype != torch.float32:
        model = model.float()
    return model


def _sft_args(config: SFTRunConfig, device: str):
    """TRL's ``SFTConfig`` for ``config`` on ``device``: one epoch per curriculum pass (the sampler repeats
    stages), checkpoints only when ``save_steps``, no integrations (the JSONL and TensorBoard callbacks log)."""
    from trl import SFTConfig

    from codealign.train.device import training_args_for_device

    return SFTConfig(
        output_dir=config.output_dir,
        learning_rate=config.learning_rate,
        lr_scheduler_type=config.lr_scheduler_type,
        warmup_steps=config.warmup_ratio,
        weight_decay=config.weight_decay,
        num_train_epochs=1,
        max_steps=config.max_steps,
        per_device_train_batch_size=config.per_device_train_batch_size,
        gradient_accumulation_steps=config.gradient_accumulation_steps,
        max_length=config.max_length,
        completion_only_loss=config.completion_only_loss,
        seed=config.seed,
        data_seed=config.seed,
        logging_steps=config.logging_steps,
        save_strategy="steps" if config.save_steps else "no",
        save_steps=config.save_steps or 500,
        save_total_limit=config.save_total_limit or None,
        report_to="none",
        disable_tqdm=True,
        **{**training_args_for_device(device), **config.trl},
    )


def _sft_callbacks(config: SFTRunConfig, callbacks: Sequence[Any]) -> list[Any]:
    """The run's JSONL log, the given ``callbacks``, then TensorBoard when ``report_tensorboard``."""
    from codealign.train.callbacks import JsonlLogCallback, tensorboard_callback

    found = [JsonlLogCallback(Path(config.output_dir) / "train_log.jsonl"), *callbacks]
    if config.report_tensorboard:
        found.append(tensorboard_callback(Path(config.output_dir) / "tensorboard"))
    return found


def build_sft_trainer(
    config: SFTRunConfig, data: Sequence[Row] | Sequence[Sequence[Row]] | None = None, *, callbacks=(), quiet: bool = False
):
    """The configured trainer (a TRL ``SFTTrainer`` subclass whose ``curriculum`` attribute is its
    :class:`~codealign.train.order.StageOrderSampler`) and the tokenizer, without training. ``data`` as in :func:`as_stages`; None
    reads the config's files."""
    from codealign.train.device import resolve_device
    from codealign.train.models import load_tokenizer

    stages = as_stages(data) if data is not None else _load_rows(config)
    device = resolve_device(config.device)
    tokenizer = load_tokenizer(config.model)
    dataset = _sft_dataset(config, stages, tokenizer)
    peft_config = None
    if config.peft:
        from peft import LoraConfig

        peft_config = LoraConfig(task_type="CAUSAL_LM", **config.peft)
    trainer = _curriculum_trainer_class()(
        model=_sft_model(config, device),
        args=_sft_args(config, device),
        train_dataset=dataset,
        processing_class=tokenizer,
        peft_config=peft_config,
        callbacks=_sft_callbacks(config, callbacks),
        epochs=config.epochs,
        shuffle=config.shuffle_within_stage,
        sampler_seed=config.seed,
    )
    if quiet:
        from transformers.trainer_callback import PrinterCallback, ProgressCallback

        trainer.remove_callback(PrinterCallback)
        trainer.remove_callback(ProgressCallback)
    return trainer, tokenizer


def train_sft(
    config: SFTRunConfig, data: Sequence[Row] | Sequence[Sequence[Row]] | None = None, *, callbacks=(), quiet: bool = False
) -> SFTResult:
    """Train, save the final model to ``output_dir/final`` and return an :class:`SFTResult`.

    ``data``: rows (``prompt``/``completion``, optional integer ``stage``) or a list of stages; None reads the
    config's ``data`` files (SFT) or builds RFT rows from its ``verdicts`` and ``tasks``. Guaranteed: stages
    are trained in order and never interleaved; a rerun with ``resume_from_checkpoint='auto'`` continues from
    the newest checkpoint (same order of batches, same step count as an uninterrupted run); ``final/`` is
    written only after training finished. ``quiet`` keeps the trainer from printing logs to stdout (the JSONL
    log still gets every row).
    """
    trainer, tokenizer = build_sft_trainer(config, data, callbacks=callbacks, quiet=quiet)
    resume = _resume_point(config)
    output = trainer.train(resume_from_checkpoint=resume)
    final_dir = Path(config.output_dir) / "final"
    trainer.save_model(str(final_dir))
    tokenizer.save_pretrained(str(final_dir))
    return SFTResult(
        output_dir=config.output_dir,
        final_dir=str(final_dir),
        global_step=trainer.state.global_step,
        train_loss=float(output.training_loss) if not math.isnan(output.training_loss) else float("nan"),
        stage_sizes=trainer.curriculum.stage_sizes,
        resumed_from=resume,
        log_path=str(Path(config.output_dir) / "train_log.jsonl"),
    )
