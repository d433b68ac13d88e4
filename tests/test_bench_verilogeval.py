"""VerilogEval benchmark: the golden self-test on the shared data, loaders (JSONL and the upstream folder
layout), pass@k from candidate files, bad input, and the unbiased pass@k estimator itself."""

import json
import subprocess
import sys
from math import comb

import pytest

from codealign import bench
from codealign.bench.passk import pass_at_k, pass_at_k_table, usable_ks
from codealign.domains.verilog.verilogeval import inverted_output_mutant, load_verilogeval
from codealign.domains.verilog import reference_solution
from codealign.errors import UserError

# The references that fail their own testbench under Icarus 11, as shared/data/verilogeval/README.md lists.
ICARUS11_FAILING = {
    "spec-to-rtl": {"Prob082_lfsr32", "Prob141_count_clock", "Prob156_review2015_fancytimer", "Prob099_m2014_q6c"},
    "code-complete": {"Prob082_lfsr32", "Prob141_count_clock", "Prob156_review2015_fancytimer"},
}


@pytest.mark.slow
def test_oracle_on_verilogeval_gives_the_icarus11_counts_and_failures(shared_data):
    summary = bench.run("verilogeval", data=shared_data / "verilogeval" / "problems.jsonl", oracle=True,
                        screen=False).to_dict()
    spec, comp = summary["tasks"]["spec-to-rtl"], summary["tasks"]["code-complete"]
    assert (spec["passed"], spec["total"]) == (130, 134)
    assert (comp["passed"], comp["total"]) == (131, 134)
    assert set(spec["failing"]) == ICARUS11_FAILING["spec-to-rtl"]
    assert set(comp["failing"]) == ICARUS11_FAILING["code-complete"]
    assert spec["failing"]["Prob082_lfsr32"]["failure"] == "tb_timeout"
    assert "cast" in spec["failing"]["Prob156_review2015_fancytimer"]["reason"]


def test_loader_reads_the_upstream_folder_layout_like_the_jsonl(shared_data, tmp_path):
    rows = [json.loads(line) for line in (shared_data / "verilogeval" / "problems.jsonl").open()][:3]
    spec, comp = tmp_path / "dataset_spec-to-rtl", tmp_path / "dataset_code-complete-iccad2023"
    spec.mkdir()
    comp.mkdir()
    for row in rows:
        tid = row["task_id"]
        for folder, suffix in ((spec, ""), (comp, "_complete")):
            (folder / f"{tid}_prompt.txt").write_text(row["prompt" + suffix])
            (folder / f"{tid}_ref.sv").write_text(row["ref" + suffix])
            (folder / f"{tid}_test.sv").write_text(row["test" + suffix])
        (comp / f"{tid}_ifc.txt").write_text(row["ifc_complete"])
    jsonl = {t.task_id: t for t in load_verilogeval(shared_data / "verilogeval" / "problems.jsonl", "code-complete")}
    for task in load_verilogeval(tmp_path, "code-complete"):
        assert task.assets == jsonl[task.task_id].assets and task.prompt == jsonl[task.task_id].prompt
    assert [t.task_id for t in load_verilogeval(spec)] == [r["task_id"] for r in rows]


@pytest.mark.slow
def test_candidates_give_unbiased_pass_at_k_and_a_taxonomy(tmp_path):
    tasks = load_verilogeval(None)
    rows = []
    for i, task in enumerate(tasks):
        good = reference_solution(task)
        for j in range(10):
            text = good if j < i + 1 else (inverted_output_mutant(task) if j % 2 else "not verilog")
            rows.append({"task_id": task.task_id, "completion": text + f"\n// sample {j}\n"})
    path = tmp_path / "cands.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "report.json"
    summary = bench.run("verilogeval", candidates=str(path), out=str(out)).to_dict()
    rep = summary["tasks"]["spec-to-rtl"]
    assert rep["ks"] == [1, 5, 10]
    expected = {k: sum(pass_at_k(10, i + 1, k) for i in range(len(tasks))) / len(tasks) for k in (1, 5, 10)}
    for k, value in expected.items():
        assert rep["overall"][f"pass@{k}"] == pytest.approx(value)
    assert rep["taxonomy"]["pass"] == sum(i + 1 for i in range(len(tasks)))
    assert rep["taxonomy"]["syntax_error"] > 0
    assert json.loads(out.read_text())["pass@1"] == pytest.approx(expected[1])


def test_unknown_task_id_in_candidates_is_a_one_line_error(tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_text(json.dumps({"task_id": "Prob999_nope", "completion": "x"}) + "\n")
    with pytest.raises(UserError, match="Prob999_nope"):
        bench.run("verilogeval", candidates=str(path))


def test_malformed_candidates_line_names_file_and_line(tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_text(json.dumps({"task_id": "Demo01_mux4", "completion": "x"}) + "\n{oops\n")
    with pytest.raises(UserError, match=r"c\.jsonl:2"):
        bench.run("verilogeval", candidates=str(path))


def test_missing_data_path_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="no such file"):
        load_verilogeval(tmp_path / "absent.jsonl")


def test_fail_under_sets_a_nonzero_exit_code():
    report = bench.run("verilogeval", empty=True, variant="spec-to-rtl", limit=3, fail_under=0.01)
    assert report.exit_code == 1


@pytest.mark.slow
def test_cli_prints_exactly_one_json_object():
    proc = subprocess.run([sys.executable, "-m", "codealign.cli", "bench", "verilogeval", "--oracle", "--json",
                           "--no-cache"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["tasks"]["spec-to-rtl"]["passed"] == summary["tasks"]["spec-to-rtl"]["total"] == 4


def test_pass_at_k_matches_the_binomial_formula():
    assert pass_at_k(10, 3, 1) == pytest.approx(0.3)
    assert pass_at_k(10, 3, 5) == pytest.approx(1 - comb(7, 5) / comb(10, 5))
    assert pass_at_k(5, 0, 5) == 0.0
    assert pass_at_k(5, 1, 5) == 1.0


def test_pass_at_k_rejects_impossible_counts():
    with pytest.raises(ValueError):
        pass_at_k(3, 4, 1)
    with pytest.raises(ValueError):
        pass_at_k(3, 1, 4)


def test_pass_at_k_table_uses_only_ks_every_problem_allows():
    assert usable_ks([10, 7]) == [1, 5]
    table = pass_at_k_table({"a": (1, 1), "b": (1, 0)})
    assert table["ks"] == [1] and table["overall"]["pass@1"] == 0.5
