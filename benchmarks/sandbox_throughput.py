"""Checked Verilog verdicts against the plain unchecked loop, on VerilogEval problems, cache off.

Modes, interleaved in one run (each repeat runs every mode once), median of ``--repeats`` (default 3):

* ``plain``   — what most users run: a sequential loop of ``iverilog -Wall -Winfloop -Wno-timescale -g2012 -s
                tb`` over VerilogEval's own testbench + reference + candidate, then ``vvp -n``: no check, no
                sandbox, no parallelism;
* ``process`` — the public ``execute()`` on all cores with the ``process`` backend (skipped, with the reason,
                where its unprivileged uids cannot reach the interpreter);
* ``bwrap``   — ``execute()`` with the ``bwrap`` backend;
* ``docker``  — ``execute()`` with the ``docker`` backend, where an engine and the sandbox image are there.

Each checked run is a fresh domain (its checker workers start inside the run) and a fresh verdict cache, so
starting workers is counted. Each backend runs twice: with a fresh reference store (recording each task's
reference is counted: a first run) and as ``<backend> stored``, with the references an untimed run recorded
before the repeats (every later run over the same tasks: a CI job, an RL round, a second model). Two workloads:

* ``single``  — one candidate per problem (``--problems`` shortest problems, default 40: the reference and one
                mutant each, 80 candidates);
* ``sampled`` — ``--sampled-problems`` problems (default 20) x ``--samples`` distinct samples (default 8):
                the reference and RISE mutants (``domain.mutate`` over several seeds), padded with
                distinct trailing comments where a problem has too few mutants (160 candidates).

Per checked mode, the cost per verdict by phase (seconds, mean over the verdicts that reached it; from
``details["phase_s"]``: ``check`` the warm worker's check, ``reference`` recording a task's reference (0 once
stored), ``compile`` the alone and harness builds, ``simulate``, ``compare``), and each mode's PASS count
beside the plain loop's. The load average is printed before and after: rates mean little on a busy machine.

``--solidity N`` (default 8; 0 skips it) adds Solidity analyses/s under docker: persistent worker containers
(a cold pool, whose container start and Slither import are counted, then the same pool warm on other
contracts) against one container per analysis (``SolidityDomain(persistent=False)``).

    .venv/bin/python benchmarks/sandbox_throughput.py --data ../shared/data/verilogeval/problems.jsonl
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from codealign.domains.verilog.verilogeval import load_verilogeval
from codealign.domains.verilog import VerilogDomain, reference_solution
from codealign.sandbox.backends import get_backend
from codealign.sandbox.cache import VerdictCache
from codealign.sandbox.docker import docker_problem
from codealign.sandbox.process import process_problem
from codealign.execution.executor import execute
from codealign.types import Candidate, ExecResult, Task, Verdict

PHASES = ("check", "reference", "compile", "simulate", "compare")
_MISMATCH = re.compile(r"Mismatches:\s*(\d+)\s+in\s+(\d+)\s+samples")

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


def single_candidates(tasks, domain, rng) -> list[Candidate]:
    """The reference and its first mutant, per task."""
    cands = []
    for task in tasks:
        ref = reference_solution(task)
        cands.append(Candidate(task.task_id, ref))
        mutants = domain.mutate(ref, rng)
        if mutants:
            cands.append(Candidate(task.task_id, mutants[0][0]))
    return cands


def sampled_candidates(tasks, domain, samples: int) -> list[Candidate]:
    """``samples`` distinct texts per task: the reference, then distinct mutants over seeds 0..19, then the
    reference with a distinct trailing comment."""
    cands = []
    for task in tasks:
        ref = reference_solution(task)
        texts = [ref]
        for seed in range(20):
            for text, _ in domain.mutate(ref, random.Random(seed)):
                if len(texts) < samples and text not in texts:
                    texts.append(text)
        texts += [f"{ref}\n// sample {i}\n" for i in range(samples - len(texts))]
        cands += [Candidate(task.task_id, text, candidate_id=f"{task.task_id}-s{i}") for i, text in enumerate(texts)]
    return cands


def run_plain(by_id, cands) -> tuple[float, int]:
    """Candidates/s and PASS count of the sequential unchecked loop over VerilogEval's own testbench."""
    passed = 0
    t0 = time.perf_counter()
    for cand in cands:
        task = by_id[cand.task_id]
        with tempfile.TemporaryDirectory() as tmp:
            for name, text in (("tb.sv", task.assets["test"]), ("ref.sv", task.assets["ref"]),
                               ("cand.sv", cand.completion)):
                Path(tmp, name).write_text(text)
            built = subprocess.run(["iverilog", "-Wall", "-Winfloop", "-Wno-timescale", "-g2012", "-s", "tb", "-o",
                                    "sim", "tb.sv", "ref.sv", "cand.sv"], cwd=tmp, capture_output=True)
            if built.returncode != 0:
                continue
            ran = subprocess.run(["timeout", "30", "vvp", "-n", "sim"], cwd=tmp, capture_output=True, text=True)
            m = _MISMATCH.search(ran.stdout)
            passed += bool(m and m.group(1) == "0" and m.group(2) != "0")
    return len(cands) / (time.perf_counter() - t0), passed


def run_checked(tasks, cands, backend, store: str | None = None) -> tuple[float, list[ExecResult]]:
    """Candidates/s of ``execute()`` with a fresh domain and verdict cache, and the verdicts; the references come
    from ``store`` (a fresh one when None)."""
    with tempfile.TemporaryDirectory() as tmp:
        domain = VerilogDomain(reference_store=store or str(Path(tmp) / "references"))
        try:
            t0 = time.perf_counter()
            results = execute(domain, tasks, cands, backend=backend, cache=VerdictCache(Path(tmp) / "cache.sqlite"),
                              progress=False)
            return len(cands) / (time.perf_counter() - t0), results
        finally:
            domain.close()


