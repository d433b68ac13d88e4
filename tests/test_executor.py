import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from codealign.errors import UserError
from codealign.jsonl import read_jsonl
from codealign.sandbox.cache import VerdictCache
from codealign.execution.executor import execute
from codealign.types import Candidate, ExecResult, Task, Verdict
from shell_domain import ShellDomain


def _batch(n, script="exit 0"):
    tasks = [Task(f"t{i}", "shell", "p") for i in range(n)]
    cands = [Candidate(f"t{i}", f"# {i}\n{script}\n") for i in range(n)]
    return tasks, cands


def test_every_candidate_gets_one_result_in_input_order(backend):
    tasks, cands = _batch(6)
    cands.append(Candidate("t0", "exit 3\n"))
    results = execute(ShellDomain(), tasks, cands, backend=backend, progress=False)
    assert [r.candidate_id for r in results] == [c.candidate_id for c in cands]
    assert [r.verdict for r in results] == [Verdict.PASS] * 6 + [Verdict.FAIL]


def test_unknown_task_id_is_a_user_error_before_anything_runs(backend):
    tasks, cands = _batch(2)
    with pytest.raises(UserError, match="unknown task_id"):
        execute(ShellDomain(), tasks, cands + [Candidate("nope", "exit 0")], backend=backend, progress=False)


def test_results_stream_to_jsonl_and_are_rewritten_in_order(backend, tmp_path):
    tasks, cands = _batch(5)
    out = tmp_path / "verdicts.jsonl"
    execute(ShellDomain(), tasks, cands, backend=backend, out=out, progress=False)
    rows = read_jsonl(out, ExecResult.from_dict)
    assert [r.candidate_id for r in rows] == [c.candidate_id for c in cands]


def test_warm_cache_reruns_nothing(backend, tmp_path):
    tasks, cands = _batch(4, "sleep 0.3")
    cache = VerdictCache(tmp_path / "c.sqlite")
    first = execute(ShellDomain(), tasks, cands, backend=backend, cache=cache, progress=False)
    t0 = time.monotonic()
    second = execute(ShellDomain(), tasks, cands, backend=backend, cache=cache, progress=False)
    assert time.monotonic() - t0 < 0.3
    assert all(r.cached for r in second) and not any(r.cached for r in first)
    assert [r.verdict for r in first] == [r.verdict for r in second]


def test_sandbox_error_is_never_cached(tmp_path):
    cache = VerdictCache(tmp_path / "c.sqlite")
    r = ExecResult("t", "c", Verdict.SANDBOX_ERROR)
    assert cache.put("k", "shell", r) is False
    assert cache.get("k", Task("t", "shell", "p"), Candidate("t", "x")) is None


def test_harness_exception_becomes_sandbox_error_for_that_candidate_only(backend):
    class Broken(ShellDomain):
        def prepare(self, task, candidate):
            if "boom" in candidate.completion:
                raise RuntimeError("harness fault")
            return super().prepare(task, candidate)

    tasks, cands = _batch(3)
    cands[1] = Candidate("t1", "# boom\nexit 0")
    results = execute(Broken(), tasks, cands, backend=backend, progress=False)
    assert [r.verdict for r in results] == [Verdict.PASS, Verdict.SANDBOX_ERROR, Verdict.PASS]
    assert "harness fault" in results[1].details["error"]


class CountingShell(ShellDomain):
    """The shell domain, counting the jobs it prepares; the task's prompt is a file the script can read."""

    def __init__(self):
        super().__init__()
        self.prepared = 0

    def prepare(self, task, candidate):
        self.prepared += 1
        job = super().prepare(task, candidate)
        job.files["prompt.txt"] = task.prompt
        return job


def test_identical_candidates_of_one_call_run_once_and_share_the_verdict(backend, tmp_path):
    tasks = [Task("t0", "shell", "p")]
    cands = [Candidate("t0", "exit 3\n", candidate_id=f"same{i}") for i in range(3)] + [Candidate("t0", "exit 0\n")]
    domain = CountingShell()
    out = tmp_path / "verdicts.jsonl"
    results = execute(domain, tasks, cands, backend=backend, out=out, progress=False)
    assert domain.prepared == 2
    assert [r.verdict for r in results] == [Verdict.FAIL] * 3 + [Verdict.PASS]
    assert [r.cached for r in results] == [False, True, True, False]
    assert [r.candidate_id for r in read_jsonl(out, ExecResult.from_dict)] == [c.candidate_id for c in cands]


