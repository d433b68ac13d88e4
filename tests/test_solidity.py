"""Solidity toolchain: the solc-js adapter, compiler choice, and Slither through warm sandboxed workers."""

import json
import subprocess
from concurrent.futures import ThreadPoolExecutor
import time

import pytest

from codealign.domains.solidity import solc
from codealign.domains.solidity import SolidityDomain, finding_key
from codealign.types import Candidate, Task, Verdict

TINY = """pragma solidity ^0.4.24;
contract Tiny {
    uint public total;
    event Added(uint amount);
    function add(uint amount) public { total += amount; emit Added(amount); }
}
"""


@pytest.fixture(scope="module")
def domain():
    d = SolidityDomain(workers=2)
    yield d
    d.close()


@pytest.fixture(scope="module")
def smartbugs(shared_data):
    rows = [json.loads(line) for line in (shared_data / "smartbugs" / "smartbugs_curated.jsonl").open()]
    return [r for r in rows if r["source_available"]]


def exact(row) -> str:
    """The version SmartBugs compiled the row with (npm's broken 0.4.0 replaced by 0.4.1)."""
    return solc.BROKEN_ON_NPM.get(row["pragma"], row["pragma"])


def test_installed_compilers_include_the_global_solcjs_and_home_installs():
    installs = solc.installed_solcs()
    assert "0.8.37" in installs
    assert "0.4.24" in installs
    assert installs["0.4.9"].wrapper_dir is not None and installs["0.4.24"].wrapper_dir is None


@pytest.mark.parametrize("version, expression, ok", [
    ("0.4.24", "^0.4.24", True), ("0.4.26", "^0.4.24", True), ("0.5.0", "^0.4.24", False),
    ("0.4.23", "^0.4.24", False), ("0.4.25", "0.4.25", True), ("0.4.24", "0.4.25", False),
    ("0.5.3", ">=0.4.22 <0.6.0", True), ("0.6.0", ">=0.4.22 <0.6.0", False),
    ("0.4.26", "~0.4.20", True), ("0.8.37", "^0.4.0 || ^0.8.0", True), ("0.7.6", "^0.4.0 || ^0.8.0", False),
])
def test_pragma_satisfaction_follows_npm_semver(version, expression, ok):
    assert solc.satisfies(version, expression) is ok


def test_pragma_picks_highest_installed_satisfying_version():
    installs = solc.installed_solcs()
    assert solc.choose_solc("pragma solidity ^0.4.16;\ncontract A {}", installs).version == "0.4.26"
    assert solc.choose_solc("pragma solidity 0.4.25;\ncontract A {}", installs).version == "0.4.25"
    assert solc.choose_solc("// pragma solidity 0.4.9;\npragma solidity ^0.8.0;", installs).version == "0.8.37"
    assert solc.choose_solc("contract A {}", installs, exact="0.4.24").version == "0.4.24"


def test_missing_compiler_names_the_install_command():
    with pytest.raises(solc.MissingCompiler, match="codealign doctor --install solidity:0.5.3"):
        solc.choose_solc("pragma solidity 0.5.3;", solc.installed_solcs())


def test_install_rejects_malformed_and_known_broken_versions(tmp_path):
    from codealign.errors import UserError

    with pytest.raises(UserError, match="must look like"):
        solc.install_solc("latest", root=tmp_path)
    with pytest.raises(UserError, match="install 0.4.1 instead"):
        solc.install_solc("0.4.0", root=tmp_path)
    assert not any(tmp_path.iterdir())


def test_adapter_answers_version_like_native_solc(tmp_path):
    adapter = solc.write_adapter(tmp_path / "solc", solc.installed_solcs()["0.4.24"])
    out = subprocess.run([str(adapter), "--version"], capture_output=True, text=True, check=True).stdout
    assert out.splitlines()[1] == "Version: 0.4.24"


