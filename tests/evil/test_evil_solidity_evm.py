"""Hostile repairs for the EVM judge: a contract that loops forever burns its transactions' gas inside py-evm
and is judged FAIL (not a hang), and one that tries to win by breaking the world (selfdestruct in the
constructor, so nothing is deployed) does not pass. What stops them: each transaction's gas limit and the
PASS rule (every functional step must behave, not only the exploit fail)."""

import time

import pytest

from codealign.domains.solidity import SolidityDomain
from codealign.domains.solidity.tasks import make_task
from codealign.types import Candidate, Verdict

pytestmark = pytest.mark.slow

TASK = make_task("reentrancy", {"names": 0, "unit": 1, "style": "all"}, "repair", 0)


def _judge(backend, source: str):
    domain = SolidityDomain(workers=1)
    try:
        return domain.evaluate(TASK, Candidate(TASK.task_id, source), backend)
    finally:
        domain.close()


def test_an_endless_loop_burns_its_gas_and_fails(backend):
    looping = TASK.assets["fixed"].replace("require(amount > 0);", "while (true) { amount += 1; }")
    t0 = time.monotonic()
    result = _judge(backend, looping)
    assert result.verdict is Verdict.FAIL and not result.details["checks"]["functional"], result.details
    assert time.monotonic() - t0 < 120


def test_a_contract_that_destroys_itself_on_deployment_does_not_pass(backend):
    gone = TASK.assets["fixed"].replace("contract EtherVault {",
                                        "contract EtherVault {\n    constructor() public { selfdestruct(msg.sender); }")
    result = _judge(backend, gone)
    assert result.verdict is Verdict.FAIL and not result.details["checks"]["functional"], result.details
