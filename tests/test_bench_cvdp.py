"""``codealign bench cvdp``: NVIDIA's example datapoints (shared/data/cvdp) through the cocotb harness, the
commercial one skipped with its reason; multi-file answers; graded cocotb scores as pair margins; the CVDP
problems as ``codealign run``'s evaluation set."""

import json
import subprocess
import sys

import pytest

import codealign
from codealign.bench import load_benchmark, run
from codealign.domains.verilog.cvdp import apply_hunks, load_cvdp, oracle
from codealign.errors import UserError
from codealign.extraction import extract_files, format_files
from codealign.pairs import build_pairs
from codealign.types import Candidate
from test_cocotb import ALU, ALU_TASK

NONAGENTIC = "cvdp_v1.0.4_example_nonagentic_code_generation_no_commercial_with_solutions.jsonl"
AGENTIC = "cvdp_v1.0.4_example_agentic_code_generation_no_commercial_with_solutions.jsonl"
COMMERCIAL = "cvdp_v1.0.4_example_nonagentic_code_generation_commercial_with_solutions.jsonl"


@pytest.mark.parametrize("file", [NONAGENTIC, AGENTIC])
def test_oracle_passes_the_no_commercial_examples_per_category_and_difficulty(shared_data, file):
    report = run("cvdp", data=shared_data / "cvdp" / file, oracle=True, progress=False, screen=False)
    assert report.pass_at_1 == 1.0
    assert report.summary["per_category"] == {"cid003": {"problems": 1, "pass@1": 1.0}}
    assert report.summary["per_difficulty"] == {"easy": {"problems": 1, "pass@1": 1.0}}


def test_commercial_example_is_skipped_with_its_reason_not_failed(shared_data):
    report = run("cvdp", data=shared_data / "cvdp" / COMMERCIAL, oracle=True, progress=False)
    assert report.pass_at_1 is None and report.summary["failing"] == {}
    assert "commercial simulator" in report.summary["skipped"]["cvdp_copilot_gf_multiplier_0039"]
    assert "SKIP cvdp_copilot_gf_multiplier_0039" in report.text


def test_categories_option_keeps_only_matching_problems(shared_data):
    path = shared_data / "cvdp" / NONAGENTIC
    assert [t.task_id for t in load_cvdp(path, categories=["cid002,cid003"])] == ["cvdp_copilot_lfsr_0001"]
    with pytest.raises(UserError, match="no CVDP problems in categories cid999"):
        load_cvdp(path, categories=["cid999"])


def test_cli_prints_one_json_summary_with_the_oracle_result(shared_data):
    out = subprocess.run([sys.executable, "-m", "codealign.cli", "bench", "cvdp", "--data",
                          str(shared_data / "cvdp" / AGENTIC), "--oracle", "--categories", "easy", "--json"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    assert summary["pass@1"] == 1.0 and "--categories easy" in summary["command"]


def test_agentic_patch_hunks_build_the_reference_file(shared_data):
    task = load_cvdp(shared_data / "cvdp" / AGENTIC)[0]
    reference = task.metadata["reference"]["rtl/fixed_priority_arbiter.sv"]
    assert reference.startswith("`timescale 1ns / 1ps\nmodule fixed_priority_arbiter(") and "@@" not in reference


def test_hunks_apply_to_an_existing_file():
    original = "a\nb\nc\nd\n"
    assert apply_hunks(original, "@@ -2,2 +2,2 @@\n-b\n+B\n c\n") == "a\nB\nc\nd\n"


def test_answer_holding_several_named_files_gives_each_file():
    answer = ("Two files.\n\n**rtl/a.sv**\n```verilog\nmodule a; endmodule\n```\n\n"
              "```systemverilog rtl/b.sv\nmodule b; endmodule\n```\n")
    files, issues = extract_files(answer, frozenset({"verilog", "systemverilog"}), ["rtl/a.sv", "rtl/b.sv"])
    assert files == {"rtl/a.sv": "module a; endmodule\n", "rtl/b.sv": "module b; endmodule\n"} and issues == []


def test_formatted_files_read_back_unchanged():
    files = {"rtl/a.sv": "module a;\n// ``` inside\nendmodule\n", "rtl/b.sv": "module b; endmodule\n"}
    assert extract_files(format_files(files, "sv"), frozenset({"sv"}), [])[0] == files


def test_oracle_answer_names_the_reference_files(shared_data):
    task = load_cvdp(shared_data / "cvdp" / NONAGENTIC)[0]
    assert oracle(task).startswith("rtl/lfsr_8bit.sv\n```systemverilog\nmodule lfsr_8bit(")


@pytest.mark.slow
def test_graded_cocotb_scores_become_ranked_pair_margins(backend):
    texts = [ALU, ALU.replace("a - b", "a + b"), ALU.replace("a - b", "a + b").replace("a ^ b", "a | b")]
    cands = [Candidate(ALU_TASK.task_id, format_files({"rtl/alu.sv": t})) for t in texts]
    results = codealign.execute([ALU_TASK], cands, domain="verilog", backend=backend, progress=False)
    assert [round(r.score, 3) for r in results] == [1.0, 0.667, 0.333]
    pairs = build_pairs(results, [ALU_TASK], "ranked", selection="all")
    assert sorted(round(p.margin, 3) for p in pairs) == [0.333, 0.333, 0.667]


def test_cvdp_problems_load_as_the_run_evaluation_set(shared_data):
    tasks = load_benchmark("cvdp", shared_data / "cvdp" / AGENTIC)
    assert [(t.domain, t.assets["format"]) for t in tasks] == [("verilog", "cocotb")]
