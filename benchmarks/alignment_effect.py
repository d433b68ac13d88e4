"""The controlled experiment of issues 14 and 29: which on-policy method improves the Verilog policy, and by how much?

Since issue 29 the rounds sample ``codealign run``'s default round tasks: 64 tasks of the family's ``feedback``
pool (held-out tasks sharing no (family, params) and no prompt with the 144 evaluation tasks; judge-only, no
reference reaches training), and ``grpo`` (TRL's GRPOTrainer with the execution reward, the same completions
sampled and optimizer steps per round) is a variant. Issue 14's setting, below, is the extra override
``round_tasks=unseen``; the "train" columns are the run's round tasks (the feedback pool's, by default).

Every variant is ``codealign run verilog`` itself (:func:`codealign.pipeline.run_pipeline`) with the
overrides in :data:`VARIANTS` on top of :data:`COMMON`: from the shipped Verilog warm-up (held-out pass@1
0.354 at its plateau), ``rounds`` on-policy rounds, each sampling the round's train tasks (train-split tasks
the warm-up never saw) from the current policy, executing them with the real judge and training
``round_steps`` optimizer steps, whatever the method (the collapse monitor is off, so no run stops early and
every variant trains the same number of steps, except in a round that yields no pair or passing sample at
all: that round trains 0 steps, and the report's steps column shows it). After every round the policy is evaluated on 144
held-out tasks of the family (``eval.heldout_tasks``: the 72 bundled ones and 72 more of the held-out split) and
on all 64 of the run's train tasks (2 evaluation seeds x 4 samples, T = 0.8). Why so many: on the bundled 72
alone, two variants' round-3 comparisons had SEs of 0.032–0.039, and the report's variance lines put 3 % of
such a comparison's variance on evaluation sampling and 20–27 % on the training seed; the rest is between tasks
(a variant collapses on some tasks and not on others), which only more tasks narrow.

Each variant runs once per training seed (``--seeds``: the run's ``seed``, which draws its round tasks and
seeds its training, and ``sample.seed``). Reported per variant and round, over the seeds present: pass@1 on
held-out and train tasks, the paired difference against the start and against RFT of the same round (per-task
differences averaged over seeds, SE over tasks), compile-error and truncation rates, pairs or rows trained.
The report ends with how many comparisons keep a paired SE ≤ 0.03 and, for the widest three, how much of
their variance evaluation sampling and the training seed explain. ``--confirm VARIANT`` re-evaluates the
last-round policies of VARIANT and RFT of every seed on fresh evaluation seeds (3001, 3002) and reports their
paired difference: the check a winner passes before it becomes a default.

Everything lives in ``--run-dir`` (one pipeline run directory per variant and seed, one shared verdict cache);
rerunning resumes, and ``--variants`` / ``--seeds`` run it in parts: the report covers what exists (runs go
variant by variant, each over every seed, RFT first; processes on ``--seeds 0``, ``--seeds 1`` and ``--seeds 2``
share the cache and the cores). Three training seeds, not the issue's two: with two, one comparison of 102
(pass-only's round-3 train gain) kept an SE of 0.031, above the 0.03 bound, and more train tasks than the
run's 64 do not exist. 7–13 min a run on 2 cores with two processes (83 min for the 18 runs of two seeds),
19–26 min with three (6–10 min with three when the verdict cache already holds a run's verdicts: 27 runs in
71 min); not part of CI. Runs are reproducible on one machine: rerunning a seed reproduces its
figures (a rerun of seeds 0 and 1 of seven variants matched every figure of the first run to within 0.001).

Run: ``OMP_NUM_THREADS=1 .venv/bin/python benchmarks/alignment_effect.py --run-dir runs/alignment``
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("TQDM_DISABLE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

COMMON = ["rounds=3", "round_steps=40", "max_tasks=64", "sample.n=4", "eval.every_round=true",
          "eval.heldout_tasks=144", "eval.max_tasks=0", "eval.train_tasks=64", "control=none", "dpo.monitor=false",
          "probe_tasks=0"]
"""Shared by every variant: 3 rounds of 40 steps on 64 round tasks x 4 samples (the pipeline's defaults when the
experiment's figures were taken; verilog's default run now samples 128 x 8), every round evaluated on 144
held-out and 64 train tasks, no early stop."""

VARIANTS: dict[str, list[str]] = {
    "rft": ["method=rft"],
    "rft+dpo": ["method=rft+dpo"],
    "dpo+nll": ["method=dpo"],
    "dpop": ["method=dpo", "dpo.dpop_lambda=5.0"],
    "edit": ["method=dpo", "dpo.edit_focus=true"],
    "ranked": ["method=dpo", "pairs.strategy=ranked", "pairs.selection=all", "pairs.max_pairs_per_prompt=6",
               "dpo.multi_pair=true"],
    "curry": ["method=dpo", "curriculum.stages=2"],
    "ipo": ["method=dpo", "dpo.loss_type=ipo"],
    "pass-only": ["method=dpo", "pairs.chosen_must_pass=true"],
    "grpo": ["method=grpo"],
}
"""The variants, as overrides of ``codealign run verilog``. The pipeline's DPO carries an NLL anchor on the chosen
side (``dpo.nll_alpha=1.0``), so ``dpo+nll`` is iterative DPO with NLL anchor and every other DPO variant is it
with one change: the DPO-Positive penalty, the edit mask, ranked multi-pair DPO, two Curry-DPO stages (large score
gap first), TRL's IPO loss instead of the sigmoid one, or only pairs whose chosen sample passes (so the anchor
never imitates a failing one). ``rft+dpo`` gives half of each round's steps to RFT. ``grpo`` samples inside
training (``grpo`` settings of the pipeline)."""

SE_BOUND = 0.03
"""The paired SE every comparison should stay within (issue 14); the report counts those that do."""

CONFIRM_SEEDS = [3001, 3002]
"""Evaluation seeds of ``--confirm``: used by no run of the experiment."""


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def config_for(variant: str, seed: int, extra: list[str]):
    from codealign.pipeline import make_config

    return make_config("verilog", overrides=[*COMMON, *VARIANTS[variant], f"seed={seed}", f"sample.seed={seed}",
                                             *extra])


def run_one(run_dir: Path, variant: str, seed: int, extra: list[str], cache: Path) -> None:
    from codealign.pipeline import run_pipeline

    t0 = time.monotonic()
    log(f"{variant} seed {seed}: running in {run_dir}")
    run_pipeline(config_for(variant, seed, extra), run_dir, cache=cache, quiet=True, log=log)
    log(f"{variant} seed {seed}: done in {time.monotonic() - t0:.0f} s")


def collect(root: Path, variant: str, seed: int, extra: list[str]) -> dict | None:
    """Per round (0 = the start): the evaluation summary, where its verdicts are, and what the round trained, for
    the stages of the run that finished with this config; None when its directory does not exist."""
    from codealign.pipeline import EVAL_TAGS, Run

    run_dir = root / f"{variant}-s{seed}"
    if not (run_dir / "state.json").is_file():
        return None
    config = config_for(variant, seed, extra)
    run = Run(config, run_dir, quiet=True)
    rounds: dict[int, dict] = {}
    for r in range(config.rounds + 1):
        name = "eval_before" if r == 0 else ("eval_after" if r == config.rounds else f"eval@{r}")
        info = run.current(name)
        if info is None:
            continue
        at = "" if r <= 1 else f"@{r}"
        trained = {k: run.current(k + at) if k + at in run.plan else None for k in ("pairs", "rft", "dpo", "grpo")}
        tag = EVAL_TAGS[run.plan[name].kind].format(round=r)
        rounds[r] = {"eval": info, "pairs": (trained["pairs"] or {}).get("pairs"),
                     "rows": (trained["rft"] or {}).get("rows"),
                     "steps": sum((trained[k] or {}).get("steps", 0) for k in ("rft", "dpo", "grpo")),
                     "files": (run_dir / "eval", tag, config.eval.seeds)}
    return rounds


def by_eval_seed(files: tuple[Path, str, list[int]], split: str) -> dict[int, dict[str, float]]:
    """Per evaluation seed, per task: the pass rate of that seed's samples (from the evaluation's verdict files)."""
    from codealign.jsonl import read_jsonl
    from codealign.types import ExecResult

    folder, tag, seeds = files
    scores: dict[int, dict[str, float]] = {}
    for seed in seeds:
        passed: dict[str, list[bool]] = {}
        for r in read_jsonl(folder / f"{tag}{'_train' if split == 'train' else ''}_seed{seed}.jsonl",
                            ExecResult.from_dict):
            passed.setdefault(r.task_id, []).append(r.passed)
        scores[seed] = {task: sum(v) / len(v) for task, v in passed.items()}
    return scores


def variance_parts(runs: dict[int, tuple], other: dict[int, tuple], split: str) -> dict[str, float]:
    """Where the variance of a paired comparison's per-task differences lies: the share that evaluation sampling
    explains (the spread between evaluation seeds) and the share that training seeds explain (the spread between
    training seeds, sampling included; from the tasks that several seeds share, None when fewer than 10 do: each
    seed draws its own train tasks); the rest is between tasks."""
    diff: dict[str, dict[tuple[int, int], float]] = {}
    for seed in set(runs) & set(other):
        a, b = by_eval_seed(runs[seed], split), by_eval_seed(other[seed], split)
        for es in set(a) & set(b):
            for task in set(a[es]) & set(b[es]):
                diff.setdefault(task, {})[(seed, es)] = a[es][task] - b[es][task]

    def spread(task_diffs: dict, axis: int) -> float | None:
        groups: dict[int, list[float]] = {}
        for key, d in task_diffs.items():
            groups.setdefault(key[axis], []).append(d)
        means = [statistics.mean(g) for g in groups.values()]
        return statistics.variance(means) / len(means) if len(means) > 1 else None

    total = statistics.variance([statistics.mean(d.values()) for d in diff.values()])
    parts = {}
    for name, axis in (("sampling", 1), ("training seed", 0)):
        spreads = [v for d in diff.values() if (v := spread(d, axis)) is not None]
        parts[name] = statistics.mean(spreads) / total if len(spreads) >= 10 and total else None
    return parts


def paired(runs: dict[int, dict], other: dict[int, dict], split: str) -> tuple[float, float, int]:
    """Mean and SE over tasks of the per-task difference ``runs`` - ``other`` (each {seed: evaluation}),
    averaged over the seeds both have."""
    per_task: dict[str, list[float]] = {}
    for seed in set(runs) & set(other):
        a, b = _split(runs[seed], split)["per_task"], _split(other[seed], split)["per_task"]
        for task in set(a) & set(b):
            per_task.setdefault(f"{task}", []).append(a[task] - b[task])
    diffs = [statistics.mean(v) for v in per_task.values()]
    if len(diffs) < 2:
        return float("nan"), float("nan"), len(diffs)
    return statistics.mean(diffs), statistics.stdev(diffs) / len(diffs) ** 0.5, len(diffs)


def _split(evaluation: dict, split: str) -> dict:
    return evaluation if split == "heldout" else evaluation["train"]


def mean_of(evals: dict[int, dict], split: str, key: str) -> float:
    return statistics.mean(_split(e, split)[key] for e in evals.values())


def report(root: Path, variants: list[str], seeds: list[int], extra: list[str], confirm: dict | None) -> str:
    found = {(v, s): collect(root, v, s, extra) for v in variants for s in seeds}
    found = {k: r for k, r in found.items() if r}
    start = {s: r[0]["eval"] for (v, s), r in found.items() if 0 in r}
    rows = []
    for variant in variants:
        max_round = max((max(r) for (v, _), r in found.items() if v == variant), default=0)
        for rnd in range(1, max_round + 1):
            evals = {s: found[(variant, s)][rnd]["eval"] for s in seeds if rnd in found.get((variant, s), {})}
            rft = {s: found[("rft", s)][rnd]["eval"] for s in seeds if rnd in found.get(("rft", s), {})}
            row = {"variant": variant, "round": rnd, "seeds": sorted(evals)}
            for split in ("heldout", "train"):
                row[split] = {"pass@1": mean_of(evals, split, "pass@1"),
                              "vs_start": paired(evals, start, split),
                              "vs_rft": paired(evals, rft, split) if variant != "rft" else None,
                              "compile_error": mean_of(evals, split, "compile_error_rate"),
                              "truncation": mean_of(evals, split, "truncation_rate")}
            trained = [found[(variant, s)][rnd] for s in evals]
            row["pairs"] = [t["pairs"] for t in trained]
            row["rows"] = [t["rows"] for t in trained]
            row["steps"] = [t["steps"] for t in trained]
            rows.append(row)

    def diff(d) -> str:
        return "—" if d is None or d[2] < 2 else f"{d[0]:+.3f} ± {d[1]:.3f}"

    def counts(per_seed: list) -> str:
        return "/".join("—" if c is None else str(c) for c in per_seed)

    lines = ["# On-policy rounds on the Verilog family: which method improves the policy?", "",
             f"Overrides of `codealign run verilog`: `{' '.join(COMMON + extra)}`; variant overrides below. "
             f"Training seeds present: {sorted(start)}. Differences are paired over tasks (per-task differences "
             "averaged over the seeds both sides have): mean ± SE.", ""]
    if start:
        lines.append("Start (shipped warm-up): held-out pass@1 "
                     f"{mean_of(start, 'heldout', 'pass@1'):.3f} (compile-err "
                     f"{mean_of(start, 'heldout', 'compile_error_rate'):.3f}), train pass@1 "
                     f"{mean_of(start, 'train', 'pass@1'):.3f}")
        lines.append("")
    lines += ["| round | variant | seeds | held-out | vs start | vs RFT | compile-err | trunc | train | vs start "
              "| vs RFT | train compile-err | pairs | RFT rows | steps |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for row in sorted(rows, key=lambda r: (r["round"], variants.index(r["variant"]))):
        h, t = row["heldout"], row["train"]
        lines.append(
            f"| {row['round']} | {row['variant']} | {len(row['seeds'])} | {h['pass@1']:.3f} | {diff(h['vs_start'])} "
            f"| {diff(h['vs_rft'])} | {h['compile_error']:.3f} | {h['truncation']:.3f} | {t['pass@1']:.3f} "
            f"| {diff(t['vs_start'])} | {diff(t['vs_rft'])} | {t['compile_error']:.3f} "
            f"| {counts(row['pairs'])} | {counts(row['rows'])} | {counts(row['steps'])} |")
    comparisons = [(d[1], f"{row['variant']} r{row['round']} {split} {name}", row, split, name)
                   for row in rows for split in ("heldout", "train") for name in ("vs_start", "vs_rft")
                   if (d := row[split][name]) is not None and d[2] >= 2]
    if comparisons:
        comparisons.sort(key=lambda c: -c[0])
        within = sum(se <= SE_BOUND for se, *_ in comparisons)
        lines += ["", f"Paired SEs: {within} of {len(comparisons)} comparisons ≤ {SE_BOUND}; the widest: "
                      + ", ".join(f"{label} {se:.3f}" for se, label, *_ in comparisons[:3]) + "."]
        for se, label, row, split, name in comparisons[:3]:
            variant, rnd = row["variant"], row["round"]
            mine = {s: found[(variant, s)][rnd]["files"] for s in row["seeds"]}
            base = {s: found[("rft", s)][0 if name == "vs_start" else rnd]["files"] for s in row["seeds"]
                    if ("rft", s) in found and (0 if name == "vs_start" else rnd) in found[("rft", s)]}
            parts = variance_parts(mine, base, split)
            share = {k: "—" if v is None else f"{v:.0%}" for k, v in parts.items()}
            lines.append(f"- {label}: variance explained by evaluation sampling {share['sampling']}, by the "
                         f"training seed (sampling included) {share['training seed']}")
    lines += ["", "Variants: " + "; ".join(f"`{v}`: `{' '.join(VARIANTS[v])}`" for v in variants)]
    if confirm:
        lines += ["", f"Confirmation on fresh evaluation seeds {CONFIRM_SEEDS} (last-round policies, held-out): "
                      f"{confirm['variant']} {confirm['variant_pass@1']:.3f}, rft {confirm['rft_pass@1']:.3f}, "
                      f"{confirm['variant']} − rft {diff(confirm['diff'])}"]
    text = "\n".join(lines) + "\n"
    from codealign.jsonl import write_text_atomic

    write_text_atomic(root / "report.md", text)
    write_text_atomic(root / "report.json", json.dumps({"rows": rows, "confirm": confirm}, indent=1, default=str))
    return text


def confirm(root: Path, variant: str, seeds: list[int], extra: list[str], cache: Path) -> dict:
    """The last-round policies of ``variant`` and RFT per seed, evaluated on :data:`CONFIRM_SEEDS` (a pipeline
    run that takes the policy as its ready-made warm-up and stops after ``eval_before``)."""
    from codealign.pipeline import Run, make_config, run_pipeline

    evals: dict[str, dict[int, dict]] = {variant: {}, "rft": {}}
    for name in evals:
        for seed in seeds:
            config = config_for(name, seed, extra)
            final = Run(config, root / f"{name}-s{seed}", quiet=True).current("eval_after")
            if final is None:
                raise SystemExit(f"--confirm: {name} seed {seed} has not finished its {config.rounds} rounds")
            check = make_config("verilog", overrides=[*COMMON, f"seed={seed}", f"sft.warmup={final['model']}",
                                                      "eval.seeds=" + json.dumps(CONFIRM_SEEDS), *extra])
            log(f"confirm: {name} seed {seed} on evaluation seeds {CONFIRM_SEEDS}")
            out = run_pipeline(check, root / "confirm" / f"{name}-s{seed}", stages=["tasks", "sft", "eval_before"],
                               cache=cache, quiet=True, log=log)
            evals[name][seed] = out["eval_before"]
    return {"variant": variant, "variant_pass@1": mean_of(evals[variant], "heldout", "pass@1"),
            "rft_pass@1": mean_of(evals["rft"], "heldout", "pass@1"),
            "diff": paired(evals[variant], evals["rft"], "heldout")}


def main(argv=None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run-dir", required=True, help="state folder (rerun to resume)")
    parser.add_argument("--variants", default=",".join(VARIANTS), help=f"comma list from {', '.join(VARIANTS)}")
    parser.add_argument("--seeds", default="0,1,2", help="training seeds, comma list")
    parser.add_argument("--report-only", action="store_true", help="write the report of what exists, run nothing")
    parser.add_argument("--confirm", default=None, metavar="VARIANT",
                        help="re-evaluate VARIANT's and RFT's last-round policies on fresh evaluation seeds")
    parser.add_argument("overrides", nargs="*", help="extra key=value overrides of every run (e.g. a smoke budget)")
    args = parser.parse_args(argv)
    variants = [v for v in args.variants.split(",") if v]
    unknown = sorted(set(variants) - set(VARIANTS)) + ([args.confirm] if args.confirm not in (None, *VARIANTS) else [])
    if unknown:
        parser.error(f"unknown variants: {', '.join(unknown)} (known: {', '.join(VARIANTS)})")
    if "rft" not in variants:
        variants.insert(0, "rft")
    try:
        seeds = [int(s) for s in args.seeds.split(",") if s]
        config_for(variants[0], seeds[0], args.overrides)
    except (ValueError, IndexError) as exc:
        parser.error(f"bad --seeds or override: {exc}")

    from codealign.train.device import configure_threads

    configure_threads("cpu")
    root = Path(args.run_dir)
    root.mkdir(parents=True, exist_ok=True)
    cache = root / "verdicts.sqlite"
    print(f"{os.cpu_count()} cores, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    if not args.report_only:
        for variant in variants:
            for seed in seeds:
                run_one(root / f"{variant}-s{seed}", variant, seed, args.overrides, cache)
                report(root, variants, seeds, args.overrides, None)
    checked = confirm(root, args.confirm, seeds, args.overrides, cache) if args.confirm else None
    text = report(root, variants, seeds, args.overrides, checked)
    print(text)
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return text


if __name__ == "__main__":
    main()
