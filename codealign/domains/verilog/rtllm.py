"""RTLLM v2.0 through the verilog domain.

Data: a JSONL file in the shape of ``shared/data/rtllm/problems.jsonl`` (fields ``task_id``, ``description``,
``test``, ``ref``, ``top_module``, ``ref_top_module``, ``aux_files``). The prompt is the design description;
a candidate must define ``top_module``; ``aux_files`` are written next to the testbench.

Scoring: PASS when the testbench prints ``Your Design Passed`` and no failure line; graded score =
1 - failures / checks where the testbench prints ``N / M failures``, else 0 for a failure (documented in
:mod:`codealign.domains.verilog`). Upstream counts any output containing "Pass"/"pass" as a pass, which
also passes designs that fail some checks of testbenches that print "Passed" per sample. pass@k is the unbiased
estimator averaged over problems (upstream's ``cal_atk`` divides by one more problem than it has).
``--oracle`` renames each reference's module to ``top_module`` and scores it.
"""

from __future__ import annotations

from pathlib import Path

from codealign.errors import UserError
from codealign.jsonl import read_jsonl
from codealign.types import Task

FIELDS = ("task_id", "description", "test", "ref", "top_module", "ref_top_module")


def load_rtllm(path: str | Path) -> list[Task]:
    """RTLLM designs as verilog-domain Tasks (``assets["format"] == "rtllm"``)."""
    p = Path(path)
    if not p.is_file():
        raise UserError(f"{p}: no such file (RTLLM problems JSONL)")
    tasks = []
    for i, row in enumerate(read_jsonl(p), 1):
        missing = [k for k in FIELDS if not isinstance(row.get(k), str) or not row[k]]
        if missing:
            raise UserError(f"{p}: problem {row.get('task_id', i)} lacks {', '.join(missing)}")
        aux = row.get("aux_files") or {}
        if not isinstance(aux, dict) or not all(isinstance(v, str) for v in aux.values()):
            raise UserError(f"{p}: problem {row['task_id']}: aux_files must map file names to text")
        for name in aux:
            if name.startswith("/") or ".." in name.split("/") or name.startswith("trusted/") or \
                    name in ("cand.sv", "cand.i"):
                raise UserError(f"{p}: problem {row['task_id']}: aux file name {name!r} not allowed")
        assets = {"format": "rtllm", "test": row["test"], "ref": row["ref"], "top_module": row["top_module"],
                  "ref_top_module": row["ref_top_module"], "aux_files": aux}
        tasks.append(Task(task_id=row["task_id"], domain="verilog", prompt=row["description"], assets=assets,
                          metadata={"benchmark": "rtllm", "category": row.get("category", "")}))
    if not tasks:
        raise UserError(f"{p}: no RTLLM problems")
    return tasks
