"""GRPO (TRL's ``GRPOTrainer``) with an execution reward: each optimizer step samples a group of completions for
each of a few prompts, scores them with a reward function (the pipeline's: the domain's judge through the
executor and verdict cache, :func:`codealign.reward.grpo_reward`) and takes one policy-gradient step on the
group-normalised rewards.

Guaranteed: the prompts are formatted exactly as sampling and SFT format them
(:func:`codealign.prompts.format_prompt`); one generation batch per optimizer step
(``prompts_per_step`` prompts × ``num_generations`` completions); a rerun with the same output folder resumes from
its newest complete checkpoint; ``final/`` is written only after training finished. Not guaranteed: stop sequences
end sampling early (TRL samples up to ``max_completion_length`` or EOS; the reward judges the text up to the
first stop sequence, as the generate stage keeps it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from codealign.config import IO


@dataclass
class GRPORunConfig:
    """GRPO training; the pipeline sets ``model``, ``output_dir``, ``max_steps`` and the sampling settings (from
    its ``sample`` section, so GRPO samples like rft and dpo)."""

    model: str = field(default="", metadata=IO)
    """The policy to train (a model folder or hub id); the pipeline sets the round's starting policy."""
    output_dir: str = field(default="", metadata=IO)
    """Checkpoints and ``final/``; the pipeline sets ``<run dir>/[round<r>/]grpo``."""
    learning_rate: float = 1e-5
    """Peak learning rate."""
    beta: float = 0.0
    """KL coefficient towards the starting policy (TRL's ``beta``; 0: no reference model)."""
    loss_type: str = "dapo"
    """TRL's GRPO loss normalisation (``grpo``, ``dapo``, ``dr_grpo``, ...)."""
    max_steps: int = -1
    """Optimizer steps; -1 is invalid here: the pipeline sets ``round_steps``."""
    save_steps: int = 20
    """Checkpoint every this many steps (what a killed run resumes from; 0: only at the end)."""
    logging_steps: int = 5
    """Log every this many steps to ``train_log.jsonl``."""
    seed: int = 0
    """Seed of the sampler and of sampling."""
    device: str = "auto"
    """auto, cpu, cuda or mps."""
    trl: dict[str, Any] = field(default_factory=dict)
    """Further ``GRPOConfig`` fields, passed through."""

    def __post_init__(self) -> None:
        if self.learning_rate <= 0 or self.beta < 0 or self.save_steps < 0 or self.logging_steps < 1:
            raise ValueError("grpo.learning_rate must be > 0, grpo.beta and grpo.save_steps >= 0, "
                             "grpo.logging_steps >= 1")


@dataclass
class GRPOResult:
    final_dir: str
    """The trained policy."""
    global_step: int
    """Optimizer steps taken (over all runs of the same output folder)."""
    resumed_from: str | None
    """The checkpoint training resumed from, if any."""


def train_grpo(config: GRPORunConfig, rows: Sequence[dict[str, str]], reward: Callable[..., list[float]], *,
               num_generations: int, prompts_per_step: int, max_completion_length: int, temperature: float,
               top_p: float, quiet: bool = False) -> GRPOResult:
    """Train ``config.max_steps`` steps on ``rows`` (``prompt``, ``task_id``: the reward function's column),
    ``prompts_per_step`` prompts × ``num_generations`` completions per step; save ``final/``."""
    import torch
    from datasets import Dataset
    from transformers import AutoModelForCausalLM
    from trl import GRPOConfig, GRPOTrainer

    from codealign.prompts import format_prompt
    from codealign.train.callbacks import JsonlLogCallback
    from codealign.train.device import resolve_device, training_args_for_device
    from codealign.train.models import load_tokenizer, resolve_model_path
    from codealign.train.sft import last_complete_checkpoint

    device = resolve_device(config.device)
    tokenizer = load_tokenizer(config.model)
    dataset = Dataset.from_list([{"prompt": format_prompt(r["prompt"], tokenizer), "task_id": r["task_id"]}
                                 for r in rows])
    model = AutoModelForCausalLM.from_pretrained(resolve_model_path(config.model),
                                                 dtype=torch.float32 if device == "cpu" else "auto")
    args = GRPOConfig(
        output_dir=config.output_dir, learning_rate=config.learning_rate, beta=config.beta,
        loss_type=config.loss_type, max_steps=config.max_steps, num_generations=num_generations,
        per_device_train_batch_size=prompts_per_step * num_generations, steps_per_generation=1,
        gradient_accumulation_steps=1, max_completion_length=max_completion_length, temperature=temperature,
        top_p=top_p, seed=config.seed, data_seed=config.seed, logging_steps=config.logging_steps,
        save_strategy="steps" if config.save_steps else "no", save_steps=config.save_steps or 500,
        report_to="none", disable_tqdm=True, **{**training_args_for_device(device), **config.trl})
    trainer = GRPOTrainer(model=model, reward_funcs=[reward], args=args, train_dataset=dataset,
                          processing_class=tokenizer,
                          callbacks=[JsonlLogCallback(Path(config.output_dir) / "train_log.jsonl")])
    if quiet:
        from transformers.trainer_callback import PrinterCallback, ProgressCallback

        trainer.remove_callback(PrinterCallback)
        trainer.remove_callback(ProgressCallback)
    resume = last_complete_checkpoint(config.output_dir)
    trainer.train(resume_from_checkpoint=resume)
    final_dir = Path(config.output_dir) / "final"
    trainer.save_model(str(final_dir))
    tokenizer.save_pretrained(str(final_dir))
    return GRPOResult(final_dir=str(final_dir), global_step=trainer.state.global_step, resumed_from=resume)
