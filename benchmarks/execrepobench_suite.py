"""(Re)builds an ExecRepoBench-format suite from a folder of repositories, deterministically.

For every repository under ``<root>/repos`` (sorted) and every non-test Python file, spans of the six
ExecRepoBench fill types are drawn with :func:`codealign.data.spans.sample_spans` (seed per file). The
repository unchanged must pass its own tests (the oracle of every row: a failing repository is an error).
Each span is then run with an empty middle through the Python domain; only spans the tests notice (the
empty middle does not pass) are kept. Spans whose empty middle still compiles come first (the tests, not the
parser, notice them), then those whose empty middle makes no test run into its deadline; then
``keep_per_kind`` rows per fill type are taken round-robin over repositories.
``context_code`` is the cross-file context of :class:`codealign.data.corpus.ContextBuilder` (call graph
first, then BM25), as plain ``# path`` blocks. Writes ``<root>/suite.jsonl`` atomically.

Run: ``.venv/bin/python benchmarks/execrepobench_suite.py [--root DIR] [--seed N] [--keep-per-kind K]``
(prints what it drew, noticed and kept).
"""

from __future__ import annotations

import argparse
import sys

import random
from collections import defaultdict
from pathlib import Path

from codealign.domains.python.execrepobench import BUNDLED, Repo, load_repo, make_task
from codealign.fim import FILL_TYPES
from codealign.data.corpus import ContextBuilder, CorpusConfig
from codealign.data.spans import Source, cut, sample_spans
from codealign.errors import UserError
from codealign.jsonl import write_jsonl
from codealign.types import Candidate, Verdict


def candidate_rows(repo: Repo, *, seed: int, per_kind: int) -> list[dict]:
    """Suite rows for every span drawn from ``repo``'s source files (before the empty-middle check)."""
    sources = {rel: Source(text, "python", f"{repo.name}/{rel}") for rel, text in sorted(repo.files.items())
               if rel.endswith(".py") and rel != "evaluate_repo.py"}
    contexts = ContextBuilder(sources, CorpusConfig(context_tokens=512, seed=seed))
    kinds = tuple(FILL_TYPES.values())
    fill_of = {kind: fill for fill, kind in FILL_TYPES.items()}
    rows = []
    for rel, source in sources.items():
        rng = random.Random(f"{seed}:{repo.name}:{rel}")
        for span in sample_spans(source, rng, per_kind=per_kind, kinds=kinds):
            prefix, middle, suffix = cut(source.text, span, rel)
            if not middle.strip():
                continue
            context = "".join(f"# {p}\n{t}\n" for p, t, _ in contexts.build(rel, prefix, suffix))
            rows.append({"task_id": f"{repo.name}/{rel}:{span.kind}:{span.start}-{span.end}",
                         "repo_name": repo.name, "file_name": rel, "prefix_code": prefix, "middle_code": middle,
                         "suffix_code": suffix, "fill_type": fill_of[span.kind], "context_code": context})
    return rows


def build_suite(root: str | Path = BUNDLED, *, seed: int = 0, per_kind: int = 3, keep_per_kind: int = 12,
                backend: str = "auto", workers: int | None = None, progress: bool = True) -> dict:
    from codealign.domains import get_domain
    from codealign.execution.executor import execute

    root = Path(root)
    repos_dir = root / "repos"
    if not repos_dir.is_dir():
        raise UserError(f"{repos_dir}: repositories folder not found")
    domain = get_domain("python")
    repos = [load_repo(d, d.name) for d in sorted(repos_dir.iterdir()) if d.is_dir()]
    if not repos:
        raise UserError(f"{repos_dir}: no repositories")
    rows = [row for repo in repos for row in candidate_rows(repo, seed=seed, per_kind=per_kind)]
    by_repo = {r.name: r for r in repos}
    tasks = [make_task(row["task_id"], by_repo[row["repo_name"]], row, row["fill_type"]) for row in rows]

    first_row = {}
    for row, task in zip(rows, tasks):
        first_row.setdefault(row["repo_name"], (row, task))
    oracle = execute(domain, [t for _, t in first_row.values()],
                     [Candidate(t.task_id, r["middle_code"]) for r, t in first_row.values()],
                     backend=backend, workers=workers, progress=progress)
    broken = [r.task_id.split("/")[0] for r in oracle if not r.passed]
    if broken:
        raise UserError(f"repositories whose own tests fail unchanged: {', '.join(broken)}")

    empty = execute(domain, tasks, [Candidate(t.task_id, "") for t in tasks], backend=backend, workers=workers,
                    progress=progress)
    errors = [r for r in empty if r.verdict is Verdict.SANDBOX_ERROR]
    if errors:
        raise UserError(f"{len(errors)} empty-middle runs hit a sandbox error, e.g. {errors[0].details.get('error')}")
    noticed = defaultdict(lambda: defaultdict(list))
    for row, result in zip(rows, empty):
        if not result.passed:
            row["empty_verdict"] = result.verdict.value
            row["empty_timeouts"] = sum(1 for t in result.details.get("tests", []) if t["outcome"] == "timeout")
            noticed[row["fill_type"]][row["repo_name"]].append(row)
    chosen = []
    rng = random.Random(seed)
    for fill in FILL_TYPES:
        queues = []
        for repo in sorted(noticed[fill]):
            group = noticed[fill][repo]
            rng.shuffle(group)
            group.sort(key=lambda r: (r["empty_verdict"] == Verdict.COMPILE_ERROR.value, r["empty_timeouts"] > 0))
            queues.append(group)
        taken = 0
        while taken < keep_per_kind and any(queues):
            for q in queues:
                if q and taken < keep_per_kind:
                    chosen.append(q.pop(0))
                    taken += 1
    write_jsonl(root / "suite.jsonl", chosen)
    stats = {"spans_drawn": len(rows), "noticed": sum(len(g) for f in noticed.values() for g in f.values()),
             "kept": len(chosen),
             "per_fill_type": {f: sum(1 for r in chosen if r["fill_type"] == f) for f in FILL_TYPES},
             "empty_compiles": sum(1 for r in chosen if r["empty_verdict"] != Verdict.COMPILE_ERROR.value)}
    return stats


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=str(BUNDLED), help="suite folder holding repos/ (default: the bundled suite)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--per-kind", type=int, default=3, help="spans drawn per fill type per file")
    parser.add_argument("--keep-per-kind", type=int, default=12, help="rows kept per fill type")
    parser.add_argument("--backend", default="auto")
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args(argv)
    try:
        stats = build_suite(args.root, seed=args.seed, per_kind=args.per_kind, keep_per_kind=args.keep_per_kind,
                            backend=args.backend, workers=args.workers)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(stats)
    return 0


if __name__ == "__main__":
    sys.exit(main())
