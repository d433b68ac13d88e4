"""The ``codealign`` command: one argparse program, one subcommand per stage.

Every subcommand accepts ``--json`` (exactly one JSON object on stdout, logs on stderr) and ``--quiet``.
User errors print one line (``codealign: error: ...``) and exit 2, without a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import sys
from typing import Any, Callable

from codealign.errors import UserError

BENCHMARKS = {
    "verilogeval": "codealign.domains.verilog.verilogeval",
    "rtllm": "codealign.domains.verilog.rtllm",
    "execrepobench": "codealign.domains.python.execrepobench",
    "smartbugs": "codealign.domains.solidity.smartbugs",
    "ladder": "codealign.bench.ladder",
}


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print exactly one JSON summary object on stdout")
    p.add_argument("--quiet", action="store_true", help="no progress bars or tables")


def _exec_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--backend", default="auto", choices=["auto", "process", "bwrap", "docker"],
                   help="sandbox isolation (auto: bwrap where it works, else process)")
    p.add_argument("--executor", default="local", choices=["local", "ray"], help="where jobs run")
    p.add_argument("--workers", type=int, default=None, help="parallel jobs (default: all cores)")
    p.add_argument("--cache", default=None, help="verdict cache file (default: ~/.cache/codealign/verdicts.sqlite)")
    p.add_argument("--no-cache", action="store_true", help="do not read or write the verdict cache")


def _lazy(module: str, func: str = "run") -> Callable[[argparse.Namespace], Any]:
    def call(args: argparse.Namespace) -> Any:
        return getattr(importlib.import_module(module), func)(args)

    return call


def _cache_arg(args: argparse.Namespace):
    if getattr(args, "no_cache", False):
        return None
    from codealign.sandbox.cache import VerdictCache

    return VerdictCache(args.cache)


# -- subcommands implemented here ---------------------------------------------------------------------------
def cmd_execute(args: argparse.Namespace) -> dict:
    from collections import Counter

    from codealign.execution.executor import execute_files

    results = execute_files(args.domain, args.tasks, args.candidates, args.out, backend=args.backend,
                            executor=args.executor, workers=args.workers, cache=_cache_arg(args),
                            progress=not (args.quiet or args.json))
    counts = Counter(r.verdict.value for r in results)
    summary = {"out": args.out, "candidates": len(results), "verdicts": dict(counts),
               "cached": sum(r.cached for r in results),
               "mean_score": round(sum(r.score for r in results) / max(1, len(results)), 4)}
    if not (args.json or args.quiet):
        print(f"{len(results)} verdicts -> {args.out}")
        for verdict, n in counts.most_common():
            print(f"  {verdict:<14} {n}")
    return summary


def cmd_cache(args: argparse.Namespace) -> dict:
    from codealign.sandbox.cache import VerdictCache

    cache = VerdictCache(args.cache)
    if args.action == "stats":
        stats = cache.stats()
        if not (args.json or args.quiet):
            print(f"{stats['path']}: {stats['entries']} verdicts, {stats['bytes'] / 1e6:.1f} MB")
            for dom, n in sorted(stats["by_domain"].items()):
                print(f"  {dom:<10} {n}")
        return stats
    removed = cache.prune(older_than_days=args.older_than_days, domain=args.domain)
    if not (args.json or args.quiet):
        print(f"removed {removed} verdicts from {cache.path}")
    return {"removed": removed, "path": str(cache.path)}


def cmd_bench(args: argparse.Namespace) -> Any:
    return importlib.import_module(BENCHMARKS[args.name]).run(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="codealign", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("doctor", help="toolchains, versions, live checks, isolation in effect")
    _common(p)
    p.add_argument("--backend", default="auto", choices=["auto", "process", "bwrap", "docker"])
    p.add_argument("--install-solc", metavar="VERSION", action="append", default=[],
                   help="install a solc-js version (npm) for Solidity contracts with that pragma")
    p.add_argument("--install-solc-defaults", action="store_true",
                   help="install the solc-js versions the tests and benchmarks need")
    p.set_defaults(func=_lazy("codealign.doctor"))

    p = sub.add_parser("tasks", help="procedural tasks")
    tsub = p.add_subparsers(dest="tasks_command", required=True)
    g = tsub.add_parser("generate", help="write procedural Verilog tasks as JSONL")
    _common(g)
    _add_module_args(g, "codealign.domains.verilog.tasks")
    g.set_defaults(func=_lazy("codealign.domains.verilog.tasks"))

    p = sub.add_parser("generate", help="sample candidates from a model")
    _common(p)
    _add_module_args(p, "codealign.generate.command")
    p.set_defaults(func=_lazy("codealign.generate.command"))

    p = sub.add_parser("execute", help="run candidates in the sandbox: tasks + candidates -> verdicts")
    _common(p)
    _exec_flags(p)
    p.add_argument("--domain", required=True, help="verilog, python, solidity or ladder")
    p.add_argument("--tasks", required=True, help="tasks JSONL")
    p.add_argument("--candidates", required=True, help="candidates JSONL (task_id, completion)")
    p.add_argument("--out", required=True, help="verdicts JSONL to write")
    p.set_defaults(func=cmd_execute)

    p = sub.add_parser("pairs", help="build preference pairs (+ curriculum stages) from verdicts")
    _common(p)
    _add_module_args(p, "codealign.pairs.command")
    p.set_defaults(func=_lazy("codealign.pairs.command"))

    p = sub.add_parser("train", help="SFT or DPO training")
    tsub = p.add_subparsers(dest="train_command", required=True)
    for kind, module in (("sft", "codealign.train.sft_command"), ("dpo", "codealign.train.dpo_command")):
        t = tsub.add_parser(kind, help=f"{kind.upper()} training from a YAML config with key=value overrides")
        _common(t)
        _add_module_args(t, module)
        t.set_defaults(func=_lazy(module))

    p = sub.add_parser("bench", help="benchmarks: verilogeval, rtllm, execrepobench, smartbugs, ladder")
    bsub = p.add_subparsers(dest="name", required=True)
    for name, module in BENCHMARKS.items():
        b = bsub.add_parser(name, help=f"the {name} benchmark")
        _common(b)
        _exec_flags(b)
        b.add_argument("--data", default=None, help="benchmark data (file or folder); default: bundled demo")
        b.add_argument("--candidates", default=None, help="JSONL of candidates (task_id, completion)")
        b.add_argument("--oracle", action="store_true", help="score the reference solutions (golden self-test)")
        b.add_argument("--model", default=None, help="generate candidates with this model, then score")
        b.add_argument("--out", default=None, help="write the report JSON here")
        b.add_argument("--baseline", default=None, help="compare with an earlier report JSON")
        b.add_argument("--fail-under", type=float, default=None, help="exit 1 when pass@1 falls below this")
        _add_module_args(b, module)
        b.set_defaults(func=cmd_bench)

    p = sub.add_parser("run", help="the whole loop for a domain, resumable")
    _common(p)
    _exec_flags(p)
    _add_module_args(p, "codealign.pipeline")
    p.set_defaults(func=_lazy("codealign.pipeline"))

    p = sub.add_parser("data", help="training-corpus construction")
    dsub = p.add_subparsers(dest="data_command", required=True)
    f = dsub.add_parser("fim", help="SynthCoder FIM examples with cross-file context from a repository")
    _common(f)
    _add_module_args(f, "codealign.data.command")
    f.set_defaults(func=_lazy("codealign.data.command"))

    p = sub.add_parser("reward", help="scorers for online RL")
    rsub = p.add_subparsers(dest="reward_command", required=True)
    r = rsub.add_parser("serve", help="HTTP reward endpoint for OpenRLHF's --remote_rm_url")
    _common(r)
    _add_module_args(r, "codealign.reward")
    r.set_defaults(func=_lazy("codealign.reward"))

    p = sub.add_parser("cache", help="the verdict cache")
    _common(p)
    p.add_argument("action", choices=["stats", "prune"])
    p.add_argument("--cache", default=None, help="cache file (default: ~/.cache/codealign/verdicts.sqlite)")
    p.add_argument("--older-than-days", type=float, default=None, help="prune: only entries older than this")
    p.add_argument("--domain", default=None, help="prune: only this domain")
    p.set_defaults(func=cmd_cache)
    return parser


def _add_module_args(p: argparse.ArgumentParser, module: str) -> None:
    """Let a stage module declare its own flags (``add_arguments``); absent modules add none."""
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name and module.startswith(exc.name):
            return
        raise
    if hasattr(mod, "add_arguments"):
        mod.add_arguments(p)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    # key=value overrides may follow options (argparse stops collecting positionals at the first option).
    stray = [a for a in extra if a.startswith("-") or "=" not in a]
    if stray or (extra and not hasattr(args, "overrides")):
        parser.error(f"unrecognized arguments: {' '.join(stray or extra)}")
    if extra:
        args.overrides = list(args.overrides or []) + extra
    if getattr(args, "json", False) or getattr(args, "quiet", False):
        os.environ.setdefault("TQDM_DISABLE", "1")
    try:
        if getattr(args, "json", False):
            # Libraries print to stdout (trainer metrics, progress); with --json stdout holds one object only.
            with contextlib.redirect_stdout(sys.stderr):
                summary = args.func(args)
        else:
            summary = args.func(args)
    except UserError as exc:
        print(f"codealign: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("codealign: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    code = 0
    if isinstance(summary, dict):
        code = int(summary.pop("exit_code", 0) or 0)
    elif isinstance(summary, int):
        code, summary = summary, None
    if getattr(args, "json", False) and summary is not None:
        try:
            print(json.dumps(summary, default=str))
        except BrokenPipeError:
            pass
    return code


if __name__ == "__main__":
    sys.exit(main())
