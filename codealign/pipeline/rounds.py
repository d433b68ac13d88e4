"""Which stages a run has, in run order (:func:`stage_plan`): the rounds of the method and of the control.

A round is declared once (:func:`_rounds`): ``generate`` → ``execute`` → the method's training (``rft``; ``pairs``
→ ``dpo``; or both), or one ``grpo`` stage that samples and judges inside training, each stage reading the policy
the previous round left. The method runs its rounds from the
warm-up policy; ``control=rft`` runs the same rounds with method ``rft`` under ``control-`` names and ``control/``
folders, its round 1 training on the method's round-1 samples (same policy, same seed); ``control=sft`` is one
continued-SFT stage with the method's total step budget.
"""

from __future__ import annotations

from typing import Any, Callable

from codealign.pipeline.config import PipelineConfig
from codealign.pipeline.plan import Stage


def stage_plan(config: PipelineConfig) -> dict[str, Stage]:
    """Every stage of a run with ``config``, by name, in run order."""
    plan: dict[str, Stage] = {}

    def add(name: str, kind: str, inputs: tuple[str, ...], **fields: Any) -> str:
        plan[name] = Stage(name, kind, inputs, **fields)
        return name

    add("tasks", "tasks", ())
    add("sft", "sft", ("tasks",))
    evals = [add("eval_before", "eval_before", ("sft",), start="sft")]
    policy = _rounds(add, config, config.method, "sft", evals=evals)
    evals.append(add("eval_after", "eval_after", (policy,), start=policy))
    control = "sft"
    if config.control == "sft":
        control = add("control-sft", "control_sft", ("sft",), folder="control/", start="sft",
                      steps=config.rounds * config.round_steps)
    elif config.control == "rft":
        control = _rounds(add, config, "rft", "sft", prefix="control-", folder="control/",
                          first_samples="execute" if "execute" in plan else "")
    if config.control != "none":
        evals.append(add("eval_control", "eval_control", (control,), start=control))
    add("report", "report", tuple(evals))
    return plan


def _rounds(add: Callable[..., str], config: PipelineConfig, method: str, policy: str, *, prefix: str = "",
            folder: str = "", first_samples: str = "", evals: list[str] | None = None) -> str:
    """Declare ``config.rounds`` rounds of ``method`` from the policy stage ``policy`` through ``add``; return the
    stage whose model the last round leaves. Round ``r`` > 1 appends ``@r`` to its names and ``round<r>/`` to
    ``folder``; names start with ``prefix``. ``first_samples``: an ``execute`` stage whose verdicts round 1 trains
    on instead of sampling its own. ``evals``: evaluate after every round but the last when
    ``eval.every_round`` (appending the stage names to it)."""
    rft_steps = config.round_steps // 2 if method == "rft+dpo" else config.round_steps
    dpo_steps = config.round_steps - (rft_steps if method == "rft+dpo" else 0)
    for r in range(1, config.rounds + 1):
        at, where = ("", folder) if r == 1 else (f"@{r}", f"{folder}round{r}/")
        if method == "grpo":
            policy = add(prefix + "grpo" + at, "grpo", (policy,), folder=where, round=r, start=policy,
                         steps=config.round_steps)
        else:
            policy = _trained(add, method, policy, prefix, at, where, r, first_samples if r == 1 else "",
                              rft_steps, dpo_steps)
        if evals is not None and config.eval.every_round and r < config.rounds:
            evals.append(add(f"eval@{r}", "eval_round", (policy,), round=r, start=policy))
    return policy


def _trained(add: Callable[..., str], method: str, policy: str, prefix: str, at: str, where: str, r: int,
             executed: str, rft_steps: int, dpo_steps: int) -> str:
    """Round ``r`` of a sampling method: ``generate`` → ``execute`` (unless ``executed`` names verdicts to reuse)
    → ``rft`` and/or ``pairs`` → ``dpo``; returns the stage whose model it leaves."""
    if not executed:
        generated = add(prefix + "generate" + at, "generate", (policy,), folder=where, round=r, start=policy)
        executed = add(prefix + "execute" + at, "execute", (generated,), folder=where, round=r)
    if method != "dpo":
        policy = add(prefix + "rft" + at, "rft", (executed, policy), folder=where, round=r, start=policy,
                     steps=rft_steps)
    if method != "rft":
        pairs = add(prefix + "pairs" + at, "pairs", (executed,), folder=where, round=r)
        policy = add(prefix + "dpo" + at, "dpo", (pairs, policy), folder=where, round=r, start=policy,
                     steps=dpo_steps)
    return policy
