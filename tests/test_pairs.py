"""Pair strategies on hand-built verdict sets with known answers, then end to end on real Verilog verdicts."""

from __future__ import annotations

import json
import math
import random

import pytest

from codealign.errors import UserError
from codealign.pairs import build_pairs, build_pairs_report
from codealign.pairs.pool import Entry
from codealign.pairs.rso import rejection_sample
from codealign.pairs.weights import (
    MadpoConfig,
    apply_weights,
    estimate_flip_rate,
    flip_rate_from_disagreement,
    madpo_weight,
)
from codealign.types import Candidate, ExecResult, Pair, Task, Verdict


def res(task: str, cid: str, verdict: str, score: float, text: str | None = None) -> ExecResult:
    return ExecResult(task_id=task, candidate_id=cid, verdict=Verdict(verdict), score=score,
                      completion=text if text is not None else f"solution {cid}")


PROMPTS = {"t1": "prompt one", "t2": "prompt two"}


def ids(pair: Pair) -> tuple[str, str]:
    return pair.metadata["chosen_id"], pair.metadata["rejected_id"]


# --- execution -------------------------------------------------------------------------------------------

def test_execution_pairs_best_with_worst():
    results = [res("t1", "a", "PASS", 1.0), res("t1", "b", "FAIL", 0.5), res("t1", "c", "COMPILE_ERROR", 0.0)]
    pairs = build_pairs(results, PROMPTS)
    assert len(pairs) == 1
    assert ids(pairs[0]) == ("a", "c")
    assert pairs[0].chosen == "solution a" and pairs[0].rejected == "solution c"
    assert pairs[0].prompt == "prompt one" and pairs[0].task_id == "t1"
    assert pairs[0].margin == 1.0 and pairs[0].rank == [0, 2] and pairs[0].source == "execution"
    assert pairs[0].weight == 1.0


def test_execution_cap_gives_disjoint_pairs_from_both_ends():
    results = [res("t1", c, "FAIL", s) for c, s in zip("abcde", (0.9, 0.7, 0.5, 0.3, 0.1))]
    pairs = build_pairs(results, PROMPTS, max_pairs_per_prompt=3)
    assert [ids(p) for p in pairs] == [("a", "e"), ("b", "d")]
    assert [round(p.margin, 6) for p in pairs] == [0.8, 0.4]


def test_execution_one_pair_per_prompt_by_default():
    results = [res(t, c, "FAIL", s) for t in ("t1", "t2") for c, s in (("x" + t, 0.2), ("y" + t, 0.6))]
    pairs = build_pairs(results, PROMPTS)
    assert [(p.task_id, ids(p)) for p in pairs] == [("t1", ("yt1", "xt1")), ("t2", ("yt2", "xt2"))]


def test_ties_never_form_a_pair():
    results = [res("t1", "a", "FAIL", 0.0), res("t1", "b", "COMPILE_ERROR", 0.0), res("t1", "c", "TIMEOUT", 0.0)]
    pairs, report = build_pairs_report(results, PROMPTS, "ranked")
    assert pairs == [] and report["prompts_without_pair"] == 1


def test_sandbox_error_never_enters_a_pair():
    results = [res("t1", "a", "PASS", 1.0), res("t1", "b", "SANDBOX_ERROR", 0.0)]
    for strategy in ("execution", "ranked", "rso"):
        pairs, report = build_pairs_report(results, PROMPTS, strategy)
        assert pairs == [] and report["sandbox_errors_dropped"] == 1


def test_min_gap_drops_small_gaps():
    results = [res("t1", "a", "FAIL", 0.6), res("t1", "b", "FAIL", 0.5)]
    assert build_pairs(results, PROMPTS, min_gap=0.2) == []
    assert len(build_pairs(results, PROMPTS, min_gap=0.1)) == 1


def test_chosen_must_pass_drops_pairs_of_two_failures():
    results = [res("t1", "a", "FAIL", 0.9), res("t1", "b", "FAIL", 0.1)]
    assert build_pairs(results, PROMPTS, chosen_must_pass=True) == []


def test_identical_after_normalisation_never_pairs():
    results = [res("t1", "a", "PASS", 1.0, "assign y = a;"), res("t1", "b", "FAIL", 0.0, "assign  y =\n a;  ")]
    pairs, report = build_pairs_report(results, PROMPTS)
    assert pairs == [] and report["conflicting_dropped"] == 2


