"""GPU smoke test (not part of CI): a bf16 LoRA DPO run and sampling on one CUDA GPU.

Checks that on a real GPU: the policy loads in bf16, LoRA DPO steps run with the code-aware objectives and
per-pair weights, the loss is finite and the chosen-vs-rejected margin moves, the adapter merges into the
saved policy, and ``HFGenerator`` samples from it. Prints one JSON summary (GPU, step time, peak memory,
sampling throughput). Exits 2 when no CUDA GPU is visible.

Run: ``python benchmarks/gpu_smoke.py [--model PATH] [--steps 8] [--out FILE]`` (default model: the tiny model,
built offline; pass a local folder of a real model to smoke-test at size).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TQDM_DISABLE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

FIXES = [
    ("assign y = ~a;", "assign y = a;"),
    ("assign y = a & b;", "assign y = a | b;"),
    ("always @(posedge clk) q <= d;", "always @(posedge clk) q = d;"),
    ("assign y = sel ? b : a;", "assign y = sel ? a : b;"),
]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="local model folder (default: build the tiny model)")
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--out", default=None, help="write the JSON summary here")
    args = parser.parse_args(argv)

    import torch

    if not torch.cuda.is_available():
        print("gpu_smoke: no CUDA GPU visible", file=sys.stderr)
        return 2

    from codealign.generate import SamplingParams
    from codealign.generate.hf import HFGenerator
    from codealign.train.dpo import DPORunConfig, train_dpo
    from codealign.train.models import build_tiny_model
    from codealign.types import Pair

    work = Path(tempfile.mkdtemp(prefix="codealign-gpu-smoke-"))
    model = args.model or str(build_tiny_model(work / "tiny"))
    pairs = [
        Pair(prompt=f"// Task {i}: write the module body.\nmodule top(input clk, input a, input b, input sel, "
                    f"input d, output reg q, output y);",
             chosen=f"\n  {good}\nendmodule\n", rejected=f"\n  {bad}\nendmodule\n", task_id=f"t{i}",
             weight=1.0 if i % 2 else 0.5)
        for i, (good, bad) in enumerate(FIXES * 4)
    ]
    config = DPORunConfig(
        model=model, output_dir=str(work / "run"), device="cuda", lora_r=8, lora_alpha=16, learning_rate=5e-4,
        max_steps=args.steps, per_device_train_batch_size=4, edit_focus=True, nll_alpha=0.5, dpop_lambda=1.0,
        report_tensorboard=False, trl={"model_init_kwargs": {"dtype": "bfloat16"}},
    )
    torch.cuda.reset_peak_memory_stats()
    seen = {}

    def inspect(trainer):
        seen["dtype"] = str(next(trainer.model.get_base_model().parameters()).dtype)
        seen["bf16"] = bool(trainer.args.bf16)

    started = time.perf_counter()
    result = train_dpo(config, pairs, on_trainer=inspect, quiet=True)
    train_s = time.perf_counter() - started
    stage = result.stages[0]
    logs = stage.last_log

    generator = HFGenerator(result.final_model, device="cuda", dtype=torch.bfloat16, batch_size=32)
    params = SamplingParams(temperature=0.8, max_new_tokens=64, seed=0)
    started = time.perf_counter()
    samples = generator.sample([p.prompt for p in pairs[:4]], n=8, params=params)
    torch.cuda.synchronize()
    sample_s = time.perf_counter() - started
    tokens = sum(s.num_tokens for row in samples for s in row)

    summary = {
        "gpu": torch.cuda.get_device_name(0),
        "model": model,
        "policy_dtype": seen.get("dtype"),
        "bf16": seen.get("bf16"),
        "steps": stage.steps,
        "train_seconds": round(train_s, 2),
        "seconds_per_step": round(stage.train_seconds / max(1, stage.steps), 4),
        "final_loss": logs.get("loss"),
        "final_margin": logs.get("rewards/margins"),
        "peak_memory_gb": round(torch.cuda.max_memory_allocated() / 2**30, 3),
        "samples": sum(len(row) for row in samples),
        "sampled_tokens": tokens,
        "sampling_tokens_per_s": round(tokens / sample_s, 1),
        "merged_policy": result.final_model,
    }
    ok = (stage.steps == args.steps and summary["policy_dtype"] == "torch.bfloat16" and summary["bf16"]
          and logs.get("loss") is not None and math.isfinite(logs["loss"]) and summary["samples"] == 32)
    summary["ok"] = ok
    print(json.dumps(summary, indent=2))
    if args.out:
        Path(args.out).write_text(json.dumps(summary, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
