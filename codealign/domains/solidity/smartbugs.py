"""SmartBugs-curated: vulnerability detection on annotated Solidity contracts.

``codealign bench smartbugs --data smartbugs_curated.jsonl`` (run by :mod:`codealign.bench`) reads the rows
with ``source_available`` (the data set's README explains fields and licences) and reports, per SmartBugs
category, precision, recall, F1 and accuracy with the counts behind them (TP, FP, FN, TN). Every contract
is a positive for its own category and a negative for all the others (the data set has no clean contracts),
which is how Smart-LLaMA-DPO reports per-type accuracy and F1.

Modes:

* default — Slither as a baseline detector: every contract is analysed (warm sandboxed workers, compiler
  pinned to the version SmartBugs used) and predicted positive for category C when Slither reports a detector
  that :data:`codealign.domains.solidity.answers.DETECTOR_CATEGORY` maps to C (delegatecall detectors count
  for access_control, SmartBugs' label for those contracts);
* ``--candidates FILE`` or ``--model PATH`` — model answers (JSONL of ``task_id``, ``completion``, or sampled
  from the model with the tasks' prompts; the first answer per task is scored, without the executor): an answer predicts C when
  it says vulnerable with class C. Also reports how many answers could not be parsed and the mean graded
  detection score (without the Slither consistency check);
* ``--oracle`` — the golden answers built from the labels (a self-test: every F1 is 1.0).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from codealign.domains.solidity.answers import (
    CATEGORIES,
    DETECTOR_CATEGORY,
    Label,
    fold,
    golden_answer,
    parse_answer,
    score_detection,
)
from codealign.errors import UserError
from codealign.jsonl import read_jsonl
from codealign.types import Candidate, Task

ANSWER_FORMAT = (
    'Answer with one JSON object: {"vulnerable": true|false, "category": one of '
    + ", ".join(CATEGORIES)
    + ', "lines": [line numbers], "explanation": "which function, what goes wrong and why"}.'
)


def build_prompt(source: str) -> str:
    """The detection prompt: the contract with line numbers, then the answer format."""
    numbered = "\n".join(f"{i:4d} | {line}" for i, line in enumerate(source.splitlines(), 1))
    return ("Audit this Solidity smart contract for security vulnerabilities.\n\n```solidity\n" + numbered
            + "\n```\n\n" + ANSWER_FORMAT + "\n")


def _accepted(row: dict) -> list[str]:
    lines = (row.get("source_clean") or row["source"]).splitlines()
    hit = any("delegatecall" in lines[n - 1] for n in row.get("vulnerable_lines", []) if 0 < n <= len(lines))
    return ["delegatecall"] if row["category"] == "access_control" and hit else []


def load_smartbugs(path: str | Path) -> list[Task]:
    """Detection tasks (``assets["kind"] == "detect"``) for the source-available rows. The model sees
    ``source_clean`` (annotations blanked, same line numbers); the compiler is pinned to the version
    SmartBugs compiled with (npm's broken 0.4.0 replaced by 0.4.1)."""
    from codealign.domains.solidity.solc import BROKEN_ON_NPM

    p, rows = _rows(path)
    tasks = []
    for row in rows:
        if not row["source_available"]:
            continue
        source = row.get("source_clean") or row["source"]
        label = {"vulnerable": True, "category": row["category"], "lines": row["vulnerable_lines"],
                 "accepted_categories": _accepted(row)}
        assets = {"kind": "detect", "source": source, "label": label, "filename": "contract.sol",
                  "solc_version": BROKEN_ON_NPM.get(row["pragma"], row["pragma"])}
        tasks.append(Task(row["id"], "solidity", build_prompt(source), assets=assets,
                          metadata={"category": row["category"], "license": row.get("source_license"),
                                    "origin_url": row.get("origin_url"), "language": "text"}))
    if not tasks:
        raise UserError(f"{p}: no rows with source_available")
    return tasks


def _rows(path: str | Path) -> tuple[Path, list[dict]]:
    p = Path(path)
    if p.is_dir():
        p = p / "smartbugs_curated.jsonl"
    rows = read_jsonl(p)
    for i, row in enumerate(rows, 1):
        missing = [k for k in ("id", "category", "vulnerable_lines", "pragma", "source_available") if k not in row]
        if missing:
            raise UserError(f"{p}:{i}: not a SmartBugs row (missing {', '.join(missing)})")
    return p, rows


def skipped_rows(path: str | Path) -> dict[str, int]:
    """The rows :func:`load_smartbugs` leaves out: those without source (``source_available`` false)."""
    _, rows = _rows(path)
    return {"without source": sum(not row["source_available"] for row in rows)}


def oracle_answer(task: Task) -> str:
    """The golden answer a task's label gives (documented JSON format)."""
    return golden_answer(Label.from_assets(task.assets["label"], task.assets["source"]))


def confusion(truth: dict[str, str], predicted: dict[str, set[str]]) -> dict[str, dict[str, Any]]:
    """Per category: TP/FP/FN/TN, precision, recall, F1, accuracy; each contract a positive for its own
    category and a negative for the others."""
    table = {}
    ids = sorted(truth)
    for cat in sorted(set(truth.values())):
        tp = sum(truth[i] == cat and cat in predicted[i] for i in ids)
        fp = sum(truth[i] != cat and cat in predicted[i] for i in ids)
        fn = sum(truth[i] == cat and cat not in predicted[i] for i in ids)
        tn = len(ids) - tp - fp - fn
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        table[cat] = {"tp": tp, "fp": fp, "fn": fn, "tn": tn, "positives": tp + fn,
                      "precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4),
                      "accuracy": round((tp + tn) / len(ids), 4)}
    return table


def slither_predictions(tasks: list[Task], domain_class: type, backend: str = "auto",
                        workers: int | None = None) -> tuple[dict[str, set[str]], dict]:
    """Slither's findings per task, folded to categories, analysed by a ``domain_class`` (the Solidity domain,
    passed in by it: this module does not import its package) with ``workers`` analysers."""
    from concurrent.futures import ThreadPoolExecutor

    from codealign.sandbox.backends import get_backend

    sandbox = get_backend(backend or "auto")
    domain = domain_class(workers=workers or 2)
    problem = domain.check_toolchain()
    if problem:
        raise UserError(problem)

    def one(task: Task):
        return task.task_id, domain.analyse(task.assets["source"], sandbox, solc_version=task.assets["solc_version"],
                                            filename=task.assets["filename"])

    try:
        with ThreadPoolExecutor(max_workers=domain.workers) as pool:
            analyses = dict(pool.map(one, tasks))
    finally:
        domain.close()
    failed = {tid: f"{a.status}: {(a.error or a.compile_error)[:200]}" for tid, a in analyses.items() if a.status != "ok"}
    missing = [msg for msg in failed.values() if msg.startswith("missing_compiler")]
    if missing:
        raise UserError(missing[0].split(": ", 1)[1])
    predicted = {tid: {fold(f["category"]) for f in a.findings if f["category"]} for tid, a in analyses.items()}
    checks = {tid: sorted({f["check"] for f in a.findings if f["category"]}) for tid, a in analyses.items()}
    return predicted, {"failed": failed, "checks": checks}


def answer_predictions(tasks: list[Task], answers: dict[str, str]) -> tuple[dict[str, set[str]], dict]:
    predicted, scores, unparseable = {}, [], []
    for task in tasks:
        answer = parse_answer(answers.get(task.task_id, ""))
        if not answer.parseable:
            unparseable.append(task.task_id)
        predicted[task.task_id] = {fold(answer.category)} if answer.vulnerable and answer.category else set()
        label = Label.from_assets(task.assets["label"], task.assets["source"])
        scores.append(score_detection(answer, label, None)["score"])
    return predicted, {"unparseable": unparseable, "mean_score": round(sum(scores) / len(scores), 4)}


def evaluate(tasks: list[Task], candidates: list[Candidate] | None, *, domain_class: type, backend: str = "auto",
             workers: int | None = None) -> dict:
    """The per-category table for the first answer per task, or for Slither's findings (analysed by
    ``domain_class``) when ``candidates`` is None; ``mode`` is ``oracle`` (answers from the labels), ``answers`` or
    ``slither``."""
    extra: dict[str, Any]
    if candidates is None:
        mode = "slither"
        predicted, extra = slither_predictions(tasks, domain_class, backend, workers)
    else:
        mode = "oracle" if all(c.metadata.get("oracle") for c in candidates) else "answers"
        answers: dict[str, str] = {}
        for cand in candidates:
            answers.setdefault(cand.task_id, cand.completion)
        predicted, extra = answer_predictions(tasks, answers)
        if mode == "answers":
            extra["answered"] = sum(t.task_id in answers for t in tasks)
    truth = {t.task_id: t.assets["label"]["category"] for t in tasks}
    table = confusion(truth, predicted)
    correct = sum(truth[tid] in predicted[tid] for tid in truth)
    summary = {"mode": mode, "contracts": len(tasks), "categories": table,
               "macro_f1": round(sum(r["f1"] for r in table.values()) / len(table), 4), "label_found": correct,
               "label_found_rate": round(correct / len(tasks), 4), **extra}
    if mode == "slither":
        summary["detector_mapping"] = DETECTOR_CATEGORY
    return summary


def format_table(summary: dict) -> str:
    title = {"slither": "Slither baseline (detector -> category mapping)", "answers": "model answers",
             "oracle": "golden answers (self-test)"}[summary["mode"]]
    lines = [f"SmartBugs-curated, {summary['contracts']} source-available contracts — {title}",
             f"{'category':28s} {'pos':>4s} {'TP':>4s} {'FP':>4s} {'FN':>4s} {'TN':>4s} {'prec':>6s} {'recall':>6s} "
             f"{'F1':>6s} {'acc':>6s}"]
    for cat, r in summary["categories"].items():
        lines.append(f"{cat:28s} {r['positives']:4d} {r['tp']:4d} {r['fp']:4d} {r['fn']:4d} {r['tn']:4d} "
                     f"{r['precision']:6.3f} {r['recall']:6.3f} {r['f1']:6.3f} {r['accuracy']:6.3f}")
    lines.append(f"macro F1 {summary['macro_f1']:.3f}; own category found for {summary['label_found']}/"
                 f"{summary['contracts']}")
    if summary.get("unparseable") is not None:
        lines.append(f"unparseable answers: {len(summary['unparseable'])}; mean graded score {summary['mean_score']}")
    if summary.get("failed"):
        lines.append(f"analysis failed on {len(summary['failed'])}: {', '.join(summary['failed'])}")
    lines.append(f"reproduce: {summary['command']}")
    return "\n".join(lines)