def test_duplicates_collapse_to_one_candidate():
    results = [res("t1", "a", "FAIL", 0.0, "x"), res("t1", "b", "FAIL", 0.0, " x "), res("t1", "c", "PASS", 1.0, "y")]
    pairs, report = build_pairs_report(results, PROMPTS, "ranked")
    assert len(pairs) == 1 and ids(pairs[0]) == ("c", "a") and report["duplicates_collapsed"] == 1


def test_pass_rate_counts_every_judged_candidate():
    results = [res("t1", "a", "PASS", 1.0), res("t1", "b", "FAIL", 0.0), res("t1", "c", "FAIL", 0.0, "other"),
               res("t1", "d", "SANDBOX_ERROR", 0.0)]
    assert build_pairs(results, PROMPTS)[0].metadata["pass_rate"] == pytest.approx(1 / 3)


def test_missing_prompt_is_a_user_error():
    with pytest.raises(UserError, match="no prompt for task 't3'"):
        build_pairs([res("t3", "a", "PASS", 1.0)], PROMPTS)


def test_unknown_strategy_and_bad_option_are_user_errors():
    with pytest.raises(UserError, match="unknown pair strategy"):
        build_pairs([], PROMPTS, "best")
    with pytest.raises(UserError, match="min_gap"):
        build_pairs([], PROMPTS, min_gap=2.0)
    with pytest.raises(UserError, match="beta"):
        build_pairs([], PROMPTS, "execution", beta=0.5)


# --- ranked (Curry-DPO) ----------------------------------------------------------------------------------

FOUR = [res("t1", c, "FAIL", s) for c, s in zip("abcd", (1.0, 0.75, 0.5, 0.0))]


def test_ranked_all_gives_every_pair_easiest_first():
    pairs = build_pairs(FOUR, PROMPTS, "ranked", selection="all")
    assert len(pairs) == 6
    assert ids(pairs[0]) == ("a", "d") and pairs[0].rank == [0, 3] and pairs[0].margin == 1.0
    assert sorted(tuple(p.rank) for p in pairs) == [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)]
    assert [p.margin for p in pairs] == sorted((p.margin for p in pairs), reverse=True)


def test_ranked_best_vs_each_always_chooses_the_best():
    pairs = build_pairs(FOUR, PROMPTS, "ranked", selection="best_vs_each")
    assert [ids(p) for p in pairs] == [("a", "d"), ("a", "c"), ("a", "b")]


def test_ranked_adjacent_pairs_neighbouring_levels():
    pairs = build_pairs(FOUR, PROMPTS, "ranked", selection="adjacent")
    assert sorted(ids(p) for p in pairs) == [("a", "b"), ("b", "c"), ("c", "d")]


def test_ranked_skips_tied_candidates():
    tied = [res("t1", c, "FAIL", s) for c, s in zip("abcd", (1.0, 0.5, 0.5, 0.0))]
    assert len(build_pairs(tied, PROMPTS, "ranked", selection="all")) == 5
    assert sorted(ids(p) for p in build_pairs(tied, PROMPTS, "ranked", selection="adjacent")) == [
        ("a", "b"), ("b", "d")]


def test_ranked_cap_keeps_the_easiest_pairs():
    pairs = build_pairs(FOUR, PROMPTS, "ranked", max_pairs_per_prompt=2)
    assert [ids(p) for p in pairs] == [("a", "d"), ("b", "d")]


# --- rejection sampling (RSO) ----------------------------------------------------------------------------

SIX = [res("t1", c, "FAIL", s) for c, s in zip("abcdef", (1.0, 0.9, 0.5, 0.3, 0.1, 0.0))]


def test_rso_small_beta_accepts_the_top_candidates():
    pairs = build_pairs(SIX, PROMPTS, "rso", beta=1e-4, num_samples=2)
    assert len(pairs) == 1 and ids(pairs[0]) == ("a", "b")


def test_rso_large_beta_samples_more_than_the_top():
    chosen_or_rejected = set()
    for seed in range(30):
        for p in build_pairs(SIX, PROMPTS, "rso", beta=100.0, num_samples=2, seed=seed):
            chosen_or_rejected.update(ids(p))
    assert chosen_or_rejected - {"a", "b"}


