"""CVDP (NVIDIA's Comprehensive Verilog Design Problems, 2025) code-generation problems through the verilog
domain's cocotb harness (:mod:`codealign.domains.verilog.cocotb`).

Data: a CVDP JSONL file, non-agentic (``input.prompt``, ``input.context``, ``output.context`` = the reference
files, ``harness.files``) or agentic (``system_message``, ``prompt``, ``context``, ``patch`` = the reference
as unified-diff hunks per file, ``harness`` = the files); ``categories`` holds the category id (``cid003``)
and the difficulty. The harness's ``src/.env`` gives ``TOPLEVEL``, ``MODULE``, ``VERILOG_SOURCES`` (paths
under ``/code/``, the candidate's side) and ``SIM``; its ``src/*.py`` are the cocotb test module, helpers and
``test_runner.py`` (run under pytest, as upstream's ``docker-compose.yml`` does); its Dockerfile's ``pip
install`` lines are the task's ``requires``.

A problem whose harness needs a commercial simulator (an ``__VERIF_EDA_IMAGE__`` service, ``xrun``/``vcs``/
``imc``, a licence network, a ``SIM`` other than icarus) is loaded with a ``skip`` reason: reported as skipped,
never run, never a failure. The prompt is the problem's prompt, its context files (path, then fenced text)
and the files to write; a candidate names its files as CVDP's responses do (``rtl/x.sv`` then a fenced block),
or is the one file of a one-file problem. ``--oracle`` answers with the reference files. The report gives
pass@k overall, per category and per difficulty, and the skipped problems with their reasons.
"""

from __future__ import annotations

import re
from collections import defaultdict
from math import comb
from pathlib import Path
from typing import Sequence

from codealign.errors import UserError
from codealign.extraction import format_files
from codealign.jsonl import read_jsonl
from codealign.types import ExecResult, Task

KS = (1, 5, 10)
_COMMERCIAL = re.compile(r"__VERIF_EDA_IMAGE__|\b(xrun|vcs|imc|vsim|questa|xcelium)\b|licnetwork")
_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+\d+(?:,\d+)? @@")
_OUTPUT_NOTE = ("\n\nWrite the file{s} {files}. Give each file as its path on a line of its own followed by its "
                "complete contents in a fenced code block.")


def load_cvdp(path: str | Path, model: str | None = None, categories: Sequence[str] | None = None) -> list[Task]:
    """The problems of a CVDP JSONL file as verilog-domain Tasks (``assets["format"] == "cocotb"``), only
    those whose categories (ids or difficulties) meet ``categories`` when given (comma-separated allowed)."""
    p = Path(path)
    if not p.is_file():
        raise UserError(f"{p}: no such file (a CVDP problems JSONL)")
    wanted = {c.strip() for item in categories or () for c in str(item).split(",") if c.strip()}
    tasks = []
    for i, row in enumerate(read_jsonl(p), 1):
        if not isinstance(row, dict) or not row.get("id"):
            raise UserError(f"{p}: problem {i} has no id")
        if wanted and not wanted & set(row.get("categories") or ()):
            continue
        tasks.append(_task(p, row))
    if not tasks:
        raise UserError(f"{p}: no CVDP problems" + (f" in categories {', '.join(sorted(wanted))}" if wanted else ""))
    return tasks


def oracle(task: Task) -> str:
    """The reference files as an answer naming them."""
    return format_files(task.metadata["reference"], "systemverilog")


