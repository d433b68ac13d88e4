"""The CLI surface: doctor, execute, cache, and the user-error contract (one line, exit 2, nothing written)."""

import json
import os
import subprocess
import sys

import pytest

from codealign.domains import domain_names
from codealign.domains.verilog.tasks import bundled_tasks
from codealign.domains.verilog import reference_solution
from codealign.jsonl import write_jsonl
from codealign.types import Candidate

ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


def codealign(*argv, env=None):
    return subprocess.run([sys.executable, "-m", "codealign.cli", *argv], capture_output=True, text=True,
                          env=env or ENV, timeout=600)


@pytest.fixture
def verilog_files(tmp_path):
    tasks = bundled_tasks("train")[:2]
    write_jsonl(tmp_path / "tasks.jsonl", tasks)
    write_jsonl(tmp_path / "cands.jsonl", [Candidate(t.task_id, reference_solution(t)) for t in tasks]
                + [Candidate(tasks[0].task_id, "module TopModule(); endmodule")])
    return tmp_path


@pytest.fixture(scope="module")
def doctor_report():
    proc = codealign("doctor", "--json")
    return json.loads(proc.stdout)


@pytest.mark.slow
def test_doctor_runs_a_live_check_for_every_shipped_domain(doctor_report):
    checks = doctor_report["domains"]
    assert all(c["checked"] and c["ok"] for c in checks.values()), checks
    assert all("expected FAIL" in c["detail"] or "expected COMPILE_ERROR" in c["detail"] for c in checks.values())


@pytest.mark.slow
@pytest.mark.skipif(not __import__("shutil").which("docker"), reason="Docker is not installed here")
def test_doctor_reports_the_docker_images_when_docker_is_present(doctor_report):
    docker = doctor_report["docker"]
    assert docker["default"] in docker["images"] and not docker["problem"], docker


@pytest.mark.slow
def test_doctor_reports_every_toolchain_and_passes_its_live_checks():
    proc = codealign("doctor", "--json")
    report = json.loads(proc.stdout)
    assert proc.returncode == 0, report["domains"]
    assert all(report["tools"].values()), report["tools"]
    assert report["isolation"]["backend"] == "bwrap" and report["isolation"]["reason"]
    assert list(report["domains"]) == list(domain_names())


@pytest.mark.slow
def test_execute_writes_verdicts_and_a_json_summary(verilog_files):
    out = verilog_files / "verdicts.jsonl"
    proc = codealign("execute", "--domain", "verilog", "--tasks", str(verilog_files / "tasks.jsonl"),
                     "--candidates", str(verilog_files / "cands.jsonl"), "--out", str(out), "--no-cache", "--json")
    summary = json.loads(proc.stdout)
    assert summary["verdicts"] == {"PASS": 2, "FAIL": 1} or summary["verdicts"].get("PASS") == 2
    assert len(out.read_text().splitlines()) == 3


@pytest.mark.parametrize("bad, message", [
    ('{"task_id": "x", "completion": "a"}\n{"task_id": \n', "cands.jsonl:2: malformed JSON"),
    ('{"task_id": "nope", "completion": "a"}\n', "unknown task_id"),
    (b'{"task_id": "x", "completion": "\xff"}\n', "not valid UTF-8"),
])
def test_bad_candidates_file_is_one_line_and_writes_nothing(verilog_files, bad, message):
    path = verilog_files / "cands.jsonl"
    path.write_bytes(bad if isinstance(bad, bytes) else bad.encode())
    out = verilog_files / "verdicts.jsonl"
    proc = codealign("execute", "--domain", "verilog", "--tasks", str(verilog_files / "tasks.jsonl"),
                     "--candidates", str(path), "--out", str(out), "--no-cache")
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1 and message in proc.stderr
    assert not out.exists()


def test_missing_iverilog_is_a_sandbox_error_not_a_crash(verilog_files):
    out = verilog_files / "verdicts.jsonl"
    env = {**ENV, "PATH": "/nonexistent"}
    proc = codealign("execute", "--domain", "verilog", "--tasks", str(verilog_files / "tasks.jsonl"),
                     "--candidates", str(verilog_files / "cands.jsonl"), "--out", str(out), "--no-cache", "--json",
                     env=env)
    assert proc.returncode == 0
    assert json.loads(proc.stdout)["verdicts"] == {"SANDBOX_ERROR": 3}
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert "not found on PATH" in rows[0]["details"]["error"]


