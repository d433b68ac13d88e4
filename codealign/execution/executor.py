"""Running many candidates: on all local cores (threads driving sandboxed processes) or on a Ray cluster.

Guarantees: every candidate gets exactly one ExecResult; a harness fault becomes SANDBOX_ERROR for that
candidate only; each job is bounded by its backend deadline, and the executor's watchdog marks a job that
outlives ``wall_s`` plus a grace period as TIMEOUT, so no worker stalls the run; results stream to the
``out`` JSONL as they finish (a killed run keeps them), then the file is rewritten atomically in input
order when ``ordered``; with a cache, a rerun recomputes only what is missing. Candidates of one call whose
(task, normalised text) is the same run once and share the verdict (marked ``cached``, as a cache hit would
be), a SANDBOX_ERROR included: a sampled batch repeats itself often (half of a Verilog evaluation's samples).
What is left is judged in units of work: candidates of one task (or, where the domain's ``batch_tasks`` says so,
of several tasks with equal limits), up to the domain's ``batch_size``, judged together by its
``evaluate_batch``; a member the batch could not judge, and every member of a batch that outlives the watchdog,
is judged alone afterwards, so batching changes no verdict, only how many jobs run.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import copy
import dataclasses
import os
import signal
import sys
import threading
import time
from typing import Iterable, Sequence

from codealign.domains import get_domain
from codealign.domains.base import Domain
from codealign.errors import UserError
from codealign.execution.judge import evaluate_batch
from codealign.jsonl import JsonlAppender, read_completed, write_jsonl
from codealign.jsonl import lone_surrogate
from codealign.sandbox.backends import get_backend
from codealign.sandbox.cache import VerdictCache
from codealign.sandbox.process import Backend
from codealign.types import Candidate, ExecResult, Task, Verdict

EXECUTORS = ("local", "ray")
VERDICT_KEY = "verdict_key"
"""The ``details`` entry of every result that names what judged what: the verdict cache's key (the judge's
fingerprint, the limits, the task's assets and the normalised candidate)."""
_WATCHDOG_GRACE_S = 30.0


def _index_tasks(tasks: Iterable[Task], candidates: Sequence[Candidate]) -> dict[str, Task]:
    by_id: dict[str, Task] = {}
    for task in tasks:
        if task.task_id in by_id:
            raise UserError(f"duplicate task_id {task.task_id!r} in tasks")
        by_id[task.task_id] = task
    for cand in candidates:
        if lone_surrogate(cand.completion):
            raise UserError(f"candidate {cand.candidate_id} of task {cand.task_id}: its completion holds a lone "
                            "surrogate (\\ud800-\\udfff with no pair), which no UTF-8 text can carry; fix the text "
                            "that made it")
    unknown = sorted({c.task_id for c in candidates} - set(by_id))
    if unknown:
        shown = ", ".join(unknown[:5]) + (" ..." if len(unknown) > 5 else "")
        raise UserError(f"{len(unknown)} candidate(s) name unknown task_id(s): {shown}")
    return by_id


def execute(
    domain: Domain | str,
    tasks: Iterable[Task],
    candidates: Sequence[Candidate],
    *,
    backend: str | Backend = "auto",
    executor: str = "local",
    workers: int | None = None,
    cache: VerdictCache | str | os.PathLike | None = None,
    out: str | os.PathLike | None = None,
    ordered: bool = True,
    progress: bool = True,
    reuse: bool = True,
    batch: bool = True,
) -> list[ExecResult]:
    """Judge every candidate against its task; returns results in input order.

    ``cache`` is a VerdictCache, a path to one, or None (no cache). ``out`` streams results as JSONL; with
    ``reuse``, a row already in ``out`` (an earlier run's, finished or killed) is reused only when its task, its
    candidate and the judge's fingerprint (:meth:`~codealign.domains.base.Domain.fingerprint`, under this
    backend) all match: each result's ``details["verdict_key"]`` records them. Everything else is judged; one
    line on stderr says how many rows were reused.

    With ``batch`` (the default), what is left to judge after reuse, the cache and deduplication is grouped by
    task into units of up to the domain's :attr:`~codealign.domains.base.Domain.batch_size` candidates (tasks
    with fewer packed together where :attr:`~codealign.domains.base.Domain.batch_tasks`), each
    judged by :meth:`~codealign.domains.base.Domain.evaluate_batch` as one unit of work; a candidate the batch
    leaves unjudged is then judged alone. ``batch=False`` judges every candidate alone (for comparisons: the
    verdicts are the same).
    """
    if executor not in EXECUTORS:
        raise UserError(f"unknown executor {executor!r}; choose one of: {', '.join(EXECUTORS)}")
    dom = get_domain(domain) if isinstance(domain, str) else domain
    be = get_backend(backend) if isinstance(backend, str) else backend
    by_id = _index_tasks(tasks, candidates)
    store = VerdictCache(cache) if cache is not None and not isinstance(cache, VerdictCache) else cache
    workers = workers or os.cpu_count() or 1
    done_before = {(r.get("task_id"), r.get("candidate_id")): r for r in read_completed(out)} \
        if out is not None and reuse else {}
    plan = _plan(dom, be, by_id, candidates, done_before, store)
    if done_before:
        print(f"execute: reused {plan.reused} of {len(done_before)} rows already in {out} (task, candidate and "
              f"judge unchanged); judging {len(plan.todo)}", file=sys.stderr)
    if out is not None:
        # Start the stream from the reused rows only, so a run that dies again never leaves duplicates.
        write_jsonl(out, [r for r in plan.results if r is not None])
    appender = JsonlAppender(out) if out is not None else None
    bar = _progress(len(candidates), progress, dom.name)
    bar.update(sum(r is not None for r in plan.results))  # reused rows, cache hits; finish() counts the rest
    mix = (lambda task_id: dom.limits_for(by_id[task_id])) if dom.batch_tasks else None
    units = _batches(plan.todo, candidates, dom.batch_size if batch else 1, mix)
    try:
        finish = _finisher(dom.name, plan, candidates, store, appender, bar)
        if executor == "ray":
            from codealign.execution.ray_executor import run_on_ray

            run_on_ray(dom, by_id, candidates, units, be, workers, finish)
        else:
            _run_local(dom, by_id, candidates, units, be, workers, finish)
    finally:
        bar.refresh()  # the last update may fall inside tqdm's refresh interval: show where it ended (N/N when done)
        bar.close()
        if appender is not None:
            appender.close()
    final = [r for r in plan.results if r is not None]
    assert len(final) == len(candidates)
    if out is not None and ordered:
        write_jsonl(out, final)
    return final


