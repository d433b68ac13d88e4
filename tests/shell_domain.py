"""A minimal real domain for sandbox tests: the candidate is a bash script, PASS iff it exits 0.

It is a genuine Domain (prepare → sandboxed job → judge), not a stand-in for a toolchain: the executor,
cache and backends are exercised exactly as with the language domains.
"""

from codealign.domains.base import Domain, limit_verdict
from codealign.sandbox.job import Job
from codealign.sandbox.limits import Limits
from codealign.types import ExecResult, Verdict


class ShellDomain(Domain):
    name = "shell"
    default_limits = Limits(wall_s=10)

    def prepare(self, task, candidate):
        return Job(script="bash ./cand.sh 3>&-\necho rc=$? >&3", files={"cand.sh": candidate.completion},
                   limits=self.limits_for(task))

    def judge(self, task, candidate, job, result):
        verdict = limit_verdict(result)
        if verdict is None:
            ok = result.trusted.strip() == b"rc=0"
            verdict = Verdict.PASS if ok else Verdict.FAIL
        return ExecResult(task.task_id, candidate.candidate_id, verdict, 1.0 if verdict is Verdict.PASS else 0.0,
                          stdout=result.text(), stderr=result.text("stderr"), wall_s=result.wall_s)


class BatchShellDomain(ShellDomain):
    """The shell domain judging up to ``batch_size`` scripts of one task in one job (each in its own subshell,
    its exit status on the trusted channel by position), recording the task ids of every batch it is given.
    A script that prints ``alone`` on stdout, or a job that ends abnormally, leaves its members to be judged
    alone."""

    batch_size = 3

    def __init__(self):
        super().__init__()
        self.batches: list[list[str]] = []

    def evaluate_batch(self, tasks, candidates, backend):
        from codealign.sandbox.job import JobStatus

        self.batches.append([c.task_id for c in candidates])
        task = tasks[0]
        files = {f"cand{k}.sh": c.completion for k, c in enumerate(candidates)}
        script = "".join(f"bash ./cand{k}.sh > out{k} 3>&-; echo $? >&3; cat out{k}\n" for k in range(len(candidates)))
        outcome = backend.run(Job(script=script, files=files, limits=self.limits_for(task)))
        codes = outcome.trusted.split()
        if outcome.status is not JobStatus.EXITED or len(codes) != len(candidates) or b"alone" in outcome.stdout:
            return [None] * len(candidates)
        return [ExecResult(c.task_id, c.candidate_id, Verdict.PASS if rc == b"0" else Verdict.FAIL,
                           1.0 if rc == b"0" else 0.0) for c, rc in zip(candidates, codes)]


class MixedBatchShellDomain(BatchShellDomain):
    """:class:`BatchShellDomain` whose batches may hold several tasks' scripts."""

    batch_tasks = True