def test_rso_acceptance_follows_exp_score_over_beta():
    """Two candidates visited in random order, one accepted: the low one (score s) wins only when it is
    visited first and accepted, so P = exp((s - 1) / beta) / 2."""
    entries = [Entry(res("t1", "hi", "PASS", 1.0), 1.0), Entry(res("t1", "lo", "FAIL", 0.5), 0.5)]
    rng = random.Random(7)
    trials = 6000
    low = sum(rejection_sample(entries, 1, 0.5, rng)[0].candidate_id == "lo" for _ in range(trials))
    assert low / trials == pytest.approx(math.exp(-1.0) / 2, abs=0.025)


def test_rso_pairs_label_the_higher_score_chosen_and_are_reproducible():
    runs = [build_pairs(SIX, PROMPTS, "rso", beta=0.5, num_samples=6, seed=3) for _ in range(2)]
    assert [ids(p) for p in runs[0]] == [ids(p) for p in runs[1]]
    assert runs[0] and all(p.metadata["chosen_score"] > p.metadata["rejected_score"] for p in runs[0])


# --- error injection (RISE) ------------------------------------------------------------------------------

def _mutant(cid: str, parent: str, operator: str = "op_swap") -> Candidate:
    return Candidate("t1", f"solution {cid}", cid, {"mutation": {"operator": operator, "detail": "x"},
                                                     "parent_id": parent})


INJECTION_RESULTS = [
    res("t1", "p", "PASS", 1.0),
    res("t1", "m1", "FAIL", 0.4),
    res("t1", "m2", "PASS", 1.0),
    res("t1", "m3", "COMPILE_ERROR", 0.0),
    res("t1", "m4", "FAIL", 0.0),
    res("t1", "q", "FAIL", 0.2),
    res("t1", "m5", "FAIL", 0.0),
    res("t1", "other", "FAIL", 0.0),
]
INJECTION_CANDIDATES = [_mutant("m1", "p"), _mutant("m2", "p"), _mutant("m3", "p", "drop_case_item"),
                        _mutant("m4", "missing"), _mutant("m5", "q")]


def test_injection_pairs_parent_with_failing_mutants_only():
    pairs = build_pairs(INJECTION_RESULTS, PROMPTS, "injection", candidates=INJECTION_CANDIDATES)
    assert [ids(p) for p in pairs] == [("p", "m1")]
    assert pairs[0].margin == pytest.approx(0.6)
    assert pairs[0].metadata["mutation"] == "op_swap" and pairs[0].source == "injection"


def test_mutant_that_passes_is_never_rejected():
    pairs = build_pairs(INJECTION_RESULTS, PROMPTS, "injection", candidates=INJECTION_CANDIDATES,
                        allow_compile_errors=True)
    rejected = {p.metadata["rejected_id"] for p in pairs}
    assert "m2" not in rejected and rejected == {"m1", "m3"}


def test_injection_needs_candidate_metadata():
    assert build_pairs(INJECTION_RESULTS, PROMPTS, "injection") == []


def test_injection_cap_keeps_operators_round_robin():
    results = [res("t1", "p", "PASS", 1.0)] + [res("t1", f"m{i}", "FAIL", 0.0) for i in range(4)]
    candidates = [_mutant("m0", "p", "op_swap"), _mutant("m1", "p", "op_swap"), _mutant("m2", "p", "op_swap"),
                  _mutant("m3", "p", "reset_polarity")]
    pairs = build_pairs(results, PROMPTS, "injection", candidates=candidates, max_pairs_per_prompt=2)
    assert sorted(p.metadata["mutation"] for p in pairs) == ["op_swap", "reset_polarity"]


# --- weights (MADPO) and flip rate (rDPO) ----------------------------------------------------------------

def test_madpo_weight_is_one_at_the_pivot_and_decreases_with_margin():
    config = MadpoConfig(pivot=0.5, sharpness=2.0)
    assert madpo_weight(0.5, config) == pytest.approx(1.0)
    margins = [i / 20 for i in range(21)]
    weights = [madpo_weight(m, config) for m in margins]
    assert all(a >= b for a, b in zip(weights, weights[1:]))
    assert weights[0] > 1.0 > weights[-1]
    assert madpo_weight(0.1, config) == pytest.approx(math.exp(0.8))


