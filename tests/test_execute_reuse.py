"""``codealign execute`` into an existing ``--out``: a row is reused only when its task, its candidate and the
judge's fingerprint all match, the command says how many it reused, ``--no-cache`` reuses none, and a
partial file from a killed run is resumed."""

import json
import os
import subprocess
import sys

import pytest

from codealign.jsonl import write_jsonl

sys.path.insert(0, os.path.dirname(__file__))
from test_cli import ENV, verilog_files as files  # noqa: E402,F401  (the fixture: two tasks, three candidates)

pytestmark = pytest.mark.slow


def execute(folder, *flags, tasks="tasks.jsonl"):
    argv = ["execute", "--domain", "verilog", "--tasks", str(folder / tasks), "--candidates",
            str(folder / "cands.jsonl"), "--out", str(folder / "v.jsonl"), "--json", *flags]
    proc = subprocess.run([sys.executable, "-m", "codealign.cli", *argv], capture_output=True, text=True, env=ENV,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout), proc.stderr


def test_an_unchanged_rerun_reuses_every_row_and_says_so(files):
    execute(files, "--cache", str(files / "c1.sqlite"))
    summary, log = execute(files, "--cache", str(files / "c2.sqlite"))
    assert summary["cached"] == 3 and "reused 3 of 3 rows" in log


def test_a_changed_testbench_is_judged_afresh(files):
    execute(files, "--cache", str(files / "c1.sqlite"))
    rows = [json.loads(line) for line in (files / "tasks.jsonl").read_text().splitlines()]
    for row in rows:
        row["assets"]["test"] = "this is not a testbench\n"
    write_jsonl(files / "broken.jsonl", rows)
    summary, _ = execute(files, "--cache", str(files / "c2.sqlite"), tasks="broken.jsonl")
    assert summary["cached"] == 0 and "PASS" not in summary["verdicts"]


def test_a_changed_domain_option_is_judged_afresh(files):
    execute(files, "--cache", str(files / "c1.sqlite"))
    summary, log = execute(files, "--cache", str(files / "c2.sqlite"), "--lint")
    assert summary["cached"] == 0 and "reused 0 of 3 rows" in log


def test_no_cache_reuses_no_row(files):
    execute(files, "--no-cache")
    summary, _ = execute(files, "--no-cache")
    assert summary["cached"] == 0


def test_a_partial_out_of_a_killed_run_is_resumed(files):
    execute(files, "--cache", str(files / "c1.sqlite"))
    out = files / "v.jsonl"
    out.write_text("".join(out.read_text().splitlines(keepends=True)[:2]) + '{"task_id": "torn')
    summary, log = execute(files, "--cache", str(files / "c2.sqlite"))
    assert "reused 2 of 2 rows" in log and "judging 1" in log
    assert summary["candidates"] == 3 and len(out.read_text().splitlines()) == 3
