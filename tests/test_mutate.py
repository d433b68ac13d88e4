"""RISE mutators: parse-tree mutations of Verilog and Python solutions, judged by the real domains.

The full VerilogEval measurement (every problem) is ``benchmarks/rise_mutants.py``; here a fixed sample.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest

from codealign.domains import get_domain
from codealign.domains.mutants import Edit, mutant_candidates, mutants_from_edits, rise_candidates
from codealign.domains.python.mutate import mutate as python_mutate
from codealign.domains.syntax import tree_sitter_parser
from codealign.domains.verilog.mutate import _damage
from codealign.domains.verilog.mutate import mutate as verilog_mutate
from codealign.pairs import build_pairs
from codealign.execution.executor import execute
from codealign.types import Task, Verdict

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

VERILOG = """module TopModule (
  input clk,
  input reset,
  input [1:0] sel,
  input [3:0] a,
  input [3:0] b,
  output reg [3:0] q,
  output w
);
  assign w = (a == 4'd3) ? a[0] : ~b[1];
  always @(posedge clk or posedge reset) begin
    if (reset)
      q <= 4'b0000;
    else begin
      case (sel)
        2'd0: q <= a + b;
        2'd1: q <= a & b;
        default: q <= q;
      endcase
    end
  end
endmodule
"""

VERILOG_OPERATORS = {"operator_swap", "off_by_one", "reset_polarity", "blocking_swap", "drop_case_item",
                     "negate_condition", "drop_else", "swap_ternary", "wrong_signal", "invert_output"}


def _single_edit(before: str, after: str) -> bool:
    """True when ``after`` is ``before`` with one contiguous span replaced."""
    prefix = 0
    while prefix < min(len(before), len(after)) and before[prefix] == after[prefix]:
        prefix += 1
    suffix = 0
    while suffix < min(len(before), len(after)) - prefix and before[-1 - suffix] == after[-1 - suffix]:
        suffix += 1
    return before[:prefix] + before[len(before) - suffix:] == after[:prefix] + after[len(after) - suffix:]


def test_verilog_mutator_offers_every_operator():
    mutants = verilog_mutate(VERILOG, random.Random(0))
    assert {d["operator"] for _, d in mutants} == VERILOG_OPERATORS


def test_verilog_mutants_are_single_edits_that_still_parse():
    for text, description in verilog_mutate(VERILOG, random.Random(0)):
        assert text != VERILOG and _single_edit(VERILOG, text), description
        assert _damage(tree_sitter_parser("tree_sitter_verilog").parse(text.encode())) == 0, description


def test_verilog_mutations_named_by_the_issue_do_what_they_say():
    mutants = verilog_mutate(VERILOG, random.Random(0))

    def made(operator: str, detail: str, snippet: str) -> bool:
        return any(d["operator"] == operator and d["detail"] == detail and snippet in t for t, d in mutants)

    assert made("operator_swap", "'+' -> '-'", "q <= a - b;")
    assert made("drop_case_item", "drop case item 2'd1", "2'd0: q <= a + b;\n        default")
    assert made("reset_polarity", "posedge reset -> negedge", "posedge clk or negedge reset")
    assert made("reset_polarity", "if (reset) -> if (!reset)", "if (!reset)")
    assert made("blocking_swap", "'<=' -> '='", "q = 4'b0000;")
    assert made("off_by_one", "4'd3 -> 4'd4", "(a == 4'd4)")
    assert made("off_by_one", "4'b0000 -> 4'b0001", "q <= 4'b0001;")


def test_off_by_one_stays_within_the_literal_width():
    details = {d["detail"] for _, d in verilog_mutate("module m(output [1:0] y);\n  assign y = 2'b11;\nendmodule\n",
                                                       random.Random(0)) if d["operator"] == "off_by_one"}
    assert "2'b11 -> 2'b10" in details and not any(d.startswith("2'b11 -> 2'b100") for d in details)


def test_mutants_are_deterministic_for_a_seed():
    assert verilog_mutate(VERILOG, random.Random(3)) == verilog_mutate(VERILOG, random.Random(3))
    assert python_mutate(PYTHON, random.Random(3)) == python_mutate(PYTHON, random.Random(3))


def test_mutants_come_round_robin_over_operators():
    first = [d["operator"] for _, d in verilog_mutate(VERILOG, random.Random(1))][: len(VERILOG_OPERATORS)]
    assert set(first) == VERILOG_OPERATORS


def test_invalid_and_duplicate_edits_are_dropped():
    edits = [Edit(0, 1, b"b", "x", "", 1), Edit(0, 1, b"b", "y", "", 1), Edit(0, 1, b"!", "z", "", 1)]
    mutants = mutants_from_edits("abc", edits, random.Random(0), lambda text: "!" not in text)
    assert [t for t, _ in mutants] == ["bbc"]


PYTHON = """def clamp_sum(values, limit):
    total = 0
    for v in values:
        if v < 0:
            continue
        elif v > limit:
            total += limit
        else:
            total = total + v
    return total if total <= 100 else 100
"""
PYTHON_TESTS = ["assert clamp_sum([1, 2, 3], 10) == 6", "assert clamp_sum([-5, 20], 7) == 7",
                "assert clamp_sum([60, 60], 100) == 100", "assert clamp_sum([], 3) == 0",
                "assert clamp_sum([0, 1], 1) == 1"]


def test_python_mutator_offers_every_operator_and_compiles():
    mutants = python_mutate(PYTHON, random.Random(0))
    assert {d["operator"] for _, d in mutants} == {"comparison_flip", "off_by_one", "wrong_variable",
                                                   "dropped_branch", "operator_swap"}
    for text, description in mutants:
        compile(text, "<m>", "exec")
        assert _single_edit(PYTHON, text), description


def test_python_mutations_do_what_they_say():
    mutants = python_mutate(PYTHON, random.Random(0))

    def made(operator: str, detail: str, snippet: str, present: bool = True) -> bool:
        return any(d["operator"] == operator and d["detail"] == detail and (snippet in t) == present
                   for t, d in mutants)

    assert made("comparison_flip", "'<' -> '>='", "if v >= 0:")
    assert made("dropped_branch", "drop elif", "elif", present=False)
    assert made("off_by_one", "0 -> 1", "total = 1")
    assert made("operator_swap", "'+' -> '-'", "total = total - v")
    assert any(d["operator"] == "wrong_variable" and "limit" in d["detail"] for _, d in mutants)


def test_python_source_that_does_not_compile_gives_no_mutants():
    assert python_mutate("def f(:\n  pass\n", random.Random(0)) == []


def test_python_mutants_judged_by_the_python_domain_feed_injection(backend):
    domain = get_domain("python")
    task = Task("clamp", "python", "Write clamp_sum.", assets={"tests": PYTHON_TESTS})
    candidates = rise_candidates(domain, [task], {"clamp": PYTHON}, seed=0, max_per_task=6)
    results = execute(domain, [task], candidates, backend=backend, workers=2, progress=False)
    assert results[0].verdict is Verdict.PASS
    assert any(r.verdict.is_candidate_failure for r in results[1:])
    pairs = build_pairs(results, [task], "injection", candidates=candidates)
    verdict = {r.candidate_id: r.verdict for r in results}
    assert pairs and all(verdict[p.metadata["rejected_id"]] is not Verdict.PASS for p in pairs)
    assert all(p.chosen == PYTHON for p in pairs)


# --- VerilogEval references through the real Verilog domain ----------------------------------------------

SAMPLE = ["Prob001_zero", "Prob017_mux2to1v", "Prob031_dff", "Prob040_count10", "Prob047_dff8ar",
          "Prob085_shift4", "Prob107_fsm1s", "Prob127_lemmings1"]


@pytest.fixture(scope="module")
def verilogeval_run(shared_data):
    from rise_mutants import verilogeval_tasks

    tasks, solutions = verilogeval_tasks(str(shared_data / "verilogeval" / "problems.jsonl"), "spec-to-rtl")
    tasks = [t for t in tasks if t.task_id in SAMPLE]
    assert len(tasks) == len(SAMPLE)
    domain = get_domain("verilog")
    candidates = rise_candidates(domain, tasks, solutions, seed=0, max_per_task=4)
    results = execute(domain, tasks, candidates, workers=2, progress=False)
    return tasks, candidates, results


@pytest.mark.slow
def test_most_verilogeval_references_yield_a_compiling_failing_mutant(verilogeval_run):
    tasks, candidates, results = verilogeval_run
    parents = {c.task_id for c, r in zip(candidates, results) if "mutation" not in c.metadata and r.passed}
    assert parents == set(SAMPLE)
    yielding = {c.task_id for c, r in zip(candidates, results) if "mutation" in c.metadata
                and r.verdict in (Verdict.FAIL, Verdict.RUNTIME_ERROR, Verdict.TIMEOUT)}
    assert len(yielding) / len(SAMPLE) >= 0.8


@pytest.mark.slow
def test_verilog_mutants_that_still_pass_are_never_rejected(verilogeval_run):
    tasks, candidates, results = verilogeval_run
    pairs = build_pairs(results, tasks, "injection", candidates=candidates, allow_compile_errors=True)
    verdict = {r.candidate_id: r.verdict for r in results}
    assert pairs
    assert all(verdict[p.metadata["rejected_id"]].is_candidate_failure for p in pairs)
    assert all(verdict[p.metadata["chosen_id"]] is Verdict.PASS for p in pairs)


def test_mutant_candidates_record_mutation_and_parent():
    domain = get_domain("verilog")
    task = Task("t", "verilog", "p")
    cands = mutant_candidates(domain, task, VERILOG, random.Random(0), max_per_task=3)
    assert len(cands) == 3
    parent_id = rise_candidates(domain, [task], {"t": VERILOG}, max_per_task=0)[0].candidate_id
    for cand in cands:
        assert cand.metadata["parent_id"] == parent_id
        assert cand.metadata["mutation"]["operator"] in VERILOG_OPERATORS


def test_ladder_graph_edits_go_through_the_same_path():
    domain = get_domain("ladder")
    task = domain.demo_tasks("train")[0]
    solution = domain.reference_solution(task)
    cands = rise_candidates(domain, [task], {task.task_id: solution}, seed=0, max_per_task=3)
    assert len(cands) > 1
    for cand in cands[1:]:
        assert cand.metadata["mutation"]["operator"] == cand.metadata["mutation"]["op"]
        assert cand.completion != solution
    results = execute(domain, [task], cands, workers=2, progress=False)
    pairs = build_pairs(results, [task], "injection", candidates=cands, allow_compile_errors=True)
    assert pairs and all(p.chosen == solution for p in pairs)
    assert {p.metadata["mutation"] for p in pairs} <= {c.metadata["mutation"]["op"] for c in cands[1:]}


def test_wrong_variable_stays_within_one_function_scope():
    source = ("def outer(a, b):\n    def inner(secret):\n        return secret\n    return a + inner(b)\n")
    details = [d["detail"] for _, d in python_mutate(source, random.Random(0)) if d["operator"] == "wrong_variable"]
    assert sorted(details) == ["a -> b", "b -> a"]


def test_an_indented_fim_span_is_mutated_at_its_own_indentation():
    span = "        if x > 3:\n            total += x\n"
    mutants = python_mutate(span, random.Random(0))
    assert {d["operator"] for _, d in mutants} >= {"comparison_flip", "off_by_one"}
    for text, description in mutants:
        assert text != span and text.startswith("        if ") and text.count("\n") == 2
        compile(f"def f(values):\n    total = 0\n    for x in values:\n{text}    return total\n", "m", "exec")
        assert description["line"] in (1, 2)
