"""Curriculum order (deterministic, monotone stages, strict stage order) and the contamination guard."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from codealign.errors import UserError
from codealign.pairs import build_pairs
from codealign.pairs.contamination import check_contamination
from codealign.pairs.curriculum import CurriculumConfig, curriculum, difficulties
from codealign.types import ExecResult, Pair, Task, Verdict

REPO = Path(__file__).resolve().parents[1]


def _verdicts(n_tasks: int = 12, per_task: int = 5) -> list[ExecResult]:
    rows = []
    for t in range(n_tasks):
        for c in range(per_task):
            score = round(((t * 7 + c * 3) % 11) / 10, 2)
            verdict = Verdict.PASS if score == 1.0 else Verdict.FAIL
            rows.append(ExecResult(f"task{t:02d}", f"c{t}_{c}", verdict, min(score, 1.0),
                                   completion=f"module m{t}; // variant {c}"))
    return rows


def _pairs() -> list[Pair]:
    results = _verdicts()
    return build_pairs(results, {r.task_id: f"write {r.task_id}" for r in results}, "ranked")


def _key(p: Pair) -> tuple:
    return (p.task_id, p.chosen, p.rejected, p.stage)


@pytest.mark.parametrize("key", ["gap", "pass_rate", "rank"])
def test_same_order_across_two_runs(key):
    pairs = _pairs()
    config = CurriculumConfig(key=key, stages=3, within_stage="shuffle", seed=11)
    assert [_key(p) for p in curriculum(pairs, config)] == [_key(p) for p in curriculum(list(pairs), config)]


def test_same_order_in_a_fresh_process_with_another_hash_seed():
    script = (
        "import json, sys; sys.path.insert(0, 'tests');"
        "from test_curriculum import _pairs, _key;"
        "from codealign.pairs.curriculum import curriculum;"
        "ordered = curriculum(_pairs(), key='gap', stages=4, within_stage='shuffle', seed=5);"
        "print(json.dumps([_key(p) for p in ordered]))"
    )
    outputs = []
    for hash_seed in ("1", "2"):
        env = dict(os.environ, PYTHONHASHSEED=hash_seed)
        out = subprocess.run([sys.executable, "-c", script], cwd=REPO, env=env, capture_output=True, text=True,
                             check=True)
        outputs.append(json.loads(out.stdout))
    assert outputs[0] == outputs[1]
    assert outputs[0] == [list(k) for k in (_key(p) for p in curriculum(_pairs(), key="gap", stages=4,
                                                                          within_stage="shuffle", seed=5))]


@pytest.mark.parametrize("key", ["gap", "pass_rate", "rank"])
def test_stages_are_monotone_in_difficulty(key):
    ordered = curriculum(_pairs(), key=key, stages=3)
    stages = [[p for p in ordered if p.stage == s] for s in sorted({p.stage for p in ordered})]
    assert len(stages) >= 2
    for easier, harder in zip(stages, stages[1:]):
        assert max(p.metadata["difficulty"] for p in easier) < min(p.metadata["difficulty"] for p in harder)


def test_stages_come_out_in_strict_order_and_numbered_without_gaps():
    ordered = curriculum(_pairs(), key="gap", stages=4, within_stage="shuffle", seed=1)
    stages = [p.stage for p in ordered]
    assert stages == sorted(stages) and sorted(set(stages)) == list(range(len(set(stages))))


def test_sequential_stage_is_sorted_by_difficulty():
    ordered = curriculum(_pairs(), key="gap", stages=2)
    values = [p.metadata["difficulty"] for p in ordered]
    assert values == sorted(values)


def test_shuffle_keeps_stage_membership_and_depends_on_the_seed():
    pairs = _pairs()
    base = curriculum(pairs, key="gap", stages=2)
    a = curriculum(pairs, key="gap", stages=2, within_stage="shuffle", seed=1)
    b = curriculum(pairs, key="gap", stages=2, within_stage="shuffle", seed=2)
    assert sorted(map(_key, a)) == sorted(map(_key, base)) == sorted(map(_key, b))
    assert [_key(p) for p in a] != [_key(p) for p in b]


def test_gap_key_puts_large_margins_first():
    ordered = curriculum(_pairs(), key="gap", stages=3)
    assert ordered[0].margin == max(p.margin for p in ordered)
    assert ordered[-1].margin == min(p.margin for p in ordered)


def test_rank_key_puts_each_prompts_best_vs_worst_in_the_first_stage():
    pairs = _pairs()
    ordered = curriculum(pairs, key="rank", stages=3)
    first = [p for p in ordered if p.stage == 0]
    for task in {p.task_id for p in pairs}:
        widest = max((p for p in pairs if p.task_id == task), key=lambda p: (p.rank[1] - p.rank[0], p.margin))
        assert any(p.chosen == widest.chosen and p.rejected == widest.rejected for p in first)


def test_user_key_orders_by_a_callable_or_metadata_field():
    pairs = _pairs()
    by_length = curriculum(pairs, key=lambda p: len(p.rejected), stages=1)
    assert [len(p.rejected) for p in by_length] == sorted(len(p.rejected) for p in pairs)
    assert difficulties(pairs, "chosen_score") == [p.metadata["chosen_score"] for p in pairs]
    with pytest.raises(UserError, match="no numeric metadata 'nope'"):
        curriculum(pairs, key="nope")


def test_equal_difficulties_never_straddle_a_stage_boundary():
    pairs = [Pair("p", f"c{i}", f"r{i}", task_id=f"t{i}", margin=0.5) for i in range(10)]
    assert {p.stage for p in curriculum(pairs, key="gap", stages=3)} == {0}


# --- contamination guard --------------------------------------------------------------------------------

MUX = """module TopModule (input [1:0] sel, input [3:0] d, output reg out);
  always @(*) begin
    case (sel)
      2'd0: out = d[0];
      2'd1: out = d[1];
      2'd2: out = d[2];
      default: out = d[3];
    endcase
  end