@dataclasses.dataclass
class _Plan:
    """What one call of :func:`execute` must judge: ``results`` holds what is known already (reused rows and
    cache hits), ``todo`` the candidates to judge, ``copies`` the later candidates that share each one's
    verdict, ``keys`` every candidate's verdict key."""

    results: list[ExecResult | None]
    keys: list[str]
    todo: list[int]
    copies: dict[int, list[int]]
    reused: int


def _plan(dom: Domain, backend: Backend, by_id: dict[str, Task], candidates: Sequence[Candidate],
          done_before: dict, store: VerdictCache | None) -> _Plan:
    """Reuse, cache and deduplication: each candidate's verdict key, and which candidates are left to judge."""
    judge = dom.fingerprint(backend.identity())
    plan = _Plan([None] * len(candidates), [], [], {}, 0)
    leaders: dict[object, int] = {}
    for i, cand in enumerate(candidates):
        task = by_id[cand.task_id]
        key = VerdictCache.key(judge, dom.limits_for(task).to_dict(), task, dom.normalize(cand.completion))
        plan.keys.append(key)
        prior = done_before.get((cand.task_id, cand.candidate_id))
        if (prior is not None and prior.get("verdict") != Verdict.SANDBOX_ERROR.value
                and (prior.get("details") or {}).get(VERDICT_KEY) == key
                and prior.get("completion") == cand.completion):
            plan.results[i] = ExecResult.from_dict({**prior, "cached": True})
            plan.reused += 1
            continue
        if store is not None:
            hit = store.get(key, task, cand)
            if hit is not None:
                plan.results[i] = hit
                continue
        same = key if store is not None else (cand.task_id, key)
        if same in leaders:
            plan.copies[leaders[same]].append(i)
            continue
        leaders[same] = i
        plan.copies[i] = []
        plan.todo.append(i)
    return plan


def _batches(todo: list[int], candidates: Sequence[Candidate], size: int, mix=None) -> list[list[int]]:
    """``todo`` as units of work: the candidates of one task, in order, in groups of at most ``size``; with
    ``mix`` (task id → a key, the task's limits), groups smaller than ``size`` whose tasks have the same key are
    packed together, in order, up to ``size``."""
    size = max(1, size)
    by_task: dict[str, list[int]] = {}
    for i in todo:
        by_task.setdefault(candidates[i].task_id, []).append(i)
    groups = [group[k:k + size] for group in by_task.values() for k in range(0, len(group), size)]
    if mix is None or size == 1:
        return groups
    units, open_units = [], {}
    for group in groups:
        if len(group) == size:
            units.append(group)
            continue
        key = mix(candidates[group[0]].task_id)
        unit = open_units.setdefault(key, [])
        if len(unit) + len(group) > size:
            units.append(unit)
            unit = open_units[key] = []
        unit.extend(group)
    return units + [unit for unit in open_units.values() if unit]