def test_the_same_text_on_two_tasks_is_judged_once_per_task(backend):
    tasks = [Task("t0", "shell", "yes"), Task("t1", "shell", "no")]
    cands = [Candidate(t.task_id, "grep -q yes prompt.txt\n") for t in tasks]
    domain = CountingShell()
    results = execute(domain, tasks, cands, backend=backend, progress=False)
    assert domain.prepared == 2
    assert [r.verdict for r in results] == [Verdict.PASS, Verdict.FAIL]


def test_a_shared_verdict_keeps_each_candidates_own_task_id(backend, tmp_path):
    # Two phrasings of one task have the same assets, hence one cache key: they share the run, not the task id.
    tasks = [Task("t0", "shell", "p"), Task("t1", "shell", "p")]
    cands = [Candidate(t.task_id, "exit 0\n") for t in tasks]
    domain = CountingShell()
    results = execute(domain, tasks, cands, backend=backend, cache=tmp_path / "c.sqlite", progress=False)
    assert domain.prepared == 1
    assert [r.task_id for r in results] == ["t0", "t1"]


KILLED_RUN = textwrap.dedent("""
    import sys
    sys.path.insert(0, {tests!r})
    from shell_domain import ShellDomain
    from codealign.execution.executor import execute
    from codealign.types import Candidate, Task
    tasks = [Task(f"t{{i}}", "shell", "p") for i in range(12)]
    cands = [Candidate(f"t{{i}}", f"# {{i}}\\nsleep 0.4\\n") for i in range(12)]
    execute(ShellDomain(), tasks, cands, backend="auto", cache={cache!r}, out={out!r}, workers=2, progress=False)
""")


@pytest.mark.slow
def test_sigkilled_run_recomputes_only_what_is_missing(tmp_path):
    tests = os.path.dirname(__file__)
    cache, out = str(tmp_path / "c.sqlite"), str(tmp_path / "v.jsonl")
    code = KILLED_RUN.format(tests=tests, cache=cache, out=out)
    proc = subprocess.Popen([sys.executable, "-c", code])
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if os.path.exists(out) and len(open(out).read().splitlines()) >= 3:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done_before = VerdictCache(cache).stats()["entries"]
    assert 3 <= done_before < 12
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
    rows = read_jsonl(out, ExecResult.from_dict)
    assert len(rows) == 12 and all(r.verdict is Verdict.PASS for r in rows)
    assert sum(r.cached for r in rows) >= done_before
    assert VerdictCache(cache).stats()["entries"] == 12


def test_two_processes_share_one_cache(tmp_path):
    cache = str(tmp_path / "c.sqlite")
    code = textwrap.dedent(f"""
        from codealign.sandbox.cache import VerdictCache
        from codealign.types import ExecResult, Verdict
        import sys
        c = VerdictCache({cache!r})
        for i in range(300):
            c.put(f"{{sys.argv[1]}}-{{i}}", "shell", ExecResult("t", "c", Verdict.PASS, 1.0))
    """)
    procs = [subprocess.Popen([sys.executable, "-c", code, tag]) for tag in ("a", "b")]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    assert VerdictCache(cache).stats()["entries"] == 600


def test_ray_executor_gives_the_same_verdicts_as_local(backend, tmp_path):
    ray = pytest.importorskip("ray")
    from ray import cloudpickle

    import shell_domain

    cloudpickle.register_pickle_by_value(shell_domain)
    tasks, cands = _batch(4)
    cands.append(Candidate("t1", "exit 1"))
    local = execute(ShellDomain(), tasks, cands, backend=backend, progress=False)
    try:
        remote = execute(ShellDomain(), tasks, cands, backend=backend, executor="ray", workers=2, progress=False)
    finally:
        ray.shutdown()
    assert [r.verdict for r in remote] == [r.verdict for r in local]
    assert [r.candidate_id for r in remote] == [r.candidate_id for r in local]


@pytest.mark.slow
def test_ray_executor_judges_batches_and_their_unjudged_members_as_local_does(backend):
    pytest.importorskip("ray")
    from ray import cloudpickle

    import shell_domain

    cloudpickle.register_pickle_by_value(shell_domain)
    tasks, cands = _sampled(2, 4)
    cands.append(Candidate("t1", "echo alone; exit 0\n"))
    local = execute(shell_domain.BatchShellDomain(), tasks, cands, backend=backend, progress=False, batch=False)
    try:
        remote = execute(shell_domain.BatchShellDomain(), tasks, cands, backend=backend, executor="ray", workers=2,
                         progress=False)
    finally:
        import ray

        ray.shutdown()
    assert [(r.candidate_id, r.verdict) for r in remote] == [(r.candidate_id, r.verdict) for r in local]


