"""VerilogEval v2 (spec-to-rtl and code-complete) through the verilog domain.

Data: a JSONL file in the shape of ``shared/data/verilogeval/problems.jsonl`` (fields ``task_id``, ``prompt``,
``ref``, ``test``, ``prompt_complete``, ``ifc_complete``, ``ref_complete``, ``test_complete``) or the
upstream v2 directory layout (``<id>_prompt.txt``, ``<id>_ref.sv``, ``<id>_test.sv`` and, for
code-complete, ``<id>_ifc.txt``), either one dataset folder or a clone holding ``dataset_spec-to-rtl/``
and ``dataset_code-complete-iccad2023/``. Without ``--data``, a few bundled demo problems (written for this
project) are used.

Scoring: each candidate is simulated against the task's testbench (score = 1 - mismatches / samples, PASS
at 0 mismatches); pass@k is the unbiased estimator over the candidates of each problem, averaged over
problems (upstream reports the same mean for n=1). Code-complete candidates that lack the
``module TopModule`` header get it prepended, as upstream's generator does. ``--oracle`` renames each
reference to ``TopModule`` and scores it (the golden self-test); failing references are listed with why.
The benchmark runs through :mod:`codealign.bench` (``--task`` picks the variant).
"""

from __future__ import annotations

import re
from pathlib import Path

from codealign.errors import UserError
from codealign.jsonl import read_jsonl
from codealign.types import Task

TASKS = ("spec-to-rtl", "code-complete")
UPSTREAM_DIRS = {"spec-to-rtl": "dataset_spec-to-rtl", "code-complete": "dataset_code-complete-iccad2023"}
DEMO = Path(__file__).resolve().parent / "resources" / "verilogeval_demo" / "problems.jsonl"


def load_verilogeval(path: str | Path | None = None, task: str = "spec-to-rtl") -> list[Task]:
    """The problems of ``task`` as verilog-domain Tasks (``assets["format"] == "verilogeval"``), from a JSONL
    file or an upstream v2 folder; ``None`` = the bundled demo problems."""
    if task not in TASKS:
        raise UserError(f"unknown VerilogEval task {task!r}; choose one of: {', '.join(TASKS)}")
    p = Path(path) if path is not None else DEMO
    if p.is_dir():
        rows = _rows_from_folder(p, task)
    elif p.is_file():
        rows = read_jsonl(p)
    else:
        raise UserError(f"{p}: no such file or folder")
    if not rows:
        raise UserError(f"{p}: no VerilogEval problems found")
    complete = task == "code-complete"
    keys = ("prompt_complete", "ref_complete", "test_complete", "ifc_complete") if complete else \
        ("prompt", "ref", "test")
    tasks = []
    for i, row in enumerate(rows, 1):
        if not isinstance(row, dict) or "task_id" not in row:
            raise UserError(f"{p}: problem {i} has no task_id")
        missing = [k for k in keys if not isinstance(row.get(k), str)]
        if missing:
            raise UserError(f"{p}: problem {row['task_id']} lacks {', '.join(missing)} (needed for {task})")
        assets = {"format": "verilogeval", "test": row[keys[2]], "ref": row[keys[1]],
                  "top_module": "TopModule", "ref_module": "RefModule"}
        if complete:
            assets["header"] = row["ifc_complete"]
        tasks.append(Task(task_id=row["task_id"], domain="verilog", prompt=row[keys[0]], assets=assets,
                          metadata={"benchmark": "verilogeval", "task": task}))
    return tasks


_PORT = re.compile(r"^(?:(input|output|inout)\s+)?((?:(?:wire|reg|logic|signed|unsigned|var)\s+)*)"
                   r"(\[[^\]]*\]\s*)?([A-Za-z_][\w$]*)$")


def inverted_output_mutant(task: Task) -> str | None:
    """A design that behaves like the reference except that its first output is inverted: the reference
    renamed and wrapped by a ``top_module`` that inverts one output. None when the reference's port list
    is not in ANSI form. A testbench that passes this mutant cannot tell that output apart."""
    ref_module, top = task.assets.get("ref_module", "RefModule"), task.assets["top_module"]
    m = re.search(rf"\bmodule\s+{re.escape(ref_module)}\s*\((.*?)\)\s*;", task.assets["ref"], re.S)
    if not m:
        return None
    ports, direction, kind, rng = [], None, "", ""
    for item in re.sub(r"//[^\n]*|/\*.*?\*/", " ", m.group(1), flags=re.S).split(","):
        pm = _PORT.match(" ".join(item.split()))
        if not pm:
            return None
        if pm.group(1):
            direction, kind, rng = pm.group(1), pm.group(2), pm.group(3) or ""
        elif pm.group(2) or pm.group(3):
            kind, rng = pm.group(2), pm.group(3) or ""
        if direction is None:
            return None
        ports.append((direction, "signed " if "signed" in kind.split() else "", rng.strip(), pm.group(4)))
    outputs = [p for p in ports if p[0] == "output"]
    if not outputs:
        return None
    inner = f"{ref_module}_inner"
    flipped = outputs[0][3]
    header = ", ".join(f"{d} {s}{r} {n}".replace("  ", " ") for d, s, r, n in ports)
    lines = [f"module {top} ({header});", f"  wire {outputs[0][1]}{outputs[0][2]} {flipped}_inner;",
             f"  {inner} inner (" + ", ".join(f".{n}({n}_inner)" if n == flipped else f".{n}({n})"
                                             for _, _, _, n in ports) + ");",
             f"  assign {flipped} = ~{flipped}_inner;", "endmodule"]
    renamed = re.sub(rf"\bmodule\s+{re.escape(ref_module)}\b", f"module {inner}", task.assets["ref"])
    return renamed + "\n" + "\n".join(lines) + "\n"


def _rows_from_folder(folder: Path, task: str) -> list[dict]:
    sub = folder / UPSTREAM_DIRS[task]
    if sub.is_dir():
        folder = sub
    rows = []
    for prompt in sorted(folder.glob("*_prompt.txt")):
        tid = prompt.name[: -len("_prompt.txt")]
        ref, test, ifc = (folder / f"{tid}{s}" for s in ("_ref.sv", "_test.sv", "_ifc.txt"))
        if not (ref.is_file() and test.is_file()):
            raise UserError(f"{folder}: {tid} has a prompt but no {ref.name} / {test.name}")
        text = {"prompt": prompt.read_text(), "ref": ref.read_text(), "test": test.read_text()}
        if task == "code-complete":
            if not ifc.is_file():
                raise UserError(f"{folder}: {tid} lacks {ifc.name} (needed for code-complete)")
            text = {f"{k}_complete": v for k, v in text.items()}
            text["ifc_complete"] = ifc.read_text()
        rows.append({"task_id": tid, **text})
    return rows
