"""ExecRepoBench runner and the bundled suite (the full 72-row oracle/empty runs are in the report; here a
sample of one row per fill type runs)."""

import json
import sys
from pathlib import Path

import pytest

from codealign import bench
from codealign.domains.python import execrepobench as erb
from codealign.fim import FILL_TYPES
from codealign.errors import UserError
from codealign.jsonl import read_jsonl
from codealign.types import Candidate

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from execrepobench_suite import candidate_rows  # noqa: E402  (the suite builder is a maintenance script)

SUITE = erb.BUNDLED / "suite.jsonl"


@pytest.fixture(scope="module")
def rows():
    return read_jsonl(SUITE)


@pytest.fixture(scope="module")
def sample(rows):
    """One row per fill type, preferring rows whose empty middle still compiles (the tests, not the parser,
    notice it); rows whose empty middle makes a test loop are left out (they run into the deadline)."""
    picked = {}
    for row in sorted(rows, key=lambda r: r["empty_verdict"] != "FAIL"):
        if row["empty_timeouts"] == 0 and row["empty_verdict"] != "TIMEOUT" and row["fill_type"] not in picked:
            picked[row["fill_type"]] = row["task_id"]
    tasks = {t.task_id: t for t in erb.load_suite()}
    return [tasks[tid] for tid in picked.values()]


def _bench(**kw):
    return bench.run("execrepobench", **kw).to_dict()


def test_bundled_suite_has_three_repos_sixty_rows_and_every_fill_type(rows):
    assert len(rows) >= 60
    assert len({r["repo_name"] for r in rows}) >= 3
    assert {r["fill_type"] for r in rows} == set(FILL_TYPES)


def test_rows_reassemble_the_repository_files(rows):
    for row in rows:
        original = (erb.BUNDLED / "repos" / row["repo_name"] / row["file_name"]).read_text()
        assert row["prefix_code"] + row["middle_code"] + row["suffix_code"] == original


def test_suite_rows_are_reproduced_by_the_builder(rows):
    repos = {name: erb.load_repo(erb.BUNDLED / "repos" / name, name) for name in {r["repo_name"] for r in rows}}
    rebuilt = {r["task_id"]: r for name, repo in repos.items() for r in candidate_rows(repo, seed=0, per_kind=3)}
    for row in rows:
        again = rebuilt[row["task_id"]]
        assert (again["middle_code"], again["fill_type"], again["context_code"]) == \
            (row["middle_code"], row["fill_type"], row["context_code"])


@pytest.mark.slow
def test_oracle_passes_and_empty_fails_on_one_row_per_fill_type(sample, backend):
    from codealign.domains import get_domain
    from codealign.execution.executor import execute

    assert len(sample) == len(FILL_TYPES)
    cands = [Candidate(t.task_id, t.metadata["middle_code"]) for t in sample]
    cands += [Candidate(t.task_id, "") for t in sample]
    results = execute(get_domain("python"), sample, cands, backend=backend, progress=False)
    assert [r.passed for r in results] == [True] * len(sample) + [False] * len(sample)


def _mini_suite(root: Path, *, command: bool = False) -> Path:
    repo = root / "repos" / "mini"
    (repo / "mini").mkdir(parents=True)
    (repo / "mini" / "__init__.py").write_text("")
    (repo / "mini" / "ops.py").write_text("def double(x):\n    return x * 2\n")
    if command:
        (repo / "evaluate_repo.py").write_text(
            "import sys\nfrom mini.ops import double\nsys.exit(0 if double(4) == 8 else 1)\n")
    else:
        (repo / "tests").mkdir()
        (repo / "tests" / "test_ops.py").write_text(
            "from mini.ops import double\n\ndef test_double():\n    assert double(4) == 8\n")
    row = {"repo_name": "mini", "file_name": "mini/ops.py", "prefix_code": "def double(x):\n    return ",
           "middle_code": "x * 2", "suffix_code": "\n", "fill_type": "grammar_based_expression"}
    (root / "data.jsonl").write_text(json.dumps(row) + "\n")
    return root


def test_data_path_reads_the_upstream_format(tmp_path):
    summary = _bench(data=_mini_suite(tmp_path), oracle=True)
    assert summary["overall"] == {"n": 1, "pass@1": 1.0, "edit_similarity": 1.0}
    assert list(summary["per_fill_type"]) == ["grammar-based: expression"]


def test_a_repository_judged_only_by_its_evaluate_repo_script_never_passes(tmp_path):
    """An exit status is no evidence (a candidate forges it with os._exit(0)): even the reference fails."""
    root = _mini_suite(tmp_path, command=True)
    summary = _bench(data=root, oracle=True)
    assert summary["overall"]["pass@1"] == 0.0, summary


def test_candidates_file_is_scored_with_edit_similarity(tmp_path):
    root = _mini_suite(tmp_path)
    cands = tmp_path / "cands.txt"
    cands.write_text(json.dumps({"task_id": "mini/1", "completion": "x + x"}) + "\n")
    summary = _bench(data=root, candidates=cands)
    assert summary["overall"]["pass@1"] == 1.0
    assert summary["overall"]["edit_similarity"] == pytest.approx(1 - 2 / 5)


@pytest.mark.parametrize("name", ["grammar-based: block", "grammar_based_block", "Grammar-Based Block", "block"])
def test_fill_type_spellings_normalize(name):
    assert erb.normalize_fill_type(name) == "grammar-based: block"


def test_edit_similarity_is_one_minus_normalized_levenshtein():
    assert erb.edit_similarity("abc", "abc") == 1.0
    assert erb.edit_similarity("", "") == 1.0
    assert erb.edit_similarity("", "abcd") == 0.0
    assert erb.edit_similarity("kitten", "sitting") == pytest.approx(1 - 3 / 7)


def test_missing_data_path_is_a_one_line_error(tmp_path):
    with pytest.raises(UserError, match="no such file or folder"):
        erb.load_suite(tmp_path / "nope")


def test_row_missing_a_field_names_file_and_line(tmp_path):
    root = _mini_suite(tmp_path)
    (root / "data.jsonl").write_text(json.dumps({"repo_name": "mini"}) + "\n")
    with pytest.raises(UserError, match=r"data\.jsonl:1: row lacks file_name"):
        erb.load_suite(root)


def test_file_outside_the_repository_is_rejected(tmp_path):
    root = _mini_suite(tmp_path)
    row = json.loads((root / "data.jsonl").read_text())
    (root / "data.jsonl").write_text(json.dumps({**row, "file_name": "mini/absent.py"}) + "\n")
    with pytest.raises(UserError, match="not a file of repository"):
        erb.load_suite(root)


def test_empty_cannot_be_combined_with_oracle(tmp_path):
    with pytest.raises(UserError, match="--empty cannot be combined"):
        _bench(data=_mini_suite(tmp_path), empty=True, oracle=True)