def test_madpo_weight_is_bounded_and_never_negative():
    config = MadpoConfig(min_weight=0.5, max_weight=3.0, sharpness=10.0)
    for margin in (-1e9, -5.0, -0.1, 0.0, 0.3, 1.0, 50.0, 1e9):
        assert 0.5 <= madpo_weight(margin, config) <= 3.0
    assert madpo_weight(-5.0, config) == 3.0 and madpo_weight(50.0, config) == 0.5


def test_apply_weights_gives_hard_pairs_more_weight():
    results = [res("t1", "a", "PASS", 1.0), res("t1", "b", "FAIL", 0.9), res("t2", "c", "PASS", 1.0),
               res("t2", "d", "FAIL", 0.0)]
    hard, easy = apply_weights(build_pairs(results, PROMPTS))
    assert hard.margin == pytest.approx(0.1) and easy.margin == 1.0
    assert hard.weight > 1.0 > easy.weight > 0


def test_apply_weights_uses_reward_model_margins_when_given():
    pairs = build_pairs([res("t1", "a", "PASS", 1.0), res("t1", "b", "FAIL", 0.0)], PROMPTS)
    (weighted,) = apply_weights(pairs, MadpoConfig(pivot=0.0, sharpness=1.0, min_weight=0.1), rm_margins=[2.0])
    assert weighted.weight == pytest.approx(math.exp(-2.0)) and weighted.metadata["rm_margin"] == 2.0
    with pytest.raises(ValueError):
        apply_weights(pairs, rm_margins=[1.0, 2.0])


def test_flip_rate_from_second_source_disagreement():
    results = []
    for i in range(10):
        results += [res(f"t{i}", f"w{i}", "PASS", 1.0), res(f"t{i}", f"l{i}", "FAIL", 0.0)]
    prompts = {f"t{i}": "p" for i in range(10)}
    pairs = build_pairs(results, prompts)
    second = {r.candidate_id: r for r in results}
    second["w0"] = res("t0", "w0", "FAIL", 0.0)  # the second source prefers the rejected side: 1
    second["l0"] = res("t0", "l0", "PASS", 1.0)
    second["w1"] = res("t1", "w1", "FAIL", 0.0)  # the second source sees a tie: 1/2
    second["l2"] = res("t2", "l2", "SANDBOX_ERROR", 0.0)  # not comparable
    del second["w3"]  # not re-judged
    estimate = estimate_flip_rate(pairs, second)
    assert estimate.compared == 8 and estimate.disagreements == 1.5
    assert estimate.disagreement == pytest.approx(0.1875)
    assert estimate.rate == pytest.approx((1 - math.sqrt(1 - 2 * 0.1875)) / 2)
    assert estimate_flip_rate(pairs, second, "reference_exact").rate == pytest.approx(0.1875)


def test_flip_rate_stays_below_one_half():
    assert flip_rate_from_disagreement(1.0) < 0.5 and flip_rate_from_disagreement(0.0) == 0.0
    assert flip_rate_from_disagreement(0.9, "reference_exact") == 0.49


# --- the command ---------------------------------------------------------------------------------------

def _write(path, rows):
    path.write_text("".join(json.dumps(r.to_dict() if hasattr(r, "to_dict") else r) + "\n" for r in rows))
    return str(path)


def _run(argv):
    from codealign.cli import build_parser

    args = build_parser().parse_args(["pairs", *argv])
    return args.func(args)


def test_command_writes_pairs_summary_and_histogram(tmp_path, capsys):
    verdicts = _write(tmp_path / "v.jsonl", FOUR + [res("t2", "z", "PASS", 1.0), res("t2", "y", "FAIL", 0.0)])
    tasks = _write(tmp_path / "t.jsonl", [Task("t1", "verilog", "prompt one"), Task("t2", "verilog", "p2")])
    out, png = tmp_path / "p.jsonl", tmp_path / "gaps.png"
    summary = _run(["--verdicts", verdicts, "--tasks", tasks, "--strategy", "ranked", "--out", str(out),
                    "--weights", "madpo", "--curriculum", "rank", "--stages", "2", "--histogram", str(png)])
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == summary["summary"]["pairs"] == 7
    assert {"prompt", "chosen", "rejected", "margin", "weight", "rank", "stage", "source", "task_id"} <= set(rows[0])
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [r["stage"] for r in rows] == sorted(r["stage"] for r in rows)
    assert "pairs" in capsys.readouterr().out


