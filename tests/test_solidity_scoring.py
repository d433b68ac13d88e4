"""Scoring of Solidity detection answers and contract repairs."""

import dataclasses
import json
from concurrent.futures import ThreadPoolExecutor

import pytest

from codealign.domains.solidity.smartbugs import load_smartbugs
from codealign.domains.solidity import SolidityDomain
from codealign.domains.solidity.answers import (
    Label,
    functions_at,
    golden_answer,
    parse_answer,
    score_detection,
)
from codealign.types import Candidate, Task, Verdict


@pytest.fixture(scope="module")
def domain():
    d = SolidityDomain(workers=2)
    yield d
    d.close()


@pytest.fixture(scope="module")
def tasks(shared_data):
    return load_smartbugs(shared_data / "smartbugs" / "smartbugs_curated.jsonl")


def label_of(task) -> Label:
    return Label.from_assets(task.assets["label"], task.assets["source"])


def answer(vulnerable, category=None, lines=(), explanation=""):
    return json.dumps({"vulnerable": vulnerable, "category": category, "lines": list(lines),
                       "explanation": explanation})


# -- detection -------------------------------------------------------------------------------------------
def test_golden_answers_score_one_without_slither(tasks):
    for task in tasks:
        scored = score_detection(parse_answer(golden_answer(label_of(task))), label_of(task), None)
        assert scored["score"] == 1.0, (task.task_id, scored)


@pytest.mark.slow
def test_golden_answers_score_one_with_slither_findings(domain, backend, tasks):
    """Compilers from the pragmas (not SmartBugs' pinned versions): scoring, not compilers, is under test."""
    picked = [t for t in tasks if t.metadata["category"] in ("reentrancy", "time_manipulation")]
    picked += [t for t in tasks if t.task_id in ("access_control/simple_suicide", "access_control/FibonacciBalance")]
    picked = [dataclasses.replace(t, assets={**t.assets, "solc_version": None}) for t in picked]
    with ThreadPoolExecutor(max_workers=domain.workers) as pool:
        results = list(pool.map(
            lambda t: domain.evaluate(t, Candidate(t.task_id, golden_answer(label_of(t))), backend), picked))
    for task, result in zip(picked, results):
        assert result.verdict is Verdict.PASS, (task.task_id, result.details)
        assert result.score == 1.0, (task.task_id, result.details["detection"])
        assert result.details["analysis"]["status"] == "ok"


def test_worse_answers_score_lower_in_documented_order(tasks):
    for task in tasks:
        label = label_of(task)
        golden = json.loads(golden_answer(label))
        far = [n + 1000 for n in label.lines]
        other = "front_running" if label.category != "front_running" else "reentrancy"
        scores = [score_detection(parse_answer(text), label, None)["score"] for text in (
            golden_answer(label),
            answer(True, label.category, far, golden["explanation"]),
            answer(True, other, label.lines, golden["explanation"]),
            answer(False, None, [], "No vulnerability found."),
        )]
        assert scores[0] == 1.0 and scores[0] > scores[1] > scores[2] > scores[3] == 0.0, (task.task_id, scores)


@pytest.mark.slow
def test_components_are_kept_for_pair_builders(domain, backend, tasks):
    task = next(t for t in tasks if t.task_id == "reentrancy/reentrancy_simple")
    result = domain.evaluate(task, Candidate(task.task_id, answer(True, "reentrancy", [24], "calls out")), backend)
    detection = result.details["detection"]
    assert set(detection["components"]) == {"detection", "class", "lines", "explanation"}
    assert detection["checks"]["mentions_function"] is False
    assert detection["checks"]["state_change_order"] is False
    assert detection["checks"]["consistent_with_slither"] is True
    assert result.verdict is Verdict.PASS and 0.9 <= result.score < 1.0


def test_unparseable_answer_is_reported(domain, backend, tasks):
    task = next(t for t in tasks if t.task_id == "reentrancy/reentrancy_simple")
    result = domain.evaluate(task, Candidate(task.task_id, "I cannot tell, sorry."), backend)
    assert result.verdict is Verdict.FAIL and result.score == 0.0
    assert result.details["error_kind"] == "unparseable"
    assert result.details["answer"]["parseable"] is False and result.details["answer"]["notes"]


def test_free_text_answer_is_parsed_leniently():
    parsed = parse_answer("Yes. The withdrawBalance function is vulnerable to re-entrancy (line 24, lines 26-27): "
                          "it sends ether before updating the balance.")
    assert parsed.vulnerable is True and parsed.category == "reentrancy" and parsed.lines == [24, 26, 27]
    assert parsed.format == "text"


