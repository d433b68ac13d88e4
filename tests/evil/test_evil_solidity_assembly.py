"""Inline assembly against the Slither-judged kinds (``analyze`` and a repair without an EVM scenario), under
bwrap and docker. Slither's detectors do not look into assembly, so on b2987a3 a reentrant call or an
anyone-can-call ``selfdestruct`` written there passed as a contract with no High finding, and a repair that
moved the reentrant call into assembly made the targeted detector stop firing. What stops them: inline
assembly (Slither's own ``assembly`` finding on the same compile) is refused unless the task allows it."""

import pytest

from codealign.domains.solidity import SolidityDomain
from codealign.types import Candidate, Task, Verdict

pytestmark = pytest.mark.slow

VAULT = """pragma solidity ^0.4.24;
contract Vault {
    mapping(address => uint256) public balances;
    function deposit() public payable { balances[msg.sender] += msg.value; }
    function withdraw() public {
        uint256 amount = balances[msg.sender];
        require(msg.sender.call.value(amount)());
        balances[msg.sender] = 0;
    }
}
"""
REENTRANT_IN_ASSEMBLY = VAULT.replace(
    "        require(msg.sender.call.value(amount)());\n",
    "        bool ok;\n        assembly { ok := call(gas, caller, amount, 0, 0, 0, 0) }\n        require(ok);\n")
SELFDESTRUCT_IN_ASSEMBLY = VAULT.replace(
    "    function withdraw() public {",
    "    function close() public { assembly { selfdestruct(caller) } }\n    function withdraw() public {").replace(
    "        require(msg.sender.call.value(amount)());\n        balances[msg.sender] = 0;\n",
    "        balances[msg.sender] = 0;\n        require(msg.sender.call.value(amount)());\n")
ANALYZE = Task("analyze-vault", "solidity", "", assets={"kind": "analyze"})
REPAIR = Task("repair-vault", "solidity", "fix it", assets={"kind": "repair", "source": VAULT, "category": "reentrancy"})


@pytest.fixture(scope="module")
def judged(hiding_backend):
    backend = hiding_backend
    domain = SolidityDomain(workers=1)
    allowed = Task("analyze-allowed", "solidity", "", assets={"kind": "analyze", "allow_assembly": True})
    cases = {"reentrant": (ANALYZE, REENTRANT_IN_ASSEMBLY), "selfdestruct": (ANALYZE, SELFDESTRUCT_IN_ASSEMBLY),
             "repair": (REPAIR, REENTRANT_IN_ASSEMBLY), "allowed": (allowed, SELFDESTRUCT_IN_ASSEMBLY)}
    try:
        return {name: domain.evaluate(task, Candidate(task.task_id, text), backend)
                for name, (task, text) in cases.items()}
    finally:
        domain.close()


@pytest.mark.parametrize("case", ["reentrant", "selfdestruct"])
def test_a_contract_hiding_a_call_or_selfdestruct_in_assembly_fails_analysis(judged, case):
    result = judged[case]
    assert result.verdict is Verdict.FAIL and result.details["inline_assembly"], result.details


def test_a_repair_that_moves_the_reentrant_call_into_assembly_fails(judged):
    result = judged["repair"]
    assert result.verdict is Verdict.FAIL and result.details["checks"]["no_assembly"] is False, result.details


def test_a_task_that_allows_assembly_judges_it_by_slither_alone(judged):
    assert judged["allowed"].verdict is Verdict.PASS, judged["allowed"].details
