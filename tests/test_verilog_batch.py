"""The executor's batches on the Verilog domain: formed on the replay path (tasks with few candidates packed
together), the same verdicts as batching off (hostile members: tests/evil/test_evil_verilog_batch.py)."""

from codealign.domains.verilog import VerilogDomain
from codealign.domains.verilog.batch import comparable
from codealign.domains.verilog.tasks import bundled_tasks, golden_candidates
from codealign.execution.executor import execute


def test_execute_packs_tasks_into_batches_with_the_verdicts_of_batching_off(backend, tmp_path):
    tasks = bundled_tasks("train")[:2]
    cands = golden_candidates(tasks)
    assert len(cands) <= VerilogDomain.batch_size
    domain = VerilogDomain(reference_store=str(tmp_path / "refs"))
    try:
        on = execute(domain, tasks, cands, backend=backend, progress=False)
        off = execute(domain, tasks, cands, backend=backend, progress=False, batch=False)
    finally:
        domain.close()
    assert [r.details.get("batch") for r in on] == [len(cands)] * len(cands)  # two tasks, one simulation
    assert not any("batch" in r.details for r in off)
    assert [comparable(r) for r in on] == [comparable(r) for r in off]


def test_a_domain_that_keeps_tasks_apart_batches_each_tasks_candidates_alone(backend, tmp_path):
    tasks = bundled_tasks("train")[:3]
    cands = golden_candidates(tasks)
    domain = VerilogDomain(reference_store=str(tmp_path / "refs"))
    domain.batch_tasks = False
    try:
        on = execute(domain, tasks, cands, backend=backend, progress=False)
    finally:
        domain.close()
    per_task = {t.task_id: sum(c.task_id == t.task_id for c in cands) for t in tasks}
    assert [r.details.get("batch") for r in on] == [per_task[c.task_id] for c in cands]