def test_free_text_negative_answer_is_not_vulnerable():
    parsed = parse_answer("After review, the contract is not vulnerable to any known attack.")
    assert parsed.vulnerable is False and parsed.category is None and parsed.parseable


def test_fenced_json_with_aliases_is_parsed():
    parsed = parse_answer('Here:\n```json\n{"Vulnerable": "yes", "type": "Timestamp Dependence", '
                          '"line": "13-14", "reason": "uses now"}\n```')
    assert (parsed.vulnerable, parsed.category, parsed.lines, parsed.explanation) == (
        True, "time_manipulation", [13, 14], "uses now")
    assert parsed.format == "json"


def test_unknown_json_category_is_noted():
    parsed = parse_answer(answer(True, "quantum tunnelling", [3]))
    assert parsed.category is None and any("unknown category" in n for n in parsed.notes)


def test_delegatecall_answer_accepted_for_delegatecall_access_control_contract(tasks):
    task = next(t for t in tasks if t.task_id == "access_control/FibonacciBalance")
    label = label_of(task)
    assert "delegatecall" in label.accepted_categories
    scored = score_detection(parse_answer(answer(True, "delegatecall", label.lines, "withdraw")), label, None)
    assert scored["correct"] and scored["components"]["class"] == 1.0


def test_not_vulnerable_label_rewards_not_vulnerable_answer():
    label = Label(vulnerable=False)
    assert score_detection(parse_answer(answer(False)), label, None)["score"] == 1.0
    assert score_detection(parse_answer(answer(True, "reentrancy", [3])), label, None)["score"] == 0.0


def test_functions_at_finds_enclosing_function_and_fallback():
    src = "contract A {\n  function f() public {\n    x = 1;\n  }\n  function () payable {\n    y();\n  }\n}\n"
    assert functions_at(src, [3]) == ["f"] and functions_at(src, [6]) == ["fallback"]


# -- repair ----------------------------------------------------------------------------------------------
BANK = """pragma solidity ^0.4.24;
contract Bank {
    mapping(address => uint) public balances;
    function deposit() public payable { balances[msg.sender] += msg.value; }
    function withdraw() public {
        uint amount = balances[msg.sender];
        require(msg.sender.call.value(amount)());
        balances[msg.sender] = 0;
    }
}
"""
BANK_FIXED = BANK.replace("""        require(msg.sender.call.value(amount)());
        balances[msg.sender] = 0;""", """        balances[msg.sender] = 0;
        require(msg.sender.call.value(amount)());""")
BANK_RENAMED = BANK.replace("amount", "value_")
BANK_NEW_HIGH = BANK_FIXED.replace("balances[msg.sender] += msg.value; }",
                                   "balances[msg.sender] += msg.value; if (msg.value == 0) selfdestruct(msg.sender); }")

KILL = """pragma solidity ^0.4.24;
contract Killable {
    address owner;
    constructor() public { owner = msg.sender; }
    function kill() public { selfdestruct(msg.sender); }
}
"""
KILL_FIXED = KILL.replace("{ selfdestruct", "{ require(msg.sender == owner); selfdestruct")
KILL_RENAMED = KILL_FIXED.replace("function kill()", "function destroy()")

PAY = """pragma solidity ^0.4.24;
contract Payer {
    mapping(address => uint) public owed;
    function claim() public {
        uint amount = owed[msg.sender];
        owed[msg.sender] = 0;
        msg.sender.call.value(amount)();
    }
}
"""
PAY_FIXED = PAY.replace("msg.sender.call.value(amount)();", "require(msg.sender.call.value(amount)());")
PAY_BROKEN = PAY.replace("msg.sender.call.value(amount)();", "require(msg.sender.call.value(amount)();")


def repair(domain, backend, original, category, fixed):
    task = Task(f"repair-{category}", "solidity", "fix it", assets={"kind": "repair", "source": original,
                                                                   "category": category})
    return domain.evaluate(task, Candidate(task.task_id, f"Here is the fix:\n```solidity\n{fixed}```\n"), backend)


@pytest.mark.parametrize("original, category, fixed", [
    (BANK, "reentrancy", BANK_FIXED),
    (KILL, "access_control", KILL_FIXED),
    (PAY, "unchecked_low_level_calls", PAY_FIXED),
], ids=["reentrancy-effects-first", "suicidal-owner-check", "checked-call"])
def test_hand_written_fixes_pass(domain, backend, original, category, fixed):
    result = repair(domain, backend, original, category, fixed)
    assert result.verdict is Verdict.PASS and result.score == 1.0, result.details
    assert result.details["target_applicable"] and result.details["target_detectors"]


