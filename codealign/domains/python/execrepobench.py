"""ExecRepoBench (Qwen, 2024): repository-level code completion judged by the repository's own tests.

Each row masks one span of one file of a repository. A completion is judged by writing
``prefix_code + completion + suffix_code`` into that file of a fresh copy of the repository (the job's files)
and running the repository's tests through the Python domain: it passes iff every test passes with the
domain's rule (tests run in a trusted process that reaches the candidate's code only through plain data;
stdout is never read) within the deadline. Repositories that ship only an ``evaluate_repo.py`` (or configure a
``command``) cannot be judged that way: their rows are SANDBOX_ERROR ``unsupported`` (an exit status is no
evidence), never a pass. Metrics: Pass@1 (unbiased, over the
samples of each row) and edit similarity, overall and per fill type.

Input (upstream format): JSONL rows with ``repo_name``, ``file_name``, ``prefix_code``, ``middle_code``,
``suffix_code``, ``fill_type`` and optional ``context_code`` / ``task_id``; and a folder of repositories
``<repos>/<repo_name>/``. ``--data`` names the JSONL file or a folder holding ``suite.jsonl`` (or exactly one
``*.jsonl``) and ``repos/``. A repository's tests are its ``test_*.py`` / ``*_test.py`` files, unless
``repos.json`` next to the JSONL configures ``{"<repo>": {"tests": [paths]}}`` or
``{"<repo>": {"command": [argv]}}`` (``"{python}"`` = this interpreter). Each repository is read once; every
job gets its own copy; the interpreter and its site-packages are shared read-only.

Fill types (ExecRepoBench) ↔ span kinds of :mod:`codealign.data.spans` (one to one): ``grammar-based:
expression`` ↔ ``expression``, ``grammar-based: statement`` ↔ ``statement``, ``grammar-based: block`` ↔
``block``, ``random span`` ↔ ``random_span``, ``random single-line`` ↔ ``line``, ``random multi-line`` ↔
``lines``. Spelling variants (underscores, hyphens, missing colon) are accepted.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from codealign.errors import UserError
from codealign.fim import FILL_TYPES, FimFormat, fim_format
from codealign.jsonl import read_jsonl
from codealign.types import ExecResult, Task

BUNDLED = Path(__file__).resolve().parent / "resources" / "execrepobench"
_REQUIRED = ("repo_name", "file_name", "prefix_code", "middle_code", "suffix_code", "fill_type")
_SKIP_DIRS = {".git", "__pycache__", ".pytest_cache", ".venv", "venv", "node_modules"}
_MAX_REPO_BYTES = 8 << 20
_TEST_TIMEOUT_S = 5.0


def normalize_fill_type(name: str) -> str:
    """The canonical ExecRepoBench fill type for a spelling variant, or the span kind's fill type."""
    key = " ".join(name.lower().replace("_", " ").replace("-", " ").replace(":", " ").split())
    for fill, kind in FILL_TYPES.items():
        canon = " ".join(fill.replace("-", " ").replace(":", " ").split())
        if key in (canon, kind.replace("_", " "), canon.replace("grammar based ", "")):
            return fill
    raise ValueError(f"unknown fill_type {name!r}; known: {', '.join(FILL_TYPES)}")


@dataclass
class Repo:
    """A repository read once: its source files, its test files and how its tests run."""

    name: str
    files: dict[str, str]
    test_files: dict[str, str] = field(default_factory=dict)
    test_paths: list[str] = field(default_factory=list)
    command: list[str] = field(default_factory=list)


def load_repo(root: Path, name: str, config: dict | None = None) -> Repo:
    if not root.is_dir():
        raise UserError(f"{root}: repository {name!r} not found")
    files: dict[str, str] = {}
    total = 0
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if any(part in _SKIP_DIRS for part in rel.parts) or not path.is_file():
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        total += len(text)
        if total > _MAX_REPO_BYTES:
            raise UserError(f"{root}: repository larger than {_MAX_REPO_BYTES >> 20} MiB of text")
        files[rel.as_posix()] = text
    config = config or {}
    if config.get("command"):
        return Repo(name, files, command=list(config["command"]))
    is_test = (lambda rel: any(rel == p or rel.startswith(p.rstrip("/") + "/") for p in config["tests"])) \
        if config.get("tests") else _looks_like_test_support
    tests = {rel: text for rel, text in files.items() if rel.endswith(".py") and is_test(rel)}
    if any(_is_test_module(rel) for rel in tests):
        return Repo(name, {k: v for k, v in files.items() if k not in tests}, tests, list(config.get("tests") or []))
    if "evaluate_repo.py" in files:
        return Repo(name, files, command=["{python}", "evaluate_repo.py"])
    raise UserError(f"{root}: no pytest files and no evaluate_repo.py; configure its tests in repos.json")


