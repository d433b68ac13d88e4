"""Ladder tasks imported from PLC tools' files (PLCopen TC6 XML, ASCII drawings): ``codealign tasks import``."""

import json
import random

import pytest

from codealign.cli import main
from codealign.domains.ladder import LadderDomain
from codealign.domains.ladder.parser import parse_program
from codealign.domains.ladder.plcopen import export_ld
from codealign.jsonl import read_jsonl
from codealign.types import Candidate, Task, Verdict

BOX = "vdorr_test08"


@pytest.fixture(scope="module")
def fixtures(shared_data):
    return [json.loads(line) for line in (shared_data / "ladder" / "ladder_fixtures.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def fast():
    return LadderDomain(in_process=True)


def _plcopen(row) -> str:
    return export_ld(parse_program("\n".join(row["ldt"])))


def _passes(domain, task: Task, text: str) -> bool:
    return domain.evaluate(task, Candidate(task.task_id, text), None).verdict is Verdict.PASS


def test_every_fixtures_plcopen_export_imports_to_a_task_its_program_passes(fixtures, fast):
    for row in fixtures:
        task = fast.import_task(row["id"], _plcopen(row), "Do what the fixture does.")
        assert task.assets["reference"] == "\n".join(row["ldt"]), row["id"]
        assert _passes(fast, task, "\n".join(row["ldt"])), row["id"]


def test_every_fixtures_ascii_drawing_without_a_box_imports_to_a_task_its_program_passes(fixtures, fast):
    drawn = [r for r in fixtures if r["id"] != BOX]
    for row in drawn:
        task = fast.import_task(row["id"], row["ascii"], "Do what the fixture does.")
        assert _passes(fast, task, "\n".join(row["ldt"])), row["id"]
    assert len(drawn) == 16


def test_an_edit_that_changes_an_imported_programs_behaviour_fails_its_task(fixtures, fast):
    for row in fixtures:
        task = fast.import_task(row["id"], _plcopen(row), "Do what the fixture does.")
        edits = fast.mutate(task.assets["reference"], random.Random(0))
        assert edits, row["id"]
        assert not _passes(fast, task, edits[0][0]), (row["id"], edits[0][1])


def test_imported_task_prompt_shows_spec_and_interface_never_the_program(fixtures, fast):
    row = next(r for r in fixtures if r["id"] == "vdorr_test15")
    task = fast.import_task("thermostat", _plcopen(row), "Keep temp between 51 and 59.")
    assert task.prompt.startswith("Keep temp between 51 and 59.")
    assert "Inputs: temp (INT)" in task.prompt and "Outputs: cool (BOOL), heat (BOOL)" in task.prompt
    assert not any(rung in task.prompt or "59)" in task.prompt for rung in row["ldt"])


@pytest.fixture
def files(tmp_path, fixtures):
    rows = {r["id"]: r for r in fixtures}
    (tmp_path / "seal.xml").write_text(_plcopen(rows["vdorr_test09"]))
    (tmp_path / "seal.md").write_text("Run latches on Start until Stop.")
    (tmp_path / "pair.txt").write_text(rows["vdorr_test11"]["ascii"])
    (tmp_path / "pair.md").write_text("Two rungs.")
    (tmp_path / "box.txt").write_text(rows[BOX]["ascii"])
    (tmp_path / "box.md").write_text("A timer box.")
    (tmp_path / "broken.xml").write_text("<LD><contact")
    (tmp_path / "broken.md").write_text("Unreadable.")
    (tmp_path / "nospec.txt").write_text(rows["vdorr_test01"]["ascii"])
    return tmp_path


def test_tasks_import_writes_one_task_per_file_named_by_its_stem(files, fixtures):
    assert main(["tasks", "import", "--domain", "ladder", str(files / "seal.xml"), str(files / "pair.txt"),
                 "--out", str(files / "tasks.jsonl"), "--quiet"]) == 0
    tasks = read_jsonl(files / "tasks.jsonl", Task.from_dict)
    assert [(t.task_id, t.metadata["format"]) for t in tasks] == [("seal", "plcopen"), ("pair", "ascii")]
    pair = next(r for r in fixtures if r["id"] == "vdorr_test11")
    assert tasks[1].assets["reference"] == "\n".join(pair["ldt"])


@pytest.mark.parametrize("bad, message", [
    ("missing.xml", "missing.xml: no such file (program file)"),
    ("broken.xml", "broken.xml: PLCopen: malformed XML"),
    ("box.txt", "box.txt: ASCII ladder: function-block boxes are not supported"),
    ("nospec.txt", "nospec.md: no such file (spec of "),
])
def test_tasks_import_refuses_a_bad_file_in_one_line_and_writes_nothing(files, capsys, bad, message):
    (files / "tasks.jsonl").write_text("kept\n")
    code = main(["tasks", "import", "--domain", "ladder", str(files / "seal.xml"), str(files / bad),
                 "--out", str(files / "tasks.jsonl")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and message in err[0], err
    assert (files / "tasks.jsonl").read_text() == "kept\n"


def test_tasks_import_refuses_a_domain_that_reads_no_program_files(files, capsys):
    code = main(["tasks", "import", "--domain", "python", str(files / "seal.xml"), "--out", str(files / "t.jsonl")])
    assert code == 2 and "domain 'python' imports no program files" in capsys.readouterr().err
    assert not (files / "t.jsonl").exists()


def test_tasks_export_writes_each_programs_plcopen_xml_that_imports_back_to_its_text(tmp_path):
    from codealign.domains.ladder.plcopen import import_ld
    from codealign.jsonl import write_jsonl

    programs = ["[NO(Start) | NO(Run)] NC(Stop) OUT(Run)", "GT(temp, 59) SET(cool)\nLT(temp, 57) RST(cool)"]
    cands = [Candidate("t1", programs[0]), Candidate("t2", programs[1])]
    write_jsonl(tmp_path / "cands.jsonl", cands)
    assert main(["tasks", "export", "--domain", "ladder", "--candidates", str(tmp_path / "cands.jsonl"),
                 "--out-dir", str(tmp_path / "ide"), "--quiet"]) == 0
    for cand, text in zip(cands, programs):
        assert import_ld((tmp_path / "ide" / f"{cand.task_id}.{cand.candidate_id}.xml").read_text()).text() == text


def test_tasks_export_skips_and_counts_a_program_that_does_not_parse(tmp_path):
    from codealign.jsonl import write_jsonl

    write_jsonl(tmp_path / "cands.jsonl", [Candidate("t1", "NO(a) OUT(b"), Candidate("t1", "NO(a) OUT(b)")])
    code = main(["tasks", "export", "--domain", "ladder", "--candidates", str(tmp_path / "cands.jsonl"),
                 "--out-dir", str(tmp_path / "ide"), "--quiet"])
    assert code == 0 and len(list((tmp_path / "ide").iterdir())) == 1


def test_tasks_export_refuses_an_out_dir_that_exists(tmp_path, capsys):
    from codealign.jsonl import write_jsonl

    write_jsonl(tmp_path / "cands.jsonl", [Candidate("t1", "NO(a) OUT(b)")])
    (tmp_path / "ide").mkdir()
    (tmp_path / "ide" / "mine.xml").write_text("kept")
    code = main(["tasks", "export", "--domain", "ladder", "--candidates", str(tmp_path / "cands.jsonl"),
                 "--out-dir", str(tmp_path / "ide")])
    assert code == 2 and "exists; give a folder to create" in capsys.readouterr().err
    assert [p.name for p in (tmp_path / "ide").iterdir()] == ["mine.xml"]
