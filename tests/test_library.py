"""The library surface IDE-model teams import: ``codealign.execute``, ``build_pairs``, ``curriculum``, ``bench``."""

import random

import pytest

import codealign
from codealign.domains import get_domain
from codealign.domains.verilog.tasks import bundled_tasks

pytestmark = pytest.mark.slow


def test_execute_pairs_and_curriculum_compose():
    domain = get_domain("verilog")
    tasks = bundled_tasks("train")[:3]
    cands = []
    for task in tasks:
        ref = domain.reference_solution(task)
        cands.append(codealign.Candidate(task.task_id, ref))
        cands += [codealign.Candidate(task.task_id, text) for text, _ in domain.mutate(ref, random.Random(0))[:2]]
    results = codealign.execute(tasks, cands, domain="verilog", progress=False)
    assert [r.verdict for r in results[::3]] == [codealign.Verdict.PASS] * 3
    pairs = codealign.build_pairs(results, tasks=tasks, strategy="execution")
    assert pairs and all(p.margin > 0 for p in pairs)
    staged = codealign.curriculum(pairs, key="gap", stages=2)
    assert sorted(p.stage for p in staged) == [p.stage for p in staged]


def test_bench_returns_a_report_with_the_summary(shared_data):
    report = codealign.bench("rtllm", data=shared_data / "rtllm" / "problems.jsonl", oracle=True, screen=False)
    assert round(report.pass_at_1 * 43) == 40
    assert report.to_dict()["pass@1"] == report.pass_at_1
