"""Code extraction on messy model answers: what comes out, and that what happened is recorded."""

import shutil
import subprocess

import pytest

from codealign.domains.candidates import make_candidate
from codealign.domains import get_domain
from codealign.extraction import fenced_blocks
from codealign.types import Task

AND_MODULE = "module TopModule(input a, input b, output y);\n  assign y = a & b;\nendmodule\n"

# (name, language, answer, truncated, substrings the code must contain, substrings it must not contain,
#  issues that must be recorded, expected method, expected ok)
MESSY = [
    ("verilog_clean_fence", "verilog", f"```verilog\n{AND_MODULE}```", False, ["assign y = a & b;"], ["```"], [], "fenced", True),
    (
        "verilog_prose_around_fence",
        "verilog",
        f"Sure! Here is the module you asked for:\n\n```verilog\n{AND_MODULE}```\n\nThis uses a continuous assignment.",
        False,
        ["module TopModule", "endmodule"],
        ["Sure", "continuous assignment"],
        [],
        "fenced",
        True,
    ),
    (
        "verilog_no_fence_prose_around",
        "verilog",
        f"Here is my answer.\n{AND_MODULE}\nHope this helps!",
        False,
        ["module TopModule", "endmodule"],
        ["Here is", "Hope"],
        ["dropped_prose"],
        "unfenced",
        True,
    ),
    (
        "verilog_missing_endmodule",
        "verilog",
        "```verilog\nmodule TopModule(input a, input b, output y);\n  assign y = a | b;\n```",
        False,
        ["assign y = a | b;", "endmodule"],
        [],
        ["added_endmodule"],
        "fenced",
        True,
    ),
    (
        "verilog_truncated_mid_statement",
        "verilog",
        "module TopModule(input clk, input d, output reg q);\n  always @(posedge clk)\n    q <= d;\n  wire unused = d &",
        True,
        ["q <= d;", "endmodule"],
        ["wire unused"],
        ["truncated", "added_endmodule", "dropped_incomplete_line"],
        "raw",
        True,
    ),
    (
        "verilog_unclosed_fence",
        "verilog",
        f"```verilog\n{AND_MODULE}",
        True,
        ["assign y = a & b;"],
        ["```"],
        ["unclosed_fence", "truncated"],
        "fenced",
        True,
    ),
    (
        "verilog_two_modules_one_block",
        "verilog",
        "```verilog\nmodule half(input a, input b, output s);\n  assign s = a ^ b;\nendmodule\n\n"
        "module TopModule(input a, input b, output y);\n  half h(.a(a), .b(b), .s(y));\nendmodule\n```",
        False,
        ["module half", "module TopModule"],
        [],
        ["several_modules"],
        "fenced",
        True,
    ),
    (
        "verilog_modules_in_separate_blocks",
        "verilog",
        "First the helper:\n```verilog\nmodule inv(input a, output y);\n  assign y = ~a;\nendmodule\n```\n"
        "Then the top:\n```verilog\nmodule TopModule(input a, output y);\n  inv u(.a(a), .y(y));\nendmodule\n```",
        False,
        ["module inv", "module TopModule"],
        ["helper", "Then"],
        ["several_modules"],
        "fenced",
        True,
    ),
    (
        "verilog_revised_module_keeps_last",
        "verilog",
        "```verilog\nmodule TopModule(input a, input b, output y);\n  assign y = a | b;\nendmodule\n```\n"
        "Oops, that is wrong. Corrected:\n```verilog\n" + AND_MODULE + "```",
        False,
        ["a & b"],
        ["a | b"],
        ["duplicate_module:TopModule"],
        "fenced",
        True,
    ),
    (
        "verilog_drops_testbench",
        "verilog",
        f"```verilog\n{AND_MODULE}```\nAnd a testbench:\n```verilog\nmodule tb;\n  reg a, b; wire y;\n"
        "  TopModule dut(a, b, y);\n  initial begin a = 0; b = 1; #1 $display(y); end\nendmodule\n```",
        False,
        ["module TopModule"],
        ["module tb"],
        ["dropped_testbench"],
        "fenced",
        True,
    ),
    (
        "verilog_other_language_block_skipped",
        "verilog",
        "```python\nprint('not verilog')\n```\n```verilog\n" + AND_MODULE + "```",
        False,
        ["module TopModule"],
        ["print"],
        ["skipped_other_blocks"],
        "fenced",
        True,
    ),
    (
        "verilog_keeps_timescale_preamble",
        "verilog",
        "```systemverilog\n`timescale 1ns/1ps\n" + AND_MODULE + "```",
        False,
        ["`timescale 1ns/1ps", "module TopModule"],
        [],
        [],
        "fenced",
        True,
    ),
    (
        "verilog_reasoning_then_code",
        "verilog",
        "<think>The output is high when both inputs are high, so AND.</think>\n" + AND_MODULE,
        False,
        ["module TopModule"],
        ["think", "both inputs"],
        ["dropped_reasoning"],
        "raw",
        True,
    ),
    (
        "verilog_body_only_completion",
        "verilog",
        "  assign y = a & b;\nendmodule\n",
        False,
        ["assign y = a & b;", "endmodule"],
        [],
        ["no_module_header"],
        "raw",
        True,
    ),
    ("verilog_empty_answer", "verilog", "   \n\n", False, [], [], ["empty"], "empty", False),
    (
        "verilog_tilde_fence",
        "verilog",
        "~~~v\n" + AND_MODULE + "~~~\n",
        False,
        ["module TopModule"],
        ["~~~"],
        [],
        "fenced",
        True,
    ),
    (
        "python_fence_with_prose",
        "python",
        "Here you go:\n```python\ndef add(a, b):\n    return a + b\n```\nCall it with add(1, 2).",
        False,
        ["def add(a, b):"],
        ["Here you go", "Call it"],
        [],
        "fenced",
        True,
    ),
    (
        "python_solution_and_usage_blocks",
        "python",
        "```python\ndef square(x):\n    return x * x\n```\nUsage:\n```python\nprint(square(3))\n```",
        False,
        ["def square"],
        ["print(square(3))"],
        ["skipped_example_blocks"],
        "fenced",
        True,
    ),
    (
        "python_unfenced_with_prose",
        "python",
        "The function below reverses a list.\ndef rev(xs):\n    return xs[::-1]\nThat is all there is to it.",
        False,
        ["def rev(xs):", "return xs[::-1]"],
        ["below", "That is all"],
        ["dropped_prose"],
        "unfenced",
        True,
    ),
    (
        "python_truncated_function",
        "python",
        "```python\ndef one():\n    return 1\n\ndef two():\n    x = (1 +\n",
        True,
        ["def one():"],
        ["x = (1 +"],
        ["unclosed_fence", "truncated", "dropped_incomplete_tail"],
        "fenced",
        True,
    ),
    (
        "python_syntax_error_recorded",
        "python",
        "```python\ndef broken(:\n    pass\n```",
        False,
        ["def broken(:"],
        [],
        ["syntax_error"],
        "fenced",
        True,
    ),
    (
        "solidity_fenced_with_explanation",
        "solidity",
        "The fix adds a check.\n```solidity\npragma solidity ^0.8.0;\ncontract A {\n    uint x;\n}\n```\nDone.",
        False,
        ["pragma solidity ^0.8.0;", "contract A"],
        ["The fix", "Done"],
        [],
        "fenced",
        True,
    ),
    (
        "solidity_unfenced_truncated_braces",
        "solidity",
        "Here is the contract:\npragma solidity ^0.8.0;\ncontract B {\n    function f() external {\n        uint y = 1;\n",
        True,
        ["contract B {", "uint y = 1;"],
        ["Here is"],
        ["dropped_prose", "added_closing_braces", "truncated"],
        "unfenced",
        True,
    ),
    (
        "ladder_rungs_among_prose",
        "ladder",
        "The motor latches on start:\n[NO(start) | NO(motor)] NC(stop) OUT(motor)\nand the lamp follows it:\nNO(motor) OUT(lamp)",
        False,
        ["[NO(start) | NO(motor)] NC(stop) OUT(motor)", "NO(motor) OUT(lamp)"],
        ["latches", "follows"],
        ["dropped_prose"],
        "unfenced",
        True,
    ),
    (
        "ladder_truncated_last_rung",
        "ladder",
        "```ladder\nNO(a) OUT(b)\nNO(b) NC(c",
        True,
        ["NO(a) OUT(b)"],
        ["NC(c"],
        ["dropped_incomplete_line", "unclosed_fence"],
        "fenced",
        True,
    ),
    ("ladder_no_rungs", "ladder", "I cannot draw ladder diagrams.", False, [], [], ["no_code"], "empty", False),
]