@pytest.mark.slow
def test_adapter_combined_json_has_crytic_compile_shapes(tmp_path):
    adapter = solc.write_adapter(tmp_path / "solc", solc.installed_solcs()["0.4.24"])
    (tmp_path / "tiny.sol").write_text(TINY)
    proc = subprocess.run([str(adapter), "tiny.sol", "--combined-json", "abi,ast,bin,srcmap,userdoc,devdoc,compact-format"],
                          capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    contract = out["contracts"]["tiny.sol:Tiny"]
    assert isinstance(contract["abi"], str) and {e.get("name") for e in json.loads(contract["abi"])} >= {"add", "total"}
    assert isinstance(contract["userdoc"], str) and contract["bin"]
    assert out["sources"]["tiny.sol"]["AST"]["nodeType"] == "SourceUnit"


def test_adapter_reports_compile_errors_like_solc(tmp_path):
    adapter = solc.write_adapter(tmp_path / "solc", solc.installed_solcs()["0.4.24"])
    (tmp_path / "bad.sol").write_text("pragma solidity ^0.4.24;\ncontract B { function f() { x = ; } }\n")
    proc = subprocess.run([str(adapter), "bad.sol", "--combined-json", "abi"], capture_output=True, text=True,
                          cwd=tmp_path)
    assert proc.returncode == 1 and proc.stdout == "" and "Error" in proc.stderr


@pytest.mark.slow
def test_adapter_standard_json_on_new_compiler(tmp_path):
    adapter = solc.write_adapter(tmp_path / "solc", solc.installed_solcs()["0.8.37"])
    request = {"language": "Solidity", "sources": {"a.sol": {"content": "pragma solidity ^0.8.0; contract A { uint x; }"}},
               "settings": {"outputSelection": {"*": {"*": ["abi"]}}}}
    proc = subprocess.run([str(adapter), "--standard-json"], input=json.dumps(request), capture_output=True, text=True)
    assert json.loads(proc.stdout)["contracts"]["a.sol"]["A"]["abi"] == []


def test_uninstalled_pragma_is_sandbox_error_at_once(domain, backend):
    task = Task("t", "solidity", "", assets={"kind": "analyze"})
    cand = Candidate("t", "pragma solidity 0.5.3;\ncontract A {}\n")
    t0 = time.monotonic()
    result = domain.evaluate(task, cand, backend)
    assert result.verdict is Verdict.SANDBOX_ERROR
    assert "codealign doctor --install solidity:0.5.3" in result.details["error"]
    assert time.monotonic() - t0 < 2.0


@pytest.mark.slow
def test_every_source_available_smartbugs_contract_compiles(domain, backend, smartbugs):
    """Compiler picked from the pragma among the installed ones, as for any contract."""
    installs = solc.installed_solcs()
    rows = sorted(smartbugs, key=lambda r: solc.vtuple(solc.choose_solc(r["source"], installs).version))
    with ThreadPoolExecutor(max_workers=domain.workers) as pool:
        analyses = list(pool.map(lambda row: domain.analyse(row["source"], backend), rows))
    failures = [(row["id"], a.status, a.compile_error[:200] or a.error[:200])
                for row, a in zip(rows, analyses) if a.status != "ok"]
    assert not failures
    assert len(rows) == 41


@pytest.mark.slow
def test_oldest_compilers_work_through_the_legacy_wrapper(domain, backend, smartbugs):
    """The exact versions SmartBugs used for its oldest contracts: 0.4.1 and 0.4.10 go through the wrapper
    of 0.4.26, 0.4.11 through its own standard-JSON entry point (one small contract each)."""
    rows = [min((r for r in smartbugs if exact(r) == v), key=lambda r: len(r["source"]))
            for v in ("0.4.1", "0.4.10", "0.4.11")]
    for row in rows:
        analysis = domain.analyse(row["source"], backend, solc_version=exact(row))
        assert analysis.status == "ok" and analysis.solc_version == exact(row), (row["id"], analysis.error)
        assert analysis.findings


@pytest.mark.slow
def test_slither_finds_reentrancy_in_classic_reentrancy_contracts(domain, backend, smartbugs):
    rows = [r for r in smartbugs if r["category"] == "reentrancy"]
    assert len(rows) >= 4
    for row in rows:
        analysis = domain.analyse(row["source"], backend)
        checks = {f["check"] for f in analysis.findings}
        assert checks & {"reentrancy-eth", "reentrancy-no-eth"}, (row["id"], sorted(checks))


def test_reentrancy_finding_points_at_the_labelled_call(domain, backend, smartbugs):
    row = next(r for r in smartbugs if r["id"] == "reentrancy/reentrancy_simple")
    analysis = domain.analyse(row["source"], backend)
    finding = next(f for f in analysis.findings if f["check"] == "reentrancy-eth")
    assert set(row["vulnerable_lines"]) <= set(finding["lines"])
    assert finding["functions"] == ["withdrawBalance"] and finding["category"] == "reentrancy"


@pytest.mark.slow
def test_cold_job_path_gives_the_same_findings_as_warm_worker(domain, backend, smartbugs):
    row = next(r for r in smartbugs if r["id"] == "reentrancy/etherstore")
    warm = domain.analyse(row["source"], backend, solc_version=exact(row))
    cold_domain = SolidityDomain(persistent=False)
    cold = cold_domain.analyse(row["source"], backend, solc_version=exact(row))
    assert cold.status == warm.status == "ok"
    assert sorted(map(finding_key, cold.findings)) == sorted(map(finding_key, warm.findings))


@pytest.mark.slow
def test_analyze_task_verdicts(domain, backend):
    task = Task("a", "solidity", "", assets={"kind": "analyze"})
    ok = domain.evaluate(task, Candidate("a", f"```solidity\n{TINY}```"), backend)
    assert ok.verdict is Verdict.PASS and ok.score == 1.0 and ok.details["analysis"]["solc_version"] == "0.4.26"
    broken = domain.evaluate(task, Candidate("a", TINY.replace("total += amount;", "total += ;")), backend)
    assert broken.verdict is Verdict.COMPILE_ERROR and "Error" in broken.details["analysis"]["compile_error"]


def test_unknown_task_kind_is_rejected(domain, backend):
    task = Task("k", "solidity", "", assets={"kind": "audit"})
    with pytest.raises(ValueError, match="assets\\['kind'\\]"):
        domain.evaluate(task, Candidate("k", TINY), backend)
