"""``codealign run <domain>``: the whole loop in one run directory, resumable.

Stages, each writing its output into the run directory and a marker ``stages/<name>.json`` when complete:

``tasks`` → ``sft`` (warm-up, optional) → ``eval_before`` → ``generate`` → ``execute`` → ``pairs``
(strategy + weights + curriculum) → ``dpo`` → ``eval_after`` → ``report``.

Rerunning the same command skips completed stages; an interrupted ``execute`` reuses the verdicts already
streamed to ``verdicts.jsonl`` and the verdict cache; an interrupted ``sft`` or ``dpo`` resumes from its last
checkpoint. ``eval_before`` scores the starting model (after its SFT warm-up when there is one) and
``eval_after`` the DPO policy, on the same evaluation tasks, seeds and budget. A run directory remembers
its config: rerunning it with a different one is refused rather than mixing two runs.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import math
import os
import platform
import sys
import time
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Callable

from codealign.config import apply_overrides, build, load_yaml
from codealign.errors import UserError
from codealign.jsonl import read_jsonl, write_jsonl, write_text_atomic
from codealign.types import Candidate, ExecResult, Pair, Task, Verdict

STAGES = ("tasks", "sft", "eval_before", "generate", "execute", "pairs", "dpo", "eval_after", "report")
PRESETS = ("veriprefer", "synthcoder", "smart-llama-dpo", "ladder")


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
    """Empty: the domain's bundled held-out tasks; else a benchmark name (verilogeval, rtllm, execrepobench,
    smartbugs) read from ``data``."""
    data: str = ""
    """Benchmark data path (with ``benchmark``)."""
    max_tasks: int = 48
    """Evaluate on at most this many tasks (0 = all), the same ones before and after."""
    n: int = 4
    """Samples per task and seed."""
    seeds: list[int] = field(default_factory=lambda: [1001, 1002])
    """Fresh sampling seeds, never used for training candidates."""
    temperature: float = 0.8
    """Sampling temperature for evaluation."""

    def __post_init__(self) -> None:
        if self.n < 1 or not self.seeds or self.max_tasks < 0:
            raise ValueError("eval.n must be >= 1, eval.seeds non-empty, eval.max_tasks >= 0")
        if self.benchmark and not self.data:
            raise ValueError(f"eval.benchmark {self.benchmark!r} needs eval.data (a path)")


@dataclass
class PipelineConfig:
    """A whole run. Presets are YAML over this dataclass; every field can be overridden with key=value."""

    domain: str = "verilog"
    """verilog, python, solidity or ladder."""
    model: str = "codealign-tiny"
    """Starting model: a hub id, a local folder, or ``codealign-tiny`` (built offline into the run dir)."""
    tiny_model: dict[str, Any] = field(default_factory=lambda: {
        "hidden_size": 128, "layers": 4, "heads": 4, "kv_heads": 2, "intermediate_size": 256})
    """Architecture of ``codealign-tiny`` (arguments of :func:`codealign.train.models.build_tiny_model`); the
    default ~0.8M-parameter model learns the procedural Verilog family in a few CPU minutes."""
    tasks: str = ""
    """Training tasks JSONL; empty: the domain's bundled train split."""
    max_tasks: int = 64
    """Use at most this many training tasks (0 = all)."""
    device: str = "auto"
    """auto, cpu, cuda or mps."""
    seed: int = 0
    """Seed of task selection, SFT and DPO."""
    sft_enabled: bool = True
    """Run the SFT warm-up on the reference solutions of every training task (all of them, not only the
    ``max_tasks`` sampled for DPO) before sampling."""
    sft: dict[str, Any] = field(default_factory=dict)
    """Overrides of :class:`codealign.train.sft.SFTRunConfig` for the warm-up."""
    sample: SampleConfig = field(default_factory=SampleConfig)
    """Sampling of training candidates."""
    mutants_per_task: int = 0
    """RISE: error-injection mutants of each task's reference, executed like any candidate; when > 0 the
    reference itself is executed too (the mutants' parent), so it can be a chosen sample."""
    pairs: dict[str, Any] = field(default_factory=lambda: {"strategy": "execution"})
    """``strategy`` plus that strategy's options (see ``codealign pairs --help``)."""
    weights: dict[str, Any] = field(default_factory=dict)
    """MADPO weight settings (:class:`codealign.pairs.weights.MadpoConfig`); empty: every pair weighs 1."""
    curriculum: dict[str, Any] = field(default_factory=lambda: {"key": "gap", "stages": 1})
    """:class:`codealign.pairs.curriculum.CurriculumConfig` fields."""
    dpo: dict[str, Any] = field(default_factory=dict)
    """Overrides of :class:`codealign.train.dpo.DPORunConfig` (defaults here: 40 steps per stage, NLL anchor
    ``nll_alpha=1``, learning rate 1e-4 for the tiny model and 5e-7 otherwise)."""
    eval: EvalConfig = field(default_factory=EvalConfig)
    """Before/after evaluation."""
    probe_tasks: int = 4
    """Tasks the collapse monitor's probe samples during DPO (0: no probe)."""

    def __post_init__(self) -> None:
        from codealign.domains import DOMAINS

        if self.domain not in DOMAINS:
            raise ValueError(f"unknown domain {self.domain!r}; choose one of: {', '.join(DOMAINS)}")
        if self.max_tasks < 0 or self.mutants_per_task < 0 or self.probe_tasks < 0:
            raise ValueError("max_tasks, mutants_per_task and probe_tasks must be >= 0")
        if "strategy" not in self.pairs:
            raise ValueError("pairs needs a 'strategy'")


