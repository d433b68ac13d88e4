"""The Ray executor: the same jobs on a Ray cluster (or local Ray), with the same results as the local one.

Each Ray task receives the domain and backend objects (pickled with their options) and runs one unit of work
(one candidate, or a batch of candidates) on its node, so the node's own toolchains and isolation
apply. Ray is imported only here.
"""

from __future__ import annotations

import os
import tempfile
from typing import Callable, Sequence

from codealign.domains.base import Domain
from codealign.sandbox.process import Backend
from codealign.types import Candidate, ExecResult, Task


def _remote_evaluate(domain: Domain, backend: Backend, tasks: list[dict], candidates: list[dict]) -> list:
    from codealign.execution.judge import evaluate_batch

    results = evaluate_batch(domain, [Task.from_dict(t) for t in tasks], [Candidate.from_dict(c) for c in candidates],
                             backend)
    return [None if r is None else r.to_dict() for r in results]


def ensure_ray(num_cpus: int | None = None):
    """Connect to the cluster named by RAY_ADDRESS, or start local Ray with a private temp dir."""
    import ray

    if not ray.is_initialized():
        os.environ.setdefault("RAY_AUTH_MODE", "disabled")
        if os.environ.get("RAY_ADDRESS"):
            ray.init(address=os.environ["RAY_ADDRESS"], log_to_driver=False)
        else:
            ray.init(num_cpus=num_cpus, include_dashboard=False, log_to_driver=False,
                     _temp_dir=tempfile.mkdtemp(prefix="codealign-ray-"))
    return ray


def run_on_ray(domain: Domain, by_id: dict[str, Task], candidates: Sequence[Candidate], units: list[list[int]],
               backend: Backend, workers: int, finish: Callable[[int, ExecResult], None]) -> None:
    """Each unit of work (a batch of candidates) as one Ray task; a batch member left unjudged is submitted
    again alone."""
    if not units:
        return
    ray = ensure_ray(workers)
    remote = ray.remote(num_cpus=1)(_remote_evaluate)
    refs = {}
    domain_ref, backend_ref = ray.put(domain), ray.put(backend)

    def submit(unit: list[int]) -> None:
        tasks = [by_id[candidates[i].task_id].to_dict() for i in unit]
        refs[remote.remote(domain_ref, backend_ref, tasks, [candidates[i].to_dict() for i in unit])] = unit

    for unit in units:
        submit(unit)
    while refs:
        ready, _ = ray.wait(list(refs), num_returns=1)
        for ref in ready:
            unit = refs.pop(ref)
            for i, row in zip(unit, ray.get(ref)):
                if row is None:
                    submit([i])
                else:
                    finish(i, ExecResult.from_dict(row))
