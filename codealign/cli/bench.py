"""``codealign bench NAME``: every benchmark of every registered domain, found through the domain registry
(:func:`codealign.bench.benchmarks`), with the same flags; a benchmark's variants and own options become
flags of its subcommand."""

from __future__ import annotations

import argparse
import sys

from codealign.cli.common import cache_path, execution_flags, option_flags, option_values, output_flags, quiet
from codealign.errors import UserError


def model_flags(b: argparse.ArgumentParser) -> None:
    """How ``--model`` is sampled: a local model (hf), vLLM, or a served model (an OpenAI-compatible server)."""
    from codealign.bench import BENCH_GENERATORS

    b.add_argument("--model", default=None,
                   help="generate candidates with this model, then score (hf: hub id or folder; openai: the name "
                        "the server serves)")
    b.add_argument("--generator", default="hf", choices=BENCH_GENERATORS,
                   help="--model: hf (local), vllm (GPU), openai (a served model at --base-url)")
    b.add_argument("--base-url", default=None,
                   help="openai: the server's URL, e.g. http://127.0.0.1:8000/v1 (vLLM's `vllm serve`)")
    b.add_argument("--chat", action="store_true", help="openai: use /v1/chat/completions (chat models)")
    b.add_argument("--api-key", default=None, help="openai: the server's key (default: $OPENAI_API_KEY)")
    b.add_argument("--greedy", action="store_true", help="--model: greedy decoding, one sample per problem")
    b.add_argument("--n", type=int, default=None, help="--model: samples per problem (default 1)")
    b.add_argument("--temperature", type=float, default=None, help="--model: sampling temperature (default 0)")
    b.add_argument("--max-new-tokens", type=int, default=1024, help="--model: tokens per sample")


def sampling_args(args: argparse.Namespace) -> dict:
    """The sampling fields of :class:`codealign.bench.BenchSettings` from the flags of :func:`model_flags`."""
    if args.greedy and ((args.n or 1) > 1 or args.temperature):
        raise UserError("--greedy samples once at temperature 0; leave out --n and --temperature")
    return {"model": args.model, "generator": args.generator, "base_url": args.base_url, "chat": args.chat,
            "api_key": args.api_key, "n": args.n or 1, "temperature": args.temperature or 0.0,
            "max_new_tokens": args.max_new_tokens}


def _ks(text: str) -> list[int]:
    try:
        ks = sorted({int(k) for k in text.split(",") if k.strip()})
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers such as 1,5,10, got {text!r}") from None
    if not ks or ks[0] < 1:
        raise argparse.ArgumentTypeError(f"expected positive integers such as 1,5,10, got {text!r}")
    return ks


def register(sub) -> None:
    from codealign.bench import benchmarks
    from codealign.domains import domain_class

    found = benchmarks()
    p = sub.add_parser("bench", help=f"benchmarks: {', '.join(found)}")
    bsub = p.add_subparsers(dest="name", required=True)
    for name, (domain, benchmark) in found.items():
        b = bsub.add_parser(name, help=f"{name} ({domain}): {benchmark.description}")
        output_flags(b)
        execution_flags(b)
        b.add_argument("--data", default=None, help=f"{benchmark.description}"
                       + ("; default: the bundled data" if benchmark.default_data else ""))
        b.add_argument("--candidates", default=None, help="JSONL of candidates (task_id, completion)")
        b.add_argument("--oracle", action="store_true", help="score the reference solutions (golden self-test)")
        b.add_argument("--no-screen", dest="screen", action="store_false", default=None,
                       help="--oracle: skip the test-strength screen (constant, all-X/Z, inverted designs)")
        b.add_argument("--empty", action="store_true", help="score empty answers (a self-test: must pass 0 %%)")
        b.add_argument("--limit", type=int, default=None, help="only the first N problems")
        b.add_argument("--out", default=None, help="write the report JSON here")
        b.add_argument("--baseline", default=None, help="compare with an earlier report JSON")
        b.add_argument("--fail-under", type=float, default=None,
                       help="exit 1 when pass@1 (smartbugs: macro F1) falls below this fraction in [0, 1] "
                            "(e.g. 0.4); a run that scores nothing exits 1 anyway")
        model_flags(b)
        b.add_argument("--k", type=_ks, default=None, metavar="K[,K...]",
                       help="the k of pass@k, comma-separated (default: 1,5,10, those every problem has samples for)")
        b.add_argument("--timeout", type=float, default=None, metavar="SECONDS",
                       help="seconds of wall time per job (default: the domain's limit)")
        if benchmark.variants:
            b.add_argument(f"--{benchmark.variant_flag}", dest="variant", choices=(*benchmark.variants, "all"),
                           default=None, help=f"which {benchmark.variant_flag} (default: {benchmark.variants[0]}; "
                                              "with --oracle: all)")
        option_flags(b, benchmark.options)
        option_flags(b, domain_class(domain).options)
        b.set_defaults(func=run, benchmark_options=benchmark.options, domain_options=domain_class(domain).options)


def run(args: argparse.Namespace) -> dict:
    from codealign import bench

    settings = bench.BenchSettings(
        data=args.data, candidates=args.candidates, oracle=args.oracle, empty=args.empty, limit=args.limit,
        variant=getattr(args, "variant", None), backend=args.backend, executor=args.executor, workers=args.workers,
        cache=cache_path(args), ks=args.k, timeout=args.timeout, **sampling_args(args), baseline=args.baseline,
        fail_under=args.fail_under, out=args.out, progress=not quiet(args), screen=args.screen,
        domain_options=option_values(args, args.domain_options))
    report = bench.run(args.name, settings, **option_values(args, args.benchmark_options))
    if not quiet(args):
        print(report.text)
    elif not args.json:
        print(report.line)
    if report.failure:
        print(report.failure, file=sys.stderr)
    return {**report.to_dict(), "exit_code": report.exit_code}