def preset_data(name: str) -> dict[str, Any]:
    """The YAML mapping of a bundled preset."""
    if name not in PRESETS:
        raise UserError(f"unknown preset {name!r}; choose one of: {', '.join(PRESETS)}")
    import yaml

    text = resources.files("codealign.presets").joinpath(f"{name.replace('-', '_')}.yaml").read_text()
    data = yaml.safe_load(text) or {}
    data.pop("paper", None)
    data.pop("notes", None)
    return data


DOMAIN_DEFAULTS: dict[str, dict[str, Any]] = {
    "verilog": {},
    "python": {"max_tasks": 24, "sft": {"max_steps": 80, "per_device_train_batch_size": 8},
               "sample": {"max_new_tokens": 64}, "eval": {"max_tasks": 24, "n": 2}},
    "solidity": {"sft": {"max_steps": 120, "per_device_train_batch_size": 8}, "sample": {"max_new_tokens": 160},
                 "mutants_per_task": 1},
    "ladder": {"sft": {"max_steps": 150, "per_device_train_batch_size": 8}, "sample": {"max_new_tokens": 96},
               "mutants_per_task": 2},
}
"""Embedded per-domain budgets for ``codealign run <domain>`` on the tiny model (long FIM prompts make a Python
step several times a Verilog one); a preset, a config file and key=value overrides apply on top."""


def make_config(domain: str, preset: str | None = None, config_file: str | None = None,
                overrides: list[str] = ()) -> PipelineConfig:
    from codealign.config import deep_merge

    data: dict[str, Any] = dict(DOMAIN_DEFAULTS.get(domain, {}))
    if preset:
        found = preset_data(preset)
        if found.get("domain", domain) != domain:
            raise UserError(f"preset {preset!r} is for domain {found['domain']!r}, not {domain!r}")
        data = deep_merge(data, found)
    if config_file:
        data = deep_merge(data, load_yaml(config_file))
    data["domain"] = domain
    return build(PipelineConfig, apply_overrides(data, list(overrides)))


