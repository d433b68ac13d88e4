"""Per-contract time of codealign's Solidity analysis (warm sandboxed Slither worker + warm solc-js) against
``slither FILE --solc <adapter>`` run once per file, over the same contracts, with a check that both report
identical findings.

    python benchmarks/solidity_throughput.py --data ../shared/data/smartbugs/smartbugs_curated.jsonl [--limit N] [--pinned]

The CLI baseline runs unsandboxed (as a user would run it) with a cold adapter: every file starts Python,
imports Slither and starts node with the compiler (there is no native solc to give it). codealign's side runs
sandboxed (bwrap where available) through one worker; its time includes starting the worker and every warm
compiler, spread over the corpus. Contracts are visited in compiler-version order on both sides, and both
name the file ``contract.sol`` so Slither's descriptions match. Each contract is compiled by the compiler its
pragma picks among the installed ones (what analysing a corpus does), or with ``--pinned`` by the exact
version SmartBugs used (13 versions: one warm compiler start per version). Prints a table and a JSON summary.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from codealign.domains.solidity import solc
from codealign.domains.solidity import SolidityDomain, finding_key, normalize_finding
from codealign.sandbox.backends import get_backend


def load_rows(path: Path, limit: int | None) -> list[dict]:
    rows = [json.loads(line) for line in path.open() if line.strip()]
    rows = [r for r in rows if r.get("source_available")]
    rows.sort(key=lambda r: (solc.vtuple(r["pragma"]), r["id"]))
    return rows[:limit] if limit else rows


def compiler_for(row: dict, pinned: bool) -> str:
    if pinned:
        return solc.BROKEN_ON_NPM.get(row["pragma"], row["pragma"])
    return solc.choose_solc(row["source"], solc.installed_solcs()).version


def cli_findings(row: dict, version: str, slither: str, workdir: Path) -> tuple[list[tuple], float]:
    install = solc.installed_solcs()[version]
    case = workdir / row["id"].replace("/", "__")
    case.mkdir()
    (case / "contract.sol").write_text(row["source"])
    adapter = solc.write_adapter(case / "solc-adapter", install)
    t0 = time.perf_counter()
    proc = subprocess.run([slither, "contract.sol", "--solc", str(adapter), "--json", "out.json"], cwd=case,
                          capture_output=True, text=True, timeout=600)
    elapsed = time.perf_counter() - t0
    out = json.loads((case / "out.json").read_text())
    if not out.get("success"):
        raise SystemExit(f"slither CLI failed on {row['id']} (exit {proc.returncode}): {out.get('error')}")
    detectors = out.get("results", {}).get("detectors", [])
    return sorted(finding_key(normalize_finding(d)) for d in detectors), elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, type=Path, help="smartbugs_curated.jsonl")
    parser.add_argument("--limit", type=int, default=None, help="first N source-available contracts")
    parser.add_argument("--backend", default="auto")
    parser.add_argument("--pinned", action="store_true", help="compile with the exact version SmartBugs used")
    args = parser.parse_args(argv)
    rows = load_rows(args.data, args.limit)
    versions = {row["id"]: compiler_for(row, args.pinned) for row in rows}
    rows.sort(key=lambda r: (solc.vtuple(versions[r["id"]]), r["id"]))
    slither = shutil.which("slither") or str(Path(sys.executable).parent / "slither")
    backend = get_backend(args.backend)

    domain = SolidityDomain(workers=1)
    ours: dict[str, list[tuple]] = {}
    per_ours: dict[str, float] = {}
    t0 = time.perf_counter()
    for row in rows:
        t1 = time.perf_counter()
        analysis = domain.analyse(row["source"], backend, solc_version=versions[row["id"]])
        per_ours[row["id"]] = time.perf_counter() - t1
        if analysis.status != "ok":
            raise SystemExit(f"codealign analysis failed on {row['id']}: {analysis.status} {analysis.error[:300]}")
        ours[row["id"]] = sorted(map(finding_key, analysis.findings))
    ours_total = time.perf_counter() - t0
    domain.close()

    theirs: dict[str, list[tuple]] = {}
    per_cli: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="slither-cli-") as tmp:
        t0 = time.perf_counter()
        for row in rows:
            theirs[row["id"]], per_cli[row["id"]] = cli_findings(row, versions[row["id"]], slither, Path(tmp))
        cli_total = time.perf_counter() - t0

    mismatched = [rid for rid in ours if ours[rid] != theirs[rid]]
    print(f"{'contract':55s} {'solc':>7s} {'cli s':>7s} {'ours s':>7s} {'findings':>8s} same")
    for row in rows:
        rid = row["id"]
        print(f"{rid:55s} {versions[rid]:>7s} {per_cli[rid]:7.2f} {per_ours[rid]:7.2f} {len(ours[rid]):8d} "
              f"{'yes' if rid not in mismatched else 'NO'}")
    n = len(rows)
    summary = {
        "contracts": n, "backend": backend.name, "compilers": sorted(set(versions.values()), key=solc.vtuple),
        "cli_s_per_contract": round(cli_total / n, 3), "codealign_s_per_contract": round(ours_total / n, 3),
        "speedup": round(cli_total / ours_total, 2), "findings_identical": not mismatched,
        "mismatched": mismatched, "total_findings": sum(len(v) for v in ours.values()),
        "command": "python benchmarks/solidity_throughput.py --data ../shared/data/smartbugs/smartbugs_curated.jsonl"
                   + (f" --limit {args.limit}" if args.limit else "") + (" --pinned" if args.pinned else ""),
    }
    print(f"\nslither CLI per file: {summary['cli_s_per_contract']} s/contract; codealign warm worker: "
          f"{summary['codealign_s_per_contract']} s/contract (start-up included); speedup {summary['speedup']}x; "
          f"findings identical on {n - len(mismatched)}/{n} contracts")
    print(json.dumps(summary))
    return 0 if not mismatched else 1


if __name__ == "__main__":
    sys.exit(main())
