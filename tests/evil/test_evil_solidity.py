"""Hostile contracts for the Solidity domain: a contract built to make Slither's analysis run for minutes
(hundreds of branches per function, each function ending in an external call, which the reentrancy
detectors explore path by path) is cut at the task's deadline, as TIMEOUT, and the worker that was stuck
on it is replaced, so the next contract is analysed normally. What stops it: the persistent worker's
per-request deadline (kill of the whole sandboxed worker), or the job deadline on the cold path."""

import time

import pytest

from codealign.domains.solidity import SolidityDomain
from codealign.types import Candidate, Task, Verdict

pytestmark = pytest.mark.slow

DEADLINE_S = 5.0
NORMAL = "pragma solidity ^0.4.24;\ncontract Fine { uint x; function set(uint v) public { x = v; } }\n"


def slow_contract(branches: int = 200, functions: int = 5) -> str:
    body = "\n".join(f"    if (x > {i}) {{ a{i % 10} += x; }} else {{ a{(i + 1) % 10} -= 1; }}" for i in range(branches))
    state = "\n".join(f"  uint a{i};" for i in range(10))
    funcs = "\n".join(f"  function f{k}(uint x) public {{\n{body}\n    msg.sender.call.value(1)();\n  }}"
                      for k in range(functions))
    return f"pragma solidity ^0.4.24;\ncontract Slow {{\n{state}\n{funcs}\n}}\n"


def analyze_task(deadline_s: float = DEADLINE_S) -> Task:
    return Task("slow", "solidity", "", assets={"kind": "analyze"}, limits={"wall_s": deadline_s})


def test_slow_analysis_is_cut_at_deadline_and_worker_replaced(backend):
    domain = SolidityDomain(workers=1)
    try:
        assert domain.evaluate(analyze_task(120), Candidate("slow", NORMAL), backend).verdict is Verdict.PASS
        t0 = time.monotonic()
        result = domain.evaluate(analyze_task(), Candidate("slow", slow_contract()), backend)
        elapsed = time.monotonic() - t0
        assert result.verdict is Verdict.TIMEOUT, result.details
        assert elapsed < DEADLINE_S + 10
        after = domain.evaluate(analyze_task(120), Candidate("slow", NORMAL + "\n"), backend)
        assert after.verdict is Verdict.PASS
        assert domain._pool(backend).starts == 2
    finally:
        domain.close()


def test_slow_analysis_is_cut_on_the_cold_job_path(backend):
    domain = SolidityDomain(persistent=False)
    t0 = time.monotonic()
    result = domain.evaluate(analyze_task(), Candidate("slow", slow_contract()), backend)
    assert result.verdict is Verdict.TIMEOUT, result.details
    assert time.monotonic() - t0 < DEADLINE_S + 10
