"""A user's second day on the CLI (issue 31): refusals that say one line instead of a wrong result, files
made as the umask says, text that no UTF-8 can carry refused where it enters."""

import json
import os
import re
import stat

import pytest

from codealign.cli import main
from codealign.domains.verilog.tasks import bundled_tasks
from codealign.jsonl import write_jsonl, write_text_atomic
from codealign.types import Candidate


def _one_error_line(capsys):
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("codealign: error: ") and "Traceback" not in err[0], err
    return err[0]


@pytest.fixture
def files(tmp_path):
    tasks = bundled_tasks("train")[:1]
    write_jsonl(tmp_path / "tasks.jsonl", tasks)
    write_jsonl(tmp_path / "cands.jsonl", [Candidate(tasks[0].task_id, "module TopModule(); endmodule")])
    return tmp_path


def test_version_prints_the_package_version(capsys):
    from codealign import __version__

    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0 and capsys.readouterr().out.strip() == f"codealign {__version__}"


def test_top_level_help_says_what_the_tool_does_and_where_to_start(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert "execution feedback" in out and "codealign doctor" in out and "codealign run verilog" in out


def test_execute_refuses_tasks_of_another_domain(files, capsys):
    code = main(["execute", "--domain", "python", "--tasks", str(files / "tasks.jsonl"),
                 "--candidates", str(files / "cands.jsonl"), "--out", str(files / "v.jsonl")])
    assert code == 2 and "tasks are for domain(s) verilog, not 'python'" in _one_error_line(capsys)
    assert not (files / "v.jsonl").exists()


def test_execute_refuses_an_out_that_is_its_candidates_file(files, capsys):
    before = (files / "cands.jsonl").read_bytes()
    code = main(["execute", "--domain", "verilog", "--tasks", str(files / "tasks.jsonl"),
                 "--candidates", str(files / "cands.jsonl"), "--out", str(files / "cands.jsonl")])
    assert code == 2 and "is the --candidates file" in _one_error_line(capsys)
    assert (files / "cands.jsonl").read_bytes() == before


def test_execute_refuses_an_out_holding_candidates(files, capsys):
    other = files / "other-cands.jsonl"
    other.write_bytes((files / "cands.jsonl").read_bytes())
    code = main(["execute", "--domain", "verilog", "--tasks", str(files / "tasks.jsonl"),
                 "--candidates", str(files / "cands.jsonl"), "--out", str(other)])
    assert code == 2 and "does not hold verdicts" in _one_error_line(capsys)
    assert other.read_bytes() == (files / "cands.jsonl").read_bytes()


def test_a_row_with_a_field_of_the_wrong_type_is_one_line_naming_file_line_and_field(files, capsys):
    (files / "cands.jsonl").write_text(json.dumps({"task_id": "t", "completion": ["not", "text"]}) + "\n")
    code = main(["execute", "--domain", "verilog", "--tasks", str(files / "tasks.jsonl"),
                 "--candidates", str(files / "cands.jsonl"), "--out", str(files / "v.jsonl")])
    line = _one_error_line(capsys)
    assert code == 2 and "cands.jsonl:1" in line and "'completion' must be a string, got list" in line


def test_a_lone_surrogate_in_a_candidate_is_refused_where_it_enters(files, capsys):
    task_id = bundled_tasks("train")[0].task_id
    (files / "cands.jsonl").write_text('{"task_id": "%s", "completion": "module m; \\udcff endmodule"}\n' % task_id)
    code = main(["execute", "--domain", "verilog", "--tasks", str(files / "tasks.jsonl"),
                 "--candidates", str(files / "cands.jsonl"), "--out", str(files / "v.jsonl")])
    line = _one_error_line(capsys)
    assert code == 2 and "cands.jsonl:1" in line and "field 'completion'" in line and "lone surrogate" in line


def test_a_surrogate_pair_is_text_and_reads_back(tmp_path):
    from codealign.jsonl import read_jsonl

    (tmp_path / "c.jsonl").write_text('{"task_id": "t", "completion": "\\ud83d\\ude00"}\n')
    assert read_jsonl(tmp_path / "c.jsonl", Candidate.from_dict)[0].completion == "\U0001F600"


def test_cache_prune_without_a_filter_needs_all(tmp_path, capsys, monkeypatch):
    from codealign.sandbox.cache import VerdictCache
    from codealign.types import ExecResult, Task, Verdict

    path = tmp_path / "v.sqlite"
    cache = VerdictCache(path)
    task = Task("t", "verilog", "p")
    cache.put(cache.key("judge", {}, task, "x"), "verilog", ExecResult("t", "c", Verdict.PASS, 1.0))
    monkeypatch.setattr("sys.stdin", open(os.devnull))
    assert main(["cache", "prune", "--cache", str(path)]) == 2
    assert "--all" in _one_error_line(capsys)
    assert VerdictCache(path).stats()["entries"] == 1
    assert main(["cache", "prune", "--cache", str(path), "--all"]) == 0
    assert VerdictCache(path).stats()["entries"] == 0


@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_outputs_respect_the_umask(tmp_path, umask):
    old = os.umask(umask)
    try:
        write_jsonl(tmp_path / "rows.jsonl", [{"a": 1}])
        write_text_atomic(tmp_path / "report.json", "{}")
    finally:
        os.umask(old)
    for name in ("rows.jsonl", "report.json"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o666 & ~umask


def test_train_dpo_help_lists_every_config_key_with_its_default(capsys):
    from codealign.config import field_docs
    from codealign.train.dpo import DPORunConfig

    with pytest.raises(SystemExit):
        main(["train", "dpo", "--help"])
    out = capsys.readouterr().out
    assert "  beta = 0.1\n      TRL's beta" in out and "  model (required)" in out
    assert all(f"  {key} " in out for key, _, _ in field_docs(DPORunConfig))


def test_train_is_quiet_by_default_metrics_go_to_the_log_not_stdout(tiny, tmp_path, capsys, recwarn):
    from test_dpo import make_pairs

    write_jsonl(tmp_path / "pairs.jsonl", make_pairs(4))
    code = main(["train", "dpo", f"model={tiny}", f"output_dir={tmp_path / 'run'}",
                 f"pairs={tmp_path / 'pairs.jsonl'}", "device=cpu", "report_tensorboard=false", "monitor=false",
                 "max_steps=2", "per_device_train_batch_size=2"])
    out = capsys.readouterr().out
    assert code == 0 and "stage 0: 4 pairs, 2 steps" in out and "{'loss'" not in out and "'epoch'" not in out
    assert [str(w.message) for w in recwarn if issubclass(w.category, FutureWarning)] == []
    assert "loss" in next((tmp_path / "run").rglob("train_log.jsonl")).read_text()


def test_run_names_an_override_the_chosen_method_does_not_read(tmp_path, capsys):
    code = main(["run", "verilog", "--run-dir", str(tmp_path / "run"), "--stages", "tasks", "--no-cache",
                 "method=rft", "dpo.beta=0.2", "rft.learning_rate=1e-5"])
    err = capsys.readouterr().err
    notes = [line for line in err.splitlines() if "the override changes nothing" in line]
    assert code == 0 and len(notes) == 1 and "(method=rft) reads dpo.beta:" in notes[0]
    assert "rft.learning_rate" not in notes[0]


def test_run_names_a_config_file_setting_the_chosen_method_does_not_read(tmp_path, capsys):
    (tmp_path / "run.yaml").write_text("method: rft\ndpo: {beta: 0.2}\nrft: {learning_rate: 1.0e-5}\n")
    code = main(["run", "verilog", "--run-dir", str(tmp_path / "run"), "--stages", "tasks", "--no-cache",
                 "--config", str(tmp_path / "run.yaml")])
    notes = [line for line in capsys.readouterr().err.splitlines() if "codealign: note:" in line]
    assert code == 0 and len(notes) == 1 and "(method=rft) reads dpo.beta of " in notes[0]
    assert "rft.learning_rate" not in notes[0]


@pytest.mark.slow
def test_run_says_on_the_console_when_training_prompts_overlap_the_evaluation(tmp_path, capsys):
    from codealign.domains import get_domain

    write_jsonl(tmp_path / "tasks.jsonl", get_domain("verilog").demo_tasks("heldout")[:3])
    code = main(["run", "verilog", "--tasks", str(tmp_path / "tasks.jsonl"), "--run-dir", str(tmp_path / "run"),
                 "--stages", "tasks", "--no-cache"])
    assert code == 0 and re.search(r"tasks: [1-3] of \d+ evaluation prompts are also training prompts",
                                   capsys.readouterr().err)


def test_run_says_it_copied_the_shipped_warm_up(tmp_path, capsys):
    code = main(["run", "verilog", "--run-dir", str(tmp_path / "run"), "--stages", "tasks,sft", "--no-cache"])
    assert code == 0 and "sft: copied the ready-made warm-up" in capsys.readouterr().err
