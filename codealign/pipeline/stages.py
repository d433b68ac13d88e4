"""The stages themselves, one function per kind (:data:`STAGE_FUNCS`): each reads the files of the stages it
depends on from the run directory and writes its own, and returns the summary recorded in ``stages/<name>.json``.
Evaluation stages are in :mod:`codealign.pipeline.eval_stages`."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, Callable

from codealign.bench.screen import screen, training_tasks
from codealign.errors import UserError
from codealign.jsonl import read_jsonl, write_jsonl
from codealign.pipeline.eval_stages import stage_eval
from codealign.pipeline.plan import Stage
from codealign.pipeline.state import Run, select_tasks
from codealign.types import Candidate, ExecResult, Pair, Task, Verdict


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
    weak = screen_training_tasks(run, train) if cfg.tasks else []
    train = training_tasks(train, cfg.allow_weak)
    if not train:
        raise UserError(f"every task of {cfg.tasks} is weak (a junk design passes its test); allow_weak=true "
                        "trains on them anyway")
    warmup = train
    family = not cfg.tasks and run.domain.task_module
    if family and cfg.round_tasks == "feedback":
        limit = cfg.max_tasks or run.domain.count_tasks("feedback")
        train = run.domain.generate_tasks(None, min(limit, run.domain.count_tasks("feedback")), cfg.seed, "feedback")
        control = _unseen_train_tasks(run.domain, warmup, cfg.max_tasks, cfg.seed)
    elif family and cfg.round_tasks == "unseen":
        train = control = _unseen_train_tasks(run.domain, train, cfg.max_tasks, cfg.seed)
    else:
        train = control = select_tasks(train, cfg.max_tasks, cfg.seed)
    if cfg.eval.benchmark:
        from codealign.bench import load_benchmark

        evals = load_benchmark(cfg.eval.benchmark, cfg.eval.data)
    elif cfg.eval.heldout_tasks:
        evals = run.domain.generate_tasks(None, cfg.eval.heldout_tasks, 0, "heldout")
    else:
        evals = run.domain.demo_tasks("heldout")
    evals = select_tasks(evals, cfg.eval.max_tasks, cfg.seed + 1)
    if not train or not evals:
        raise UserError("no training or evaluation tasks")
    if cfg.control == "sft":
        control_rows(run, control)
    write_jsonl(run.path("sft_tasks.jsonl"), warmup)
    write_jsonl(run.path("tasks.jsonl"), train)
    write_jsonl(run.path("control_tasks.jsonl"), control)
    write_jsonl(run.path("eval_tasks.jsonl"), evals)
    overlap = {t.prompt for t in train} & {t.prompt for t in evals}
    if overlap:
        run.log(f"tasks: {len(overlap)} of {len(evals)} evaluation prompts are also training prompts: the "
                "evaluation measures recall of trained tasks, not generalisation (prompt_overlap in "
                "state.json)")
    return {"train_tasks": len(train), "eval_tasks": len(evals), "prompt_overlap": len(overlap),
            "round_tasks": "file" if cfg.tasks else cfg.round_tasks, "weak_tasks": weak,
            "weak_tasks_kept": cfg.allow_weak}


def screen_training_tasks(run: Run, tasks: list[Task]) -> list[str]:
    """Run the test-strength screen on given tasks (marking the weak ones in place); their ids."""
    found = screen(run.domain, tasks, backend=run.backend, executor=run.executor, workers=run.workers,
                   cache=run.cache)
    if found["weak"]:
        run.log(f"{len(found['weak'])} of {len(tasks)} tasks are weak: {', '.join(found['weak'])}")
    return list(found["weak"])


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
        run.log(f"sft: copied the ready-made warm-up {ready} ({shipped.get('steps', '?')} SFT steps) instead of "
                "training one; sft.fresh=true trains it in the run")
        return {"model": str(final), "warmup": "ready-made", "warmup_from": ready, "steps": 0,
                "warmup_steps": shipped.get("steps"), "warmup_heldout_pass@1": shipped.get("heldout_pass@1")}
    from codealign.train.sft import train_sft

    rows = reference_rows(run, run.tasks("sft_tasks.jsonl"))
    if not rows:
        raise UserError("no reference solutions to warm up on; set sft_enabled=false")
    config = dataclasses.replace(cfg.sft, model=cfg.sft.model or run.start_model(),
                                 output_dir=cfg.sft.output_dir or str(run.path("sft")))
    result = train_sft(config, rows, quiet=True)  # metric dicts go to the stage's train_log.jsonl
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


def stage_generate(run: Run, stage: Stage) -> dict[str, Any]:
    cfg = run.config
    tasks = run.training_tasks()
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
    from codealign.pairs.make import flip_summary, make_pairs
    from codealign.pairs.summary import gap_histogram, summarize

    cfg = run.config
    # Bundled held-out tasks are the training family's own split (similar by design); a named benchmark is not.
    benchmark = run.tasks("eval_tasks.jsonl") if cfg.eval.benchmark else ()
    made = make_pairs(read_jsonl(run.path(stage.folder + "verdicts.jsonl"), ExecResult.from_dict), run.training_tasks(),
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
    result = train_dpo(config, pairs, probe=_probe(run), quiet=True)
    return {"model": result.final_model, "start": start, "steps": sum(s.steps for s in result.stages),
            "stopped_reason": result.stopped_reason, "stages": [dataclasses.asdict(s) for s in result.stages]}


def _train_rows(run: Run, stage: Stage, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """SFT with the ``rft`` settings from the policy ``stage.start`` left, ``stage.steps`` optimizer steps."""
    from codealign.train.sft import train_sft

    start = run.policy(stage.start)
    config = dataclasses.replace(run.config.rft, model=start, max_steps=stage.steps,
                                 output_dir=str(run.path(stage.outputs()[0])))
    result = train_sft(config, rows, quiet=True)
    return {"model": result.final_dir, "start": start, "rows": len(rows), "steps": result.global_step,
            "train_loss": result.train_loss}


def stage_rft(run: Run, stage: Stage) -> dict[str, Any]:
    """RFT: SFT on the distinct passing samples of the round (verdicts of the ``execute`` stage it reads)."""
    from codealign.train.sft import rft_rows

    executed = run.plan[stage.inputs[0]]
    results = read_jsonl(run.path(executed.folder + "verdicts.jsonl"), ExecResult.from_dict)
    rows = rft_rows(results, run.training_tasks(), max_per_task=run.config.rft.rft_max_per_task)
    if not rows:
        run.log(f"{stage.name}: no passing samples: RFT skipped")
        start = run.policy(stage.start)
        return {"model": start, "start": start, "rows": 0, "steps": 0, "skipped": True, "reason": "no passing samples"}
    return _train_rows(run, stage, rows)


def stage_grpo(run: Run, stage: Stage) -> dict[str, Any]:
    """GRPO from the round's starting policy on the round tasks (stripped like every training stage's), rewarded
    by the domain's judge on the full tasks through the run's executor and verdict cache, ``stage.steps`` optimizer
    steps; a killed stage resumes from its newest checkpoint."""
    from codealign.reward import grpo_reward
    from codealign.train.grpo import train_grpo

    cfg = run.config
    judged = grpo_reward(run.domain, run.tasks(), run.backend, run.workers, executor=run.executor, cache=run.cache,
                         stop=run.domain.stop_sequences)
    rewards: list[float] = []

    def reward(*args: Any, **kwargs: Any) -> list[float]:
        scores = judged(*args, **kwargs)
        rewards.extend(scores)
        return scores

    reward.__name__ = judged.__name__
    rows = [{"prompt": t.prompt, "task_id": t.task_id} for t in run.training_tasks()]
    per_step = -(-len(rows) // stage.steps)
    start = run.policy(stage.start)
    config = dataclasses.replace(cfg.grpo, model=start, max_steps=stage.steps, seed=cfg.grpo.seed + stage.round - 1,
                                 output_dir=str(run.path(stage.outputs()[0])))
    result = train_grpo(config, rows, reward, num_generations=cfg.sample.n, prompts_per_step=per_step,
                        max_completion_length=cfg.sample.max_new_tokens, temperature=cfg.sample.temperature,
                        top_p=cfg.sample.top_p, quiet=run.quiet)
    # Rewards of this process only: a resumed stage counts the completions sampled after its checkpoint.
    return {"model": result.final_dir, "start": start, "steps": result.global_step, "prompts_per_step": per_step,
            "completions": len(rewards), "resumed_from": result.resumed_from,
            "pass_rate": sum(r >= 1.0 for r in rewards) / max(1, len(rewards)),
            "reward_mean": sum(rewards) / max(1, len(rewards))}


def stage_control_sft(run: Run, stage: Stage) -> dict[str, Any]:
    """The continued-SFT control: the reference solutions of the run's labelled control tasks."""
    return _train_rows(run, stage, control_rows(run, run.tasks("control_tasks.jsonl")))


def stage_report(run: Run, stage: Stage) -> dict[str, Any]:
    from codealign.pipeline.run_report import write_report

    return write_report(run)


STAGE_FUNCS: dict[str, Callable[[Run, Stage], dict[str, Any]]] = {
    "tasks": stage_tasks, "sft": stage_sft, "eval_before": stage_eval, "generate": stage_generate,
    "execute": stage_execute, "pairs": stage_pairs, "rft": stage_rft, "dpo": stage_dpo, "grpo": stage_grpo,
    "control_sft": stage_control_sft, "eval_round": stage_eval, "eval_after": stage_eval, "eval_control": stage_eval,
    "report": stage_report,
}