def test_command_flags_benchmark_overlap_loudly(tmp_path, capsys):
    verdicts = _write(tmp_path / "v.jsonl", FOUR)
    tasks = _write(tmp_path / "t.jsonl", [Task("t1", "verilog", "prompt one")])
    bench = _write(tmp_path / "b.jsonl", [{"task_id": "Prob001", "prompt": "prompt one", "ref": "module m;"}])
    out = tmp_path / "p.jsonl"
    summary = _run(["--verdicts", verdicts, "--tasks", tasks, "--out", str(out), "--benchmark", bench, "--json"])
    assert summary["contamination"]["contaminated"] and summary["contamination"]["pairs_flagged"] == 1
    assert "WARNING: CONTAMINATED" in capsys.readouterr().err
    assert json.loads(out.read_text())["metadata"]["contamination"] == "exact:prompt:Prob001"
    _run(["--verdicts", verdicts, "--tasks", tasks, "--out", str(out), "--benchmark", bench,
          "--drop-contaminated", "--quiet"])
    assert out.read_text() == ""


def test_command_rejects_option_of_another_strategy(tmp_path):
    verdicts = _write(tmp_path / "v.jsonl", FOUR)
    with pytest.raises(UserError, match="--beta does not apply"):
        _run(["--verdicts", verdicts, "--out", str(tmp_path / "p.jsonl"), "--beta", "0.3"])


def test_command_injection_without_candidates_is_a_user_error(tmp_path):
    verdicts = _write(tmp_path / "v.jsonl", FOUR)
    tasks = _write(tmp_path / "t.jsonl", [Task("t1", "verilog", "prompt one")])
    with pytest.raises(UserError, match="--candidates"):
        _run(["--verdicts", verdicts, "--tasks", tasks, "--strategy", "injection", "--out", str(tmp_path / "p")])
    assert not (tmp_path / "p").exists()


# --- end to end on real Verilog verdicts ---------------------------------------------------------------

E2E_TASKS = ("Prob022_mux2to1", "Prob031_dff")
MUX_PORTS = "module TopModule(input a, input b, input sel, output out);\n"
DFF_PORTS = "module TopModule(input clk, input d, output reg q);\n"
HANDWRITTEN = {
    "Prob022_mux2to1": [MUX_PORTS + "  assign out = a;\nendmodule\n",
                        MUX_PORTS + "  assign out = sel ? a : b;\nendmodule\n",
                        MUX_PORTS + "  assign out = ;\nendmodule\n"],
    "Prob031_dff": [DFF_PORTS + "  always @(negedge clk) q <= d;\nendmodule\n",
                    DFF_PORTS + "  always @(posedge clk) q <= 1'b0;\nendmodule\n"],
}


@pytest.fixture(scope="module")
def verilog_verdicts(shared_data):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from rise_mutants import verilogeval_tasks

    from codealign.domains import get_domain
    from codealign.domains.mutants import rise_candidates
    from codealign.execution.executor import execute

    tasks, solutions = verilogeval_tasks(str(shared_data / "verilogeval" / "problems.jsonl"), "spec-to-rtl")
    tasks = [t for t in tasks if t.task_id in E2E_TASKS]
    domain = get_domain("verilog")
    candidates = rise_candidates(domain, tasks, solutions, seed=0, max_per_task=4)
    candidates += [Candidate(t, text) for t, texts in HANDWRITTEN.items() for text in texts]
    results = execute(domain, tasks, candidates, workers=2, progress=False)
    verdicts = {r.verdict for r in results}
    assert {Verdict.PASS, Verdict.FAIL, Verdict.COMPILE_ERROR} <= verdicts
    return tasks, candidates, results


def _check_against_verdicts(pairs, results):
    by_id = {r.candidate_id: r for r in results}
    for pair in pairs:
        chosen, rejected = by_id[pair.metadata["chosen_id"]], by_id[pair.metadata["rejected_id"]]
        assert pair.chosen == chosen.completion and pair.rejected == rejected.completion
        expected = (1.0 if chosen.passed else chosen.score) - (1.0 if rejected.passed else rejected.score)
        assert pair.margin == pytest.approx(expected) and pair.margin > 0
        assert Verdict.SANDBOX_ERROR not in (chosen.verdict, rejected.verdict)


