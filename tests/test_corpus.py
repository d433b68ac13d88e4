"""SynthCoder corpus construction: spans, FIM layouts, retrieval, call graph, anti-repetition, dedup."""

import json
import random

import pytest

from codealign.data import layouts
from codealign.data.callgraph import RepoIndex
from codealign.data.corpus import CorpusConfig, build_corpus, deduplicate, find_repeat
from codealign.data.retrieval import BM25Retriever, chunk_text, code_tokens
from codealign.data.spans import SPAN_KINDS, Source, Span, candidate_spans, cut, sample_spans
from codealign.errors import UserError

UTIL = '''"""Helpers."""


def clamp(value, low, high):
    """Clamp value into [low, high]."""
    if value < low:
        return low
    if value > high:
        return high
    return value


class Stack:
    def __init__(self):
        self.items = []

    def push(self, item):
        self.items.append(item)
        return len(self.items)
'''

MAIN = '''from pkg.util import clamp
from . import util as u


def scale(values, factor):
    out = []
    for v in values:
        scaled = clamp(v * factor, 0, 100)
        out.append(scaled)
    stack = u.Stack()
    stack.push(clamp(len(out), 0, 10))
    return out


def total(values):
    result = 0
    for v in values:
        if v > 0:
            result += v
    return result
'''

VERILOG = '''module counter(input clk, input rst, output reg [3:0] q);
  wire en;
  assign en = q < 4'd9;
  always @(posedge clk) begin
    if (rst) q <= 0;
    else begin
      q <= q + 1;
    end
  end
endmodule
'''

SOLIDITY = '''pragma solidity ^0.8.0;
contract Vault {
  uint total;
  function deposit(uint a) public returns (uint) {
    uint b = a + 1;
    require(b > 0, "positive");
    if (b > 2) { total = total + b; } else { total = 0; }
    return total * 2;
  }
}
'''


@pytest.fixture
def repo(tmp_path):
    root = tmp_path / "demo"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "__init__.py").write_text("")
    (root / "pkg" / "util.py").write_text(UTIL)
    (root / "pkg" / "main.py").write_text(MAIN)
    return root


def test_every_span_kind_is_found_in_python():
    found = candidate_spans(Source(MAIN, "python"))
    assert all(found[kind] for kind in SPAN_KINDS), {k: len(v) for k, v in found.items()}


def test_grammar_spans_cover_whole_nodes():
    src = Source(MAIN, "python")
    found = candidate_spans(src)
    texts = {kind: {MAIN[s.start:s.end] for s in found[kind]} for kind in ("expression", "statement", "block")}
    assert "clamp(v * factor, 0, 100)" in texts["expression"]
    assert "out.append(scaled)" in texts["statement"]
    assert "result += v" in texts["block"]


def test_function_body_skips_the_docstring():
    found = candidate_spans(Source(UTIL, "python"))
    bodies = [UTIL[s.start:s.end] for s in found["function_body"]]
    assert any(body.startswith("if value < low:") for body in bodies)
    assert not any('"""' in body for body in bodies)


def test_line_spans_are_single_lines_after_indentation():
    for s in candidate_spans(Source(MAIN, "python"))["line"]:
        text = MAIN[s.start:s.end]
        assert "\n" not in text and text == text.strip()


def test_random_spans_start_and_end_on_token_boundaries():
    src = Source(MAIN, "python")
    leaves = set()
    for node in src.nodes():
        if node.child_count == 0:
            leaves.add(("start", node.start_byte))
            leaves.add(("end", node.end_byte))
    for s in candidate_spans(src)["random_span"]:
        assert ("start", s.start) in leaves and ("end", s.end) in leaves


def test_line_remainder_starts_after_a_pause_token():
    for s in candidate_spans(Source(MAIN, "python"))["line_remainder"]:
        before = MAIN[:s.start].rstrip(" ")
        assert before and (before[-1] in "=(.,:[{+-*/<>" or before.endswith(("return", "in", "if", "and", "or", "not")))


@pytest.mark.parametrize("language, text, expected", [
    ("verilog", VERILOG, {"statement": "q <= q + 1;", "expression": "q + 1"}),
    ("solidity", SOLIDITY, {"statement": "return total * 2;", "expression": "a + 1"}),
])
def test_verilog_and_solidity_spans_come_from_their_grammars(language, text, expected):
    found = candidate_spans(Source(text, language))
    for kind, snippet in expected.items():
        assert snippet in {text[s.start:s.end] for s in found[kind]}
    assert found["block"]


