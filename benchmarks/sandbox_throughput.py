"""Sandbox throughput on VerilogEval candidates (references and one mutant each), cache off unless stated.

Modes, interleaved, median of ``--repeats`` (default 3):

* ``loop``    — a plain sequential loop running the very same job scripts (same iverilog/vvp commands) with
                ``bash`` in a temp dir: no sandbox, no parallelism;
* ``process`` — the executor on all cores with the ``process`` backend (skipped, with the reason, where its
                unprivileged uids cannot reach the interpreter: then bwrap is the baseline against the loop);
* ``bwrap``   — the executor on all cores with the ``bwrap`` backend;
* ``docker``  — the executor on all cores with the ``docker`` backend (one container per job), where an
                engine and the sandbox image are there (``bash scripts/setup.sh``);
* ``warm``    — the ``bwrap`` run again on a cache that the cold ``bwrap`` run filled.

Targets on 2 cores: process ≥ 1.5× loop; bwrap within 15 % of process; warm ≥ 20× its cold run. Docker's
overhead (container start-up) is reported, not targeted. The load average is printed before and after: the
rates mean little on a machine that was busy.

``--solidity N`` (default 8; 0 skips it) adds Solidity analyses/s under docker: persistent worker containers
(a cold pool, whose container start and Slither import are counted, then the same pool warm on other
contracts) against one container per analysis (``SolidityDomain(persistent=False)``).

    .venv/bin/python benchmarks/sandbox_throughput.py --data ../shared/data/verilogeval/problems.jsonl
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from codealign.domains.verilog.verilogeval import load_verilogeval
from codealign.domains.verilog import reference_solution
from codealign.domains import get_domain
from codealign.sandbox.backends import get_backend
from codealign.sandbox.cache import VerdictCache
from codealign.sandbox.docker import docker_problem
from codealign.sandbox.process import process_problem
from codealign.execution.executor import execute
from codealign.types import Candidate, ExecResult, Task, Verdict

SOLIDITY_CONTRACT = """pragma solidity ^0.8.0;
contract Vault{i} {{
    mapping(address => uint) public balance;
    function deposit() public payable {{ balance[msg.sender] += msg.value; }}
    function withdraw(uint amount) public {{
        require(balance[msg.sender] >= amount);
        balance[msg.sender] -= amount;
        payable(msg.sender).transfer(amount);
    }}
}}
"""


def candidates_for(tasks, domain, rng):
    cands = []
    for task in tasks:
        ref = reference_solution(task)
        cands.append(Candidate(task.task_id, ref))
        mutants = domain.mutate(ref, rng)
        if mutants:
            text, info = mutants[0]
            cands.append(Candidate(task.task_id, text, metadata={"mutation": info}))
    return cands


def run_loop(domain, by_id, cands) -> float:
    t0 = time.perf_counter()
    for cand in cands:
        job = domain.prepare(by_id[cand.task_id], cand)
        if isinstance(job, ExecResult):
            continue
        with tempfile.TemporaryDirectory() as tmp:
            for rel, content in job.files.items():
                path = Path(tmp, rel)
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(content.encode() if isinstance(content, str) else content)
            # The job scripts report stages on fd 3; the plain loop sends them to /dev/null.
            subprocess.run(["bash", "-c", "exec 3>/dev/null\n" + job.script], cwd=tmp, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, timeout=120)
    return len(cands) / (time.perf_counter() - t0)


def run_executor(domain, tasks, cands, backend, cache) -> tuple[float, list[ExecResult]]:
    t0 = time.perf_counter()
    results = execute(domain, tasks, cands, backend=backend, cache=cache, progress=False)
    return len(cands) / (time.perf_counter() - t0), results


def solidity_rates(backend, count: int) -> dict[str, float]:
    """Solidity analyses/s under ``backend`` (distinct contracts, so no analysis is a cache hit): a cold pool of
    persistent workers, the same pool warm, and one job per analysis."""
    from codealign.domains.solidity import SolidityDomain

    task = Task("throughput", "solidity", "", assets={"kind": "analyze"})

    def contracts(start: int) -> list[Candidate]:
        return [Candidate(task.task_id, SOLIDITY_CONTRACT.format(i=i), candidate_id=f"c{i}")
                for i in range(start, start + count)]

    rates = {}
    workers = SolidityDomain(persistent=True)
    try:
        for name, cands in (("workers cold", contracts(0)), ("workers warm", contracts(count))):
            rates[name], results = run_executor(workers, [task], cands, backend, None)
            assert {r.verdict for r in results} == {Verdict.PASS}, [r.details.get("error") for r in results]
            assert {r.details["analysis"]["backend"] for r in results} == {backend.name}
    finally:
        workers.close()
    rates["one job each"], results = run_executor(SolidityDomain(persistent=False), [task], contracts(0), backend,
                                                  None)
    assert {r.verdict for r in results} == {Verdict.PASS}, [r.details.get("error") for r in results]
    return rates


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data/verilogeval/problems.jsonl")
    parser.add_argument("--problems", type=int, default=40, help="problems to use (shortest first)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--solidity", type=int, default=8, help="contracts per Solidity docker mode (0: skip)")
    parser.add_argument("--solidity-only", action="store_true", help="skip the VerilogEval part")
    args = parser.parse_args()
    if args.solidity_only:
        return print_solidity(args.solidity)

    domain = get_domain("verilog")
    tasks = sorted(load_verilogeval(args.data), key=lambda t: len(t.assets["test"]))[: args.problems]
    by_id = {t.task_id: t for t in tasks}
    cands = candidates_for(tasks, domain, random.Random(0))
    backends = {}
    process = process_problem()
    if process is None:
        backends["process"] = get_backend("process")
    backends["bwrap"] = get_backend("bwrap")
    docker = docker_problem()
    if docker is None:
        backends["docker"] = get_backend("docker")
    print(f"{len(cands)} candidates ({len(tasks)} references + mutants), {os.cpu_count()} cores, "
          f"{args.repeats} interleaved repeats, load average {load_average()}"
          + (f"; process skipped: {process}" if process else "")
          + (f"; docker skipped: {docker}" if docker else ""), flush=True)

    rates: dict[str, list[float]] = {"loop": [], **{name: [] for name in backends}, "warm": []}
    verdicts = {}
    for rep in range(args.repeats):
        rates["loop"].append(run_loop(domain, by_id, cands))
        for name, backend in backends.items():
            rate, results = run_executor(domain, tasks, cands, backend, None)
            rates[name].append(rate)
            verdicts[name] = [r.verdict for r in results]
        with tempfile.TemporaryDirectory() as tmp:
            cache = VerdictCache(Path(tmp) / "cache.sqlite")
            cold_rate, _ = run_executor(domain, tasks, cands, backends["bwrap"], cache)
            warm_rate, warm = run_executor(domain, tasks, cands, backends["bwrap"], cache)
            assert all(r.cached for r in warm)
            rates["warm"].append(warm_rate / cold_rate)
        print(f"  repeat {rep + 1}: " + ", ".join(f"{k}={v[-1]:.2f}" for k, v in rates.items()), flush=True)

    med = {k: statistics.median(v) for k, v in rates.items()}
    base = "process" if "process" in med else "bwrap"
    same = all(v == verdicts[base] for v in verdicts.values())
    print()
    print(f"candidates/s (median of {args.repeats}):  loop {med['loop']:.2f}   "
          + "   ".join(f"{name} {med[name]:.2f}" for name in backends))
    print(f"{base} / loop{' ' * (8 - len(base))}    = {med[base] / med['loop']:.2f}x   (target >= 1.5x)")
    if base == "process":
        print(f"bwrap / process     = {med['bwrap'] / med['process']:.2f}    (target >= 0.85)")
    if "docker" in med:
        overhead = len(cands) / med["docker"] - len(cands) / med[base]
        print(f"docker / {base}{' ' * (10 - len(base))}= {med['docker'] / med[base]:.2f}    "
              f"(overhead {overhead / len(cands) * 1000:.0f} ms per job on {os.cpu_count()} cores)")
    print(f"warm cache / cold   = {med['warm']:.1f}x   (target >= 20x)")
    print(f"{', '.join(backends)} verdicts identical: {same}")
    print(f"load average after: {load_average()}")
    return print_solidity(args.solidity) if args.solidity else 0


def print_solidity(count: int) -> int:
    problem = docker_problem()
    if problem:
        print(f"solidity under docker skipped: {problem}")
        return 0
    print(f"solidity under docker, {count} contracts per mode, {os.cpu_count()} cores, load average "
          f"{load_average()}", flush=True)
    rates = solidity_rates(get_backend("docker"), count)
    print("solidity analyses/s (docker):  " + "   ".join(f"{name} {rate:.2f}" for name, rate in rates.items()))
    print(f"warm workers / one container per analysis = {rates['workers warm'] / rates['one job each']:.1f}x   "
          f"cold pool / one container per analysis = {rates['workers cold'] / rates['one job each']:.1f}x")
    print(f"load average after: {load_average()}")
    return 0


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


if __name__ == "__main__":
    sys.exit(main())
