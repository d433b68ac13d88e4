"""The procedural Python family: bundled, split, short, and judged for real (references pass, broken spans fail)."""

import json
from collections import defaultdict

import pytest

from codealign.domains import get_domain
from codealign.domains.python import tasks as pt
from codealign.domains.splits import SPLITS
from codealign.errors import UserError
from codealign.types import Candidate, Task, Verdict


@pytest.fixture(scope="module")
def bundled():
    return {split: pt.bundled_tasks(split) for split in SPLITS}


def _one_per_family_and_kind(tasks):
    picked = {}
    for task in tasks:
        picked.setdefault((task.metadata["family"], task.metadata["span_kind"]), task)
    return picked


def _distinct_references(tasks):
    """One task per distinct module text and calls: tasks that differ only in where the hole is write the same
    module."""
    distinct = {}
    for task in tasks:
        job = task.assets["prefix"] + task.metadata["middle_code"] + task.assets["suffix"]
        distinct.setdefault((job, json.dumps(task.assets["calls"])), task)
    return list(distinct.values())


def _with_draws(domain, task, seed):
    """The task's fixed cases and a judge draw, plus 20 inputs drawn with ``seed``."""
    draw = task.assets["calls"]["draw"]
    cases = domain._cases(task, Candidate(task.task_id, task.metadata["middle_code"]))
    return cases + pt.drawn_cases(draw["family"], draw["params"], 20, seed)


def _call_all(task, middle, cases):
    """True when the task's module with ``middle`` in its hole, called here on each case (project code only),
    returns every expected value; else the first mismatch."""
    namespace = {}
    exec(compile(task.assets["prefix"] + middle + task.assets["suffix"], "<kit>", "exec"), namespace)
    function = namespace[task.assets["calls"]["function"]]
    for args, expected in cases:
        try:
            got = function(*args)
        except Exception as exc:  # a broken middle may raise
            got = exc
        if got != expected:
            return args, got, expected
    return True


@pytest.fixture(scope="module")
def judged(bundled, backend):
    """One executor call: per (family, span kind) one task's reference, its blanked middle and its first other
    golden mutant if it has one (an off-by-one, a neighbour's middle...), then the domain's self-test."""
    from codealign.execution.executor import execute

    domain = get_domain("python")
    tasks = bundled["train"] + bundled["heldout"]
    candidates = []
    for (family, kind), task in sorted(_one_per_family_and_kind(tasks).items()):
        candidates.append(Candidate(task.task_id, domain.reference_solution(task), metadata={"role": "reference"}))
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
def test_every_bundled_reference_returns_the_expected_values_on_its_cases_and_20_draws(bundled):
    """All references, called here (they are the project's own code; the sandboxed judge runs one per family
    and span kind below): the fixed cases stored in the task and 20 draws of the generator's reference."""
    domain = get_domain("python")
    tasks = _distinct_references(bundled["train"] + bundled["heldout"])
    assert len(tasks) > sum(pt.BUNDLED_COUNTS.values()) // 2
    failing = []
    for i, task in enumerate(tasks):
        if _call_all(task, task.metadata["middle_code"], _with_draws(domain, task, i)) is not True:
            failing.append(task.task_id)
    assert failing == []
    broken = pt.golden_mutants(tasks[0])[0][1]
    assert _call_all(tasks[0], broken, _with_draws(domain, tasks[0], 0)) is not True  # the check can fail


@pytest.mark.slow
def test_each_family_reference_passes_the_sandboxed_judge_on_20_drawn_inputs(bundled, backend):
    from codealign.execution.executor import execute

    domain = get_domain("python")
    picked = {}
    for task in bundled["train"]:
        picked.setdefault(task.metadata["family"], task)
    tasks = []
    for task in picked.values():
        calls = dict(task.assets["calls"], draw=dict(task.assets["calls"]["draw"], n=20))
        tasks.append(Task(task.task_id, "python", task.prompt, assets={**task.assets, "calls": calls},
                          limits=task.limits, metadata=task.metadata))
    candidates = [Candidate(t.task_id, t.metadata["middle_code"]) for t in tasks]
    results = execute(domain, tasks, candidates, backend=backend, progress=False)
    assert [(r.verdict, r.details["total"]) for r in results] == [
        (Verdict.PASS, len(t.assets["calls"]["cases"]) + 20) for t in tasks]


@pytest.mark.slow
def test_one_reference_per_family_and_span_kind_passes_the_sandboxed_judge(judged):
    refs = [(c, r) for c, r in judged if c.metadata["role"] == "reference"]
    assert len(refs) == len(pt.FAMILIES) * len(pt.SPAN_KINDS)
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
