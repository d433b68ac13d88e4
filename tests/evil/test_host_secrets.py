"""A secret planted on the host — world-readable, in the harness's home folder and in the checkout — that no
candidate of any domain can read under bwrap or docker: not through a Verilog `` `include ``, ``$fopen`` or
``$readmemh``, a Python ``open()``, a Solidity import of an absolute path, a ladder program or a shell ``cat``.
The secret appears nowhere in the verdict (stdout, stderr, details), the verdicts JSONL or the verdict cache.
Under ``process`` the checkout's copy is readable, as ``doctor`` and the README's isolation table say: that
case is the control that shows these tests can see a leak.
"""

import os
import random
import uuid
from pathlib import Path

import pytest
from shell_domain import ShellDomain

import codealign
from codealign.domains.ladder import LadderDomain
from codealign.domains.verilog import reference_solution
from codealign.domains.verilog.verilogeval import load_verilogeval
from codealign.sandbox.job import Job, JobStatus
from codealign.sandbox.limits import Limits
from codealign.types import Candidate, ExecResult, Task, Verdict

REPO = Path(__file__).resolve().parents[2]


class Planted:
    """World-readable files holding ``secret`` (32 hex digits): ``home`` (a Verilog macro, so that an
    included copy compiles and prints it) and ``home_hex`` (a ``$readmemh`` word) in the home folder,
    ``checkout`` (the macro) at the checkout's root."""

    def __init__(self) -> None:
        self.secret = uuid.uuid4().hex
        name = f".codealign-planted-{uuid.uuid4().hex[:8]}"
        self.home = Path.home() / f"{name}.txt"
        self.home_hex = Path.home() / f"{name}.hex"
        self.checkout = REPO / f"{name}.txt"
        self.name = name

    def plant(self) -> None:
        macro = f'`define CODEALIGN_SECRET "{self.secret}"\n'
        for path, text in ((self.home, macro), (self.home_hex, f"{self.secret}\n"), (self.checkout, macro)):
            path.write_text(text)
            os.chmod(path, 0o644)

    def remove(self) -> None:
        for path in (self.home, self.home_hex, self.checkout):
            path.unlink(missing_ok=True)


@pytest.fixture
def planted():
    secret = Planted()
    secret.plant()
    yield secret
    secret.remove()


def judge(domain, task: Task, completions: list[str], backend, tmp_path: Path) -> list[ExecResult]:
    """Judge through the executor with a verdict cache and a verdicts JSONL, as the CLI does."""
    candidates = [Candidate(task.task_id, text, candidate_id=f"c{i}") for i, text in enumerate(completions)]
    return codealign.execute([task], candidates, domain=domain, backend=backend, progress=False,
                             cache=tmp_path / "verdicts.sqlite", out=tmp_path / "verdicts.jsonl")


def leaks(planted: Planted, results: list[ExecResult], tmp_path: Path) -> list[str]:
    """Where the secret shows up: each verdict (all of its fields), the verdicts JSONL, the cache's files."""
    found = [f"verdict {r.candidate_id}" for r in results if planted.secret in repr(r.to_dict())]
    for path in sorted(tmp_path.iterdir()):
        if path.name.startswith("verdicts.") and planted.secret.encode() in path.read_bytes():
            found.append(path.name)
    return found


def verilog_task() -> Task:
    return {t.task_id: t for t in load_verilogeval(None)}["Demo03_count_en"]


def verilog_probes(planted: Planted, golden: str) -> list[str]:
    head, _, tail = golden.rpartition("endmodule")

    def inside(body: str) -> str:
        return f"{head}{body}\nendmodule{tail}"

    def fopen(path: Path) -> str:
        return inside(f'integer fd; reg [8*64-1:0] line;\ninitial begin fd = $fopen("{path}", "r"); '
                      f'if ($fgets(line, fd)) $display("%s", line); end')

    def include(path: Path) -> str:
        return f'`include "{path}"\n' + inside("initial $display(`CODEALIGN_SECRET);")

    return [
        include(planted.home),
        include(planted.checkout),
        fopen(planted.home),
        fopen(planted.checkout),
        inside(f'reg [127:0] mem [0:0];\ninitial begin $readmemh("{planted.home_hex}", mem); '
               f'$display("%h", mem[0]); end'),
    ]


@pytest.mark.slow
def test_verilog_candidates_cannot_read_host_files(planted, hiding_backend, tmp_path):
    task = verilog_task()
    results = judge("verilog", task, verilog_probes(planted, reference_solution(task)), hiding_backend, tmp_path)
    assert len(results) == 5
    assert leaks(planted, results, tmp_path) == []


@pytest.mark.parametrize("probe", range(5), ids=["include-home", "include-checkout", "fopen-home", "fopen-checkout",
                                                   "readmemh-home"])
def test_icarus_run_in_the_sandbox_reads_no_host_file(planted, hiding_backend, probe):
    """The same designs compiled and simulated by Icarus directly in a job, past the domain's allowlist (which
    rejects them first): the sandbox alone keeps the files out of reach."""
    task = verilog_task()
    design = verilog_probes(planted, reference_solution(task))[probe]
    result = hiding_backend.run(Job(script="iverilog -o sim design.v && vvp -n sim", files={"design.v": design},
                                    limits=Limits(wall_s=20)))
    assert planted.secret not in result.text() + result.text("stderr")
    assert result.status is JobStatus.EXITED


