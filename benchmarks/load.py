"""Load test: ``--jobs`` candidates (default 1 000) across the domains, 5 % of them pathological, judged
concurrently under one backend (default ``auto``), shuffled so every domain's jobs overlap.

The mix: Verilog (bundled procedural tasks: references and mutants), Python (the bundled ExecRepoBench
tasks: references and empty answers), ladder (bundled tasks: references and mutants), some Solidity (the
bundled tasks' references, through the persistent analyser workers). Pathological: Python infinite loops,
output floods, fork bombs and memory bombs, Verilog zero-delay loops, oversized ladder programs.

It checks, and exits non-zero unless all hold: every job gets a verdict (none raises, none is missing), no
deadlock (everything finishes before ``--deadline-s``), no survivor process (no process of any sandbox slot
uid, no job container), no zombie (no child of this process left unreaped). With ``--reward-requests N`` it
then sends N requests, one answer each, to an OpenRLHF reward server (``codealign.reward``) judging Verilog
under the same backend, and checks for zombies again. It prints wall time, jobs/s and the load average
(before, peak while running, after).

    .venv/bin/python benchmarks/load.py                 # 1 000 jobs, about 10 minutes on 2 cores
    .venv/bin/python benchmarks/load.py --jobs 60       # a quick check
    .venv/bin/python benchmarks/load.py --jobs 1000 --reward-requests 1000
"""

from __future__ import annotations

import argparse
import collections
import os
import random
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor, wait

# Slot uids of this run's own (not the default ones other harnesses on the machine use), so that any
# process left on them after the run is a survivor of this run.
os.environ.setdefault("CODEALIGN_UID_BASE", "63000")

from codealign.domains import get_domain  # noqa: E402
from codealign.execution.judge import evaluate_one  # noqa: E402
from codealign.sandbox.backends import choose_backend  # noqa: E402
from codealign.sandbox.process import (_UID_BASE, _UID_COUNT, is_root, processes_of_uid,  # noqa: E402
                                       zombie_children)
from codealign.types import Candidate, Task, Verdict  # noqa: E402

SHARES = {"verilog": 0.42, "python": 0.23, "ladder": 0.30, "solidity": 0.05}
"""Of the ordinary (non-pathological) jobs."""

ORDINARY = ("reference", "wrong")

BOMB_LIMITS = {"wall_s": 8.0, "cpu_s": 8.0, "memory_mb": 256}

PYTHON_BOMBS = {
    "loop": "while True:\n    pass\n",
    "flood": "import sys\nwhile True:\n    sys.stdout.write('x' * 65536)\n",
    "fork": "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n",
    "memory": "hoard = [b'\\x01' * (1 << 20) for _ in range(1 << 16)]\n",
}


def ordinary(name: str, count: int, rng: random.Random) -> list[tuple[Task, Candidate, str]]:
    """``count`` jobs of a domain from its bundled tasks: (task, candidate, "reference" or "wrong"); wrong
    answers are mutants (Python: empty answers)."""
    domain = get_domain(name)
    tasks = [t for t in domain.demo_tasks() if domain.reference_solution(t)]
    jobs = []
    while len(jobs) < count:
        task = rng.choice(tasks)
        golden = domain.reference_solution(task)
        text, kind = golden, "reference"
        if rng.random() < 0.5:
            mutants = domain.mutate(golden, rng)
            if mutants or name == "python":
                text, kind = (mutants[0][0] if mutants else ""), "wrong"
        jobs.append((task, Candidate(task.task_id, text, candidate_id=f"{name}-{len(jobs)}"), kind))
    return jobs


