"""The procedural Verilog task family: golden self-test per family, the train / held-out split, determinism,
the bundled demo sets and the ``codealign tasks generate`` command."""

import json
import os
import subprocess
import sys

import pytest

from codealign.execution.executor import execute
from codealign.domains.verilog import reference_solution

from codealign.domains.verilog import tasks as vt
from codealign.errors import UserError
from codealign.jsonl import read_jsonl
from codealign.types import Task


@pytest.fixture(scope="module")
def golden():
    """One train and one held-out task per family, their references and golden mutants, judged once in
    parallel by the verilog domain."""
    tasks = [t for split in vt.SPLITS for t in vt.generate_tasks(None, len(vt.FAMILIES), seed=7, split=split)]
    candidates = vt.golden_candidates(tasks)
    return vt.golden_check(tasks, candidates, execute("verilog", tasks, candidates, workers=os.cpu_count(),
                                                      progress=False))


def _failures(golden, family):
    return [f for f in golden["failures"] if f["task_id"].startswith(f"vt-{family}-")]


@pytest.mark.slow
@pytest.mark.parametrize("family", vt.FAMILIES)
def test_reference_passes_its_testbench(golden, family):
    row = golden["per_family"][family]
    refs = [f for f in _failures(golden, family) if f["candidate"] == "reference"]
    assert row["tasks"] == 2 and row["references_passed"] == 2, refs


@pytest.mark.slow
@pytest.mark.parametrize("family", vt.FAMILIES)
def test_mutants_fail_the_testbench(golden, family):
    row = golden["per_family"][family]
    broken = [f for f in _failures(golden, family) if f["candidate"] != "reference"]
    assert row["mutants"] >= 2 and row["mutants_rejected"] == row["mutants"], broken


def test_behavioural_neighbours_exist_for_every_family_with_behavioural_parameters():
    kinds = {}
    for family in vt.FAMILIES:
        task = vt.generate_tasks([family], 1)[0]
        kinds[family] = [d for d, _ in vt.golden_mutants(task) if d.startswith("neighbour")]
    assert all(kinds[f] for f in vt.FAMILIES if f != "mux"), kinds


def test_testbench_reports_in_verilogeval_format():
    task = vt.generate_tasks(["counter"], 1)[0]
    tb = task.assets["test"]
    assert 'Mismatches: %1d in %1d samples' in tb
    assert "RefModule good1" in tb and "TopModule top_module1" in tb and "module tb();" in tb
    assert task.assets["format"] == "verilogeval" and task.assets["top_module"] == "TopModule"


def test_reference_solution_defines_top_module_not_ref_module():
    task = vt.generate_tasks(["seqdet"], 1)[0]
    text = reference_solution(task)
    assert text.startswith("module TopModule (") and "RefModule" not in text


def test_every_family_has_four_phrasings_and_both_splits():
    for family in vt.FAMILIES:
        assert len(vt.family(family).phrasings()) == 4
        assert vt.universe(family, "train") and vt.universe(family, "heldout")


def test_train_and_heldout_are_disjoint_by_params_and_phrasing():
    for family in vt.FAMILIES:
        train = {(json.dumps(p, sort_keys=True), k) for p, k in vt.universe(family, "train")}
        heldout = {(json.dumps(p, sort_keys=True), k) for p, k in vt.universe(family, "heldout")}
        assert not train & heldout


def test_every_heldout_task_has_params_or_a_phrasing_never_seen_in_train():
    for family in vt.FAMILIES:
        train = vt.universe(family, "train")
        seen_params = {json.dumps(p, sort_keys=True) for p, _ in train}
        seen_phrasings = {k for _, k in train}
        for params, k in vt.universe(family, "heldout"):
            assert json.dumps(params, sort_keys=True) not in seen_params or k not in seen_phrasings


def test_split_rule_is_fixed():
    # Recorded once: a change here means every published train/held-out figure changes meaning.
    held = {"width": 2, "direction": "up", "reset": "sync", "active": "low", "enable": True, "modulo": True}
    assert vt.split_of("counter", held, 0) == "heldout"
    assert vt.split_of("counter", dict(held, modulo=False), 0) == "train"
    assert vt.split_of("counter", dict(reversed(list(held.items()))), 1) == "heldout"
    assert vt.split_of("parity", {"width": 8, "kind": "even"}, 3) == "heldout"


def test_split_does_not_depend_on_n_or_seed():
    small = vt.generate_tasks(None, 30, seed=1, split="heldout")
    other = vt.generate_tasks(None, 30, seed=2, split="train")
    assert all(t.metadata["split"] == "heldout" for t in small)
    assert all(vt.split_of(t.metadata["family"], t.metadata["params"], t.metadata["phrasing"]) == "train"
               for t in other)






def test_generation_is_stable_across_interpreter_runs():
    code = ("import sys; from codealign.domains.verilog import tasks as vt; "
            "tasks = vt.generate_tasks(None, 24, seed=9, split='heldout'); "
            "sys.stdout.write('\\n'.join(t.task_id + ' ' + t.asset_hash() for t in tasks))")
    outputs = set()
    for hash_seed in ("1", "2"):
        env = dict(os.environ, PYTHONHASHSEED=hash_seed)
        outputs.add(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                                   check=True).stdout)
    assert len(outputs) == 1


def test_families_are_drawn_round_robin():
    tasks = vt.generate_tasks(["mux", "parity"], 6, seed=0)
    assert [t.metadata["family"] for t in tasks] == ["mux", "parity"] * 3




def test_bundled_heldout_mixes_every_kind_of_novelty():
    kinds = {tuple(t.metadata["novel"]) for t in vt.bundled_tasks("heldout")}
    assert kinds == {("params",), ("phrasing",), ("params", "phrasing")}


def test_unknown_family_is_a_user_error_naming_the_families():
    with pytest.raises(UserError, match="choose from: logic, arith"):
        vt.generate_tasks(["adder9000"], 1)


def test_unknown_split_is_a_user_error():
    with pytest.raises(UserError, match="unknown split"):
        vt.generate_tasks(None, 1, split="test")


def test_asking_for_more_tasks_than_exist_is_a_user_error():
    with pytest.raises(UserError, match="only .* heldout tasks exist"):
        vt.generate_tasks(["popcount"], 10_000, split="heldout")


def test_cli_writes_the_requested_tasks(tmp_path):
    from codealign.cli import main

    out = tmp_path / "tasks.jsonl"
    code = main(["tasks", "generate", "--family", "counter,edge", "--n", "10", "--seed", "2", "--split",
                 "heldout", "--out", str(out), "--quiet"])
    tasks = read_jsonl(out, Task.from_dict)
    assert code == 0
    expected = vt.generate_tasks(["counter", "edge"], 10, 2, "heldout")
    assert [t.to_dict() for t in tasks] == [t.to_dict() for t in expected]


def test_cli_unknown_family_exits_2_and_writes_nothing(tmp_path, capsys):
    from codealign.cli import main

    out = tmp_path / "tasks.jsonl"
    code = main(["tasks", "generate", "--family", "nope", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and "unknown task family 'nope'" in err and len(err.strip().splitlines()) == 1
    assert not out.exists()
