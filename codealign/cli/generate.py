"""``codealign generate --model M --tasks T --n N --out C``: candidates sampled from a model."""

from __future__ import annotations

import argparse

from codealign.cli.common import output_flags, quiet
from codealign.errors import UserError


def register(sub) -> None:
    from codealign.generate import GENERATORS

    p = sub.add_parser("generate", help="sample candidates from a model")
    output_flags(p)
    p.add_argument("--tasks", required=True, help="tasks JSONL")
    p.add_argument("--out", required=True,
                   help="candidates JSONL to write; appended as tasks finish, and a rerun with the same settings "
                        "samples only the tasks it lacks")
    p.add_argument("--model", default=None,
                   help="hf/vllm: hub id, model folder or codealign-tiny (the default); openai: the name the "
                        "server serves (default: the one model its /v1/models lists)")
    p.add_argument("--generator", default="hf", choices=GENERATORS.names(), help="sampling backend")
    p.add_argument("--from-file", default=None, help="with --generator file: the candidates JSONL to replay")
    p.add_argument("--n", type=int, default=1, help="samples per task")
    p.add_argument("--temperature", type=float, default=0.8)
    p.add_argument("--top-p", type=float, default=0.95)
    p.add_argument("--max-new-tokens", type=int, default=512)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--stop", action="append", default=None,
                   help="stop string (repeatable; default: the stop sequences of the tasks' domain)")
    p.add_argument("--no-stop", action="store_true", help="no stop strings, not even the domain's")
    p.add_argument("--device", default="auto", help="hf: auto, cpu, cuda or mps")
    p.add_argument("--batch-size", type=int, default=32, help="hf: sequences per generate call")
    p.add_argument("--base-url", default="http://127.0.0.1:8000/v1", help="openai: server URL")
    p.add_argument("--chat", action="store_true", help="openai: use /v1/chat/completions (chat models)")
    p.add_argument("--api-key", default=None, help="openai: the server's key (default: $OPENAI_API_KEY)")
    p.add_argument("--concurrency", type=int, default=8, help="openai: requests in flight at once")
    p.add_argument("--retries", type=int, default=3,
                   help="openai: retries on connection errors, 429 and 5xx, with exponential backoff")
    p.add_argument("--system", default=None,
                   help="system message for chat models (hf/vllm: through the tokenizer's chat template; "
                        "openai: needs --chat)")
    p.add_argument("--raw-prompts", action="store_true", help="send prompts as they are (e.g. FIM prompts)")
    p.add_argument("--no-extract", action="store_true", help="keep raw answers (no code extraction)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> dict:
    from codealign.generate.command import generate_candidates, make_generator

    if args.no_stop and args.stop:
        raise UserError("--no-stop contradicts --stop; give one of them")
    model = args.model or ("" if args.generator == "openai" else "codealign-tiny")
    generator = make_generator(args.generator, model=model, tasks=args.tasks, from_file=args.from_file,
                               system=args.system, device=args.device, batch_size=args.batch_size,
                               raw_prompts=args.raw_prompts, base_url=args.base_url, chat=args.chat,
                               concurrency=args.concurrency, retries=args.retries, api_key=args.api_key)
    summary = generate_candidates(args.tasks, args.out, generator, n=args.n, extract=not args.no_extract,
                                  temperature=args.temperature, top_p=args.top_p,
                                  max_new_tokens=args.max_new_tokens, seed=args.seed,
                                  stop=[] if args.no_stop else args.stop, progress=not quiet(args))
    if not quiet(args):
        print(f"{summary['candidates']} candidates for {summary['tasks']} tasks -> {args.out} "
              f"(finish: {summary['finish_reasons']}; extraction failures: {summary['extraction_failures']})")
    return summary