def config_hash(config: PipelineConfig) -> str:
    return hashlib.sha256(json.dumps(dataclasses.asdict(config), sort_keys=True).encode()).hexdigest()[:16]


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

    @property
    def domain(self):
        if self._domain is None:
            from codealign.domains import get_domain

            self._domain = get_domain(self.config.domain)
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

    def policy_before(self) -> str:
        info = self.done("sft")
        return info["model"] if info and info.get("model") else self.start_model()

    def execute(self, tasks: list[Task], candidates: list[Candidate], out: Path) -> list[ExecResult]:
        from codealign.execution.executor import execute

        return execute(self.domain, tasks, candidates, backend=self.backend, executor=self.executor,
                       workers=self.workers, cache=self.cache, out=out, progress=not self.quiet)

    def sample(self, model: str, tasks: list[Task], n: int, seed: int, temperature: float) -> list[Candidate]:
        from codealign.generate import get_generator

        s = self.config.sample
        gen = get_generator("hf", model=model, device=self.config.device, batch_size=s.batch_size)
        return gen.candidates(tasks, n, temperature=temperature, top_p=s.top_p, max_new_tokens=s.max_new_tokens,
                              seed=seed, stop=self.stop_sequences())

    def stop_sequences(self) -> list[str]:
        return {"verilog": ["endmodule"], "ladder": [], "python": [], "solidity": []}.get(self.config.domain, [])


def demo_tasks(run: Run, split: str) -> list[Task]:
    """Bundled tasks of the run's domain. Python's come from the bundled ExecRepoBench-format suite, which lives
    with its benchmark (domains do not import benchmarks)."""
    if run.config.domain == "python":
        from codealign.domains.python.execrepobench import demo_tasks as python_demo_tasks

        return python_demo_tasks(split)
    return run.domain.demo_tasks(split)


def _select(tasks: list[Task], limit: int, seed: int) -> list[Task]:
    if not limit or len(tasks) <= limit:
        return tasks
    import random

    picked = sorted(random.Random(seed).sample(range(len(tasks)), limit))
    return [tasks[i] for i in picked]


def stage_tasks(run: Run) -> dict[str, Any]:
    cfg = run.config
    train = read_jsonl(cfg.tasks, Task.from_dict) if cfg.tasks else demo_tasks(run, "train")
    wrong = sorted({t.domain for t in train} - {cfg.domain})
    if wrong:
        raise UserError(f"tasks are for domain(s) {', '.join(wrong)}, not {cfg.domain!r}")
    write_jsonl(run.path("sft_tasks.jsonl"), train)
    train = _select(train, cfg.max_tasks, cfg.seed)
    if cfg.eval.benchmark:
        from codealign.bench import load_benchmark

        evals = load_benchmark(cfg.eval.benchmark, cfg.eval.data)
    else:
        evals = demo_tasks(run, "heldout")
    evals = _select(evals, cfg.eval.max_tasks, cfg.seed + 1)
    if not train or not evals:
        raise UserError("no training or evaluation tasks")
    write_jsonl(run.path("tasks.jsonl"), train)
    write_jsonl(run.path("eval_tasks.jsonl"), evals)
    overlap = {t.prompt for t in train} & {t.prompt for t in evals}
    return {"train_tasks": len(train), "eval_tasks": len(evals), "prompt_overlap": len(overlap)}


def stage_sft(run: Run) -> dict[str, Any]:
    cfg = run.config
    if not cfg.sft_enabled:
        return {"model": run.start_model(), "skipped": True}
    from codealign.train.sft import SFTRunConfig, train_sft

    rows = []
    for task in run.tasks("sft_tasks.jsonl"):
        reference = run.domain.reference_solution(task)
        if reference:
            rows.append({"prompt": task.prompt, "completion": reference})
    if not rows:
        raise UserError("no reference solutions to warm up on; set sft_enabled=false")
    tiny = cfg.model == "codealign-tiny"
    values = {"model": run.start_model(), "output_dir": str(run.path("sft")), "seed": cfg.seed,
              "device": cfg.device, "save_steps": 50, "learning_rate": 3e-3 if tiny else 2e-5,
              "max_steps": 300, "per_device_train_batch_size": 16, "logging_steps": 25, **cfg.sft}
    result = train_sft(build(SFTRunConfig, values), rows)
    return {"model": result.final_dir, "rows": len(rows), "steps": result.global_step,
            "train_loss": result.train_loss}


