"""Benchmarks: each module reads its data, scores candidates (or the references, ``--oracle``) through the
executor and prints what it measured. Contract: ``add_arguments(parser)`` adds the benchmark's own flags,
``run(args) -> dict`` prints tables unless ``--json``/``--quiet`` and returns a JSON-able summary."""
