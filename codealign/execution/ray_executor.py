"""The Ray executor: the same jobs on a Ray cluster (or local Ray), with the same results as the local one.

Each Ray task receives the domain and backend objects (pickled with their options) and runs one candidate on
its node, so the node's own toolchains and isolation apply. Ray is imported only here.
"""

from __future__ import annotations

import os
import tempfile
from typing import Callable, Sequence

from codealign.domains.base import Domain
from codealign.sandbox.process import ProcessBackend
from codealign.types import Candidate, ExecResult, Task


def _remote_evaluate(domain: Domain, backend: ProcessBackend, task: dict, candidate: dict) -> dict:
    from codealign.execution.judge import evaluate_one

    return evaluate_one(domain, Task.from_dict(task), Candidate.from_dict(candidate), backend).to_dict()


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


def run_on_ray(domain: Domain, by_id: dict[str, Task], candidates: Sequence[Candidate], todo: list[int],
               backend: ProcessBackend, workers: int, finish: Callable[[int, ExecResult], None]) -> None:
    if not todo:
        return
    ray = ensure_ray(workers)
    remote = ray.remote(num_cpus=1)(_remote_evaluate)
    refs = {}
    domain_ref, backend_ref = ray.put(domain), ray.put(backend)
    for i in todo:
        cand = candidates[i]
        refs[remote.remote(domain_ref, backend_ref, by_id[cand.task_id].to_dict(), cand.to_dict())] = i
    while refs:
        ready, _ = ray.wait(list(refs), num_returns=1)
        for ref in ready:
            finish(refs.pop(ref), ExecResult.from_dict(ray.get(ref)))
