"""What every benchmark gets from ``codealign.bench``: found through the domains, typed options checked,
``limit``, the empty-answer self-test, and ladder's benchmark on its bundled tasks."""

import pytest

from codealign import bench
from codealign.errors import UserError


def test_every_advertised_benchmark_is_registered_by_its_domain():
    found = {name: domain for name, (domain, _) in bench.benchmarks().items()}
    assert found.items() >= {"verilogeval": "verilog", "rtllm": "verilog", "execrepobench": "python",
                             "smartbugs": "solidity", "ladder": "ladder"}.items()


def test_ladder_golden_self_test_passes_every_bundled_task():
    report = bench.run("ladder", oracle=True)
    sections = report.to_dict()["tasks"]
    assert set(sections) == {"test", "train"}
    assert all(s["passed"] == s["total"] > 0 for s in sections.values()), sections
    assert report.pass_at_1 == 1.0


def test_limit_scores_only_the_first_n_problems():
    report = bench.run("verilogeval", oracle=True, variant="spec-to-rtl", limit=2)
    assert report.to_dict()["tasks"]["spec-to-rtl"]["total"] == 2
    assert "--limit 2" in report.to_dict()["command"]


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