def pathological(count: int, rng: random.Random) -> list[tuple[str, Task, Candidate, str]]:
    """(domain, task, candidate, kind): Python bombs, Verilog zero-delay loops, oversized ladder programs."""
    verilog, ladder = get_domain("verilog"), get_domain("ladder")
    v_task = verilog.demo_tasks()[0]
    l_task = ladder.demo_tasks()[0]
    py_task = Task("load-bomb", "python", "", assets={"tests": ["assert True"]}, limits=BOMB_LIMITS)
    v_bomb = Task(v_task.task_id, "verilog", v_task.prompt, assets=v_task.assets, limits=BOMB_LIMITS)
    kinds = [*PYTHON_BOMBS, "verilog-spin", "ladder-huge"]
    jobs = []
    for i in range(count):
        kind = kinds[i % len(kinds)]
        cid = f"bomb-{kind}-{i}"
        if kind in PYTHON_BOMBS:
            jobs.append(("python", py_task, Candidate(py_task.task_id, PYTHON_BOMBS[kind], candidate_id=cid), kind))
        elif kind == "verilog-spin":
            golden = verilog.reference_solution(v_task)
            head, _, tail = golden.rpartition("endmodule")
            spin = f"{head}initial while (1) begin end\nendmodule{tail}"
            jobs.append(("verilog", v_bomb, Candidate(v_task.task_id, spin, candidate_id=cid), kind))
        else:
            huge = ladder.reference_solution(l_task) * 20000
            jobs.append(("ladder", l_task, Candidate(l_task.task_id, huge, candidate_id=cid), kind))
    rng.shuffle(jobs)
    return jobs


def slot_survivors() -> list[int]:
    """Live processes of any sandbox slot uid (only meaningful as root: jobs then run as those uids)."""
    return [pid for uid in range(_UID_BASE, _UID_BASE + _UID_COUNT) for pid in processes_of_uid(uid)]


def reward_requests(count: int, backend: str, workers: int, rng: random.Random) -> tuple[float, dict]:
    """Send ``count`` one-answer requests to a reward server judging Verilog (references and mutants), from
    ``workers`` clients at once; (seconds, reward histogram)."""
    import json
    import urllib.request

    from codealign.reward import Scorer, make_reward_server

    verilog = get_domain("verilog")
    tasks = [t for t in verilog.demo_tasks() if verilog.reference_solution(t)]
    server = make_reward_server(Scorer("verilog", tasks, backend=backend, workers=1))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/get_reward"
    bodies = []
    for _ in range(count):
        task = rng.choice(tasks)
        answer = verilog.reference_solution(task)
        mutants = verilog.mutate(answer, rng) if rng.random() < 0.5 else []
        bodies.append(json.dumps({"query": [mutants[0][0] if mutants else answer], "labels": [task.task_id]}))

    def send(body: str) -> float:
        with urllib.request.urlopen(urllib.request.Request(url, body.encode()), timeout=600) as reply:
            return round(json.loads(reply.read())["rewards"][0], 2)

    t0 = time.monotonic()
    try:
        with ThreadPoolExecutor(max_workers=workers) as clients:
            rewards = collections.Counter(clients.map(send, bodies))
    finally:
        server.shutdown()
        server.server_close()
    return time.monotonic() - t0, dict(sorted(rewards.items()))