def test_non_ascii_text_gets_character_offsets():
    text = 'def f(x):\n    s = "héllo wörld"\n    return len(s) + x\n'
    found = candidate_spans(Source(text, "python"))
    assert "len(s) + x" in {text[s.start:s.end] for s in found["expression"]}


def test_sampling_is_deterministic_per_seed():
    src = Source(MAIN, "python")
    first = sample_spans(src, random.Random(7), per_kind=2)
    assert first == sample_spans(src, random.Random(7), per_kind=2)
    assert first != sample_spans(src, random.Random(8), per_kind=2)


def test_cut_reassembles_the_file_and_rejects_spans_outside_it():
    prefix, middle, suffix = cut(MAIN, Span("line", 10, 20))
    assert prefix + middle + suffix == MAIN
    with pytest.raises(UserError, match=r"main\.py: span \[5, 9999\) is outside the file"):
        cut(MAIN, Span("line", 5, 9999), "main.py")


def test_file_that_does_not_parse_is_a_one_line_error():
    with pytest.raises(UserError, match=r"bad\.py: does not parse as python \(.*line 2\)") as info:
        Source("x = 1\ndef broken(:\n", "python", "bad.py")
    assert "\n" not in str(info.value)


def test_psm_and_spm_layouts_place_the_sentinels():
    fmt = layouts.resolve_format("starcoder", "psm")
    assert layouts.render(fmt, "PRE", "SUF", layout="psm")[0] == "<fim_prefix>PRE<fim_suffix>SUF<fim_middle>"
    assert layouts.render(fmt, "PRE", "SUF", layout="spm")[0] == "<fim_prefix><fim_suffix>SUF<fim_middle>PRE"


def test_family_without_spm_rejects_the_spm_layout():
    with pytest.raises(UserError, match="no SPM layout"):
        layouts.resolve_format("qwen2.5-coder", "spm")


def test_mixed_layout_draws_both_with_a_seed():
    fmt = layouts.resolve_format("starcoder", "mixed")
    modes = [layouts.render(fmt, "a", "b", layout="mixed", rng=random.Random(i))[1] for i in range(20)]
    assert set(modes) == {"psm", "spm"}
    assert modes == [layouts.render(fmt, "a", "b", layout="mixed", rng=random.Random(i))[1] for i in range(20)]


def test_code_tokens_split_identifiers():
    assert code_tokens("getUserName(max_len)") == ["getusername", "get", "user", "name", "max_len", "max", "len"]


def test_bm25_finds_the_chunk_with_the_rare_identifier():
    chunks = chunk_text("a.py", "\n".join(f"x{i} = compute(y{i})" for i in range(60)), window=5, stride=5)
    chunks += chunk_text("b.py", "def frobnicate_widget(w):\n    return w\n")
    hits = BM25Retriever(chunks).search("result = frobnicate_widget(thing)", k=3)
    assert hits[0][0].path == "b.py"
    assert BM25Retriever(chunks).search("frobnicate_widget", k=3, exclude={"b.py"}) == []


def test_call_graph_resolves_imported_functions_and_classes(repo):
    paths = ("pkg/__init__.py", "pkg/util.py", "pkg/main.py")
    sources = {p: Source((repo / p).read_text(), "python", p) for p in paths}
    defs = RepoIndex(sources).context_for("pkg/main.py")
    assert [(d.name, d.calls) for d in defs] == [("clamp", 2), ("Stack", 1)]
    assert defs[0].text.startswith("def clamp(value, low, high):")
    assert defs[0].path == "pkg/util.py"


