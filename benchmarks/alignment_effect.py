"""The controlled experiment of issue 8: does DPO with code-aware objectives help a code model beyond RFT?

On the procedural Verilog task family (``codealign.domains.verilog.tasks``: a train split and a held-out split
whose parameters and/or phrasings no train task has) with the offline tiny model:

1. SFT on the reference solutions of the train tasks (or ``--sft-model``: an existing SFT checkpoint, e.g.
   the one ``benchmarks/tiny_model.py`` leaves);
2. for each round: every variant samples ``--pair-samples`` completions per train task from its current
   policy (on-policy, a fresh seed per round), the Verilog domain executes them (sandboxed, via the executor),
   and the variant trains ``--steps`` optimizer steps (matched across variants, same batch size) from its
   current policy on what the verdicts give it:

   * ``rft``: SFT on the distinct passing samples (the control);
   * ``dpo``: plain sigmoid DPO on execution pairs (best vs worst sample of a task);
   * ``dpo_edit``: + the edit-focused mask; ``dpo_dpop``: + the DPO-Positive penalty; ``dpo_nll``: + the
     chosen NLL; ``dpo_all``: all three;
   * ``dpo_ranked``: ranked multi-pair (all ordered pairs among a task's samples, prompt-balanced weights),
     with the edit mask and NLL;
   * ``dpo_curriculum``: execution pairs in two Curry-DPO stages (large score gap first), reference
     refreshed between stages, with the edit mask and NLL;

   The collapse monitor is off, so every variant trains exactly the matched number of steps (with it on,
   a collapsing run would stop early and be compared at fewer steps).

3. after SFT and after every round, each policy is sampled on the held-out tasks and on the train tasks with
   ``--eval-seeds`` fresh seeds x ``--eval-samples`` samples at T = 0.8, and executed.

Reported per variant and round: sampled pass@1 (mean over tasks of the task's pass fraction), the paired
difference against the SFT start and against RFT of the same round with its standard error over tasks
(per-task differences; SE = sd / sqrt(n_tasks)), the truncation rate (samples that hit the token limit) and
the compile-error rate. Everything is kept in ``--run-dir``; rerunning resumes (finished pieces are read
back, not redone). Not part of CI.

Run: ``OMP_NUM_THREADS=1 python benchmarks/alignment_effect.py --run-dir runs/alignment [--budget small|full]``
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("TQDM_DISABLE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

VARIANTS = ("rft", "dpo", "dpo_edit", "dpo_dpop", "dpo_nll", "dpo_all", "dpo_ranked", "dpo_curriculum")

BUDGETS = {
    "full": dict(train_tasks=120, heldout_tasks=72, eval_train_tasks=48, sft_steps=1500, steps=60, rounds=2,
                 pair_samples=8, eval_samples=4, eval_seeds=2, max_new_tokens=320),
    "small": dict(train_tasks=48, heldout_tasks=36, eval_train_tasks=24, sft_steps=600, steps=30, rounds=2,
                  pair_samples=6, eval_samples=4, eval_seeds=2, max_new_tokens=256),
}


@dataclass
class Budget:
    """How much the experiment does (``--budget`` presets, each field overridable by its flag)."""

    train_tasks: int
    """Train tasks sampled for pairs / RFT rows (a fixed, seeded subset of the bundled train split)."""
    heldout_tasks: int
    """Held-out tasks evaluated."""
    eval_train_tasks: int
    """Train tasks evaluated (a subset of the ``train_tasks``)."""
    sft_steps: int
    """SFT steps on the references (when no ``--sft-model`` is given)."""
    steps: int
    """Optimizer steps per variant per round (matched across variants)."""
    rounds: int
    """Rounds of fresh on-policy sampling + training."""
    pair_samples: int
    """Samples per train task per round."""
    eval_samples: int
    """Samples per task per evaluation seed."""
    eval_seeds: int
    """Fresh evaluation seeds."""
    max_new_tokens: int
    """Token limit of every sample (hitting it counts as truncation)."""
    batch_size: int = 8
    """Pairs (DPO) or rows (SFT/RFT) per optimizer step."""
    sft_lr: float = 1e-3
    """SFT learning rate on the references."""
    rft_lr: float = 1e-4
    """RFT learning rate."""
    dpo_lr: float = 1e-4
    """DPO learning rate (the rate at which plain DPO collapsed in the issue's measurement)."""
    beta: float = 0.1
    """DPO beta."""
    dpop_lambda: float = 5.0
    """DPO-Positive weight (per-token nats)."""
    nll_alpha: float = 1.0
    """Chosen-NLL weight (RPO's 1.0)."""
    variants: list[str] = field(default_factory=lambda: list(VARIANTS))
    """Variants to run."""


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def read_json(path: Path):
    return json.loads(path.read_text(encoding="utf-8"))


def write_json(path: Path, data) -> None:
    from codealign.jsonl import write_text_atomic

    write_text_atomic(path, json.dumps(data, indent=2, default=str))


# -- pieces ------------------------------------------------------------------------------------------------
def tasks_for(budget: Budget):
    from codealign.domains.verilog.tasks import bundled_tasks

    train = bundled_tasks("train")
    heldout = bundled_tasks("heldout")
    rng = random.Random(0)
    train = rng.sample(train, min(budget.train_tasks, len(train)))
    heldout = rng.sample(heldout, min(budget.heldout_tasks, len(heldout)))
    return train, train[: budget.eval_train_tasks], heldout


def sft_start(run: Path, budget: Budget, train_tasks, sft_model: str | None) -> str:
    if sft_model:
        return sft_model
    final = run / "sft" / "final"
    if (final / "config.json").is_file():
        return str(final)
    from codealign.domains.verilog.tasks import bundled_tasks, reference_solution
    from codealign.train.models import build_tiny_model
    from codealign.train.sft import SFTRunConfig, train_sft

    base = run / "base"
    if not (base / "config.json").is_file():
        build_tiny_model(base)
    rows = [{"prompt": t.prompt, "completion": reference_solution(t)} for t in bundled_tasks("train")]
    log(f"SFT: {len(rows)} reference rows, {budget.sft_steps} steps")
    config = SFTRunConfig(model=str(base), output_dir=str(run / "sft"), learning_rate=budget.sft_lr,
                          max_steps=budget.sft_steps, per_device_train_batch_size=budget.batch_size, epochs=100,
                          device="cpu", save_steps=200, logging_steps=50, report_tensorboard=False)
    return train_sft(config, rows).final_dir


def sample_and_execute(model: str, tasks, n: int, seed: int, budget: Budget, out: Path, cache: Path):
    """Candidates of ``model`` for ``tasks`` and their verdicts, kept in ``out`` (read back when present)."""
    from codealign.execution.executor import execute
    from codealign.types import ExecResult

    if out.is_file():
        return [ExecResult.from_dict(r) for r in read_json(out)["results"]], read_json(out)["finish"]
    from codealign.generate.hf import HFGenerator

    generator = HFGenerator(model, device="cpu", batch_size=64)
    candidates = generator.candidates(tasks, n, temperature=0.8, max_new_tokens=budget.max_new_tokens, seed=seed)
    results = execute("verilog", tasks, candidates, workers=2, cache=cache, progress=False)
    finish = {c.candidate_id: c.metadata.get("finish_reason", "") for c in candidates}
    for r in results:
        r.stdout = r.stdout[:200]
        r.stderr = r.stderr[:200]
    write_json(out, {"results": [r.to_dict() for r in results], "finish": finish})
    return results, finish


def evaluate(model: str, name: str, run: Path, budget: Budget, eval_train, heldout, cache: Path) -> dict:
    """Per-task pass fractions (over seeds x samples), truncation and compile-error rates, per split."""
    from codealign.types import Verdict

    summary = {}
    for split, tasks in (("heldout", heldout), ("train", eval_train)):
        per_task: dict[str, list[int]] = {t.task_id: [] for t in tasks}
        truncated = compile_errors = total = 0
        for s in range(budget.eval_seeds):
            seed = 10_000 + s
            results, finish = sample_and_execute(model, tasks, budget.eval_samples, seed, budget,
                                                 run / "eval" / f"{name}-{split}-s{seed}.json", cache)
            for r in results:
                per_task[r.task_id].append(int(r.verdict is Verdict.PASS))
                truncated += finish.get(r.candidate_id) == "length"
                compile_errors += r.verdict is Verdict.COMPILE_ERROR
                total += 1
        pass_by_task = {k: sum(v) / len(v) for k, v in per_task.items()}
        summary[split] = {
            "pass@1": statistics.mean(pass_by_task.values()),
            "per_task": pass_by_task,
            "truncation_rate": truncated / total,
            "compile_error_rate": compile_errors / total,
            "samples": total,
        }
    return summary


def paired(a: dict[str, float], b: dict[str, float]) -> tuple[float, float]:
    """Mean and standard error of the per-task difference a - b (the library's paired comparison, which
    ``codealign run`` reports too)."""
    from codealign.bench.report import paired_comparison

    found = paired_comparison(b, a)
    return found["delta"], found["se"]


def train_variant(variant: str, start: str, results, train_tasks, out: Path, budget: Budget, rnd: int) -> dict:
    """Train one variant for one round from ``start`` on ``results``; returns {model, pairs/rows, ...}."""
    done = out / "done.json"
    if done.is_file():
        return read_json(done)
    from codealign.pairs import build_pairs
    from codealign.pairs.curriculum import curriculum

    info: dict = {"variant": variant, "round": rnd, "start": start}
    if variant == "rft":
        from codealign.train.sft import SFTRunConfig, rft_rows, train_sft

        rows = rft_rows(results, train_tasks)
        info["rows"] = len(rows)
        if not rows:
            info.update(model=start, note="no passing samples: policy unchanged")
        else:
            config = SFTRunConfig(model=start, output_dir=str(out / "train"), learning_rate=budget.rft_lr,
                                  max_steps=budget.steps, per_device_train_batch_size=budget.batch_size, epochs=100,
                                  device="cpu", logging_steps=5, report_tensorboard=False, seed=rnd)
            info["model"] = train_sft(config, rows).final_dir
        write_json(done, info)
        return info

    from codealign.train.dpo import DPORunConfig, train_dpo

    objectives = {
        "dpo": {}, "dpo_edit": {"edit_focus": True}, "dpo_dpop": {"dpop_lambda": budget.dpop_lambda},
        "dpo_nll": {"nll_alpha": budget.nll_alpha},
        "dpo_all": {"edit_focus": True, "dpop_lambda": budget.dpop_lambda, "nll_alpha": budget.nll_alpha},
        "dpo_ranked": {"edit_focus": True, "nll_alpha": budget.nll_alpha, "multi_pair": True},
        "dpo_curriculum": {"edit_focus": True, "nll_alpha": budget.nll_alpha},
    }[variant]
    if variant == "dpo_ranked":
        pairs = build_pairs(results, train_tasks, "ranked", selection="all", max_pairs_per_prompt=6)
    else:
        pairs = build_pairs(results, train_tasks, "execution")
    stages = 1
    if variant == "dpo_curriculum" and len(pairs) >= 4:
        pairs = curriculum(pairs, key="gap", stages=2)
        stages = len({p.stage for p in pairs})
    info["pairs"] = len(pairs)
    if not pairs:
        info.update(model=start, note="no pairs: policy unchanged")
        write_json(done, info)
        return info
    config = DPORunConfig(
        model=start, output_dir=str(out / "train"), learning_rate=budget.dpo_lr, beta=budget.beta,
        max_steps=max(1, budget.steps // stages), per_device_train_batch_size=budget.batch_size, device="cpu",
        report_tensorboard=False, monitor=False, seed=rnd, order="shuffle", save_steps=10**6,
        max_length=1024, **objectives,
    )
    result = train_dpo(config, pairs, quiet=True)
    info.update(model=result.final_model, stopped_reason=result.stopped_reason,
                stages=[{"stage": s.stage, "pairs": s.n_pairs, "steps": s.steps,
                         "last": {k: s.last_log.get(k) for k in ("loss", "rewards/margins", "logps/chosen")}}
                        for s in result.stages])
    write_json(done, info)
    return info


# -- report ------------------------------------------------------------------------------------------------
def report(run: Path, budget: Budget, evals: dict, trained: dict) -> dict:
    start = evals["sft"]
    rows = []
    for name, ev in evals.items():
        if name == "sft":
            continue
        variant, rnd = name.rsplit("-r", 1)
        row = {"variant": variant, "round": int(rnd)}
        for split in ("heldout", "train"):
            row[f"{split}_pass@1"] = ev[split]["pass@1"]
            row[f"{split}_vs_sft"] = paired(ev[split]["per_task"], start[split]["per_task"])
            rft = evals.get(f"rft-r{rnd}")
            if rft is not None and variant != "rft":
                row[f"{split}_vs_rft"] = paired(ev[split]["per_task"], rft[split]["per_task"])
            row[f"{split}_truncation"] = ev[split]["truncation_rate"]
            row[f"{split}_compile_error"] = ev[split]["compile_error_rate"]
        row["collapsed"] = any(row[f"{s}_vs_sft"][0] < -2 * row[f"{s}_vs_sft"][1] for s in ("heldout", "train"))
        row["beats_rft"] = "heldout_vs_rft" in row and row["heldout_vs_rft"][0] > 2 * row["heldout_vs_rft"][1]
        row["train_info"] = trained.get(name, {})
        rows.append(row)
    rows.sort(key=lambda r: (r["round"], VARIANTS.index(r["variant"])))

    def fmt(pair):
        return f"{pair[0]:+.3f}±{pair[1]:.3f}" if pair else "—"

    lines = [
        "# DPO alignment effect (procedural Verilog tasks, tiny model, CPU)",
        "",
        f"Budget: {json.dumps(asdict(budget))}",
        "",
        f"SFT start: held-out pass@1 {start['heldout']['pass@1']:.3f} (trunc {start['heldout']['truncation_rate']:.2f}, "
        f"compile-err {start['heldout']['compile_error_rate']:.2f}); train pass@1 {start['train']['pass@1']:.3f} "
        f"(trunc {start['train']['truncation_rate']:.2f}, compile-err {start['train']['compile_error_rate']:.2f})",
        "",
        "Differences are paired over tasks: mean ± standard error. 'collapsed' = held-out or train pass@1 below "
        "the SFT start by more than 2 SE; 'beats RFT' = held-out paired difference vs RFT of the same round > 2 SE.",
        "",
        "| round | variant | held-out pass@1 | vs SFT | vs RFT | trunc | compile-err | train pass@1 | vs SFT | vs RFT "
        "| collapsed | beats RFT | pairs/rows | stopped |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        info = r["train_info"]
        lines.append(
            f"| {r['round']} | {r['variant']} | {r['heldout_pass@1']:.3f} | {fmt(r['heldout_vs_sft'])} | "
            f"{fmt(r.get('heldout_vs_rft'))} | {r['heldout_truncation']:.2f} | {r['heldout_compile_error']:.2f} | "
            f"{r['train_pass@1']:.3f} | {fmt(r['train_vs_sft'])} | {fmt(r.get('train_vs_rft'))} | "
            f"{'YES' if r['collapsed'] else 'no'} | {'YES' if r['beats_rft'] else 'no'} | "
            f"{info.get('pairs', info.get('rows', '—'))} | {info.get('stopped_reason') or ''} |"
        )
    text = "\n".join(lines) + "\n"
    summary = {"budget": asdict(budget), "sft": {s: {k: v for k, v in start[s].items() if k != "per_task"}
                                                 for s in start}, "rows": rows}
    from codealign.jsonl import write_text_atomic

    write_text_atomic(run / "report.md", text)
    write_json(run / "report.json", summary)
    print(text)
    return summary


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run-dir", required=True, help="state folder (rerun to resume)")
    parser.add_argument("--budget", choices=sorted(BUDGETS), default="small")
    parser.add_argument("--sft-model", default=None, help="start from this SFT checkpoint instead of training one")
    for name, f in Budget.__dataclass_fields__.items():
        if name == "variants":
            parser.add_argument("--variants", default=None, help=f"comma list from {', '.join(VARIANTS)}")
        else:
            parser.add_argument(f"--{name.replace('_', '-')}", type={"int": int, "float": float}[f.type],
                                default=None)
    args = parser.parse_args(argv)
    values = dict(BUDGETS[args.budget])
    for name, f in Budget.__dataclass_fields__.items():
        given = getattr(args, name, None)
        if given is not None:
            values[name] = [v for v in given.split(",") if v] if name == "variants" else given
    budget = Budget(**values)
    unknown = set(budget.variants) - set(VARIANTS)
    if unknown:
        parser.error(f"unknown variants: {', '.join(sorted(unknown))}")

    from codealign.train.device import configure_threads

    configure_threads("cpu")
    run = Path(args.run_dir)
    run.mkdir(parents=True, exist_ok=True)
    state = run / "budget.json"
    if state.is_file() and read_json(state) != asdict(budget):
        parser.error(f"{run} was started with another budget ({state}); use a new --run-dir")
    write_json(state, asdict(budget))
    cache = run / "verdicts.sqlite"
    train_tasks, eval_train, heldout = tasks_for(budget)
    log(f"tasks: {len(train_tasks)} train ({len(eval_train)} evaluated), {len(heldout)} held-out")

    sft = sft_start(run, budget, train_tasks, args.sft_model)
    log(f"SFT policy: {sft}")
    evals = {"sft": evaluate(sft, "sft", run, budget, eval_train, heldout, cache)}
    log(f"SFT start: held-out {evals['sft']['heldout']['pass@1']:.3f}, train {evals['sft']['train']['pass@1']:.3f}")
    policy = {v: sft for v in budget.variants}
    trained: dict = {}
    for rnd in range(1, budget.rounds + 1):
        for variant in budget.variants:
            start = policy[variant]
            samples_file = run / f"round{rnd}" / ("sft-samples.json" if rnd == 1 else f"{variant}-samples.json")
            results, _ = sample_and_execute(start, train_tasks, budget.pair_samples, 100 + rnd, budget,
                                            samples_file, cache)
            info = train_variant(variant, start, results, train_tasks, run / f"round{rnd}" / variant, budget, rnd)
            policy[variant] = info["model"]
            name = f"{variant}-r{rnd}"
            trained[name] = info
            evals[name] = evaluate(info["model"], name, run, budget, eval_train, heldout, cache)
            log(f"round {rnd} {variant}: held-out {evals[name]['heldout']['pass@1']:.3f}, "
                f"train {evals[name]['train']['pass@1']:.3f} ({info.get('pairs', info.get('rows'))} pairs/rows)")
        report(run, budget, evals, trained)
    return report(run, budget, evals, trained)


if __name__ == "__main__":
    main()