def test_a_lone_surrogate_in_a_candidate_is_refused_before_anything_is_written(backend, tmp_path):
    """No UTF-8 text carries it: a verdicts file holding it could not be read back (issue 31)."""
    tasks, _ = _batch(1)
    out = tmp_path / "verdicts.jsonl"
    with pytest.raises(UserError, match="lone surrogate"):
        execute(ShellDomain(), tasks, [Candidate("t0", "# \udcff\nexit 0\n")], backend=backend, out=out,
                progress=False)
    assert not out.exists()


def test_rerun_over_a_partial_stream_leaves_one_row_per_candidate(backend, tmp_path):
    tasks, cands = _batch(4)
    out = tmp_path / "verdicts.jsonl"
    execute(ShellDomain(), tasks, cands[:2], backend=backend, out=out, ordered=False, progress=False)
    with open(out, "a", encoding="utf-8") as fh:
        fh.write(open(out, encoding="utf-8").read())  # a stream that an earlier crash left doubled
    execute(ShellDomain(), tasks, cands, backend=backend, out=out, ordered=False, progress=False)
    rows = read_jsonl(out, ExecResult.from_dict)
    assert sorted(r.candidate_id for r in rows) == sorted(c.candidate_id for c in cands)


INTERRUPTED_RUN = textwrap.dedent("""
    import sys
    sys.path.insert(0, {tests!r})
    from codealign.execution.executor import execute
    from codealign.types import Candidate, Task
    from shell_domain import ShellDomain
    tasks = [Task(f"t{{i}}", "shell", "p", limits={{"wall_s": 120}}) for i in range(4)]
    cands = [Candidate(f"t{{i}}", f"sleep 97.{{i}}\\n") for i in range(4)]
    execute(ShellDomain(), tasks, cands, backend={backend!r}, out={out!r}, workers=2, progress=False)
""")


def _sleepers() -> list[str]:
    return subprocess.run(["pgrep", "-f", "^sleep 97"], capture_output=True, text=True).stdout.split()


@pytest.mark.parametrize("backend_name", ["bwrap", "docker"])
def test_ctrl_c_kills_running_jobs_and_exits_within_seconds_with_valid_output(backend_name, tmp_path):
    out = tmp_path / "v.jsonl"
    code = INTERRUPTED_RUN.format(tests=os.path.dirname(__file__), out=str(out), backend=backend_name)
    proc = subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(_sleepers()) < 2:
        time.sleep(0.05)
    assert len(_sleepers()) == 2
    t0 = time.monotonic()
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=60)
    # The jobs would run for 97 s; the queued ones, cancelled, once held the exit for the full 10 s cancel window.
    assert time.monotonic() - t0 < 5
    assert _sleepers() == []
    read_jsonl(out, ExecResult.from_dict)  # valid JSONL (possibly empty): no torn rows


def test_the_progress_bar_ends_at_n_of_n(backend, capfd):
    tasks, cands = _batch(3, "sleep 0.5")  # three jobs ending together: tqdm skips updates within its interval
    execute(ShellDomain(), tasks, cands, backend=backend, workers=3, progress=True)
    states = [s for s in capfd.readouterr().err.replace("\r", "\n").splitlines() if "execute[" in s]
    assert states and "3/3" in states[-1], states[-3:]


def test_the_progress_bar_counts_a_duplicate_candidate_once(backend, capfd):
    tasks, cands = _batch(2, "exit 0")
    cands += [Candidate(cands[0].task_id, cands[0].completion, candidate_id="again")]  # judged once, shared
    execute(ShellDomain(), tasks, cands, backend=backend, workers=2, progress=True)
    states = [s for s in capfd.readouterr().err.replace("\r", "\n").splitlines() if "execute[" in s]
    assert states and "3/3" in states[-1] and "4/3" not in "".join(states), states[-3:]


def _sampled(n_tasks, per_task, script="exit 0"):
    tasks = [Task(f"t{i}", "shell", "p") for i in range(n_tasks)]
    cands = [Candidate(f"t{i}", f"# {i}.{k}\n{script if k % 2 == 0 else 'exit 4'}\n")
             for k in range(per_task) for i in range(n_tasks)]  # interleaved: batches must regroup by task
    return tasks, cands