def _evaluate(run: Run, model: str, tag: str) -> dict[str, Any]:
    cfg = run.config
    tasks = run.tasks("eval_tasks.jsonl")
    per_task: dict[str, list[float]] = {t.task_id: [] for t in tasks}
    truncated = compile_errors = total = 0
    for seed in cfg.eval.seeds:
        cands = run.sample(model, tasks, cfg.eval.n, seed, cfg.eval.temperature)
        results = run.execute(tasks, cands, run.path(f"eval/{tag}_seed{seed}.jsonl"))
        by_task: dict[str, list[ExecResult]] = {}
        for cand, res in zip(cands, results):
            by_task.setdefault(res.task_id, []).append(res)
            truncated += cand.metadata.get("finish_reason") == "length"
            compile_errors += res.verdict is Verdict.COMPILE_ERROR
            total += 1
        for task_id, rs in by_task.items():
            per_task[task_id].append(sum(r.passed for r in rs) / len(rs))
    scores = {k: sum(v) / len(v) for k, v in per_task.items()}
    pass1 = sum(scores.values()) / len(scores)
    return {"model": model, "pass@1": pass1, "se": _se(list(scores.values())), "per_task": scores,
            "truncation_rate": truncated / max(1, total), "compile_error_rate": compile_errors / max(1, total),
            "samples": total}


def _se(values: list[float]) -> float:
    if len(values) < 2:
        return 0.0
    mean = sum(values) / len(values)
    return math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1) / len(values))


def stage_eval_before(run: Run) -> dict[str, Any]:
    return _evaluate(run, run.policy_before(), "before")


def stage_generate(run: Run) -> dict[str, Any]:
    cfg = run.config
    tasks = run.tasks()
    cands = run.sample(run.policy_before(), tasks, cfg.sample.n, cfg.sample.seed, cfg.sample.temperature)
    if cfg.mutants_per_task:
        from codealign.domains.mutants import rise_candidates

        solutions = {t.task_id: ref for t in tasks if (ref := run.domain.reference_solution(t))}
        cands += rise_candidates(run.domain, tasks, solutions, seed=cfg.seed, max_per_task=cfg.mutants_per_task)
    write_jsonl(run.path("candidates.jsonl"), cands)
    truncated = sum(c.metadata.get("finish_reason") == "length" for c in cands)
    return {"candidates": len(cands), "truncated": truncated}


def stage_execute(run: Run) -> dict[str, Any]:
    from collections import Counter

    tasks = run.tasks()
    cands = read_jsonl(run.path("candidates.jsonl"), Candidate.from_dict)
    results = run.execute(tasks, cands, run.path("verdicts.jsonl"))
    counts = Counter(r.verdict.value for r in results)
    return {"verdicts": dict(counts), "cached": sum(r.cached for r in results),
            "pass_rate": counts.get("PASS", 0) / max(1, len(results))}


def stage_pairs(run: Run) -> dict[str, Any]:
    from codealign.pairs import build_pairs_report
    from codealign.pairs.curriculum import CurriculumConfig, curriculum
    from codealign.pairs.summary import gap_histogram, summarize

    cfg = run.config
    tasks = run.tasks()
    results = read_jsonl(run.path("verdicts.jsonl"), ExecResult.from_dict)
    cands = read_jsonl(run.path("candidates.jsonl"), Candidate.from_dict)
    options = dict(cfg.pairs)
    strategy = options.pop("strategy")
    pairs, report = build_pairs_report(results, tasks, strategy, candidates=cands, **options)
    if cfg.weights:
        from codealign.pairs.weights import MadpoConfig, apply_weights

        pairs = apply_weights(pairs, build(MadpoConfig, dict(cfg.weights)))
    pairs = curriculum(pairs, build(CurriculumConfig, dict(cfg.curriculum)))
    write_jsonl(run.path("pairs.jsonl"), pairs)
    summary = summarize(pairs)
    if pairs:
        gap_histogram(pairs, run.path("pair_gaps.png"))
    return {"pairs": len(pairs), "strategy": strategy, "summary": summary,
            "report": {k: v for k, v in report.items() if isinstance(v, (int, float, str, dict))}}