def score(tasks: Sequence[Task], results: Sequence[ExecResult]) -> dict:
    """pass@k overall, per category and per difficulty over the problems that ran; skipped problems apart."""
    by_task: dict[str, list[ExecResult]] = defaultdict(list)
    for r in results:
        by_task[r.task_id].append(r)
    skipped = {t.task_id: t.assets["skip"] for t in tasks if t.assets.get("skip")}
    skipped.update({tid: rs[0].details["skipped"] for tid, rs in by_task.items() if "skipped" in rs[0].details})
    ran = [t for t in tasks if t.task_id not in skipped and by_task.get(t.task_id)]
    counts = {t.task_id: (len(by_task[t.task_id]), sum(r.passed for r in by_task[t.task_id])) for t in ran}
    ks = [k for k in KS if counts and k <= min(n for n, _ in counts.values())]

    def table(ids: list[str]) -> dict:
        row = {"problems": len(ids)}
        row.update({f"pass@{k}": sum(_pass_at_k(*counts[i], k) for i in ids) / len(ids) for k in ks})
        return row

    groups: dict[str, dict[str, list[str]]] = {"category": defaultdict(list), "difficulty": defaultdict(list)}
    for t in ran:
        groups["category"][t.metadata["category"]].append(t.task_id)
        groups["difficulty"][t.metadata["difficulty"]].append(t.task_id)
    overall = table([t.task_id for t in ran]) if ran else {"problems": 0, "pass@1": None}
    failing = {tid: _failure(rs) for tid, rs in by_task.items() if tid in counts and counts[tid][1] < counts[tid][0]}
    return {"ks": ks, "overall": overall,
            "per_category": {k: table(v) for k, v in sorted(groups["category"].items())},
            "per_difficulty": {k: table(v) for k, v in sorted(groups["difficulty"].items())},
            "mean_score": (sum(r.score for t in ran for r in by_task[t.task_id])
                           / max(1, sum(n for n, _ in counts.values()))),
            "failing": failing, "skipped": skipped}


def format_report(summary: dict) -> str:
    """The report's tables and the reproduce line."""
    overall = summary["overall"]
    lines = [f"cvdp ({summary['mode']}): {overall['problems']} problems run, {len(summary['skipped'])} skipped, "
             f"{summary['candidates']} candidates, mean graded score {summary['mean_score']:.3f} "
             f"({summary['seconds']:.1f} s, backend {summary['backend']})"]
    if overall["problems"]:
        head = "".join(f"{'pass@' + str(k):>9}" for k in summary["ks"])
        lines.append(f"  {'':<22}{'problems':>9}{head}")
        rows = [("overall", overall)] + list(summary["per_category"].items()) + list(summary["per_difficulty"].items())
        for name, row in rows:
            lines.append(f"  {name:<22}{row['problems']:>9}" + "".join(f"{100 * row[f'pass@{k}']:8.1f}%"
                                                                      for k in summary["ks"]))
    for tid, why in sorted(summary["failing"].items()):
        lines.append(f"  FAIL {tid:<40} {why}")
    for tid, why in sorted(summary["skipped"].items()):
        lines.append(f"  SKIP {tid:<40} {why}")
    lines.append(f"reproduce: {summary['command']}")
    return "\n".join(lines)


def apply_hunks(original: str, diff: str) -> str:
    """``original`` with the unified-diff hunks of ``diff`` applied (CVDP's ``patch`` field: hunks only, no
    file headers; ``@@ -0,0 +1,N @@`` creates the file)."""
    old = original.splitlines(keepends=True)
    out: list[str] = []
    pos = 0
    lines = diff.splitlines(keepends=True)
    i = 0
    while i < len(lines):
        head = _HUNK.match(lines[i])
        i += 1
        if head is None:
            continue
        start = max(0, int(head.group(1)) - (0 if head.group(2) == "0" else 1))
        out += old[pos:start]
        pos = start
        while i < len(lines) and not _HUNK.match(lines[i]):
            line = lines[i]
            i += 1
            if line.startswith("+"):
                out.append(line[1:])
            elif line.startswith(("-", " ")):
                pos += 1
                if line.startswith(" "):
                    out.append(line[1:])
    out += old[pos:]
    text = "".join(out)
    return text if text.endswith("\n") or not text else text + "\n"