@pytest.mark.slow
def test_execution_on_real_verilog_verdicts(verilog_verdicts):
    tasks, _, results = verilog_verdicts
    pairs = build_pairs(results, tasks, "execution")
    assert sorted(p.task_id for p in pairs) == sorted(E2E_TASKS)
    _check_against_verdicts(pairs, results)
    by_id = {r.candidate_id: r for r in results}
    for pair in pairs:
        assert by_id[pair.metadata["chosen_id"]].passed
        worst = min((1.0 if r.passed else r.score) for r in results if r.task_id == pair.task_id)
        assert pair.metadata["rejected_score"] == worst


@pytest.mark.slow
def test_ranked_on_real_verilog_verdicts(verilog_verdicts):
    tasks, _, results = verilog_verdicts
    pairs = build_pairs(results, tasks, "ranked", selection="best_vs_each")
    _check_against_verdicts(pairs, results)
    for task_id in E2E_TASKS:
        mine = [p for p in pairs if p.task_id == task_id]
        assert mine and len({p.chosen for p in mine}) == 1 and all(p.rank[0] == 0 for p in mine)


@pytest.mark.slow
def test_rso_on_real_verilog_verdicts(verilog_verdicts):
    tasks, _, results = verilog_verdicts
    pairs = build_pairs(results, tasks, "rso", beta=0.1, num_samples=4, seed=0)
    assert pairs
    _check_against_verdicts(pairs, results)
    assert [p.to_dict() for p in pairs] == [p.to_dict() for p in build_pairs(results, tasks, "rso", beta=0.1,
                                                                               num_samples=4, seed=0)]


@pytest.mark.slow
def test_injection_on_real_verilog_verdicts(verilog_verdicts):
    tasks, candidates, results = verilog_verdicts
    pairs = build_pairs(results, tasks, "injection", candidates=candidates)
    assert pairs
    _check_against_verdicts(pairs, results)
    by_id = {r.candidate_id: r for r in results}
    meta = {c.candidate_id: c.metadata for c in candidates}
    for pair in pairs:
        assert by_id[pair.metadata["chosen_id"]].passed
        assert by_id[pair.metadata["rejected_id"]].verdict in (Verdict.FAIL, Verdict.RUNTIME_ERROR, Verdict.TIMEOUT)
        assert meta[pair.metadata["rejected_id"]]["parent_id"] == pair.metadata["chosen_id"]
        assert pair.metadata["mutation"] == meta[pair.metadata["rejected_id"]]["mutation"]["operator"]


# --- from the CLI: mutants as candidates, pairs as a datasets folder ------------------------------------

def _cli(*argv):
    from codealign.cli import main

    assert main([*map(str, argv), "--quiet"]) == 0


def test_command_hf_format_writes_trl_columns_to_a_datasets_folder(tmp_path):
    import datasets

    verdicts = _write(tmp_path / "v.jsonl", FOUR)
    tasks = _write(tmp_path / "t.jsonl", [Task("t1", "verilog", "prompt one")])
    _run(["--verdicts", verdicts, "--tasks", tasks, "--strategy", "ranked", "--out", str(tmp_path / "hf"),
          "--format", "hf", "--quiet"])
    data = datasets.load_from_disk(str(tmp_path / "hf"))
    assert {"prompt", "chosen", "rejected", "margin", "weight", "rank", "stage", "source"} <= set(data.column_names)
    assert len(data) == 6 and data[0]["prompt"] == "prompt one"


def test_hf_pairs_read_back_equal_to_the_jsonl_pairs(tmp_path):
    from codealign.pairs.command import read_pairs

    verdicts = _write(tmp_path / "v.jsonl", FOUR + [res("t2", "z", "PASS", 1.0), res("t2", "y", "FAIL", 0.0)])
    tasks = _write(tmp_path / "t.jsonl", [Task("t1", "verilog", "prompt one"), Task("t2", "verilog", "p2")])
    for out, fmt in (("p.jsonl", "jsonl"), ("hf", "hf")):
        _run(["--verdicts", verdicts, "--tasks", tasks, "--strategy", "ranked", "--weights", "madpo",
              "--curriculum", "gap", "--stages", "2", "--out", str(tmp_path / out), "--format", fmt, "--quiet"])
    from_hf, from_jsonl = read_pairs(tmp_path / "hf"), read_pairs(tmp_path / "p.jsonl")
    assert len(from_hf) == 7 and from_hf == from_jsonl