def _is_test_module(rel: str) -> bool:
    base = rel.rsplit("/", 1)[-1]
    return base.startswith("test_") or base.endswith("_test.py")


def _looks_like_test_support(rel: str) -> bool:
    parts = rel.split("/")
    return _is_test_module(rel) or parts[-1] == "conftest.py" or any(p in ("tests", "test") for p in parts[:-1])


def locate(data: str | Path | None) -> tuple[Path, Path, dict]:
    """(suite JSONL, repositories folder, repos.json config) for ``--data`` (None = the bundled suite)."""
    p = Path(data) if data is not None else BUNDLED
    if p.is_dir():
        jsonls = [p / "suite.jsonl"] if (p / "suite.jsonl").is_file() else sorted(p.glob("*.jsonl"))
        if len(jsonls) != 1:
            raise UserError(f"{p}: expected suite.jsonl or exactly one *.jsonl file, found {len(jsonls)}")
        suite = jsonls[0]
    elif p.is_file():
        suite = p
    else:
        raise UserError(f"{p}: no such file or folder")
    repos = suite.parent / "repos"
    if not repos.is_dir():
        raise UserError(f"{repos}: repositories folder not found (expected next to {suite.name})")
    config_path = suite.parent / "repos.json"
    config = {}
    if config_path.is_file():
        try:
            config = json.loads(config_path.read_text())
        except ValueError as exc:
            raise UserError(f"{config_path}: malformed JSON ({exc})") from None
    return suite, repos, config


def load_suite(data: str | Path | None = None, family: str = "starcoder") -> list[Task]:
    """Python-domain tasks for every row of the suite; ``task.prompt`` is the row's FIM prompt in ``family``'s
    format (``context_code`` first), ``task.metadata`` keeps the row's fields."""
    fmt = fim_format(family)
    suite, repos_dir, config = locate(data)
    rows = read_jsonl(suite)
    if not rows:
        raise UserError(f"{suite}: no rows")
    repos: dict[str, Repo] = {}
    tasks, seen = [], set()
    for i, row in enumerate(rows, 1):
        missing = [k for k in _REQUIRED if not isinstance(row.get(k), str)]
        if missing:
            raise UserError(f"{suite}:{i}: row lacks {', '.join(missing)}")
        try:
            fill = normalize_fill_type(row["fill_type"])
        except ValueError as exc:
            raise UserError(f"{suite}:{i}: {exc}") from None
        name = row["repo_name"]
        if name not in repos:
            repos[name] = load_repo(repos_dir / name, name, config.get(name))
        repo = repos[name]
        task_id = row.get("task_id") or f"{name}/{i}"
        if task_id in seen:
            raise UserError(f"{suite}:{i}: duplicate task_id {task_id!r}")
        seen.add(task_id)
        tasks.append(make_task(task_id, repo, row, fill, fmt))
    return tasks


def make_task(task_id: str, repo: Repo, row: dict, fill: str, fmt: FimFormat | None = None) -> Task:
    file_name = row["file_name"]
    if file_name not in repo.files and file_name not in repo.test_files:
        raise UserError(f"row {task_id}: {file_name!r} is not a file of repository {repo.name!r}")
    files = {k: v for k, v in repo.files.items() if k != file_name}
    assets = {"module": file_name, "prefix": row["prefix_code"], "suffix": row["suffix_code"], "files": files,
              "test_timeout_s": _TEST_TIMEOUT_S}
    if repo.command:
        assets["command"] = repo.command
    else:
        assets["test_files"] = repo.test_files
        assets["test_paths"] = repo.test_paths
    fmt = fmt or fim_format("starcoder")
    prompt = fmt.render(row["prefix_code"], row["suffix_code"], context=row.get("context_code") or "")
    return Task(task_id=task_id, domain="python", prompt=prompt, assets=assets,
                limits={"wall_s": 60.0},
                metadata={"benchmark": "execrepobench", "repo_name": repo.name, "file_name": file_name,
                          "fill_type": fill, "middle_code": row["middle_code"], "language": "python"})


def edit_similarity(prediction: str, reference: str) -> float:
    """1 - Levenshtein(prediction, reference) / max(len); 1.0 when both are empty."""
    if not prediction and not reference:
        return 1.0
    if len(prediction) < len(reference):
        prediction, reference = reference, prediction
    previous = list(range(len(reference) + 1))
    for i, a in enumerate(prediction, 1):
        current = [i]
        for j, b in enumerate(reference, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a != b)))
        previous = current
    return 1.0 - previous[-1] / max(len(prediction), len(reference))