def test_renaming_a_variable_does_not_fix_reentrancy(domain, backend):
    result = repair(domain, backend, BANK, "reentrancy", BANK_RENAMED)
    assert result.verdict is Verdict.FAIL and result.details["checks"]["target_fixed"] is False
    assert "reentrancy-eth" in result.details["still_firing"]


def test_fix_that_changes_the_abi_fails(domain, backend):
    result = repair(domain, backend, KILL, "access_control", KILL_RENAMED)
    assert result.verdict is Verdict.FAIL
    assert result.details["checks"] == {"compiles": True, "target_fixed": True, "no_new_high": True,
                                        "abi_unchanged": False, "no_assembly": True}
    assert result.score == 0.8


def test_fix_that_adds_a_high_finding_fails(domain, backend):
    result = repair(domain, backend, BANK, "reentrancy", BANK_NEW_HIGH)
    assert result.verdict is Verdict.FAIL and result.details["new_high"] == ["suicidal"]


def test_fix_that_does_not_compile_is_compile_error(domain, backend):
    result = repair(domain, backend, PAY, "unchecked_low_level_calls", PAY_BROKEN)
    assert result.verdict is Verdict.COMPILE_ERROR and result.score == 0.0


def test_unchanged_contract_is_not_a_fix(domain, backend):
    result = repair(domain, backend, PAY, "unchecked_low_level_calls", PAY)
    assert result.verdict is Verdict.FAIL and result.details["still_firing"] == ["unchecked-lowlevel"]


# -- the SmartBugs benchmark on an answer file -------------------------------------------------------------
def test_bench_scores_answer_file_per_category(tmp_path, shared_data, tasks):
    from codealign import bench
    from codealign.jsonl import write_jsonl

    rows = []
    for task in tasks:
        label = label_of(task)
        if label.category == "reentrancy":
            text = golden_answer(label)
        elif label.category == "arithmetic":
            text = "Yes, this is vulnerable to reentrancy."
        else:
            text = "no idea"
        rows.append({"task_id": task.task_id, "completion": text})
    answers = tmp_path / "answers.jsonl"
    write_jsonl(answers, rows)
    data = shared_data / "smartbugs" / "smartbugs_curated.jsonl"
    summary = bench.run("smartbugs", data=data, candidates=answers, out=tmp_path / "report.json").to_dict()
    reentrancy = summary["categories"]["reentrancy"]
    n_arith = sum(t.metadata["category"] == "arithmetic" for t in tasks)
    assert (reentrancy["tp"], reentrancy["fp"], reentrancy["fn"]) == (4, n_arith, 0)
    assert summary["categories"]["arithmetic"]["tp"] == 0
    assert len(summary["unparseable"]) == len(tasks) - 4 - n_arith
    assert json.loads((tmp_path / "report.json").read_text())["mode"] == "answers"


def test_bench_rejects_a_file_that_is_not_smartbugs(tmp_path):
    from codealign import bench
    from codealign.errors import UserError

    bad = tmp_path / "x.jsonl"
    bad.write_text('{"id": "a"}\n')
    with pytest.raises(UserError, match="not a SmartBugs row"):
        bench.run("smartbugs", data=bad, oracle=True)


def test_leading_yes_or_no_is_a_verdict_only_as_a_word_of_its_own():
    assert parse_answer("No. The contract is fine.").vulnerable is False
    assert parse_answer("Yes, reentrancy in withdraw().").vulnerable is True
    assert not parse_answer("no idea").parseable


@pytest.mark.slow
def test_executor_judges_many_answers_with_one_analysis_per_contract(tasks):
    from codealign.sandbox.backends import get_backend
    from codealign.execution.executor import execute

    picked = [t for t in tasks if t.metadata["category"] == "reentrancy"][:2]
    cands = [Candidate(t.task_id, golden_answer(label_of(t)), metadata={"i": i}) for t in picked for i in range(2)]
    cands += [Candidate(t.task_id, "No, it is not vulnerable.") for t in picked]
    domain = SolidityDomain(workers=2)
    try:
        backend = get_backend("auto")
        results = execute(domain, picked, cands, backend=backend, workers=3, progress=False)
        assert domain._pool(backend).requests == 2
    finally:
        domain.close()
    assert [r.verdict for r in results] == [Verdict.PASS] * 4 + [Verdict.FAIL] * 2
    assert [r.score for r in results] == [1.0] * 4 + [0.0] * 2
