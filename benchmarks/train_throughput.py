"""DPO training throughput: what codealign's additions cost over plain TRL, and what the reference cache saves.

Two ratios, each the median of ``--repeats`` interleaved repeats (A, B, A, B, ...) on the same pairs, with
the collapse monitor off:

1. step time of ``CodeAlignDPOTrainer`` (per-pair weights on, non-uniform weights) / plain TRL ``DPOTrainer``
   (target <= 1.05); the edit-focused + NLL objective is timed as well, for information;
2. wall time of a stage whose reference log-probs are recomputed / the same stage on resume with them read
   from the on-disk cache (target >= 1.15). A stage = trainer construction (incl. the reference pass when
   not cached) + training.

Run: ``OMP_NUM_THREADS=1 python benchmarks/train_throughput.py [--repeats 5] [--steps 20] [--out FILE]``
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("TQDM_DISABLE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

BODIES = [
    ("assign y = a & b;", "assign y = a | b;"),
    ("assign y = ~a;", "assign y = a;"),
    ("always @(posedge clk) if (rst) q <= 0; else q <= d;", "always @(posedge clk) if (!rst) q <= 0; else q <= d;"),
    ("assign y = sel ? b : a;", "assign y = sel ? a : b;"),
    ("assign sum = a + b;", "assign sum = a - b;"),
    ("always @(posedge clk) count <= count + 1;", "always @(posedge clk) count = count + 1;"),
]


def make_pairs(n: int):
    from codealign.types import Pair

    pairs = []
    for i in range(n):
        good, bad = BODIES[i % len(BODIES)]
        prompt = (f"// Task {i}: implement the module below.\nmodule top_{i}(input clk, input rst, input a, input b, "
                  f"input sel, input d, output reg q, output y, output [3:0] sum, output reg [7:0] count);")
        tail = "\n  // done\nendmodule\n"
        pairs.append(Pair(prompt=prompt, chosen=f"\n  {good}{tail}", rejected=f"\n  {bad}{tail}", task_id=f"t{i}",
                          weight=0.5 + (i % 4) * 0.25))
    return pairs


class StepTimer:
    """Trainer callback recording the wall time of each optimizer step."""

    def __init__(self):
        from transformers import TrainerCallback

        times = self.times = []

        class _Timer(TrainerCallback):
            def on_step_begin(self, args, state, control, **kwargs):
                self.t0 = time.perf_counter()

            def on_step_end(self, args, state, control, **kwargs):
                times.append(time.perf_counter() - self.t0)

        self.callback = _Timer()


def formatted_rows(pairs, config):
    from codealign.train.dpo import pair_rows
    from codealign.train.models import load_tokenizer

    return pair_rows(pairs, config, load_tokenizer(config.model))


def plain_trl_trainer(config, pairs, stage_dir, callbacks):
    from datasets import Dataset
    from transformers.trainer_callback import PrinterCallback
    from trl import DPOTrainer

    from codealign.train.dpo import _dpo_args
    from codealign.train.models import load_tokenizer

    rows = [{k: r[k] for k in ("prompt", "chosen", "rejected")} for r in formatted_rows(pairs, config)]
    trainer = DPOTrainer(config.model, args=_dpo_args(config, stage_dir), train_dataset=Dataset.from_list(rows),
                         processing_class=load_tokenizer(config.model), callbacks=callbacks)
    trainer.remove_callback(PrinterCallback)
    return trainer


def step_time(kind: str, config, pairs, work: Path) -> float:
    """Median step time (s) of one run of ``kind`` over ``config.max_steps`` steps, the first step excluded."""
    from codealign.train.dpo import build_trainer

    timer = StepTimer()
    stage_dir = work / f"{kind}-{time.monotonic_ns()}"
    if kind == "trl":
        trainer = plain_trl_trainer(config, pairs, stage_dir, [timer.callback])
    else:
        trainer = build_trainer(config, formatted_rows(pairs, config), config.model, stage_dir,
                                callbacks=[timer.callback], quiet=True)
    trainer.train()
    shutil.rmtree(stage_dir, ignore_errors=True)
    return statistics.median(timer.times[1:])


def stage_time(config, pairs, work: Path, cached: bool) -> tuple[float, bool]:
    """Wall time of building the stage's trainer (reference pass included) and training it."""
    from codealign.train.dpo import build_trainer

    cache = Path(config.output_dir) / "ref_cache"
    if not cached:
        shutil.rmtree(cache, ignore_errors=True)
    stage_dir = work / f"stage-{time.monotonic_ns()}"
    t0 = time.perf_counter()
    trainer = build_trainer(config, formatted_rows(pairs, config), config.model, stage_dir, quiet=True)
    trainer.train()
    elapsed = time.perf_counter() - t0
    shutil.rmtree(stage_dir, ignore_errors=True)
    return elapsed, bool(trainer.ref_cache_hit)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--steps", type=int, default=20, help="optimizer steps per timed run")
    parser.add_argument("--pairs", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--model", default=None, help="model folder (default: build the tiny model)")
    parser.add_argument("--out", default=None, help="write the JSON result here")
    args = parser.parse_args(argv)
    if args.repeats < 5:
        parser.error("--repeats must be >= 5 (medians of fewer repeats are too noisy to report)")

    from codealign.train.device import configure_threads
    from codealign.train.dpo import DPORunConfig
    from codealign.train.models import build_tiny_model

    configure_threads("cpu")
    work = Path(tempfile.mkdtemp(prefix="codealign-throughput-"))
    try:
        model = args.model or str(build_tiny_model(work / "tiny"))
        pairs = make_pairs(args.pairs)
        common = dict(model=model, output_dir=str(work / "run"), learning_rate=1e-5, device="cpu",
                      per_device_train_batch_size=args.batch_size, report_tensorboard=False, monitor=False,
                      save_steps=10**6)
        steps_cfg = DPORunConfig(max_steps=args.steps, **common)
        objective_cfg = DPORunConfig(max_steps=args.steps, edit_focus=True, nll_alpha=1.0, **common)
        # one pass over the pairs: the cost a resumed stage pays (or saves) for its reference log-probs
        stage_cfg = DPORunConfig(max_steps=-1, num_train_epochs=1, precompute_ref_log_probs=True, **common)

        step_times: dict[str, list[float]] = {"trl": [], "codealign": [], "codealign+edit+nll": []}
        stage_times: dict[str, list[float]] = {"recompute": [], "cached": []}
        stage_time(stage_cfg, pairs, work, cached=False)  # warm-up: imports, allocator, first cache file
        for r in range(args.repeats):
            step_times["trl"].append(step_time("trl", steps_cfg, pairs, work))
            step_times["codealign"].append(step_time("codealign", steps_cfg, pairs, work))
            step_times["codealign+edit+nll"].append(step_time("codealign", objective_cfg, pairs, work))
            recompute, hit = stage_time(stage_cfg, pairs, work, cached=False)
            assert not hit
            stage_times["recompute"].append(recompute)
            cached, hit = stage_time(stage_cfg, pairs, work, cached=True)
            assert hit, "the reference cache was not used on the second run"
            stage_times["cached"].append(cached)
            print(f"repeat {r + 1}/{args.repeats}: step trl {step_times['trl'][-1] * 1e3:.1f} ms, codealign "
                  f"{step_times['codealign'][-1] * 1e3:.1f} ms; stage recompute {recompute:.2f} s, cached {cached:.2f} s",
                  file=sys.stderr)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    med = {k: statistics.median(v) for k, v in {**step_times, **stage_times}.items()}
    result = {
        "repeats": args.repeats, "steps": args.steps, "pairs": args.pairs, "batch_size": args.batch_size,
        "threads": int(os.environ.get("OMP_NUM_THREADS", "1")), "load_average_1m": os.getloadavg()[0],
        "median_step_s": {k: round(med[k], 5) for k in step_times},
        "median_stage_s": {k: round(med[k], 4) for k in stage_times},
        "codealign_vs_trl_step": round(med["codealign"] / med["trl"], 4),
        "edit_nll_vs_trl_step": round(med["codealign+edit+nll"] / med["trl"], 4),
        "recompute_vs_cached_stage": round(med["recompute"] / med["cached"], 4),
        "targets": {"codealign_vs_trl_step": "<= 1.05", "recompute_vs_cached_stage": ">= 1.15"},
        "raw": {**step_times, **stage_times},
    }
    print(f"DPO step, median of {args.repeats} interleaved repeats ({args.steps} steps, batch {args.batch_size}):")
    for k in step_times:
        print(f"  {k:<20} {med[k] * 1e3:8.2f} ms")
    print(f"  codealign / TRL         {result['codealign_vs_trl_step']:.3f}x   (target <= 1.05)")
    print(f"  edit+nll / TRL          {result['edit_nll_vs_trl_step']:.3f}x   (for information)")
    print(f"stage of {args.pairs} pairs, one epoch, reference log-probs precomputed:")
    print(f"  recompute            {med['recompute']:8.2f} s")
    print(f"  cached (resume)      {med['cached']:8.2f} s")
    print(f"  recompute / cached      {result['recompute_vs_cached_stage']:.3f}x   (target >= 1.15)")
    print(f"load average (1 min) at the end: {result['load_average_1m']:.1f}")
    print("reproduce: OMP_NUM_THREADS=1 python benchmarks/train_throughput.py " + " ".join(argv or sys.argv[1:]))
    if args.out:
        from codealign.jsonl import write_text_atomic

        write_text_atomic(args.out, json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
