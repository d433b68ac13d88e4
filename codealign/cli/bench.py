"""``codealign bench NAME``: every benchmark of every registered domain, found through the domain registry
(:func:`codealign.bench.benchmarks`), with the same flags; a benchmark's variants and own options become
flags of its subcommand."""

from __future__ import annotations

import argparse
import sys

from codealign.cli.common import cache_path, execution_flags, option_flags, option_values, output_flags, quiet


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
        b.add_argument("--model", default=None, help="generate candidates with this model, then score")
        b.add_argument("--empty", action="store_true", help="score empty answers (a self-test: must pass 0 %%)")
        b.add_argument("--limit", type=int, default=None, help="only the first N problems")
        b.add_argument("--out", default=None, help="write the report JSON here")
        b.add_argument("--baseline", default=None, help="compare with an earlier report JSON")
        b.add_argument("--fail-under", type=float, default=None,
                       help="exit 1 when pass@1 falls below this fraction in [0, 1] (e.g. 0.4)")
        b.add_argument("--n", type=int, default=1, help="--model: samples per problem (default 1)")
        b.add_argument("--temperature", type=float, default=0.0, help="--model: sampling temperature")
        b.add_argument("--max-new-tokens", type=int, default=1024, help="--model: tokens per sample")
        if benchmark.variants:
            b.add_argument(f"--{benchmark.variant_flag}", dest="variant", choices=(*benchmark.variants, "all"),
                           default=None, help=f"which {benchmark.variant_flag} (default: {benchmark.variants[0]}; "
                                              "with --oracle: all)")
        option_flags(b, benchmark.options)
        option_flags(b, domain_class(domain).options)
        b.set_defaults(func=run, benchmark_options=benchmark.options, domain_options=domain_class(domain).options)


def run(args: argparse.Namespace) -> dict:
    from codealign import bench

    report = bench.run(
        args.name, data=args.data, candidates=args.candidates, oracle=args.oracle, empty=args.empty,
        model=args.model, limit=args.limit, variant=getattr(args, "variant", None), backend=args.backend,
        executor=args.executor, workers=args.workers, cache=cache_path(args), n=args.n,
        temperature=args.temperature, max_new_tokens=args.max_new_tokens, baseline=args.baseline,
        fail_under=args.fail_under, out=args.out, progress=not quiet(args), screen=args.screen,
        domain_options=option_values(args, args.domain_options), **option_values(args, args.benchmark_options))
    if not quiet(args):
        print(report.text)
    if report.failure:
        print(report.failure, file=sys.stderr)
    return {**report.to_dict(), "exit_code": report.exit_code}