def test_call_graph_finds_verilog_modules_and_solidity_libraries_by_name():
    counter = "module counter(input clk, output reg [3:0] q);\n  always @(posedge clk) q <= q + 1;\nendmodule\n"
    top = "module top(input clk, output [3:0] y);\n  counter u0(.clk(clk), .q(y));\nendmodule\n"
    lib = ("pragma solidity ^0.8.0;\nlibrary SafeOps {\n"
           "  function add(uint a, uint b) internal pure returns (uint) { return a + b; }\n}\n")
    bank = ("pragma solidity ^0.8.0;\nimport \"./lib.sol\";\ncontract Bank {\n"
            "  function f(uint a) public pure returns (uint) { return SafeOps.add(a, 1); }\n}\n")
    index = RepoIndex({"counter.v": Source(counter, "verilog"), "top.v": Source(top, "verilog"),
                       "lib.sol": Source(lib, "solidity"), "bank.sol": Source(bank, "solidity")})
    assert [d.name for d in index.context_for("top.v")] == ["counter"]
    assert [d.name for d in index.context_for("bank.sol")] == ["SafeOps", "add"]


def test_repeat_detection_exact_and_near():
    context = "def f():\n    total = compute_total(items, tax_rate)\n    return total\n"
    exact = find_repeat("total = compute_total(items, tax_rate)", [("context", context)], min_chars=10, similarity=0.9)
    assert exact == {"where": "context", "text": "total = compute_total(items, tax_rate)", "similarity": 1.0}
    near = find_repeat("total = compute_total(items, tax_rates)", [("context", context)], min_chars=10, similarity=0.9)
    assert near["text"] == "total = compute_total(items, tax_rate)" and near["similarity"] < 1.0
    assert find_repeat("return x", [("context", "return x")], min_chars=10, similarity=0.9) is None


def test_repeated_middles_leave_sft_and_become_candidates(repo):
    (repo / "pkg" / "copy_of_total.py").write_text(MAIN.split("def total")[1].join(["def total_again", ""]))
    corpus = build_corpus(repo, CorpusConfig(per_kind=4, seed=1, repeat_min_chars=12))
    assert corpus.repeats, "the copied function must be caught"
    repeat_ids = {r["task_id"] for r in corpus.repeats}
    assert not repeat_ids & {r["task_id"] for r in corpus.rows}
    for r in corpus.repeats:
        assert {"task_id", "completion", "prompt", "repeat_of", "similarity"} <= set(r)
    assert corpus.stats["repeat_candidates"] == len(corpus.repeats)


def test_exact_and_near_duplicates_are_removed():
    body = "\n".join(f"    acc_{i} = combine(acc_{i - 1}, weights[{i}], bias_{i})" for i in range(1, 12))
    base = {"prefix": "def f(weights):\n    acc_0 = 0\n", "suffix": "\n    return acc_11\n", "middle": body}
    rows = [dict(base, prompt="p", completion="c"), dict(base, prompt="p", completion="c"),
            dict(base, prompt="p2", completion="c", middle=body.replace("bias_5", "bias_five")),
            dict(prompt="q", completion="d", prefix="class K:\n", suffix="", middle="pass_through = other_thing()")]
    kept, exact, near = deduplicate(rows, 0.85)
    assert (len(kept), exact, near) == (2, 1, 1)


def test_corpus_rows_are_trainer_ready_and_deterministic(repo):
    config = CorpusConfig(seed=3, per_kind=1)
    first = build_corpus(repo, config)
    assert first.rows == build_corpus(repo, CorpusConfig(seed=3, per_kind=1)).rows
    row = first.rows[0]
    assert row["prompt"].count("<fim_prefix>") == 1 and row["completion"].endswith("<|endoftext|>")
    assert row["prefix"] + row["middle"] + row["suffix"] == (repo / row["path"]).read_text()
    assert any(item["origin"] == "callgraph" for r in first.rows for item in r["context_items"])


def test_context_respects_the_token_budget(repo):
    small = build_corpus(repo, CorpusConfig(context_tokens=100, per_kind=1))
    assert any(r["context_tokens"] for r in small.rows)
    assert all(r["context_tokens"] <= 100 for r in small.rows)
    assert all(r["context_tokens"] == 0 for r in build_corpus(repo, CorpusConfig(context_tokens=0, per_kind=1)).rows)


def test_missing_repo_is_a_one_line_error(tmp_path):
    with pytest.raises(UserError, match="repository folder does not exist"):
        build_corpus(tmp_path / "absent")


def test_unparsable_file_stops_the_build_unless_skipped(repo):
    (repo / "pkg" / "broken.py").write_text("def oops(:\n")
    with pytest.raises(UserError, match=r"broken\.py: does not parse"):
        build_corpus(repo)
    corpus = build_corpus(repo, CorpusConfig(on_parse_error="skip", per_kind=1))
    assert corpus.stats["files_skipped"] == ["pkg/broken.py"]


