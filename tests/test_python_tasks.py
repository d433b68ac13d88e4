"""The procedural Python family: bundled, split, short, and judged for real (references pass, broken spans fail)."""

import json
from collections import defaultdict

import pytest

from codealign.domains import get_domain
from codealign.domains.python import tasks as pt
from codealign.errors import UserError
from codealign.types import Candidate, Verdict


@pytest.fixture(scope="module")
def bundled():
    return {split: pt.bundled_tasks(split) for split in pt.SPLITS}


def _one_per_family_and_kind(tasks):
    picked = {}
    for task in tasks:
        picked.setdefault((task.metadata["family"], task.metadata["span_kind"]), task)
    return picked


@pytest.fixture(scope="module")
def judged(bundled, backend):
    """One executor call: every bundled reference (one job per distinct module text and tests: tasks that
    differ only in where the hole is write the same files), then per (family, span kind) one task's blanked middle and
    its first other golden mutant if it has one (an off-by-one, a neighbour's middle...), then the domain's
    self-test."""
    from codealign.execution.executor import execute

    domain = get_domain("python")
    tasks = bundled["train"] + bundled["heldout"]
    distinct = {}
    for task in tasks:
        job = task.assets["prefix"] + task.metadata["middle_code"] + task.assets["suffix"]
        distinct.setdefault((job, json.dumps(task.assets["test_files"])), task)
    candidates = [Candidate(t.task_id, domain.reference_solution(t), metadata={"role": "reference"})
                  for t in distinct.values()]
    for (family, kind), task in sorted(_one_per_family_and_kind(tasks).items()):
        mutants = pt.golden_mutants(task)
        blanked = [m for m in mutants if m[0] == "blank"]
        edited = [m for m in mutants if m[0] != "blank"][:1]
        for description, middle in blanked + edited:
            candidates.append(Candidate(task.task_id, middle, metadata={"role": "mutant", "kind": kind,
                                                                        "mutant": description}))
    selftest = domain.selftest_cases()
    candidates += [Candidate(c.task_id, c.completion, metadata={"role": "selftest", "expected": v.value})
                   for _, c, v in selftest]
    results = execute(domain, tasks, candidates, backend=backend, progress=False)
    return list(zip(candidates, results))


@pytest.mark.slow
def test_every_bundled_reference_passes_its_tests(judged):
    refs = [(c, r) for c, r in judged if c.metadata["role"] == "reference"]
    assert len(refs) > sum(pt.BUNDLED_COUNTS.values()) // 2
    failing = [(c.task_id, r.verdict.value, r.details.get("error")) for c, r in refs
               if r.verdict is not Verdict.PASS or r.score != 1.0]
    assert failing == []


@pytest.mark.slow
def test_a_broken_span_fails_for_every_family_and_span_kind(judged):
    mutants = [(c, r) for c, r in judged if c.metadata["role"] == "mutant"]
    covered = defaultdict(set)
    for cand, _ in mutants:
        covered[cand.task_id.split("-")[1]].add(cand.metadata["kind"])
    assert covered == {family: set(pt.SPAN_KINDS) for family in pt.FAMILIES}
    blanked = {c.metadata["kind"] for c, _ in mutants if c.metadata["mutant"] == "blank"}
    edited = {c.metadata["kind"] for c, _ in mutants if c.metadata["mutant"] != "blank"}
    assert blanked == edited == set(pt.SPAN_KINDS)
    passing = [(c.task_id, c.metadata["mutant"]) for c, r in mutants if r.verdict is Verdict.PASS]
    assert passing == []
    assert all(r.score < 1.0 for _, r in mutants)


@pytest.mark.slow
def test_selftest_cases_get_their_expected_verdicts(judged):
    got = [(r.verdict.value, c.metadata["expected"]) for c, r in judged if c.metadata["role"] == "selftest"]
    assert got == [(Verdict.PASS.value, Verdict.PASS.value), (Verdict.FAIL.value, Verdict.FAIL.value)]




def test_bundled_sets_are_large_enough_and_cover_every_family_and_kind(bundled):
    assert len(bundled["train"]) >= 200 and len(bundled["heldout"]) >= 64
    for tasks in bundled.values():
        assert set(_one_per_family_and_kind(tasks)) == {(f, k) for f in pt.FAMILIES for k in pt.SPAN_KINDS}




def test_prompts_fit_the_tiny_model_token_bound(bundled):
    from codealign.train.models import build_tiny_tokenizer, corpus_texts

    tokenizer = build_tiny_tokenizer(corpus_texts())
    lengths = {t.task_id: len(tokenizer(t.prompt)["input_ids"]) for ts in bundled.values() for t in ts}
    assert max(lengths.values()) <= pt.MAX_PROMPT_TOKENS


def test_prompt_is_a_fim_prompt_around_the_reference(bundled):
    from codealign.fim import fim_format

    fmt = fim_format("starcoder")
    for task in bundled["train"][:20]:
        assets = task.assets
        assert task.prompt == fmt.render(assets["prefix"], assets["suffix"])
        source = assets["prefix"] + task.metadata["middle_code"] + assets["suffix"]
        compile(source, assets["module"], "exec")


def test_docstring_alone_tells_the_parameters_apart():
    for name in pt.FAMILIES:
        fam = pt.family(name)
        for phrasing in fam.phrasings():
            docs = [phrasing(p) for p in fam.combos()]
            assert len(set(docs)) == len(docs), name






@pytest.mark.parametrize("call, message", [
    (lambda: pt.generate_tasks(["strings"], 1), "unknown task family 'strings'; choose from: text, numbers"),
    (lambda: pt.generate_tasks(None, 1, split="test"), "unknown split 'test'; choose from: train, heldout"),
    (lambda: pt.make_task("numbers", {"agg": "sum", "rel": ">", "k": 4}, 0, "body"), "invalid parameters"),
    (lambda: pt.make_task("numbers", {"agg": "sum", "rel": ">", "k": 3}, 0, "line"), "unknown span kind 'line'"),
])
def test_bad_requests_are_one_line_errors_naming_the_choices(call, message):
    with pytest.raises(UserError, match=message) as info:
        call()
    assert "\n" not in str(info.value)
