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
