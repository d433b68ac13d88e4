"""What every benchmark gets from ``codealign.bench``: found through the domains, typed options checked,
``limit``, the empty-answer self-test, and ladder's benchmark on its bundled tasks."""

import pytest

from codealign import bench
from codealign.errors import UserError


def test_every_advertised_benchmark_is_registered_by_its_domain():
    found = {name: domain for name, (domain, _) in bench.benchmarks().items()}
    assert found.items() >= {"verilogeval": "verilog", "rtllm": "verilog", "execrepobench": "python",
                             "smartbugs": "solidity", "ladder": "ladder"}.items()


@pytest.mark.slow
def test_ladder_golden_self_test_passes_every_bundled_task():
    report = bench.run("ladder", oracle=True)
    sections = report.to_dict()["tasks"]
    assert set(sections) == {"test", "train"}
    assert all(s["passed"] == s["total"] > 0 for s in sections.values()), sections
    assert report.pass_at_1 == 1.0


@pytest.mark.slow
def test_limit_scores_only_the_first_n_problems():
    report = bench.run("verilogeval", oracle=True, variant="spec-to-rtl", limit=2)
    assert report.to_dict()["tasks"]["spec-to-rtl"]["total"] == 2
    assert "--limit 2" in report.to_dict()["command"]


def test_keywords_override_the_settings_given():
    report = bench.run("verilogeval", bench.BenchSettings(oracle=True, variant="spec-to-rtl", limit=3), limit=1)
    assert report.to_dict()["tasks"]["spec-to-rtl"]["total"] == 1
    assert "--limit 1" in report.to_dict()["command"] and "--oracle" in report.to_dict()["command"]


def test_a_misspelt_setting_names_the_closest():
    with pytest.raises(UserError, match="did you mean 'fail_under'"):
        bench.run("verilogeval", oracle=True, fail_undr=0.5)


def test_empty_answers_pass_nothing():
    report = bench.run("verilogeval", empty=True)
    assert report.pass_at_1 == 0.0 and report.to_dict()["mode"] == "empty"


def test_unknown_benchmark_names_the_closest():
    with pytest.raises(UserError, match="did you mean 'verilogeval'"):
        bench.run("verilogevl", oracle=True)


def test_option_of_another_benchmark_is_a_user_error():
    with pytest.raises(UserError, match="unknown option 'fill_type'"):
        bench.run("verilogeval", oracle=True, fill_type=["block"])


def test_a_benchmark_without_bundled_data_needs_a_path():
    with pytest.raises(UserError, match="needs --data PATH"):
        bench.run("smartbugs", oracle=True)


@pytest.fixture
def half_right(tmp_path):
    """Candidates for the four bundled spec-to-rtl problems, two of them the references: pass@1 0.5."""
    from codealign.jsonl import write_jsonl
    from codealign.types import Candidate

    _, verilogeval = bench.get_benchmark("verilogeval")
    tasks = bench.load_benchmark("verilogeval")[:4]
    wrong = "module TopModule(); endmodule"
    cands = [Candidate(t.task_id, verilogeval.oracle(t) if i < 2 else wrong) for i, t in enumerate(tasks)]
    write_jsonl(tmp_path / "cands.jsonl", cands)
    return str(tmp_path / "cands.jsonl")


@pytest.mark.slow
def test_fail_under_is_a_fraction_like_the_reported_pass_at_1(half_right):
    below = bench.run("verilogeval", candidates=half_right, fail_under=0.6)
    at = bench.run("verilogeval", candidates=half_right, fail_under=0.5)
    assert below.pass_at_1 == pytest.approx(0.5)
    assert (below.exit_code, at.exit_code) == (1, 0)


def test_fail_under_outside_zero_to_one_is_a_user_error_naming_the_fraction():
    with pytest.raises(UserError, match=r"fraction in \[0, 1\].*did you mean 0.4\?"):
        bench.run("ladder", oracle=True, fail_under=40)


def test_paired_interval_stays_within_the_range_of_a_rate_difference():
    from codealign.bench.report import paired_comparison

    paired = paired_comparison({str(i): 1.0 for i in range(5)}, {"0": 0.0, "1": 0.0, "2": 0.0, "3": 1.0, "4": 1.0})
    assert paired["delta"] == pytest.approx(-0.6)
    assert paired["ci95"][0] == -1.0 and -0.2 < paired["ci95"][1] < 0


def test_smartbugs_report_counts_scored_and_skipped_records_and_reproduces_the_limit(shared_data):
    import json

    rows = [json.loads(line) for line in (shared_data / "smartbugs" / "smartbugs_curated.jsonl").open()]
    report = bench.run("smartbugs", data=shared_data / "smartbugs", oracle=True, limit=2)
    summary = report.to_dict()
    assert summary["scored"] == 2
    assert summary["skipped"] == {"without source": sum(not r["source_available"] for r in rows)} != {"without source": 0}
    assert f"skipped {summary['skipped']['without source']} without source" in report.text
    assert "--limit 2" in summary["command"]