def score(tasks: list[Task], results: list[ExecResult]) -> dict:
    """Pass@1 and edit similarity per fill type and overall; rows without candidates count as failed."""
    by_task: dict[str, list[ExecResult]] = defaultdict(list)
    for r in results:
        by_task[r.task_id].append(r)
    groups: dict[str, list[tuple[float, float]]] = defaultdict(list)
    failing = []
    for task in tasks:
        rs = by_task.get(task.task_id, [])
        ref = task.metadata["middle_code"]
        if rs:
            p1 = 1.0 - (len(rs) - sum(r.passed for r in rs)) / len(rs)  # pass@1, unbiased (same float as pass@k)
            es = sum(edit_similarity(r.completion, ref) for r in rs) / len(rs)
        else:
            p1, es = 0.0, 0.0
        if p1 < 1.0:
            failing.append({"task_id": task.task_id, "fill_type": task.metadata["fill_type"],
                            "verdicts": [r.verdict.value for r in rs] or ["NO_CANDIDATE"]})
        groups[task.metadata["fill_type"]].append((p1, es))
        groups["overall"].append((p1, es))
    table = {name: {"n": len(v), "pass@1": sum(p for p, _ in v) / len(v),
                    "edit_similarity": sum(e for _, e in v) / len(v)} for name, v in groups.items()}
    order = [f for f in FILL_TYPES if f in table] + sorted(k for k in table if k not in FILL_TYPES and k != "overall")
    return {"per_fill_type": {k: table[k] for k in order}, "overall": table["overall"],
            "tasks_without_candidates": sorted(t.task_id for t in tasks if t.task_id not in by_task),
            "failing": failing}


def load_benchmark(path: str | Path | None, model: str | None = None, fill_type: list[str] | None = None,
                   fim_family: str | None = None) -> list[Task]:
    """The suite's rows (only those of ``fill_type`` when given) with FIM prompts in the format of
    ``fim_family``, else of ``model``'s family, else StarCoder's."""
    tasks = load_suite(path, _family(model, fim_family))
    if fill_type:
        try:
            wanted = {normalize_fill_type(f) for f in fill_type}
        except ValueError as exc:
            raise UserError(f"--fill-type: {exc}") from None
        tasks = [t for t in tasks if t.metadata["fill_type"] in wanted]
    return tasks


def sampling(model: str, fill_type: list[str] | None = None, fim_family: str | None = None) -> dict:
    """How ``--model`` samples middles: the raw FIM prompts (no chat template, no code extraction), cut at
    the family's end-of-text token."""
    fmt = fim_format(_family(model, fim_family))
    return {"raw_prompts": True, "extract": False, "stop": [fmt.eot] if fmt.eot else None}


def _family(model: str | None, fim_family: str | None) -> str:
    return fim_family or (fim_format(model).family if model else "starcoder")


def format_table(summary: dict) -> str:
    lines = [f"ExecRepoBench ({summary['data']}): {summary['rows']} rows, {summary['candidates']} candidates, "
             f"mode {summary['mode']}, backend {summary['backend']}, {summary['seconds']} s",
             f"  {'fill type':<28} {'n':>4} {'Pass@1':>8} {'edit sim':>9}"]
    for name, row in [*summary["per_fill_type"].items(), ("overall", summary["overall"])]:
        lines.append(f"  {name:<28} {row['n']:>4} {100 * row['pass@1']:7.1f}% {100 * row['edit_similarity']:8.1f}")
    if summary["tasks_without_candidates"]:
        lines.append(f"  ({len(summary['tasks_without_candidates'])} rows had no candidate and count as failed)")
    lines.append(f"reproduce: {summary['command']}")
    return "\n".join(lines)


def demo_tasks(split: str = "train", max_prefix_chars: int = 1200, max_suffix_chars: int = 500) -> list[Task]:
    """The bundled suite as training / held-out tasks for ``codealign run python``: every third row is held out
    (all fill types and repositories appear on both sides). Prompts show a window of the file around the
    hole (the last ``max_prefix_chars`` of the prefix, the first ``max_suffix_chars`` of the suffix, cut at
    line boundaries) so they fit small models; the job still writes the whole file."""
    if split not in ("train", "heldout"):
        raise UserError(f"unknown split {split!r}; choose train or heldout")
    fmt = fim_format("starcoder")
    out = []
    for i, task in enumerate(load_suite()):
        if (i % 3 == 0) != (split == "heldout"):
            continue
        prefix, suffix = task.assets["prefix"], task.assets["suffix"]
        if len(prefix) > max_prefix_chars:
            cut = prefix[-max_prefix_chars:]
            prefix = cut[cut.find("\n") + 1:]
        if len(suffix) > max_suffix_chars:
            suffix = suffix[: suffix.rfind("\n", 0, max_suffix_chars) + 1]
        task.prompt = fmt.render(prefix, suffix)
        task.metadata["split"] = split
        out.append(task)
    return out