def test_train_dpo_reads_pairs_from_a_datasets_folder(tiny, tmp_path):
    from codealign.pairs.command import save_pairs

    save_pairs([Pair(f"prompt {i}", "good answer", "bad answer", task_id=f"t{i}") for i in range(4)],
               tmp_path / "hf", "hf")
    _cli("train", "dpo", f"model={tiny}", f"pairs={tmp_path / 'hf'}", f"output_dir={tmp_path / 'dpo'}",
         "max_steps=1", "per_device_train_batch_size=2", "report_tensorboard=false")
    done = json.loads((tmp_path / "dpo" / "stage-0" / "done.json").read_text())
    assert done["n_pairs"] == 4 and done["steps"] == 1


def _mutate_execute_pair(tmp_path, domain, tasks, *flags):
    """``codealign mutate`` → ``execute`` → ``pairs --strategy injection``: candidates, verdicts, pairs."""
    from codealign.jsonl import read_jsonl, write_jsonl

    t, c, v, p = (tmp_path / name for name in ("t.jsonl", "c.jsonl", "v.jsonl", "p.jsonl"))
    write_jsonl(t, tasks)
    _cli("mutate", "--domain", domain, "--tasks", t, "--out", c, "--per-task", 3, *flags)
    _cli("execute", "--domain", domain, "--tasks", t, "--candidates", c, "--out", v, "--no-cache")
    _cli("pairs", "--verdicts", v, "--tasks", t, "--candidates", c, "--strategy", "injection", "--out", p)
    return (read_jsonl(c, Candidate.from_dict), read_jsonl(v, ExecResult.from_dict),
            read_jsonl(p, Pair.from_dict))


@pytest.mark.slow
def test_mutate_command_rejected_samples_are_mutants_the_sandbox_saw_fail(tmp_path):
    from codealign.domains import get_domain

    tasks = get_domain("verilog").generate_tasks(["counter"], n=2, seed=0)
    candidates, results, pairs = _mutate_execute_pair(tmp_path, "verilog", tasks)
    verdict = {r.candidate_id: r for r in results}
    mutant_ids = {c.candidate_id for c in candidates if "mutation" in c.metadata}
    assert pairs and {p.task_id for p in pairs} == {t.task_id for t in tasks}
    for pair in pairs:
        assert pair.metadata["rejected_id"] in mutant_ids
        assert verdict[pair.metadata["rejected_id"]].verdict.is_candidate_failure
        assert verdict[pair.metadata["chosen_id"]].passed


@pytest.mark.slow
def test_mutate_command_makes_the_ladder_domains_graph_edits(tmp_path):
    from codealign.domains import get_domain
    from codealign.domains.ladder.edits import OPS

    candidates, _, pairs = _mutate_execute_pair(tmp_path, "ladder", get_domain("ladder").demo_tasks()[:2])
    operators = {c.metadata["mutation"]["operator"] for c in candidates if "mutation" in c.metadata}
    assert operators and operators <= set(OPS)
    assert pairs and {p.metadata["mutation"] for p in pairs} <= set(OPS)


def test_mutate_from_verdicts_mutates_only_passing_samples(tmp_path):
    from codealign.domains import get_domain
    from codealign.jsonl import read_jsonl, write_jsonl

    verilog = get_domain("verilog")
    tasks = verilog.generate_tasks(["counter"], n=2, seed=0)
    passing = verilog.reference_solution(tasks[0])
    write_jsonl(tmp_path / "t.jsonl", tasks)
    write_jsonl(tmp_path / "v.jsonl", [
        ExecResult(tasks[0].task_id, "a", Verdict.FAIL, 0.5, completion=passing.replace("<=", "=")),
        ExecResult(tasks[0].task_id, "b", Verdict.PASS, 1.0, completion=passing),
        ExecResult(tasks[1].task_id, "c", Verdict.FAIL, 0.5, completion=verilog.reference_solution(tasks[1]))])
    _cli("mutate", "--domain", "verilog", "--tasks", tmp_path / "t.jsonl", "--verdicts", tmp_path / "v.jsonl",
         "--out", tmp_path / "c.jsonl")
    candidates = read_jsonl(tmp_path / "c.jsonl", Candidate.from_dict)
    parents = [c for c in candidates if "mutation" not in c.metadata]
    assert [(p.task_id, p.completion) for p in parents] == [(tasks[0].task_id, passing)]
    assert all(c.metadata["parent_id"] == parents[0].candidate_id for c in candidates if c not in parents)