def test_bad_config_values_are_user_errors():
    with pytest.raises(UserError, match="unknown span kind"):
        CorpusConfig(kinds=("expression", "paragraph"))
    with pytest.raises(UserError, match="unknown FIM layout"):
        CorpusConfig(layout="pms")


def test_cli_writes_rows_and_nothing_on_error(repo, tmp_path):
    from codealign.cli import build_parser

    out = tmp_path / "out" / "fim.jsonl"
    args = build_parser().parse_args(["data", "fim", "--repo", str(repo), "--out", str(out), "--quiet"])
    summary = args.func(args)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == summary["examples"] > 0
    assert (tmp_path / "out" / "fim.repeats.jsonl").exists()
    (repo / "pkg" / "broken.py").write_text("def oops(:\n")
    bad_out = tmp_path / "bad" / "fim.jsonl"
    args = build_parser().parse_args(["data", "fim", "--repo", str(repo), "--out", str(bad_out), "--quiet"])
    with pytest.raises(UserError):
        args.func(args)
    assert not bad_out.exists()


# --- languages come from the domains' Syntax, through the registry --------------------------------------------

STUB_DOMAIN = '''
import dataclasses

from codealign.domains import domain_class
from codealign.domains.base import Domain

class StubDomain(Domain):
    """Python stubs under their own extension: a language data/ has never heard of."""

    name = "stub"
    syntax = dataclasses.replace(domain_class("python").syntax, extensions=(".stub",))

    def prepare(self, task, candidate):
        raise NotImplementedError

    def judge(self, task, candidate, job, result):
        raise NotImplementedError
'''


def test_a_registered_domain_with_a_syntax_becomes_a_corpus_language(tmp_path):
    import os
    import subprocess
    import sys

    site = tmp_path / "site"
    (site / "codealign_stub-0.1.dist-info").mkdir(parents=True)
    (site / "codealign_stub-0.1.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: codealign-stub\n"
                                                                    "Version: 0.1\n")
    (site / "codealign_stub-0.1.dist-info" / "entry_points.txt").write_text(
        "[codealign.domains]\nstub = codealign_stub:StubDomain\n")
    (site / "codealign_stub.py").write_text(STUB_DOMAIN)
    repo = tmp_path / "repo"
    (repo / "pkg").mkdir(parents=True)
    (repo / "pkg" / "util.stub").write_text(UTIL)
    (repo / "pkg" / "main.stub").write_text(MAIN)
    code = ("import json, sys; from codealign.data.corpus import CorpusConfig, build_corpus; "
            "rows = build_corpus(sys.argv[1], CorpusConfig(per_kind=1)).rows; "
            "print(json.dumps(sorted({(r['language'], i['origin']) for r in rows for i in r['context_items']})))")
    proc = subprocess.run([sys.executable, "-c", code, str(repo)], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(site)})
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert ["stub", "callgraph"] in json.loads(proc.stdout)


def test_corpus_code_names_no_language():
    import ast
    from pathlib import Path

    from codealign.domains import domain_names

    folder = Path(__file__).resolve().parents[1] / "codealign" / "data"
    named = [f"{path.name}:{node.lineno} {node.value!r}" for path in sorted(folder.glob("*.py"))
             for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
             if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in domain_names()]
    assert not named, f"language names in codealign/data (read them from Domain.syntax): {named}"


def test_corpus_and_mutators_share_one_parser_per_grammar():
    from codealign.domains.syntax import tree_sitter_parser

    source = Source(VERILOG, "verilog")
    assert source.syntax.parser() is tree_sitter_parser(source.syntax.grammar)


def test_a_syntax_extension_must_be_lower_case_with_a_dot():
    from codealign.domains.syntax import Syntax

    with pytest.raises(ValueError, match="extensions"):
        Syntax(grammar="tree_sitter_python", extensions=("PY",), line_comment="#", expression=frozenset(),
               expression_parents=frozenset(), statement=frozenset(), block=frozenset(), block_parents=frozenset(),
               function_body=frozenset(), function_body_parents=frozenset())


def test_an_unknown_language_names_the_known_ones():
    with pytest.raises(UserError, match=r"unknown language 'cobol'; choose one of: .*python"):
        Source("x = 1\n", "cobol")