def _probe(run: Run) -> Callable[[Any, Any], dict[str, float]] | None:
    cfg = run.config
    if not cfg.probe_tasks:
        return None
    tasks = run.tasks()[: cfg.probe_tasks]

    def probe(model, tokenizer) -> dict[str, float]:
        from codealign.generate.hf import HFGenerator

        gen = HFGenerator(model, tokenizer=tokenizer, batch_size=cfg.sample.batch_size)
        cands = gen.candidates(tasks, 2, temperature=cfg.eval.temperature, max_new_tokens=cfg.sample.max_new_tokens,
                               seed=7, stop=run.stop_sequences())
        from codealign.execution.executor import execute

        results = execute(run.domain, tasks, cands, backend=run.backend, workers=run.workers, progress=False)
        n = max(1, len(cands))
        return {"truncation": sum(c.metadata.get("finish_reason") == "length" for c in cands) / n,
                "compile_error": sum(r.verdict is Verdict.COMPILE_ERROR for r in results) / n}

    return probe


def stage_dpo(run: Run) -> dict[str, Any]:
    from codealign.train.dpo import DPORunConfig, train_dpo

    cfg = run.config
    pairs = read_jsonl(run.path("pairs.jsonl"), Pair.from_dict)
    start = run.policy_before()
    if not pairs:
        run.log("no preference pairs (no task had both a better and a worse candidate): DPO skipped")
        return {"model": start, "skipped": True, "reason": "no pairs"}
    # Defaults from benchmarks/alignment_effect.py: plain sigmoid DPO on execution pairs drives the tiny model
    # towards collapse; an NLL anchor on the chosen side (RPO-style) keeps it at the SFT level.
    tiny = cfg.model == "codealign-tiny"
    values = {"model": start, "output_dir": str(run.path("dpo")), "seed": cfg.seed, "device": cfg.device,
              "learning_rate": 1e-4 if tiny else 5e-7, "nll_alpha": 1.0, "max_steps": 40,
              "per_device_train_batch_size": 8, "save_steps": 20, "logging_steps": 5, **cfg.dpo}
    result = train_dpo(DPORunConfig.from_dict(values), pairs, probe=_probe(run))
    return {"model": result.final_model, "stopped_reason": result.stopped_reason,
            "stages": [dataclasses.asdict(s) for s in result.stages]}


def stage_eval_after(run: Run) -> dict[str, Any]:
    info = run.done("dpo") or {}
    return _evaluate(run, info.get("model") or run.policy_before(), "after")


def stage_report(run: Run) -> dict[str, Any]:
    from codealign.report import write_report

    return write_report(run)


STAGE_FUNCS: dict[str, Callable[[Run], dict[str, Any]]] = {
    "tasks": stage_tasks, "sft": stage_sft, "eval_before": stage_eval_before, "generate": stage_generate,
    "execute": stage_execute, "pairs": stage_pairs, "dpo": stage_dpo, "eval_after": stage_eval_after,
    "report": stage_report,
}


def manifest(run: Run) -> dict[str, Any]:
    from importlib import metadata

    from codealign.doctor import PY_PACKAGES

    versions = {}
    for name in ("codealign", *PY_PACKAGES):
        try:
            versions[name] = metadata.version(name.replace("_", "-"))
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {"config": dataclasses.asdict(run.config), "config_hash": config_hash(run.config),
            "python": platform.python_version(), "platform": platform.platform(), "packages": versions,
            "toolchain": run.domain.toolchain_version(), "harness": run.domain.harness_version,
            "backend": run.backend, "executor": run.executor}


def run_pipeline(config: PipelineConfig, run_dir: str | os.PathLike, *, stages: list[str] | None = None,
                 **options: Any) -> dict[str, Any]:
    """Run (or resume) the pipeline; returns the final report (or the stage summaries when ``report`` is not
    among ``stages``)."""
    path = Path(run_dir)
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise UserError(f"run directory {path} is not writable: {exc.strerror}") from None
    run = Run(config, path, **options)
    problem = run.domain.check_toolchain()
    if problem:
        raise UserError(f"{config.domain} toolchain: {problem}")
    stored = path / "manifest.json"
    current = manifest(run)
    if stored.is_file():
        old = json.loads(stored.read_text())
        if old.get("config_hash") != current["config_hash"]:
            raise UserError(f"{path} holds a run with a different config (hash {old.get('config_hash')}); "
                            f"use another --run-dir")
    write_text_atomic(stored, json.dumps(current, indent=2, default=str))
    selected = stages or list(STAGES)
    unknown = [s for s in selected if s not in STAGES]
    if unknown:
        raise UserError(f"unknown stage(s) {', '.join(unknown)}; stages: {', '.join(STAGES)}")
    summaries = {}
    for stage in STAGES:
        if stage not in selected:
            continue
        info = run.done(stage)
        if info is not None:
            run.log(f"{stage}: done earlier, skipped")
            summaries[stage] = info
            continue
        for needed in STAGES[: STAGES.index(stage)]:
            if needed not in selected and run.done(needed) is None:
                raise UserError(f"stage {stage!r} needs stage {needed!r}, which has not run in {path}")
        run.log(f"{stage}: running")
        t0 = time.monotonic()
        info = STAGE_FUNCS[stage](run)
        info["seconds"] = round(time.monotonic() - t0, 2)
        run.finish(stage, info)
        summaries[stage] = info
        run.log(f"{stage}: done in {info['seconds']:.1f} s")
    return summaries.get("report", summaries)