def test_batches_hold_candidates_of_one_task_only(backend):
    from shell_domain import BatchShellDomain

    tasks, cands = _sampled(3, 4)
    domain = BatchShellDomain()
    results = execute(domain, tasks, cands, backend=backend, workers=2, progress=False)
    # four of each task: a batch of three, then the fourth alone (evaluate, not evaluate_batch)
    assert sorted(domain.batches) == [["t0"] * 3, ["t1"] * 3, ["t2"] * 3]
    assert [r.verdict for r in results] == [Verdict.PASS if k % 2 == 0 else Verdict.FAIL for k in range(4) for _ in range(3)]
    assert [r.candidate_id for r in results] == [c.candidate_id for c in cands]


def test_tasks_with_few_candidates_share_batches_where_the_domain_allows(backend):
    from shell_domain import MixedBatchShellDomain

    tasks, cands = _sampled(7, 1)
    tasks.append(Task("t7", "shell", "p", limits={"wall_s": 5}))
    cands.append(Candidate("t7", "exit 0\n"))
    domain = MixedBatchShellDomain()
    results = execute(domain, tasks, cands, backend=backend, workers=2, progress=False)
    # seven tasks with one candidate each and equal limits: packed in threes, t6 left alone; t7's limits differ
    assert sorted(domain.batches) == [["t0", "t1", "t2"], ["t3", "t4", "t5"]]
    assert [r.verdict for r in results] == [Verdict.PASS] * 8
    assert [r.task_id for r in results] == [c.task_id for c in cands]


def test_batching_off_gives_the_same_verdicts_and_forms_no_batch(backend):
    from shell_domain import BatchShellDomain

    tasks, cands = _sampled(2, 5)
    batched, alone = BatchShellDomain(), BatchShellDomain()
    on = execute(batched, tasks, cands, backend=backend, progress=False)
    off = execute(alone, tasks, cands, backend=backend, progress=False, batch=False)
    assert alone.batches == [] and batched.batches
    assert [(r.candidate_id, r.verdict, r.score) for r in on] == [(r.candidate_id, r.verdict, r.score) for r in off]
    assert [r.verdict for r in off].count(Verdict.FAIL) == 4


def test_a_member_the_batch_leaves_unjudged_is_judged_alone(backend):
    from shell_domain import BatchShellDomain

    tasks = [Task("t0", "shell", "p")]
    cands = [Candidate("t0", "exit 0\n"), Candidate("t0", "echo alone; exit 5\n"), Candidate("t0", "exit 1\n")]
    domain = BatchShellDomain()
    results = execute(domain, tasks, cands, backend=backend, progress=False)
    assert [r.verdict for r in results] == [Verdict.PASS, Verdict.FAIL, Verdict.FAIL]
    assert sorted(len(b) for b in domain.batches) == [3]  # the three alone judgings are evaluate(), not batches


def test_a_batch_harness_fault_never_becomes_a_verdict(backend):
    from shell_domain import BatchShellDomain

    class Broken(BatchShellDomain):
        def evaluate_batch(self, tasks, candidates, backend):
            raise RuntimeError("batch harness fault")

    tasks, cands = _sampled(1, 3)
    results = execute(Broken(), tasks, cands, backend=backend, progress=False)
    assert [r.verdict for r in results] == [Verdict.PASS, Verdict.FAIL, Verdict.PASS]


def test_a_batch_that_outlives_the_watchdog_is_judged_alone(backend, monkeypatch):
    from codealign.execution import executor
    from shell_domain import BatchShellDomain

    class Stalling(BatchShellDomain):
        def evaluate_batch(self, task, candidates, backend):
            time.sleep(self.limits_for(task).wall_s + 2)  # past the watchdog; what it then says is ignored
            return [ExecResult(task.task_id, c.candidate_id, Verdict.PASS, 1.0) for c in candidates]

    monkeypatch.setattr(executor, "_WATCHDOG_GRACE_S", 0.0)
    tasks = [Task("t0", "shell", "p", limits={"wall_s": 1})]
    cands = [Candidate("t0", f"# {k}\nexit 1\n") for k in range(3)]
    results = execute(Stalling(), tasks, cands, backend=backend, progress=False)
    assert [r.verdict for r in results] == [Verdict.FAIL] * 3