def _task(path: Path, row: dict) -> Task:
    agentic = "patch" in row
    harness = row.get("harness") or {}
    files = harness if agentic else harness.get("files") or {}
    context = (row.get("context") if agentic else (row.get("input") or {}).get("context")) or {}
    prompt = row.get("prompt") if agentic else (row.get("input") or {}).get("prompt")
    if not isinstance(prompt, str) or not isinstance(files, dict) or not isinstance(context, dict):
        raise UserError(f"{path}: problem {row['id']} lacks a prompt, context or harness files")
    if agentic:
        reference = {p: apply_hunks(context.get(p, ""), d) for p, d in (row.get("patch") or {}).items()}
    else:
        reference = dict((row.get("output") or {}).get("context") or {})
    env = _dotenv(files.get("src/.env", ""))
    cats = list(row.get("categories") or [])
    category = next((c for c in cats if c.startswith("cid")), "unknown")
    difficulty = next((c for c in cats if not c.startswith("cid")), "unknown")
    tests = {name[len("src/"):]: text for name, text in files.items() if name.startswith("src/") and name != "src/.env"}
    sources = [s for s in env.get("VERILOG_SOURCES", "").split()]
    design = [s[len("/code/"):] if s.startswith("/code/") else s.lstrip("/") for s in sources]
    given = dict(context)
    for s, d in zip(sources, design):
        if s.startswith("/src/") and d[len("src/"):] in tests:
            given[d] = tests[d[len("src/"):]]
    skip = _commercial(files, env)
    if not skip and not (env.get("TOPLEVEL") and env.get("MODULE") and design):
        skip = "the harness's src/.env names no TOPLEVEL, MODULE or VERILOG_SOURCES (not a cocotb harness)"
    outputs = sorted(reference)
    text = prompt + "".join(f"\n\n{p}\n```\n{t.rstrip()}\n```" for p, t in context.items())
    text += _OUTPUT_NOTE.format(s="s" if len(outputs) > 1 else "", files=", ".join(outputs))
    assets = {"format": "cocotb", "top_module": env.get("TOPLEVEL", ""), "module": env.get("MODULE", ""),
              "sources": design, "outputs": outputs, "context": given, "tests": tests,
              "runner": "test_runner.py" if "test_runner.py" in tests else "",
              "env": {k: v for k, v in env.items() if k not in ("VERILOG_SOURCES", "PYTHONPATH", "HASH")},
              "requires": _pip_installs(files.get("Dockerfile", "")), "seed": 1}
    if skip:
        assets["skip"] = skip
    metadata = {"benchmark": "cvdp", "category": category, "difficulty": difficulty, "language": "text",
                "agentic": agentic, "reference": reference}
    if agentic:
        metadata["system_message"] = row.get("system_message", "")
    return Task(task_id=row["id"], domain="verilog", prompt=text, assets=assets, metadata=metadata)


def _dotenv(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            out[key.strip()] = value.strip().strip("\"'")
    return out


def _commercial(files: dict, env: dict) -> str:
    compose = files.get("docker-compose.yml", "")
    hit = _COMMERCIAL.search(compose) or next((m for m in (_COMMERCIAL.search(t) for n, t in files.items()
                                                            if n.endswith(".py")) if m), None)
    if hit:
        return f"the harness needs a commercial simulator ({hit.group(0)} in its files); only Icarus runs here"
    sim = env.get("SIM", "icarus")
    if sim != "icarus":
        return f"the harness asks for simulator {sim!r}; only Icarus runs here"
    return ""


def _pip_installs(dockerfile: str) -> list[str]:
    found = []
    for m in re.finditer(r"pip3?\s+install\s+([^\n&|;]+)", dockerfile):
        found += [w for w in m.group(1).split() if not w.startswith("-")]
    return found


def _failure(results: list[ExecResult]) -> str:
    first = next(r for r in results if not r.passed)
    d = first.details
    why = d.get("error") or "; ".join(d.get("failed_tests") or [])
    return f"{first.verdict.value} {d.get('failure', '')} {why}".strip()[:200]


def _pass_at_k(n: int, c: int, k: int) -> float:
    """The unbiased estimator (Chen et al., 2021); :mod:`codealign.bench.passk` is the stage layer's."""
    return 1.0 if n - c < k else 1.0 - comb(n - c, k) / comb(n, k)