@pytest.mark.parametrize("case", MESSY, ids=[c[0] for c in MESSY])
def test_messy_answer_extracts_expected_code_and_records_issues(case):
    _, language, answer, truncated, must, must_not, issues, method, ok = case
    result = get_domain(language).extract(answer, truncated=truncated)
    for text in must:
        assert text in result.code
    for text in must_not:
        assert text not in result.code
    for issue in issues:
        assert issue in result.issues, result.issues
    assert result.method == method
    assert result.ok is ok


def test_at_least_twenty_messy_samples_are_covered():
    assert len(MESSY) >= 20


def test_clean_answer_records_no_issues():
    result = get_domain("verilog").extract(f"```verilog\n{AND_MODULE}```")
    assert result.issues == [] and result.code == AND_MODULE


@pytest.mark.parametrize(
    "name", ["verilog_missing_endmodule", "verilog_truncated_mid_statement", "verilog_two_modules_one_block",
             "verilog_revised_module_keeps_last", "verilog_drops_testbench", "verilog_keeps_timescale_preamble"]
)
def test_repaired_verilog_compiles_with_iverilog(name, tmp_path):
    case = next(c for c in MESSY if c[0] == name)
    code = get_domain("verilog").extract(case[2], truncated=case[3]).code
    src = tmp_path / "dut.v"
    src.write_text(code)
    iverilog = shutil.which("iverilog")
    assert iverilog, "iverilog missing: a setup bug"
    proc = subprocess.run([iverilog, "-g2012", "-o", str(tmp_path / "a.out"), str(src)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_language_naming_no_domain_is_returned_unchanged():
    answer = "The contract is vulnerable to reentrancy in withdraw (line 12)."
    task = Task(task_id="t1", domain="solidity", prompt="p", metadata={"language": "text"})
    cand = make_candidate(task, answer, {"finish_reason": "eos"})
    assert cand.completion == answer and cand.metadata["extraction"]["method"] == "none"


def test_unclosed_final_fence_runs_to_end_of_text():
    blocks = fenced_blocks("```py\na = 1\n```\n```py\nb = 2\n")
    assert [(b.text, b.closed) for b in blocks] == [("a = 1\n", True), ("b = 2\n", False)]


def test_candidate_records_extraction_and_keeps_raw_answer():
    task = Task(task_id="t1", domain="verilog", prompt="p")
    answer = f"Answer:\n```verilog\n{AND_MODULE}```"
    cand = make_candidate(task, answer, {"finish_reason": "eos"})
    assert cand.completion == AND_MODULE
    assert cand.metadata["raw"] == answer
    assert cand.metadata["extraction"]["method"] == "fenced"


def test_candidate_records_failed_extraction():
    task = Task(task_id="t1", domain="verilog", prompt="p")
    cand = make_candidate(task, "I am not able to help with that.", {"finish_reason": "eos"})
    assert cand.metadata["extraction"]["ok"] is False
    assert "no_code" in cand.metadata["extraction"]["issues"]


def test_truncated_finish_reason_reaches_extraction():
    task = Task(task_id="t1", domain="verilog", prompt="p")
    cand = make_candidate(task, "module TopModule(input a, output y);\n  assign y = a", {"finish_reason": "length"})
    assert "truncated" in cand.metadata["extraction"]["issues"]
    assert cand.completion.rstrip().endswith("endmodule")


def test_sample_cut_at_endmodule_stop_keeps_the_layout_the_model_wrote():
    # DPO trains on the completion: a rewritten ending taught the tiny model an end it never wrote
    # (docs/dpo_compile_errors.md).
    task = Task(task_id="t1", domain="verilog", prompt="p")
    raw = "module TopModule(input a, output y);\n  assign y = a;\n\n"
    cand = make_candidate(task, raw, {"finish_reason": "stop"})
    assert cand.completion == raw + "endmodule\n"