def breakdown(results: list[ExecResult]) -> dict[str, float]:
    """Mean seconds per phase over the verdicts whose job reached it."""
    out = {}
    for phase in PHASES:
        values = [r.details["phase_s"][phase] for r in results if phase in r.details.get("phase_s", {})]
        out[phase] = statistics.mean(values) if values else float("nan")
    return out


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
            t0 = time.perf_counter()
            results = execute(workers, [task], cands, backend=backend, progress=False)
            rates[name] = len(cands) / (time.perf_counter() - t0)
            assert {r.verdict for r in results} == {Verdict.PASS}, [r.details.get("error") for r in results]
            assert {r.details["analysis"]["backend"] for r in results} == {backend.name}
    finally:
        workers.close()
    t0 = time.perf_counter()
    results = execute(SolidityDomain(persistent=False), [task], contracts(0), backend=backend, progress=False)
    rates["one job each"] = count / (time.perf_counter() - t0)
    assert {r.verdict for r in results} == {Verdict.PASS}, [r.details.get("error") for r in results]
    return rates


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data/verilogeval/problems.jsonl")
    parser.add_argument("--problems", type=int, default=40, help="single: problems (shortest first), 2 candidates each")
    parser.add_argument("--sampled-problems", type=int, default=20, help="sampled: problems (shortest first; 0 skips)")
    parser.add_argument("--samples", type=int, default=8, help="sampled: distinct samples per problem")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--modes", default="process,bwrap,docker", help="checked modes to run (comma-separated)")
    parser.add_argument("--solidity", type=int, default=8, help="contracts per Solidity docker mode (0: skip)")
    parser.add_argument("--solidity-only", action="store_true", help="skip the VerilogEval part")
    args = parser.parse_args()
    print("command: " + " ".join([".venv/bin/python", "benchmarks/sandbox_throughput.py", *sys.argv[1:]]))
    if args.solidity_only:
        return print_solidity(args.solidity)

    domain = VerilogDomain()
    problems = sorted(load_verilogeval(args.data), key=lambda t: len(t.assets["test"]))
    workloads = {"single": (problems[: args.problems], single_candidates(problems[: args.problems], domain,
                                                                        random.Random(0)))}
    if args.sampled_problems:
        chosen = problems[: args.sampled_problems]
        workloads["sampled"] = (chosen, sampled_candidates(chosen, domain, args.samples))
    wanted = [m for m in args.modes.split(",") if m]
    backends, skipped = {}, []
    for name, problem in (("process", process_problem), ("bwrap", lambda: None), ("docker", docker_problem)):
        if name in wanted:
            reason = problem()
            if reason:
                skipped.append(f"{name} skipped: {reason}")
            else:
                backends[name] = get_backend(name)
    print(f"{os.cpu_count()} cores, {args.repeats} interleaved repeats, load average {load_average()}"
          + "".join(f"; {s}" for s in skipped), flush=True)
    for workload, (tasks, cands) in workloads.items():
        print(f"  {workload}: {len(cands)} candidates ({len(tasks)} problems x {len(cands) / len(tasks):.0f})")

    stores = {}
    for name, backend in list(backends.items()):
        stores[name] = tempfile.mkdtemp(prefix="codealign-references-")
        for tasks, cands in workloads.values():
            run_checked(tasks, cands, backend, stores[name])
        backends[f"{name} stored"] = backend
    print("  references recorded for the stored modes (untimed)", flush=True)
    rates = {w: {m: [] for m in ("plain", *backends)} for w in workloads}
    costs: dict[str, dict[str, list]] = {w: {m: [] for m in backends} for w in workloads}
    passes: dict[str, dict[str, int]] = {w: {} for w in workloads}
    verdicts: dict[str, dict[str, list]] = {w: {} for w in workloads}
    for rep in range(args.repeats):
        for workload, (tasks, cands) in workloads.items():
            by_id = {t.task_id: t for t in tasks}
            rate, passes[workload]["plain"] = run_plain(by_id, cands)
            rates[workload]["plain"].append(rate)
            for name, backend in backends.items():
                rate, results = run_checked(tasks, cands, backend, stores.get(name.removesuffix(" stored"))
                                            if name.endswith(" stored") else None)
                rates[workload][name].append(rate)
                costs[workload][name] += results
                passes[workload][name] = sum(r.verdict is Verdict.PASS for r in results)
                verdicts[workload][name] = [(r.verdict, r.details.get("failure"), r.score) for r in results]
            print(f"  repeat {rep + 1} {workload}: "
                  + ", ".join(f"{k}={v[-1]:.2f}" for k, v in rates[workload].items()), flush=True)

    for workload in workloads:
        med = {k: statistics.median(v) for k, v in rates[workload].items()}
        print(f"\n{workload}: candidates/s (median of {args.repeats}):  "
              + "   ".join(f"{name} {rate:.2f}" for name, rate in med.items()))
        for name in backends:
            print(f"  {name} / plain = {med[name] / med['plain']:.2f}x")
        print("  PASS: " + ", ".join(f"{name} {n}" for name, n in passes[workload].items()))
        if backends:
            print(f"  {'cost per verdict, s':<22}" + "".join(f"{p:>10}" for p in PHASES))
            for name in backends:
                cost = breakdown(costs[workload][name])
                print(f"  {name:<22}" + "".join(f"{cost[p]:>10.4f}" for p in PHASES))
            same = len({tuple(v) for v in verdicts[workload].values()}) == 1
            print(f"  {', '.join(backends)} verdicts identical: {same}")
    for folder in stores.values():
        shutil.rmtree(folder, ignore_errors=True)
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
