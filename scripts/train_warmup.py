"""Train a domain's SFT warm-up of codealign-tiny to its plateau and ship it in the package.

Builds ``codealign-tiny`` with the pipeline's default architecture (``PipelineConfig.tiny_model``) and
``--seed``, then trains SFT (the pipeline's ``sft`` settings for the domain: learning rate, batch size) on
(prompt, reference) of every task of the domain's bundled train split, in chunks of ``--chunk-steps`` optimizer
steps. Each chunk continues from the previous chunk's weights with a fresh cosine schedule (warm restarts), so
every chunk ends annealed and is measured as it would be shipped. After each chunk the held-out pass@1 is
measured the way ``codealign run`` measures it (``pipeline.evaluate_policy``: sampled, ``--n`` samples per task
and seed, the pipeline's evaluation temperature and token budget) on the domain's whole bundled held-out split,
with sampling seeds other than the run's ``eval.seeds``, so a run's ``eval_before`` is a fresh measurement.

Stops after two consecutive chunks each raise the best held-out pass@1 by less than ``--threshold``, or after
``--max-chunks``; the best chunk's model (weights, config, tokenizer; a few MB) and ``warmup.json`` (recipe,
per-chunk figures, command, date) go to ``--out``, by default the domain's ``resources/warmup`` folder, where
``codealign run <domain>`` picks it up (``sft.fresh=true`` retrains instead). Chunks already trained in
``--work`` are reused, so a killed run continues where it stopped.

Run: ``OMP_NUM_THREADS=2 nice -n 5 python scripts/train_warmup.py verilog`` (CPU; tens of minutes).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import shlex
import shutil
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "2")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SHIPPED = ("config.json", "generation_config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
           "special_tokens_map.json")
"""The files of a trained model that are shipped (training state and arguments are not)."""


def parse_args(argv=None) -> argparse.Namespace:
    from codealign.domains import domain_names

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                epilog="Stops at the plateau: two consecutive chunks each below --threshold.")
    p.add_argument("domain", choices=sorted(domain_names()), help="the domain whose bundled tasks are learned")
    p.add_argument("--seed", type=int, default=0, help="seed of the tiny model's weights and of SFT")
    p.add_argument("--out", default=None, help="where the best model goes (default: the domain's resources/warmup)")
    p.add_argument("--work", default=None, help="scratch run folder (default: runs/warmup-DOMAIN-sSEED)")
    p.add_argument("--chunk-steps", type=int, default=300, help="optimizer steps per chunk")
    p.add_argument("--max-chunks", type=int, default=8, help="stop after this many chunks at the latest")
    p.add_argument("--threshold", type=float, default=0.02,
                   help="a chunk that raises the best held-out pass@1 by less than this counts as flat")
    p.add_argument("--n", type=int, default=2, help="samples per held-out task and sampling seed")
    p.add_argument("--eval-seeds", type=int, nargs="+", default=[2001, 2002],
                   help="sampling seeds of the held-out measurement (not the run's eval.seeds)")
    p.add_argument("--eval-tasks", type=int, default=0, help="measure on the first N held-out tasks only (0: all)")
    p.add_argument("--device", default="cpu", help="cpu (default), cuda or auto")
    args = p.parse_args(argv)
    if args.chunk_steps < 1 or args.max_chunks < 1 or args.n < 1 or args.eval_tasks < 0:
        p.error("--chunk-steps, --max-chunks and --n must be >= 1, --eval-tasks >= 0")
    return args


def plateaued(scores: list[float], threshold: float) -> bool:
    """True when each of the last two chunks raised the best score before it by less than ``threshold``."""
    if len(scores) < 3:
        return False
    return all(scores[i] - max(scores[:i]) < threshold for i in (len(scores) - 2, len(scores) - 1))


def ship(model_dir: Path, out: Path, recipe: dict) -> None:
    """Replace ``out`` with the shipped files of ``model_dir`` plus ``warmup.json``, atomically."""
    from codealign.jsonl import atomic_dir

    with atomic_dir(out) as tmp:
        tmp.chmod(0o755)  # package data: readable by everyone, like the files copied in with the umask's mode
        for name in SHIPPED:
            if (model_dir / name).is_file():
                shutil.copyfile(model_dir / name, tmp / name)
        (tmp / "warmup.json").write_text(json.dumps(recipe, indent=2) + "\n")


def main(argv=None) -> dict:
    args = parse_args(argv)
    from codealign.domains import domain_class
    from codealign.pipeline import Run, evaluate_policy, make_config, reference_rows
    from codealign.train.sft import train_sft

    work = Path(args.work or f"runs/warmup-{args.domain}-s{args.seed}")
    out = Path(args.out) if args.out else domain_class(args.domain).warmup_folder()
    config = make_config(args.domain, overrides=[
        f"seed={args.seed}", f"device={args.device}", f"eval.n={args.n}", f"eval.seeds={args.eval_seeds}",
        "eval.train_tasks=0", "sft.fresh=true"])
    run = Run(config, work, quiet=True)
    rows = reference_rows(run, run.domain.demo_tasks("train"))
    heldout = run.domain.demo_tasks("heldout")[: args.eval_tasks or None]
    sft = config.sft
    print(f"{args.domain}: codealign-tiny {config.tiny_model}, seed {args.seed}; SFT on {len(rows)} train references "
          f"(lr {sft.learning_rate}, batch {sft.per_device_train_batch_size}, {args.chunk_steps} steps per chunk); "
          f"held-out pass@1 on {len(heldout)} tasks x {args.n} samples x seeds {args.eval_seeds}, "
          f"temperature {config.eval.temperature}", flush=True)
    header = f"{'chunk':>5} {'steps':>6} {'train loss':>10} {'held-out pass@1':>18} {'wall s':>8} {'load':>5}"
    print(header, flush=True)
    chunks: list[dict] = []
    model = run.start_model()
    for index in range(1, args.max_chunks + 1):
        folder = work / f"chunk{index}"
        done = folder / "chunk.json"
        if done.is_file():
            chunk = json.loads(done.read_text())
        else:
            t0 = time.monotonic()
            chunk_config = dataclasses.replace(
                sft, model=model, output_dir=str(folder), max_steps=args.chunk_steps, seed=args.seed + index - 1,
                save_steps=0, resume_from_checkpoint="never", report_tensorboard=False)
            result = train_sft(chunk_config, rows, quiet=True)
            scored = evaluate_policy(run, result.final_dir, heldout, f"chunk{index}")
            chunk = {"chunk": index, "steps": index * args.chunk_steps, "train_loss": result.train_loss,
                     "heldout_pass@1": scored["pass@1"], "se": scored["se"],
                     "compile_error_rate": scored["compile_error_rate"], "truncation_rate": scored["truncation_rate"],
                     "wall_s": round(time.monotonic() - t0, 1), "load_average": os.getloadavg()[0],
                     "model": result.final_dir}
            done.write_text(json.dumps(chunk, indent=2))
        chunks.append(chunk)
        model = chunk["model"]
        print(f"{chunk['chunk']:>5} {chunk['steps']:>6} {chunk['train_loss']:>10.4f} "
              f"{chunk['heldout_pass@1']:>10.3f} ± {chunk['se']:.3f} {chunk['wall_s']:>8.1f} "
              f"{chunk['load_average']:>5.1f}", flush=True)
        if plateaued([c["heldout_pass@1"] for c in chunks], args.threshold):
            stopped = f"plateau: chunks {index - 1} and {index} each gained < {args.threshold} over the best before"
            break
    else:
        stopped = f"max chunks ({args.max_chunks})"
    best = max(chunks, key=lambda c: c["heldout_pass@1"])
    recipe = {
        "domain": args.domain, "seed": args.seed, "tiny_model": config.tiny_model, "steps": best["steps"],
        "chunk_steps": args.chunk_steps, "learning_rate": sft.learning_rate,
        "batch_size": sft.per_device_train_batch_size, "lr_schedule": f"{sft.lr_scheduler_type}, restarted each chunk",
        "train_rows": len(rows), "heldout_pass@1": best["heldout_pass@1"], "heldout_se": best["se"],
        "eval": {"tasks": len(heldout), "n": args.n, "seeds": args.eval_seeds, "temperature": config.eval.temperature,
                 "max_new_tokens": config.sample.max_new_tokens},
        "threshold": args.threshold, "stopped": stopped, "best_chunk": best["chunk"],
        "chunks": [{k: v for k, v in c.items() if k != "model"} for c in chunks],
        "command": "OMP_NUM_THREADS={} python scripts/train_warmup.py {}".format(
            os.environ["OMP_NUM_THREADS"], shlex.join(argv if argv is not None else sys.argv[1:])),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    ship(Path(best["model"]), out, recipe)
    size = sum(p.stat().st_size for p in out.iterdir())
    print(f"stopped: {stopped}; shipped chunk {best['chunk']} ({best['steps']} steps, held-out pass@1 "
          f"{best['heldout_pass@1']:.3f} ± {best['se']:.3f}) to {out} ({size / 1e6:.1f} MB)", flush=True)
    return recipe


if __name__ == "__main__":
    main()
