"""The procedural Solidity family: generated contracts to audit (label + lines) and to repair, repairs judged on
py-evm inside the sandbox (functional transactions behave, the exploit fails)."""

import json

import pytest

from codealign.domains import get_domain
from codealign.domains.solidity.tasks import (
    FAMILIES,
    bundled_tasks,
    family,
    generate_tasks,
)
from codealign.execution.executor import execute
from codealign.domains.candidates import make_candidate
from codealign.types import Candidate, Verdict

pytest.importorskip("eth", reason="py-evm is not installed (pip install 'codealign[solidity]')")


def _all_bundled():
    return bundled_tasks("train") + bundled_tasks("heldout")


def _repairs():
    return [t for t in _all_bundled() if t.assets["kind"] == "repair"]


def _emptied_withdraw(task):
    """The reference repair with the body of the function that pays out (or moves balances) removed."""
    lines = task.assets["fixed"].splitlines()
    pays = next(i for i, line in enumerate(lines)
                if any(k in line for k in ("msg.sender.call", "msg.sender.send", ".transfer(", "-= amount",
                                           "-= total")))
    start = max(i for i in range(pays) if lines[i].startswith("    function"))
    end = next(i for i in range(pays, len(lines)) if lines[i] == "    }")
    return "\n".join(lines[: start + 1] + lines[end:]) + "\n"


def _decoy(task):
    """The vulnerable original plus a harmless contract named like the task's attacker."""
    return task.assets["source"] + "\ncontract Attack {\n    constructor(address target) public {}\n" \
                                   "    function run() public payable {}\n}\n"


@pytest.fixture(scope="module")
def judged():
    """One batched executor call: every bundled repair's reference and vulnerable original; per family and
    style, the reference with its paying function emptied; a decoy attacker; a repair that does not compile."""
    domain = get_domain("solidity")
    tasks = _repairs()
    candidates, styles = [], set()
    for task in tasks:
        candidates.append(Candidate(task.task_id, domain.reference_solution(task), metadata={"role": "reference"}))
        candidates.append(Candidate(task.task_id, task.assets["source"], metadata={"role": "original"}))
        style = (task.metadata["family"], task.metadata["params"]["style"])
        if style not in styles:
            styles.add(style)
            candidates.append(Candidate(task.task_id, _emptied_withdraw(task), metadata={"role": "emptied"}))
    reentrancy = next(t for t in tasks if t.metadata["family"] == "reentrancy")
    candidates.append(Candidate(reentrancy.task_id, _decoy(reentrancy), metadata={"role": "decoy"}))
    candidates.append(Candidate(tasks[0].task_id, tasks[0].assets["fixed"].replace(";", "", 1),
                                metadata={"role": "broken"}))
    results = execute(domain, tasks, candidates, progress=False)
    by_id = {t.task_id: t for t in tasks}
    by_role: dict[str, list] = {}
    for cand, res in zip(candidates, results):
        by_role.setdefault(cand.metadata["role"], []).append((by_id[cand.task_id], res))
    return by_role








def test_both_splits_hold_every_class_and_kind():
    for split in ("train", "heldout"):
        tasks = bundled_tasks(split)
        assert {t.metadata["family"] for t in tasks} == set(FAMILIES)
        assert {t.metadata["kind"] for t in tasks} == {"detect", "safe", "repair"}


def test_prompt_plus_reference_fits_the_tiny_models_context():
    from codealign.train.models import build_tiny_tokenizer, corpus_texts

    tokenizer = build_tiny_tokenizer(corpus_texts())
    domain = get_domain("solidity")
    longest = max(len(tokenizer(t.prompt + domain.reference_solution(t))["input_ids"]) for t in _all_bundled())
    assert longest <= 512


@pytest.mark.slow
def test_every_reference_repair_passes_on_the_evm(judged):
    bad = [(t.task_id, r.verdict, r.details.get("draws"), r.details.get("checks"))
           for t, r in judged["reference"] if (r.verdict, r.score) != (Verdict.PASS, 1.0)]
    assert len(judged["reference"]) == len(_repairs()) and not bad


@pytest.mark.slow
def test_every_planted_original_is_exploited_and_fails(judged):
    assert {t.metadata["family"] for t, _ in judged["original"]} == set(FAMILIES)
    for task, res in judged["original"]:
        assert res.verdict is Verdict.FAIL, task.task_id
        assert res.details["checks"]["exploit_blocked"] is False and res.score == 0.0, task.task_id


@pytest.mark.slow
def test_a_repair_with_the_paying_function_emptied_fails(judged):
    assert len(judged["emptied"]) == 11
    for task, res in judged["emptied"]:
        assert res.verdict is Verdict.FAIL, task.task_id
        assert not res.details["checks"]["functional"] and res.score < 1.0, task.task_id


@pytest.mark.slow
def test_a_candidate_cannot_replace_the_attacker_with_its_own_contract(judged):
    [(task, res)] = judged["decoy"]
    assert res.verdict is Verdict.FAIL and res.details["checks"]["exploit_blocked"] is False


@pytest.mark.slow
def test_a_repair_that_does_not_compile_is_a_compile_error(judged):
    [(task, res)] = judged["broken"]
    assert res.verdict is Verdict.COMPILE_ERROR and res.score == 0.0


