"""Benchmarks: each module reads its data, scores candidates (or the references, ``--oracle``) through the
executor and prints what it measured. Contract: ``add_arguments(parser)`` adds the benchmark's own flags,
``run(args) -> dict`` prints tables unless ``--json``/``--quiet`` and returns a JSON-able summary."""

from __future__ import annotations

import importlib

from codealign.errors import UserError

LOADERS = {
    "verilogeval": ("codealign.bench.verilogeval", "load_verilogeval"),
    "rtllm": ("codealign.bench.rtllm", "load_rtllm"),
    "execrepobench": ("codealign.bench.execrepobench", "load_execrepobench"),
    "smartbugs": ("codealign.bench.smartbugs", "load_smartbugs"),
}


def load_benchmark(name: str, path: str):
    """The tasks of benchmark ``name`` read from ``path`` (what ``codealign run --eval NAME --data PATH`` uses)."""
    if name not in LOADERS:
        raise UserError(f"unknown benchmark {name!r}; choose one of: {', '.join(LOADERS)}")
    module, func = LOADERS[name]
    return getattr(importlib.import_module(module), func)(path)