def job_containers() -> list[str]:
    try:
        import docker

        return [c.id for c in docker.from_env().containers.list(all=True, filters={"label": "org.codealign.job"})]
    except Exception:  # no engine: no containers
        return []


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1000, help="jobs in all (default 1000)")
    parser.add_argument("--pathological", type=float, default=0.05, help="share of pathological jobs")
    parser.add_argument("--backend", default="auto", help="auto, process, bwrap or docker")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2, help="concurrent jobs (default: cores)")
    parser.add_argument("--deadline-s", type=float, default=3600.0, help="declare a deadlock after this long")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--reward-requests", type=int, default=0,
                        help="then this many requests to a reward server (default 0: none)")
    args = parser.parse_args()

    rng = random.Random(args.seed)
    choice = choose_backend(args.backend)
    backend = choice.backend
    n_bad = round(args.jobs * args.pathological)
    n_ok = args.jobs - n_bad
    counts = {name: round(n_ok * share) for name, share in SHARES.items()}
    counts["verilog"] += n_ok - sum(counts.values())
    plan = [(name, task, cand, kind) for name, n in counts.items() for task, cand, kind in ordinary(name, n, rng)]
    plan += pathological(n_bad, rng)
    rng.shuffle(plan)
    domains = {name: get_domain(name) for name in SHARES}

    print(f"backend: {backend.name} ({choice.reason})")
    print(f"jobs: {len(plan)} = {dict(collections.Counter(p[0] for p in plan))}, pathological {n_bad} "
          f"({dict(collections.Counter(p[3] for p in plan if p[3] not in ORDINARY))}); workers {args.workers}; "
          f"cores {os.cpu_count()}")
    load_before = os.getloadavg()
    print(f"load average before: {' '.join(f'{x:.2f}' for x in load_before)}")

    peak_load = [load_before[0]]
    stop = threading.Event()

    def sample_load() -> None:
        while not stop.wait(5):
            peak_load[0] = max(peak_load[0], os.getloadavg()[0])

    threading.Thread(target=sample_load, daemon=True).start()
    t0 = time.monotonic()
    done = [0]
    lock = threading.Lock()

    def run(item):
        name, task, cand, _ = item
        result = evaluate_one(domains[name], task, cand, backend)
        with lock:
            done[0] += 1
            if done[0] % 100 == 0:
                print(f"  {done[0]} done, {time.monotonic() - t0:.0f} s", flush=True)
        return result

    pool = ThreadPoolExecutor(max_workers=args.workers)
    futures = [pool.submit(run, item) for item in plan]
    finished, pending = wait(futures, timeout=args.deadline_s)
    wall = time.monotonic() - t0
    stop.set()
    for domain in domains.values():
        close = getattr(domain, "close", None)
        if close:
            close()
    pool.shutdown(wait=not pending, cancel_futures=True)

    verdicts = collections.Counter()
    by_kind = collections.defaultdict(collections.Counter)
    errors, failed_refs = [], []
    for item, fut in zip(plan, futures):
        if fut not in finished:
            continue
        if fut.exception() is not None:
            errors.append(f"{item[2].candidate_id}: {fut.exception()!r}")
            continue
        result = fut.result()
        verdicts[(item[0], result.verdict.value)] += 1
        by_kind[item[3]][result.verdict.value] += 1
        if result.verdict is Verdict.SANDBOX_ERROR and item[3] in ORDINARY:
            errors.append(f"{item[2].candidate_id}: SANDBOX_ERROR {result.details.get('error', '')[:160]}")
        if item[3] == "reference" and result.verdict is not Verdict.PASS:
            failed_refs.append(f"{item[2].candidate_id} {item[1].task_id}: {result.verdict.value} "
                               f"{str(result.details.get('error', ''))[:120]}")
    time.sleep(1)
    survivors = slot_survivors() if is_root() else []
    containers = job_containers() if backend.name == "docker" else []
    zombies = zombie_children()
    load_after = os.getloadavg()

    for name in SHARES:
        row = {v: n for (d, v), n in sorted(verdicts.items()) if d == name}
        print(f"{name:<9} {row}")
    for kind in sorted(by_kind):
        print(f"{kind:<13} {dict(by_kind[kind])}")
    print(f"wall {wall:.1f} s, {len(finished) / wall:.2f} jobs/s")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in load_after)}; peak 1-min while running: "
          f"{peak_load[0]:.2f}")
    print(f"after the jobs: {len(survivors)} survivor processes, {len(containers)} job containers, "
          f"{len(zombies)} zombies")
    checks = {
        "every job got a verdict": len(finished) == len(plan) and not [e for e in errors if "SANDBOX" not in e],
        "no deadlock": not pending,
        "no survivor process": not survivors and not containers,
        "no zombie after the jobs": not zombies,
        "no sandbox error on an ordinary job": not errors,
        "every reference passes": not failed_refs,
    }
    if args.reward_requests:
        seconds, rewards = reward_requests(args.reward_requests, backend.name, args.workers, rng)
        time.sleep(1)
        served_zombies = zombie_children()
        print(f"reward server: {args.reward_requests} requests in {seconds:.1f} s "
              f"({args.reward_requests / seconds:.2f}/s), rewards {rewards}; {len(served_zombies)} zombies after")
        checks["no zombie after the reward requests"] = not served_zombies
    for name, ok in checks.items():
        print(f"[{'ok' if ok else 'FAIL'}] {name}")
    for line in errors[:10] + failed_refs[:10]:
        print(f"  {line}")
    if survivors:
        print(f"  survivors: {survivors[:20]}")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
