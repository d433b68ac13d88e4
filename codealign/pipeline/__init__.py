"""``codealign run <domain>``: the whole loop in one run directory, resumable.

Stages, each writing its output into the run directory and a marker ``stages/<name>.json`` when complete:

``tasks`` → ``sft`` (warm-up, optional) → ``eval_before`` → ``rounds`` × (``generate`` → ``execute`` →
``pairs`` (strategy + weights + curriculum) → the method's training: ``dpo``, ``rft`` or ``rft`` then ``dpo``; or
one ``grpo`` stage that samples and judges inside training; optionally ``eval@r``) → ``eval_after`` → the
control (optional) → ``eval_control`` → ``report``.

Round ``r`` samples the round tasks (by default the family's ``feedback`` pool, judge-only: the judge reads the
full tasks, training stages stripped copies) from the policy round ``r-1`` left (round 1: the warm-up policy),
executes the samples and trains from that policy, so DPO's reference is the round's starting policy. Round 1's
stages and files keep their plain names (``generate``, ``candidates.jsonl``, ``dpo/``); round ``r`` > 1 names its
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

The package, in the order a round is built and run (each module imports only those above it):

* :mod:`~codealign.pipeline.config` — :class:`PipelineConfig` and its sections, :func:`make_config`;
* :mod:`~codealign.pipeline.plan` — :class:`Stage`, what each kind of stage reads and writes, the per-stage hashes;
* :mod:`~codealign.pipeline.rounds` — :func:`stage_plan`: the stages of a run, the rounds of the method and the
  control declared by one round loop;
* :mod:`~codealign.pipeline.state` — :class:`Run`: the run directory and what the stages share;
* :mod:`~codealign.pipeline.run_report` — the run report (``report.json``, ``report.md``, plots), written by the
  report stage;
* :mod:`~codealign.pipeline.eval_stages` — pass@1 of a policy and the evaluation stages;
* :mod:`~codealign.pipeline.stages` — the other stages, one function per kind;
* :mod:`~codealign.pipeline.run` — :func:`run_pipeline`: check, then run or resume the plan.
"""

from codealign.pipeline.config import (CONTROLS, METHODS, ROUND_TASKS, EvalConfig, PipelineConfig, SampleConfig,
                                       WarmupConfig, config_hash, make_config, stage_defaults)
from codealign.pipeline.eval_stages import EVAL_TAGS, evaluate_policy, stage_eval
from codealign.pipeline.plan import (STAGE_CONFIG, STAGE_OUTPUTS, Stage, config_slice, downstream, stage_hashes,
                                     stage_settings, unread_keys, upstream)
from codealign.pipeline.rounds import stage_plan
from codealign.pipeline.run import manifest, run_pipeline
from codealign.pipeline.stages import (STAGE_FUNCS, control_rows, reference_rows, stage_control_sft, stage_dpo,
                                       stage_execute, stage_generate, stage_grpo, stage_pairs, stage_report, stage_rft,
                                       stage_sft, stage_tasks)
from codealign.pipeline.state import Run, select_tasks, strip_task

__all__ = [
    "CONTROLS", "EVAL_TAGS", "METHODS", "ROUND_TASKS", "STAGE_CONFIG", "STAGE_FUNCS", "STAGE_OUTPUTS", "EvalConfig",
    "PipelineConfig", "Run", "SampleConfig", "Stage", "WarmupConfig", "config_hash", "config_slice", "control_rows",
    "downstream", "evaluate_policy", "make_config", "manifest", "reference_rows", "run_pipeline", "select_tasks",
    "stage_control_sft", "stage_defaults", "stage_dpo", "stage_eval", "stage_execute", "stage_generate", "stage_grpo",
    "stage_hashes", "stage_pairs", "stage_plan", "stage_report", "stage_rft", "stage_settings", "stage_sft",
    "stage_tasks", "strip_task", "unread_keys", "upstream",
]