@pytest.mark.parametrize("probe", [1, 3], ids=["include-checkout", "fopen-checkout"])
def test_icarus_run_under_process_reads_the_checkout(planted, probe):
    """The control for the test above: without a filesystem boundary the same designs print the secret."""
    from codealign.sandbox.process import ProcessBackend

    design = verilog_probes(planted, reference_solution(verilog_task()))[probe]
    result = ProcessBackend().run(Job(script="iverilog -o sim design.v && vvp -n sim", files={"design.v": design},
                                      limits=Limits(wall_s=20)))
    assert planted.secret in result.text() + result.text("stderr")


def python_probe(planted: Planted) -> str:
    paths = [str(planted.home), str(planted.checkout)]
    return ("import os, sys\n"
            f"found = [open(p).read() for p in {paths!r} if os.path.exists(p)]\n"
            "print(found); print(found, file=sys.stderr)\n"
            "if found:\n    raise RuntimeError(repr(found))\n"
            "def add(a, b):\n    return a + b\n")


PY_TASK = Task("add", "python", "write add", assets={"tests": ["assert add(1, 2) == 3"]}, limits={"wall_s": 20.0})


def test_python_candidates_cannot_read_host_files(planted, hiding_backend, tmp_path):
    [result] = judge("python", PY_TASK, [python_probe(planted)], hiding_backend, tmp_path)
    assert result.verdict is Verdict.PASS, "the files must not exist for the candidate"
    assert leaks(planted, [result], tmp_path) == []


@pytest.mark.slow
def test_solidity_imports_of_absolute_host_paths_read_nothing(planted, hiding_backend, tmp_path):
    from codealign.domains.solidity import SolidityDomain

    domain = SolidityDomain()
    task = domain.selftest_cases()[0][0]
    contract = "pragma solidity ^0.8.0;\ncontract Fine {\n    uint x;\n    function set(uint v) public { x = v; }\n}\n"
    probes = [f'import "{path}";\n{contract}' for path in (planted.home, planted.checkout)]
    try:
        results = judge(domain, task, probes, hiding_backend, tmp_path)
    finally:
        domain.close()
    assert [r.verdict for r in results] != [Verdict.SANDBOX_ERROR] * 2
    assert leaks(planted, results, tmp_path) == []


@pytest.mark.slow
def test_ladder_candidates_naming_host_files_learn_nothing(planted, hiding_backend, tmp_path):
    """The ladder checker reads only the candidate's text; a program naming the files still learns nothing."""
    domain = LadderDomain()
    task = domain.demo_tasks()[0]
    golden = domain.reference_solution(task)
    probes = [golden, f"{golden}\n{planted.home}\n", domain.mutate(golden, random.Random(0))[0][0]]
    results = judge(domain, task, probes, hiding_backend, tmp_path)
    assert results[0].verdict is Verdict.PASS
    assert leaks(planted, results, tmp_path) == []


def shell_probe(planted: Planted) -> str:
    return (f"cat {planted.home} {planted.home_hex} {planted.checkout} ~root/{planted.name}.txt\n"
            f"ls -a {planted.home.parent} {REPO}\n"
            f"find / -xdev -name '{planted.name}*' 2>/dev/null\n"
            "exit 0\n")


def test_shell_candidates_cannot_read_or_list_host_files(planted, hiding_backend, tmp_path):
    [result] = judge(ShellDomain(), Task("cat", "shell", ""), [shell_probe(planted)], hiding_backend, tmp_path)
    assert result.verdict is Verdict.PASS
    assert planted.name not in result.stdout, "the planted files must not even be listed"
    assert leaks(planted, [result], tmp_path) == []


@pytest.mark.slow
def test_process_backend_shows_the_checkout_as_doctor_says(planted, tmp_path):
    """The control: under ``process`` (which hides nothing of the filesystem) the same shell probe reads the
    checkout's copy, and the leak is seen in the verdict, the JSONL and the cache."""
    from codealign.doctor import isolation_warnings
    from codealign.sandbox.process import ProcessBackend

    [result] = judge(ShellDomain(), Task("cat", "shell", ""), [shell_probe(planted)], ProcessBackend(), tmp_path)
    assert set(leaks(planted, [result], tmp_path)) >= {"verdict c0", "verdicts.jsonl"}
    assert any("hides nothing of the host filesystem" in w for w in isolation_warnings("process"))
    assert "process" in ProcessBackend().describe() and "hides nothing" in ProcessBackend().describe()


def test_readme_isolation_table_says_what_each_backend_hides():
    readme = (REPO / "README.md").read_text()
    table = readme[readme.index("## Isolation"):]
    table = table[:table.index("\n## ", 1)]
    rows = {line.split("|")[1].strip(" `"): line for line in table.splitlines() if line.startswith("| `")}
    assert {"process", "bwrap", "docker"} <= set(rows)
    assert "nothing of the filesystem" in rows["process"]
    assert "home folders" in rows["bwrap"] and "home folders" in rows["docker"]
