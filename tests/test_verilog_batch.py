"""The executor's batches on the Verilog domain: formed per task on the replay path, the same verdicts as
batching off (hostile members: tests/evil/test_evil_verilog_batch.py)."""

from codealign.domains.verilog import VerilogDomain
from codealign.domains.verilog.batch import comparable
from codealign.domains.verilog.tasks import bundled_tasks, golden_candidates
from codealign.execution.executor import execute


def test_execute_batches_each_tasks_candidates_and_gives_the_verdicts_of_batching_off(backend, tmp_path):
    tasks = bundled_tasks("train")[:3]
    cands = golden_candidates(tasks)
    domain = VerilogDomain(reference_store=str(tmp_path / "refs"))
    try:
        on = execute(domain, tasks, cands, backend=backend, progress=False)
        off = execute(domain, tasks, cands, backend=backend, progress=False, batch=False)
    finally:
        domain.close()
    per_task = {t.task_id: sum(c.task_id == t.task_id for c in cands) for t in tasks}
    assert [r.details.get("batch") for r in on] == [per_task[c.task_id] for c in cands]
    assert not any("batch" in r.details for r in off)
    assert [comparable(r) for r in on] == [comparable(r) for r in off]
