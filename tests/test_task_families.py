"""Properties every domain's procedural task family shares (the split and bundle rules of
:mod:`codealign.domains.splits`), checked through the Domain interface for each domain that has one."""

from __future__ import annotations

import importlib
import json

import pytest

from codealign.domains import get_domain
from codealign.errors import UserError

DOMAINS = ("verilog", "python", "solidity", "ladder")


def _module(name):
    return importlib.import_module(get_domain(name).task_module)


def _key(task):
    meta = task.metadata
    return meta["family"], json.dumps(meta["params"], sort_keys=True), meta.get("kind"), meta["phrasing"]


@pytest.fixture(scope="module", params=DOMAINS)
def family(request):
    module = _module(request.param)
    return request.param, module, {split: module.bundled_tasks(split) for split in ("train", "heldout")}


@pytest.mark.slow
def test_bundled_files_are_what_the_generator_writes(family):
    _, module, bundled = family
    for split, tasks in bundled.items():
        regenerated = [json.dumps(t.to_dict(), sort_keys=True) for t in module.bundled_generation(split)]
        assert [json.dumps(t.to_dict(), sort_keys=True) for t in tasks] == regenerated
        assert len(tasks) == module.BUNDLED_COUNTS[split]


def test_bundled_sets_are_large_enough_and_cover_every_family(family):
    _, module, bundled = family
    assert len(bundled["train"]) >= 200 and len(bundled["heldout"]) >= 64
    for tasks in bundled.values():
        assert {t.metadata["family"] for t in tasks} == set(module.FAMILIES)


def test_every_heldout_task_has_params_or_a_phrasing_no_train_task_has(family):
    _, _, bundled = family
    assert not {t.prompt for t in bundled["train"]} & {t.prompt for t in bundled["heldout"]}
    train_keys = {_key(t) for t in bundled["train"]}
    train_params = {_key(t)[:2] for t in bundled["train"]}
    for task in bundled["heldout"]:
        novel = task.metadata["novel"]
        assert novel and _key(task) not in train_keys, task.task_id
        assert "params" not in novel or _key(task)[:2] not in train_params, task.task_id
    assert all(not t.metadata["novel"] for t in bundled["train"])


def _novelty_key(name, task):
    """What makes a task new in its family: the contract shown (solidity), else (family, params)."""
    if name == "solidity":
        return task.assets["source"]
    return task.metadata["family"], json.dumps(task.metadata["params"], sort_keys=True)


def test_the_feedback_pool_shares_no_novelty_key_or_prompt_with_any_evaluation_draw(family):
    name, module, bundled = family
    domain = get_domain(name)
    reserve = domain.generate_tasks(None, module.EVAL_RESERVE, 0, "heldout")
    feedback = domain.generate_tasks(None, domain.count_tasks("feedback"), 0, "feedback")
    assert len(feedback) >= 32 and {t.metadata["family"] for t in feedback} == set(module.FAMILIES)
    assert {t.task_id for t in bundled["heldout"]} <= {t.task_id for t in reserve}
    assert not {_novelty_key(name, t) for t in reserve} & {_novelty_key(name, t) for t in feedback}
    assert not {t.prompt for t in reserve} & {t.prompt for t in feedback}
    assert not {t.prompt for t in bundled["train"]} & {t.prompt for t in feedback}
    assert all(t.metadata["novel"] and t.metadata["split"] == "feedback" for t in feedback)


def test_generation_is_deterministic_and_a_larger_n_extends_a_smaller_one(family):
    _, module, _ = family
    small = module.generate_tasks(None, 10, 3, "heldout")
    large = module.generate_tasks(None, 20, 3, "heldout")
    assert [t.to_dict() for t in small] == [t.to_dict() for t in large[:10]]
    assert len({t.task_id for t in large}) == 20
    assert [t.task_id for t in module.generate_tasks(None, 20, 4, "heldout")] != [t.task_id for t in large]


def test_the_domain_serves_its_family(family):
    name, module, bundled = family
    domain = get_domain(name)
    assert domain.task_families == tuple(module.FAMILIES)
    first = module.FAMILIES[-1]
    [task] = domain.generate_tasks([first], 1, 0, "train")
    assert task.metadata["family"] == first and domain.reference_solution(task)
    assert [t.task_id for t in domain.demo_tasks("heldout")] == [t.task_id for t in bundled["heldout"]]


def test_every_bundled_reference_fits_the_default_run_s_sampling_budget(family):
    from codealign.pipeline import make_config
    from codealign.train.models import build_tiny_tokenizer, corpus_texts

    name, _, bundled = family
    domain = get_domain(name)
    tokenizer = build_tiny_tokenizer(corpus_texts())
    budget = make_config(name).sample.max_new_tokens
    lengths = {t.task_id: len(tokenizer(domain.reference_solution(t))["input_ids"]) + 1
               for tasks in bundled.values() for t in tasks}
    longest = max(lengths, key=lengths.get)
    assert lengths[longest] <= budget, (longest, lengths[longest], budget)


@pytest.mark.parametrize("name", DOMAINS)
@pytest.mark.parametrize("args, message", [
    ((["no_such_family"], 1, 0, "train"), "unknown task family 'no_such_family'; choose from: "),
    ((None, 1, 0, "test"), "unknown split 'test'; choose from: train, heldout, feedback"),
    ((None, 10**6, 0, "train"), "only "),
])
def test_bad_requests_are_one_line_errors_naming_the_choices(name, args, message):
    with pytest.raises(UserError, match=message) as info:
        get_domain(name).generate_tasks(*args)
    assert "\n" not in str(info.value)
