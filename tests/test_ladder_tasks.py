"""The procedural ladder family: bundled, split, short, and judged for real (references pass, broken ones fail)."""

import json
import random
import re

import pytest

from codealign.domains import get_domain
from codealign.domains.ladder import LadderDomain
from codealign.domains.ladder import tasks as lt
from codealign.domains.ladder.edits import candidate_edits
from codealign.domains.ladder.equivalence import compare_programs
from codealign.domains.ladder.parser import parse_program
from codealign.errors import UserError
from codealign.execution.executor import execute
from codealign.types import Candidate, Verdict

BROKEN_OPS = ("swap_no_nc", "delete_contact", "delete_branch")


@pytest.fixture(scope="module")
def bundled():
    return {split: lt.bundled_tasks(split) for split in lt.SPLITS}


@pytest.fixture(scope="module")
def all_tasks(bundled):
    return bundled["train"] + bundled["heldout"]


def _first_per_family(tasks):
    picked = {}
    for task in tasks:
        picked.setdefault(task.metadata["family"], task)
    return picked


def _broken_references(task):
    """(op, program) for every NO/NC swap, contact deletion and branch deletion of the task's reference that
    the exhaustive simulator search shows to behave differently."""
    reference = parse_program(task.metadata["solution"])
    out = []
    for edit in candidate_edits(reference, random.Random(0), BROKEN_OPS):
        eq = compare_programs(reference, edit.program, inputs=task.assets["inputs"], outputs=task.assets["outputs"])
        if not eq.equivalent:
            out.append((edit.op, edit.program.text()))
    return out


@pytest.mark.slow
def test_every_bundled_reference_passes_the_judge(all_tasks):
    domain = LadderDomain(in_process=True)
    failing = [(t.task_id, r.verdict.value, r.details.get("error")) for t in all_tasks
               for r in [domain.evaluate(t, Candidate(t.task_id, domain.reference_solution(t)), backend=None)]
               if r.verdict is not Verdict.PASS or r.score != 1.0]
    assert len(all_tasks) == sum(lt.BUNDLED_COUNTS.values()) and failing == []


def test_one_reference_per_family_passes_the_sandboxed_judge(all_tasks, backend):
    domain = get_domain("ladder")
    tasks = list(_first_per_family(all_tasks).values())
    results = execute(domain, tasks, [Candidate(t.task_id, domain.reference_solution(t)) for t in tasks],
                      backend=backend, progress=False)
    assert {r.verdict for r in results} == {Verdict.PASS} and len(results) == len(lt.FAMILIES)
    assert {r.details["backend"] for r in results} != {"in-process"}


@pytest.mark.slow
def test_a_broken_reference_fails_for_every_family(all_tasks):
    candidates, ops = [], {}
    for family, task in _first_per_family(all_tasks).items():
        for op, text in _broken_references(task):
            candidates.append(Candidate(task.task_id, text, metadata={"op": op}))
            ops.setdefault(family, set()).add(op)
    assert set(ops) == set(lt.FAMILIES)
    assert all({"swap_no_nc", "delete_contact"} <= found for found in ops.values())
    results = execute(LadderDomain(in_process=True), all_tasks, candidates, progress=False)
    passing = [(c.task_id, c.metadata["op"], c.completion) for c, r in zip(candidates, results)
               if r.verdict is not Verdict.FAIL]
    assert passing == []


def test_seal_in_without_its_seal_in_branch_fails():
    task = lt.make_task("seal_in", {"names": 0, "stop": "NO", "wins": "stop", "guard": "none"}, 0)
    assert task.metadata["solution"] == "[NO(Start) | NO(Motor)] NC(Stop) OUT(Motor)"
    result = LadderDomain(in_process=True).evaluate(task, Candidate(task.task_id, "NO(Start) NC(Stop) OUT(Motor)"),
                                                    backend=None)
    assert result.verdict is Verdict.FAIL


@pytest.mark.slow
def test_all_outputs_off_and_all_on_fail_every_bundled_task(all_tasks):
    candidates = [Candidate(t.task_id, "\n".join(f"{coil}({o})" for o in t.assets["outputs"]))
                  for t in all_tasks for coil in ("RST", "OUT")]
    results = execute(LadderDomain(in_process=True), all_tasks, candidates, progress=False)
    assert [r.verdict for r in results] == [Verdict.FAIL] * len(candidates)


@pytest.mark.slow
def test_golden_mutants_fail_their_task():
    task = lt.make_task("interlock", {"names": 0, "mode": "latched", "tie": "first", "stop": "NC"}, 1)
    mutants = lt.golden_mutants(task)
    assert len(mutants) >= 10
    domain = LadderDomain(in_process=True)
    verdicts = {d: domain.evaluate(task, Candidate(task.task_id, text), backend=None).verdict for d, text in mutants}
    assert set(verdicts.values()) == {Verdict.FAIL}








def test_formatted_prompts_fit_the_tiny_model_token_bound(all_tasks):
    from codealign.prompts import encode_prompt, format_prompt
    from codealign.train.models import build_tiny_tokenizer, corpus_texts

    tokenizer = build_tiny_tokenizer(corpus_texts())
    lengths = [len(encode_prompt(tokenizer, format_prompt(t.prompt, tokenizer))) for t in all_tasks]
    assert max(lengths) <= lt.MAX_PROMPT_TOKENS


@pytest.mark.slow
def test_spec_alone_tells_parameter_combinations_apart():
    for name in lt.FAMILIES:
        fam = lt.family(name)
        for k in range(lt.PHRASINGS):
            prompts = [lt.make_task(name, p, k).prompt for p in fam.combos()]
            assert len(set(prompts)) == len(prompts), (name, k)




def test_domain_serves_the_family():
    domain = get_domain("ladder")
    assert domain.task_families == lt.FAMILIES
    task = domain.generate_tasks(["timer"], n=1)[0]
    assert task.metadata["family"] == "timer"
    assert domain.reference_solution(task) == task.metadata["solution"]
    assert [t.task_id for t in domain.demo_tasks("heldout")] == [t.task_id for t in lt.bundled_tasks("heldout")]


@pytest.mark.parametrize("call, message", [
    (lambda: lt.generate_tasks(["sealin"], 1), "unknown task family 'sealin'; choose from: seal_in"),
    (lambda: lt.generate_tasks(None, 1, split="test"), "unknown split 'test'; choose from: train, heldout"),
    (lambda: lt.make_task("timer", {"names": 0, "kind": "pulse", "scans": 4}, 0), "invalid parameters"),
])
def test_bad_arguments_raise_a_user_error_naming_the_choices(call, message):
    with pytest.raises(UserError, match=re.escape(message)):
        call()