def _finisher(label: str, plan: _Plan, candidates: Sequence[Candidate], store: VerdictCache | None,
              appender: JsonlAppender | None, bar):
    """``finish(i, result)``: record candidate ``i``'s verdict, and the same verdict for each of its copies, in
    the results, the cache, the stream and the progress bar."""

    def finish(i: int, result: ExecResult) -> None:
        result.details[VERDICT_KEY] = plan.keys[i]
        if store is not None:
            store.put(plan.keys[i], label, result)
        shared = [result] + [dataclasses.replace(result, task_id=candidates[j].task_id,
                                                 candidate_id=candidates[j].candidate_id,
                                                 completion=candidates[j].completion,
                                                 details=copy.deepcopy(result.details), cached=True)
                             for j in plan.copies[i]]
        for j, res in zip((i, *plan.copies[i]), shared):
            plan.results[j] = res
            if appender is not None:
                appender.append(res)
            bar.update(1)

    return finish


def _run_local(dom, by_id, candidates, units, backend, workers, finish) -> None:
    """Run each unit of work on a thread pool; a batch member left unjudged becomes a unit of its own."""
    if not units:
        return
    pool = cf.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="codealign-job")
    started: dict[cf.Future, tuple[list[int], float]] = {}
    pending = list(reversed(units))

    def submit() -> None:
        while pending and len(started) < workers * 2:
            unit = pending.pop()
            fut = pool.submit(evaluate_batch, dom, [by_id[candidates[i].task_id] for i in unit],
                              [candidates[i] for i in unit], backend)
            started[fut] = (unit, time.monotonic())

    def collect(done) -> None:
        for fut in done:
            unit, _ = started.pop(fut)
            for i, result in zip(unit, fut.result()):
                if result is None:
                    pending.append([i])
                else:
                    finish(i, result)
        now = time.monotonic()
        for fut, (unit, t0) in list(started.items()):
            task = by_id[candidates[unit[0]].task_id]  # a batch's tasks have equal limits
            if now - t0 > dom.limits_for(task).wall_s + _WATCHDOG_GRACE_S:
                started.pop(fut)
                if len(unit) > 1:  # a stalled batch is a disturbance like any other: its members are judged alone
                    pending.extend([i] for i in unit)
                    continue
                for i in unit:
                    finish(i, ExecResult(task.task_id, candidates[i].candidate_id, Verdict.TIMEOUT,
                                         details={"failure": "watchdog", "error": "job outlived its deadline"},
                                         completion=candidates[i].completion))

    interrupted = threading.Event()
    try:
        with _sigint_sets(interrupted):
            submit()
            while started:
                done, _ = cf.wait(list(started), timeout=0.25, return_when=cf.FIRST_COMPLETED)
                if interrupted.is_set():
                    raise KeyboardInterrupt
                collect(done)
                submit()
    except KeyboardInterrupt:
        # Ctrl-C: kill the running jobs instead of waiting for their deadlines; their threads then finish fast.
        # A job whose thread had started it but not yet registered it when the first cancel ran is caught by
        # the next: cancel until every started job has ended (bounded).
        pending.clear()
        pool.shutdown(wait=False, cancel_futures=True)
        cancel = getattr(backend, "cancel_all", None)
        deadline = time.monotonic() + 10.0
        # done(), not wait(): a future the shutdown cancelled stays "not done" for wait() forever (nothing ever
        # notifies it), which held every Ctrl-C for the whole 10 s.
        running = [f for f in started if not f.done()]
        while running and time.monotonic() < deadline:
            if cancel is not None:
                cancel()
            cf.wait(running, timeout=0.5)
            running = [f for f in running if not f.done()]
        raise
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


@contextlib.contextmanager
def _sigint_sets(event: threading.Event):
    """Within the block, SIGINT sets ``event`` instead of raising KeyboardInterrupt wherever the main thread is: a
    KeyboardInterrupt raised inside ``concurrent.futures``' lock handling can leave a future's lock held, and the
    job thread that later completes it then blocks the interpreter's exit for good. Off the main thread, where
    signal handlers cannot be set, Ctrl-C raises as usual."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, lambda signum, frame: event.set())
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.SIG_DFL if previous is None else previous)  # None: set outside Python


def _progress(total: int, enabled: bool, label: str):
    from tqdm import tqdm

    return tqdm(total=total, desc=f"execute[{label}]", unit="cand", disable=not enabled or total == 0,
                file=sys.stderr, dynamic_ncols=True, leave=False)


def execute_files(domain: Domain | str, tasks_path: str | os.PathLike, candidates_path: str | os.PathLike,
                  out: str | os.PathLike, **kwargs) -> list[ExecResult]:
    """``codealign execute``: tasks JSONL + candidates JSONL → verdicts JSONL."""
    from codealign.jsonl import read_jsonl

    tasks = read_jsonl(tasks_path, Task.from_dict)
    candidates = read_jsonl(candidates_path, Candidate.from_dict)
    return execute(domain, tasks, candidates, out=out, **kwargs)
