"""The ladder-diagram (IEC 61131-3 LD) domain: rung text, graph checks, scan-cycle simulation, graph edits.

Where the check runs. By default each candidate is judged in a sandbox job that runs
``python -m codealign.domains.ladder.run_check`` on the task and the candidate text, and the verdict comes
back on the trusted fd 3. The checker never executes anything of the candidate — it parses it (bounded
size, nesting and element count) and simulates it (bounded scans) — so the verdict is trustworthy; the job
adds what the checker cannot promise by itself: an enforced wall-clock, CPU and memory limit should a
parser or simulator bug meet a hostile input. ``LadderDomain(in_process=True)`` judges in the calling
process instead (the same function, no launch): about a hundred times faster, for trusted inputs and for
edit filtering.

Threat model. The candidate is a program text, never executed; it attacks by behaving right only on the stimuli
it expects. So a task with a reference (every procedural family task) is judged by behaviour against the
reference, not by a fixed script: the exhaustive search of the product machine (a proof either way where the
joint state space fits its budget), the task's traces, and traces drawn per job from a seed the harness derives
from its secret key and the (task, candidate) content (:mod:`codealign.domains.draws`; the job receives the
seed, never the key), reaching every reachable state of the reference. A program that replays the fixed
traces (a scan clock) or differs off them (graph edits the traces miss) fails, and so does a candidate whose
extra state (a long timer, a large counter) runs the search out of budget where the reference's own states fit
in an eighth of it: hiding a difference past the search is a FAIL, not a pass on traces. Not guaranteed: where
the search does not apply (INT inputs, more than six inputs, a reference over budget) a difference that only
shows after longer or rarer input sequences than the drawn ones can pass; a task with traces and
no reference is judged on its traces alone. Every job is bounded: a program whose simulation would exceed the
work budget is refused (RUNTIME_ERROR) before simulating, and the structural checks are linear in its size.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from codealign.domains.base import Benchmark, Domain, limit_verdict
from codealign.domains.draws import draw_seed
from codealign.domains.ladder.handwritten import RESOURCE_DIR, SPLITS, bundled_tasks, library
from codealign.domains.ladder.edits import negatives
from codealign.domains.ladder.extract import extract_ladder
from codealign.domains.ladder.parser import parse_program
from codealign.domains.ladder.scoring import DRAW_PURPOSE, score_candidate
from codealign.domains.ladder.assets import LadderTask
from codealign.errors import UserError
from codealign.extraction import Extraction, extract_code
from codealign.sandbox.job import Job, JobResult, JobStatus
from codealign.sandbox.limits import Limits
from codealign.types import Candidate, ExecResult, Task, Verdict

if TYPE_CHECKING:
    from codealign.sandbox.process import Backend

__all__ = ["LadderDomain", "bundled_tasks", "library", "parse_program"]

_SCRIPT = 'exec "$CODEALIGN_PYTHON" -S -m codealign.domains.ladder.run_check task.json candidate.ld seed.txt\n'


class LadderDomain(Domain):
    name = "ladder"
    task_module = "codealign.domains.ladder.tasks"
    default_limits = Limits(wall_s=20.0, cpu_s=20.0, memory_mb=512, nproc=16)
    fence_tags = frozenset({"ladder", "ld", "lad", "plc"})
    # 3 RFT rounds on 128 feedback-pool tasks x 8 samples, evaluated on 144 held-out tasks x 2 seeds x 2 samples:
    # method - control +0.064 ± 0.023 and +0.050 ± 0.023 on training seeds 0 and 1 (7.0 and 6.0 min on 2 cores); DPO
    # and RFT with 10 steps a round stayed below the control (measured before the newline fix in ``extract``).
    # Figures: README, "Results".
    run_defaults = {"sft": {"max_steps": 150, "per_device_train_batch_size": 8}, "method": "rft", "rounds": 3,
                    "max_tasks": 128, "sample": {"n": 8, "max_new_tokens": 96},
                    "eval": {"heldout_tasks": 144, "max_tasks": 0, "n": 2}}

    def __init__(self, in_process: bool = False):
        self.in_process = in_process
        self._tasks: dict[tuple[str, str], LadderTask] = {}

    def ladder_task(self, task: Task) -> LadderTask:
        """The validated task (cached); raises UserError for a malformed task."""
        key = (task.task_id, task.asset_hash())
        if key not in self._tasks:
            self._tasks[key] = LadderTask.from_task(task)
        return self._tasks[key]

    def toolchain_version(self) -> str:
        return f"python {sys.version.split()[0]}"

    def prepare(self, task: Task, candidate: Candidate) -> Job:
        self.ladder_task(task)
        return Job(
            script=_SCRIPT,
            files={"task.json": json.dumps(task.to_dict()), "candidate.ld": candidate.completion,
                   "seed.txt": str(self.draw_seed(task, candidate))},
            limits=self.limits_for(task),
            env={"CODEALIGN_PYTHON": sys.executable,
                 "PYTHONPATH": ":".join(str(Path(p).parent) for p in self.sandbox_binds()),
                 "PYTHONDONTWRITEBYTECODE": "1", "PYTHONHASHSEED": "0"},
            binds=self.sandbox_binds(),
        )

    def draw_seed(self, task: Task, candidate: Candidate) -> int:
        """The seed of this job's random traces, from the harness's secret key (never passed to the job)."""
        return draw_seed(DRAW_PURPOSE, task, self.normalize(candidate.completion))

    def extract(self, text: str, truncated: bool = False) -> Extraction:
        # No final newline, as the references the warm-ups train on end: RFT and DPO train on this text, and a newline
        # the model never wrote before its end taught it to write rung after rung (README, Results).
        extraction = extract_code(text, self.name, self.fence_tags, extract_ladder, truncated=truncated)
        extraction.code = extraction.code.rstrip("\n")
        return extraction

    def judge(self, task: Task, candidate: Candidate, job: Job, result: JobResult) -> ExecResult:
        base = dict(task_id=task.task_id, candidate_id=candidate.candidate_id, stderr=result.text("stderr")[-4000:],
                    wall_s=result.wall_s, cpu_s=result.cpu_s, peak_memory_mb=result.peak_memory_mb,
                    completion=candidate.completion)
        limited = limit_verdict(result)
        if limited is not None:
            return ExecResult(verdict=limited, details={"error": f"checker stopped: {limited.value}"}, **base)
        if result.status is not JobStatus.EXITED or result.returncode != 0 or not result.trusted:
            message = result.error or f"checker exited {result.returncode} without a verdict"
            return ExecResult(verdict=Verdict.SANDBOX_ERROR, details={"error": message}, **base)
        verdict = json.loads(result.trusted.decode("utf-8"))
        return ExecResult(verdict=Verdict(verdict["verdict"]), score=verdict["score"], details=verdict["details"],
                          **base)

    def evaluate(self, task: Task, candidate: Candidate, backend: "Backend") -> ExecResult:
        if not self.in_process:
            return super().evaluate(task, candidate, backend)
        verdict = score_candidate(self.ladder_task(task), candidate.completion, seed=self.draw_seed(task, candidate))
        details = {**verdict["details"], "backend": "in-process"}
        return ExecResult(task_id=task.task_id, candidate_id=candidate.candidate_id,
                          verdict=Verdict(verdict["verdict"]), score=verdict["score"], details=details,
                          completion=candidate.completion)

    def mutate(self, solution: str, rng: random.Random) -> list[tuple[str, dict]]:
        """Graph edits of a correct program whose behaviour differs (see :mod:`.edits`); each description
        records the operation, the rung and what changed."""
        try:
            program = parse_program(solution)
        except UserError:
            return []
        return [(e.program.text(), e.metadata()) for e in negatives(program, rng=rng).kept]

    def import_task(self, task_id: str, source: str, spec: str) -> Task:
        """A task from a PLCopen TC6 XML export or an ASCII ladder drawing (see :mod:`.exchange`)."""
        from codealign.domains.ladder.exchange import import_task

        return import_task(task_id, source, spec)

    def export_program(self, text: str) -> tuple[str, str]:
        """PLCopen TC6 XML (an ``<LD>`` body, :mod:`.plcopen`) of the rung text ``text``, for an IDE."""
        from codealign.domains.ladder.plcopen import export_ld

        return ".xml", export_ld(parse_program(text))

    def benchmarks(self) -> tuple[Benchmark, ...]:
        return (Benchmark(
            "ladder", lambda path, split, model=None: bundled_tasks(split, path), self.reference_solution,
            "LD tasks JSONL in the bundled format", variants=SPLITS[::-1], variant_flag="split",
            default_data=RESOURCE_DIR / "tasks.jsonl"),)

    def reference_solution(self, task: Task) -> str | None:
        return task.metadata.get("solution") or task.assets.get("reference")

    def selftest_cases(self) -> list[tuple[Task, Candidate, Verdict]]:
        """The motor seal-in task: its reference, and the rung without the seal-in (the motor stops when Start
        is released), which parses but fails the traces."""
        task = next(t for t in bundled_tasks("train") if t.task_id == "ld_motor_seal_in")
        return [(task, Candidate(task.task_id, self.reference_solution(task)), Verdict.PASS),
                (task, Candidate(task.task_id, "NO(Start) NC(Stop) OUT(Motor)"), Verdict.FAIL)]
