"""Benchmarks: each module reads its data, scores candidates (or the references, ``--oracle``) through the
executor and prints what it measured. Contract: ``add_arguments(parser)`` adds the benchmark's own flags,
``run(args) -> dict`` prints tables unless ``--json``/``--quiet`` and returns a JSON-able summary."""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any

from codealign.errors import UserError

LOADERS = {
    "verilogeval": ("codealign.domains.verilog.verilogeval", "load_verilogeval"),
    "rtllm": ("codealign.domains.verilog.rtllm", "load_rtllm"),
    "execrepobench": ("codealign.domains.python.execrepobench", "load_execrepobench"),
    "smartbugs": ("codealign.domains.solidity.smartbugs", "load_smartbugs"),
}


def load_benchmark(name: str, path: str):
    """The tasks of benchmark ``name`` read from ``path`` (what ``codealign run --eval NAME --data PATH`` uses)."""
    if name not in LOADERS:
        raise UserError(f"unknown benchmark {name!r}; choose one of: {', '.join(LOADERS)}")
    module, func = LOADERS[name]
    return getattr(importlib.import_module(module), func)(path)


def run_benchmark(name: str, **options: Any) -> dict:
    """Run benchmark ``name`` with the CLI's options given as keywords (``data=``, ``candidates=``,
    ``oracle=True``, ``no_cache=True``, ...); returns its summary. Tables are not printed."""
    from codealign.cli import build_parser

    argv = ["bench", name, "--quiet"]
    for key, value in options.items():
        flag = "--" + key.replace("_", "-")
        if value is True:
            argv.append(flag)
        elif value not in (None, False):
            argv += [flag, str(value)]
    args = build_parser().parse_args(argv)
    return args.func(args)


class _CallableModule(types.ModuleType):
    """``codealign.bench`` is both this package and the library call ``codealign.bench(name, **options)``."""

    def __call__(self, name: str, **options: Any) -> dict:
        return run_benchmark(name, **options)


sys.modules[__name__].__class__ = _CallableModule
