"""A fifth domain from outside codealign, as a third-party package would write one: integer arithmetic
expressions over named variables.

A task gives the values of its variables in a few cases and the value wanted in each; the candidate is one
expression (``2*x + y - 3``). The judge is ``resources/check.py``, copied into a sandbox job and run with
``python -I -S``: it parses the expression (no ``eval``), evaluates it on every case and reports on the
trusted fd 3. Score = fraction of cases matched; PASS when all match; an unparsable expression or an unknown
variable is a COMPILE_ERROR, division by zero in every case a RUNTIME_ERROR.

codealign finds it through the ``codealign.domains`` entry-point group (``toy = codealign_toy:ToyDomain``).
"""

from __future__ import annotations

import json
import random
import re
import shlex
import sys
from importlib import resources
from pathlib import Path

from codealign.domains.base import Benchmark, Domain, limit_verdict
from codealign.errors import UserError
from codealign.extraction import Extraction, extract_code
from codealign.jsonl import read_jsonl
from codealign.sandbox.job import Job, JobResult, JobStatus
from codealign.sandbox.limits import Limits
from codealign.types import Candidate, ExecResult, Task, Verdict

VARIABLES = ("x", "y")
BENCH_DATA = Path(__file__).parent / "resources" / "toybench.jsonl"
_EXPRESSION = re.compile(r"^[\sxy0-9+\-*/%()]*[xy0-9][\sxy0-9+\-*/%()]*$")
_NUMBER = re.compile(r"\d+")
_OPERATOR = re.compile(r"[+\-*]")


class ToyDomain(Domain):
    name = "toy"
    default_limits = Limits(wall_s=10.0, cpu_s=10.0, memory_mb=256, nproc=8)
    fence_tags = frozenset({"toy", "arith"})
    stop_sequences = ("\n",)
    run_defaults = {"max_tasks": 8, "sft": {"max_steps": 30, "per_device_train_batch_size": 8},
                    "sample": {"n": 2, "max_new_tokens": 16}, "eval": {"max_tasks": 4, "n": 1, "seeds": [1]},
                    "probe_tasks": 0}

    def prepare(self, task: Task, candidate: Candidate) -> Job:
        checker = resources.files(__name__).joinpath("resources/check.py").read_text(encoding="utf-8")
        case_file = {"variables": task.assets["variables"], "cases": task.assets["cases"]}
        return Job(script=f"exec {shlex.quote(sys.executable)} -I -S check.py task.json candidate.txt\n",
                   files={"check.py": checker, "task.json": json.dumps(case_file), "candidate.txt": candidate.completion},
                   limits=self.limits_for(task))

    def judge(self, task: Task, candidate: Candidate, job: Job, result: JobResult) -> ExecResult:
        base = dict(task_id=task.task_id, candidate_id=candidate.candidate_id, stderr=result.text("stderr")[-2000:],
                    wall_s=result.wall_s, cpu_s=result.cpu_s, completion=candidate.completion)
        limited = limit_verdict(result)
        if limited is not None:
            return ExecResult(verdict=limited, **base)
        if result.status is not JobStatus.EXITED or result.returncode != 0 or not result.trusted:
            return ExecResult(verdict=Verdict.SANDBOX_ERROR, details={"error": f"checker exited {result.returncode}"},
                              **base)
        reply = json.loads(result.trusted)
        return ExecResult(verdict=Verdict(reply["verdict"]), score=reply["score"], details=reply["details"], **base)

    def extract(self, text: str, truncated: bool = False) -> Extraction:
        return extract_code(text, self.name, self.fence_tags, _last_expression, truncated=truncated)

    def demo_tasks(self, split: str = "train") -> list[Task]:
        """Sixteen seeded tasks; every fourth is held out."""
        if split not in ("train", "heldout"):
            raise UserError(f"unknown split {split!r}; choose train or heldout")
        return [t for i, t in enumerate(_tasks(16)) if (i % 4 == 3) == (split == "heldout")]

    def reference_solution(self, task: Task) -> str | None:
        return task.assets["reference"]

    def mutate(self, solution: str, rng: random.Random) -> list[tuple[str, dict]]:
        """A constant off by one, or one operator swapped."""
        edits = [(m.start(), m.end(), str(int(m.group()) + 1), "constant") for m in _NUMBER.finditer(solution)]
        edits += [(m.start(), m.end(), {"+": "-", "-": "+", "*": "+"}[m.group()], "operator")
                  for m in _OPERATOR.finditer(solution)]
        rng.shuffle(edits)
        return [(solution[:a] + new + solution[b:], {"operator": op, "detail": f"{solution[a:b]} -> {new}"})
                for a, b, new, op in edits]

    def benchmarks(self) -> tuple[Benchmark, ...]:
        return (Benchmark(name="toybench", load=_load_bench, oracle=self.reference_solution,
                          description="toy tasks JSONL", default_data=BENCH_DATA),)


def _load_bench(path: str, model: str | None = None) -> list[Task]:
    return read_jsonl(path, Task.from_dict)


def _tasks(n: int, seed: int = 12) -> list[Task]:
    """``n`` tasks ``a*x + b*y - c`` with four cases each (``toybench.jsonl`` holds ``_tasks(4, seed=13)``, with
    ids ``toybench/N``)."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        a, b, c = rng.randint(1, 5), rng.randint(1, 5), rng.randint(0, 9)
        reference = f"{a}*x + {b}*y - {c}"
        cases = [{"env": env, "expected": a * env["x"] + b * env["y"] - c}
                 for env in ({"x": rng.randint(-9, 9), "y": rng.randint(-9, 9)} for _ in range(4))]
        lines = "\n".join(f"x={k['env']['x']}, y={k['env']['y']} -> {k['expected']}" for k in cases)
        prompt = f"Write one integer expression over x and y (+ - * / % and parentheses) that gives:\n{lines}\n"
        out.append(Task(task_id=f"toy/{i}", domain="toy", prompt=prompt,
                        assets={"variables": list(VARIABLES), "cases": cases, "reference": reference}))
    return out


def _last_expression(parts: list[str], issues: list[str], truncated: bool, prose_possible: bool) -> Extraction:
    lines = [ln.strip() for part in parts for ln in part.splitlines() if ln.strip()]
    expressions = [ln for ln in lines if _EXPRESSION.match(ln)]
    if not expressions:
        return Extraction("", "toy", "empty", ok=False, issues=issues + ["no_code"])
    if len(expressions) < len(lines):
        issues.append("dropped_prose")
    return Extraction(expressions[-1], "toy", "raw" if prose_possible else "fenced", issues=issues)