def test_every_detection_reference_scores_one_and_wrong_answers_score_lower():
    domain = get_domain("solidity")
    tasks = [t for t in _all_bundled() if t.assets["kind"] == "detect"]
    golden = [Candidate(t.task_id, domain.reference_solution(t)) for t in tasks]
    wrong = []
    for task in tasks:
        label = task.assets["label"]
        if label["vulnerable"]:
            other = "reentrancy" if label["category"] != "reentrancy" else "arithmetic"
            wrong.append(Candidate(task.task_id, json.dumps({"vulnerable": True, "category": other,
                                                             "lines": label["lines"], "explanation": "x"})))
            wrong.append(Candidate(task.task_id, json.dumps({"vulnerable": True, "category": label["category"],
                                                             "lines": [1], "explanation": "x"})))
        else:
            wrong.append(Candidate(task.task_id, json.dumps({"vulnerable": True, "category": "reentrancy",
                                                             "lines": [3], "explanation": "x"})))
    by_id = {t.task_id: t for t in tasks}
    results = execute(domain, tasks, golden + wrong, progress=False)
    assert [(r.verdict, r.score) for r in results[:len(golden)]] == [(Verdict.PASS, 1.0)] * len(golden)
    for cand, res in zip(wrong, results[len(golden):]):
        assert res.score < 1.0, (by_id[cand.task_id].task_id, cand.completion)


def test_a_detection_answer_reaches_the_scorer_unextracted():
    task = next(t for t in bundled_tasks("train") if t.assets["kind"] == "detect")
    answer = get_domain("solidity").reference_solution(task)
    assert make_candidate(task, answer, {}).completion == answer


def test_every_family_plants_marked_lines_that_point_at_code():
    for name in FAMILIES:
        for task in generate_tasks(name, 12, split="train"):
            if task.metadata["kind"] == "detect":
                lines = task.assets["source"].splitlines()
                marked = task.assets["label"]["lines"]
                assert marked and all(lines[n - 1].strip() for n in marked)
                assert family(name).category == task.assets["label"]["category"]


@pytest.mark.slow
def test_the_cold_job_path_judges_a_repair_like_the_workers():
    from codealign.domains.solidity import SolidityDomain

    task = next(t for t in _repairs() if t.metadata["family"] == "tx_origin")
    cold = SolidityDomain(persistent=False)
    results = execute(cold, [task], [Candidate(task.task_id, task.assets["fixed"]),
                                     Candidate(task.task_id, task.assets["source"])], progress=False)
    assert [(r.verdict, r.details["checks"]["exploit_blocked"]) for r in results] == [(Verdict.PASS, True),
                                                                                       (Verdict.FAIL, False)]


@pytest.mark.slow
def test_every_family_reference_passes_on_twenty_draws(backend):
    """One repair per family and style, its reference judged on 20 hidden draws (the default is 4 per job)."""
    from codealign.domains.solidity import SolidityDomain

    tasks = {}
    for task in _repairs():
        tasks.setdefault((task.metadata["family"], task.metadata["params"]["style"]), task)
    domain = SolidityDomain(workers=1, draws=20)
    try:
        results = [domain.evaluate(t, Candidate(t.task_id, t.assets["fixed"]), backend) for t in tasks.values()]
    finally:
        domain.close()
    assert len(tasks) == 11
    assert [(r.verdict, r.score, len(r.details["draws"])) for r in results] == [(Verdict.PASS, 1.0, 20)] * 11, \
        [(t.task_id, r.details.get("draws")) for t, r in zip(tasks.values(), results) if r.verdict is not Verdict.PASS]


def test_draws_are_hidden_yet_reproducible():
    """The same task and candidate meet the same draws; another candidate meets others (the seed is keyed by
    the harness's secret, so a candidate cannot compute them)."""
    from codealign.domains.solidity import SolidityDomain

    task = _repairs()[0]
    domain = SolidityDomain(workers=1)
    first = domain._scenario(task, task.assets["fixed"])
    assert first == domain._scenario(task, task.assets["fixed"])
    other = domain._scenario(task, task.assets["fixed"] + "\n")
    assert first["draws"] != other["draws"] and len(first["draws"]) == domain.draws


@pytest.mark.slow
def test_a_repair_that_passes_some_draws_fails_with_the_fraction_passed(backend):
    """Protected on blocks up to 10,000,000 only (draws span 1 to 2**48 by scale): about half of 20 draws pass, and
    the score says how many."""
    from codealign.domains.solidity import SolidityDomain

    task = next(t for t in _repairs() if t.metadata["family"] == "access_control"
                and t.metadata["params"]["style"] == "setFee")
    fee = family("access_control").names[task.metadata["params"]["names"]]["setFee"]
    half = task.assets["source"].replace(f"function {fee}(uint256 value) public {{",
                                         f"function {fee}(uint256 value) public {{\n"
                                         "        require(msg.sender == owner || block.number > 10000000);")
    assert half != task.assets["source"]
    domain = SolidityDomain(workers=1, draws=20)
    try:
        result = domain.evaluate(task, Candidate(task.task_id, half), backend)
    finally:
        domain.close()
    assert result.verdict is Verdict.FAIL and 0.0 < result.score < 1.0, result.details
    assert result.score == result.details["draws_passed"] / 20