"""``codealign generate --model M --tasks T --n N --out C``: sample candidates for every task, extract the code
and record what extraction did, and write the candidates as JSONL."""

from __future__ import annotations

import argparse
import collections
from typing import Any


def add_arguments(p: argparse.ArgumentParser) -> None:
    from codealign.generate import GENERATORS

    p.add_argument("--tasks", required=True, help="tasks JSONL")
    p.add_argument("--out", required=True, help="candidates JSONL to write")
    p.add_argument("--model", default="codealign-tiny", help="hub id, model folder, codealign-tiny, or served name")
    p.add_argument("--generator", default="hf", choices=GENERATORS, help="sampling backend")
    p.add_argument("--from-file", default=None, help="with --generator file: the candidates JSONL to replay")
    p.add_argument("--n", type=int, default=1, help="samples per task")
    p.add_argument("--temperature", type=float, default=0.8)
    p.add_argument("--top-p", type=float, default=0.95)
    p.add_argument("--max-new-tokens", type=int, default=512)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--stop", action="append", default=None, help="stop string (repeatable)")
    p.add_argument("--device", default="auto", help="hf: auto, cpu, cuda or mps")
    p.add_argument("--batch-size", type=int, default=32, help="hf: sequences per generate call")
    p.add_argument("--base-url", default="http://127.0.0.1:8000/v1", help="openai: server URL")
    p.add_argument("--system", default=None, help="system message for chat models")
    p.add_argument("--raw-prompts", action="store_true", help="send prompts as they are (e.g. FIM prompts)")
    p.add_argument("--no-extract", action="store_true", help="keep raw answers (no code extraction)")


def _generator(args: argparse.Namespace):
    from codealign.errors import UserError
    from codealign.generate import get_generator

    if args.generator == "file":
        if not args.from_file:
            raise UserError("--generator file needs --from-file CANDIDATES.jsonl")
        return get_generator("file", path=args.from_file, tasks=args.tasks)
    options: dict[str, Any] = {"model": args.model, "system": args.system}
    if args.generator == "hf":
        options.update(device=args.device, batch_size=args.batch_size, raw_prompts=args.raw_prompts)
    elif args.generator == "vllm":
        options.update(raw_prompts=args.raw_prompts)
    elif args.generator == "openai":
        options.update(base_url=args.base_url)
    return get_generator(args.generator, **options)


def run(args: argparse.Namespace) -> dict:
    from codealign.generate import generate_to_file
    from codealign.jsonl import read_jsonl
    from codealign.types import Task

    tasks = read_jsonl(args.tasks, Task.from_dict)
    candidates = generate_to_file(
        _generator(args), tasks, args.n, args.out, extract=not args.no_extract, temperature=args.temperature,
        top_p=args.top_p, max_new_tokens=args.max_new_tokens, seed=args.seed, stop=args.stop,
    )
    finish = collections.Counter(c.metadata.get("finish_reason", "?") for c in candidates)
    failed = sum(1 for c in candidates if not c.metadata.get("extraction", {}).get("ok", True))
    summary = {"tasks": len(tasks), "candidates": len(candidates), "out": args.out,
               "finish_reasons": dict(finish), "extraction_failures": failed}
    if not (args.json or args.quiet):
        print(f"{len(candidates)} candidates for {len(tasks)} tasks -> {args.out} "
              f"(finish: {dict(finish)}; extraction failures: {failed})")
    return summary