# -- CLI --------------------------------------------------------------------------------------------------------
def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("domain", help="verilog, python, solidity or ladder")
    p.add_argument("--preset", default=None, help=f"a published recipe: {', '.join(PRESETS)}")
    p.add_argument("--config", default=None, help="YAML over the pipeline config (applied after the preset)")
    p.add_argument("--tasks", default=None, help="training tasks JSONL (default: the domain's bundled tasks)")
    p.add_argument("--model", default=None, help="starting model: hub id or local path (default: codealign-tiny)")
    p.add_argument("--device", default=None, help="auto, cpu, cuda, mps")
    p.add_argument("--eval", dest="eval_benchmark", default=None, help="evaluate on this benchmark (with --data)")
    p.add_argument("--data", default=None, help="benchmark data for --eval")
    p.add_argument("--run-dir", default=None, help="run directory (default: runs/<domain>[-<preset>])")
    p.add_argument("--stages", default=None, help=f"comma-separated subset of: {','.join(STAGES)}")
    p.add_argument("overrides", nargs="*", default=[], help="config overrides key=value (e.g. dpo.beta=0.2)")


def run(args: argparse.Namespace) -> dict[str, Any]:
    from codealign.domains import DOMAINS

    if args.domain not in DOMAINS:
        raise UserError(f"unknown domain {args.domain!r}; choose one of: {', '.join(DOMAINS)}")
    overrides = list(args.overrides)
    for flag, key in ((args.tasks, "tasks"), (args.model, "model"), (args.device, "device"),
                      (args.eval_benchmark, "eval.benchmark"), (args.data, "eval.data")):
        if flag is not None:
            if key == "tasks" and not Path(flag).is_file():
                raise UserError(f"{flag}: no such tasks file")
            overrides.append(f"{key}={json.dumps(flag)}")
    if args.model and not _model_exists(args.model):
        raise UserError(f"model {args.model!r}: no such local folder (and hub names cannot be fetched offline)")
    config = make_config(args.domain, args.preset, args.config, overrides)
    run_dir = args.run_dir or f"runs/{args.domain}{'-' + args.preset if args.preset else ''}"
    cache = None if args.no_cache else (args.cache or None)
    if cache is None and not args.no_cache:
        from codealign.sandbox.cache import default_cache_path

        cache = str(default_cache_path())
    stages = [s.strip() for s in args.stages.split(",")] if args.stages else None
    report = run_pipeline(config, run_dir, stages=stages, backend=args.backend, executor=args.executor,
                          workers=args.workers, cache=cache, quiet=args.quiet or args.json)
    if not (args.json or args.quiet) and "before" in report:
        b, a = report["before"], report["after"]
        print(f"pass@1 before {b['pass@1']:.3f} ± {b['se']:.3f}   after {a['pass@1']:.3f} ± {a['se']:.3f}   "
              f"(diff {report['diff']:+.3f} ± {report['diff_se']:.3f}, paired over {report['eval_tasks']} tasks)")
        print(f"report: {report['report_md']}")
    return report


def _model_exists(name: str) -> bool:
    if name == "codealign-tiny" or Path(name).is_dir():
        return True
    if os.environ.get("HF_HUB_OFFLINE") == "1" or "/" not in name:
        return False
    return True