endmodule
"""

BENCH = [
    {"task_id": "Prob001_zero", "prompt": "Implement a module that always outputs a LOW on its output zero.",
     "ref": "module RefModule (output zero);\n  assign zero = 1'b0;\nendmodule\n"},
    Task("Prob002_mux", "verilog", "Build a 4-to-1 multiplexer with select sel and output out.",
         assets={"ref": MUX.replace("TopModule", "RefModule")}),
]


def test_exact_prompt_overlap_is_flagged():
    pair = Pair("Implement a module that always   outputs a LOW on its output zero.\n", "x", "y", task_id="mine")
    report = check_contamination(BENCH, pairs=[pair])
    assert report.contaminated
    (overlap,) = report.overlaps
    assert (overlap.kind, overlap.field, overlap.benchmark_id) == ("exact", "prompt", "Prob001_zero")
    assert report.message().startswith("WARNING: CONTAMINATED")


def test_near_duplicate_solution_is_flagged():
    edited = MUX.replace("always @(*) begin", "always @* begin")
    report = check_contamination(BENCH, pairs=[Pair("an unrelated prompt about adders", edited, "x")])
    assert [(o.kind, o.field, o.benchmark_id) for o in report.overlaps] == [("near", "solution", "Prob002_mux")]
    assert 0.8 <= report.overlaps[0].similarity < 1.0


def test_renamed_solution_under_a_paraphrased_prompt_is_flagged():
    renamed = MUX.replace("sel", "select").replace("out", "y")
    report = check_contamination(BENCH, pairs=[Pair("Pick one of four data bits by a 2-bit select.", renamed, "x")])
    assert [(o.kind, o.field, o.benchmark_id) for o in report.overlaps] == [("renamed", "solution", "Prob002_mux")]


def test_renamed_verilogeval_reference_is_flagged_though_raw_similarity_is_below_threshold(shared_data):
    from codealign.pairs.contamination import _shingles

    rows = [json.loads(line) for line in (shared_data / "verilogeval" / "problems.jsonl").read_text().splitlines()]
    ref = next(r["ref"] for r in rows if r["task_id"] == "Prob001_zero")
    renamed = ref.replace("RefModule", "TopModule")
    a, b = _shingles(ref, 5), _shingles(renamed, 5)
    assert len(a & b) / len(a | b) < 0.8
    report = check_contamination(rows, pairs=[Pair("A paraphrase of the task, in other words.", renamed, "x")])
    assert [o.kind for o in report.overlaps] == ["renamed"]


def test_sft_rows_and_task_ids_are_checked():
    rows = [{"prompt": "Build a 4-to-1 multiplexer with select sel and output out.", "completion": "z"},
            {"task_id": "Prob001_zero", "prompt": "other", "completion": "other"}]
    report = check_contamination(BENCH, sft_rows=rows)
    assert sorted(report.flagged("sft")) == [0, 1]
    assert report.flagged("sft")[1].kind == "task_id"


def test_unrelated_data_is_clean():
    pairs = [Pair("Write a 4-bit counter with synchronous reset.",
                  "module TopModule(input clk, output reg [3:0] q); always @(posedge clk) q <= q + 1; endmodule",
                  "module TopModule(input clk, output reg [3:0] q); always @(posedge clk) q <= q - 1; endmodule")]
    report = check_contamination(BENCH, pairs=pairs)
    assert not report.contaminated and "no overlap" in report.message()


def test_contamination_on_the_verilogeval_set(shared_data):
    rows = [json.loads(line) for line in (shared_data / "verilogeval" / "problems.jsonl").read_text().splitlines()]
    leaked = rows[5]
    pairs = [Pair(leaked["prompt"], leaked["ref"].replace("RefModule", "TopModule"), "module x; endmodule",
                  task_id="copied"),
             Pair("A prompt written for training only, about a traffic light.", "module a; endmodule",
                  "module b; endmodule")]
    report = check_contamination(rows, pairs=pairs)
    assert list(report.flagged("pairs")) == [0]
    assert {o.benchmark_id for o in report.overlaps} == {leaked["task_id"]}