@pytest.mark.parametrize("action", ["stats", "prune"])
def test_cache_command_on_a_missing_file_refuses_and_creates_nothing(tmp_path, action):
    proc = codealign("cache", action, "--cache", str(tmp_path / "typo.sqlite"))
    assert proc.returncode == 2 and "no such cache file" in proc.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_cache_stats_and_prune(verilog_files):
    cache = verilog_files / "c.sqlite"
    codealign("execute", "--domain", "verilog", "--tasks", str(verilog_files / "tasks.jsonl"), "--candidates",
              str(verilog_files / "cands.jsonl"), "--out", str(verilog_files / "v.jsonl"), "--cache", str(cache))
    stats = json.loads(codealign("cache", "stats", "--cache", str(cache), "--json").stdout)
    assert stats["entries"] == 3 and stats["by_domain"] == {"verilog": 3}
    pruned = json.loads(codealign("cache", "prune", "--cache", str(cache), "--domain", "verilog", "--json").stdout)
    assert pruned["removed"] == 3
    assert json.loads(codealign("cache", "stats", "--cache", str(cache), "--json").stdout)["entries"] == 0


def test_unknown_subcommand_argument_is_rejected():
    proc = codealign("cache", "stats", "--bogus")
    assert proc.returncode == 2 and "--bogus" in proc.stderr


def test_argparse_is_imported_only_by_the_cli_package():
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[1] / "codealign"
    offenders = []
    for path in root.rglob("*.py"):
        rel = path.relative_to(root)
        if rel.parts[0] == "cli" or "resources" in rel.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module] if isinstance(node, ast.ImportFrom) else []
            if "argparse" in names:
                offenders.append(str(rel))
    assert offenders == []


def test_a_flag_of_another_domain_is_refused_in_one_line(verilog_files):
    out = verilog_files / "verdicts.jsonl"
    proc = codealign("execute", "--domain", "python", "--simulator", "verilator", "--tasks",
                     str(verilog_files / "tasks.jsonl"), "--candidates", str(verilog_files / "cands.jsonl"),
                     "--out", str(out), "--no-cache")
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    assert "--simulator is not an option of domain 'python'" in proc.stderr
    assert not out.exists()


@pytest.mark.slow
def test_bench_below_fail_under_exits_1_with_the_json_summary():
    proc = codealign("bench", "ladder", "--empty", "--split", "test", "--fail-under", "0.5", "--json", "--no-cache")
    assert proc.returncode == 1, proc.stderr
    assert json.loads(proc.stdout)["pass@1"] == 0.0
    assert "below --fail-under 0.5" in proc.stderr


def test_bench_fail_under_in_percent_is_refused_in_one_line():
    proc = codealign("bench", "ladder", "--oracle", "--fail-under", "40", "--no-cache")
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    assert "did you mean 0.4?" in proc.stderr


@pytest.mark.slow
def test_dpo_stopped_by_the_collapse_monitor_exits_nonzero(tiny, tmp_path, capsys):
    from codealign.cli import main
    from test_dpo import make_pairs

    write_jsonl(tmp_path / "pairs.jsonl", make_pairs(8))
    # The settings of test_dpo's collapse test: a huge learning rate makes the chosen log-prob fall.
    code = main(["train", "dpo", "--quiet", f"model={tiny}", f"output_dir={tmp_path / 'run'}",
                 f"pairs={tmp_path / 'pairs.jsonl'}", "device=cpu", "report_tensorboard=false", "monitor=true",
                 "learning_rate=0.05", "max_steps=40", "monitor_window=2", "monitor_max_chosen_drop=3.0",
                 "beta=0.5", "per_device_train_batch_size=2"])
    assert code == 1
    assert "stopped by the collapse monitor" in capsys.readouterr().err


def test_stages_error_leaves_no_manifest_behind(tmp_path):
    proc = codealign("run", "verilog", "--stages", "rft", "--run-dir", str(tmp_path / "run"), "--no-cache")
    assert proc.returncode == 2 and "needs stage" in proc.stderr
    assert not (tmp_path / "run" / "manifest.json").exists()


def test_quiet_silences_library_future_warnings(tiny, tmp_path, recwarn):
    from codealign.cli import main
    from test_dpo import make_pairs

    write_jsonl(tmp_path / "pairs.jsonl", make_pairs(4))
    code = main(["train", "dpo", "--quiet", f"model={tiny}", f"output_dir={tmp_path / 'run'}",
                 f"pairs={tmp_path / 'pairs.jsonl'}", "device=cpu", "report_tensorboard=false", "monitor=false",
                 "max_steps=2", "per_device_train_batch_size=2"])
    assert code == 0
    assert [str(w.message) for w in recwarn if issubclass(w.category, FutureWarning)] == []
