"""Runs ``codealign run <domain>`` on its embedded defaults for every domain and prints the durations and the
before/after pass@1 each run reports (offline, CPU, tiny model, bundled tasks).

    .venv/bin/python benchmarks/run_all_domains.py --out runs/all-domains
    .venv/bin/python benchmarks/run_all_domains.py --domains verilog --fresh   # the README's main job alone

Each run gets its own run directory under ``--out`` and a fresh verdict cache (``--fresh`` deletes earlier
runs first, so nothing is resumed and the durations are those of a first run).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

DOMAINS = ("verilog", "python", "solidity", "ladder")


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="runs/all-domains")
    parser.add_argument("--domains", default=",".join(DOMAINS))
    parser.add_argument("--fresh", action="store_true", help="delete earlier runs first")
    parser.add_argument("overrides", nargs="*", help="key=value overrides passed to every run")
    args = parser.parse_args()
    out = Path(args.out)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    rows = []
    print(f"{os.cpu_count()} cores, load average {load_average()}", flush=True)
    for domain in args.domains.split(","):
        run_dir = out / domain
        if args.fresh:
            shutil.rmtree(run_dir, ignore_errors=True)
        cmd = [sys.executable, "-m", "codealign.cli", "run", domain, "--run-dir", str(run_dir), "--cache",
               str(run_dir / "verdicts.sqlite"), "--json", *args.overrides]
        t0 = time.monotonic()
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
        seconds = time.monotonic() - t0
        if proc.returncode != 0:
            print(f"{domain}: FAILED after {seconds:.0f} s\n{proc.stderr[-1500:]}", flush=True)
            rows.append({"domain": domain, "seconds": seconds, "ok": False})
            continue
        report = json.loads(proc.stdout)
        row = {"domain": domain, "seconds": round(seconds, 1), "ok": True,
               "before": round(report["before"]["pass@1"], 3), "before_se": round(report["before"]["se"], 3),
               "after": round(report["after"]["pass@1"], 3), "after_se": round(report["after"]["se"], 3),
               "diff": round(report["diff"], 3), "diff_se": round(report["diff_se"], 3),
               "pairs": (report["stages"].get("pairs") or {}).get("pairs"),
               "stage_seconds": {k: (v or {}).get("seconds") for k, v in report["stages"].items()},
               "report": report["report_md"]}
        rows.append(row)
        print(f"{domain:<9} {seconds:7.1f} s   pass@1 before {row['before']:.3f} ± {row['before_se']:.3f}   "
              f"after {row['after']:.3f} ± {row['after_se']:.3f}   diff {row['diff']:+.3f} ± {row['diff_se']:.3f}"
              f"   pairs {row['pairs']}   {row['report']}", flush=True)
        if report.get("control"):
            c, vs = report["control"], report["method_vs_control"]
            row.update(control=c["kind"], control_pass=round(c["pass@1"], 3), vs_control=round(vs["diff"], 3),
                       vs_control_se=round(vs["diff_se"], 3), steps=report["optimizer_steps"])
            print(f"{'':<9} {'':>9}   {c['kind']} control {c['pass@1']:.3f} ± {c['se']:.3f}   method - control "
                  f"{vs['diff']:+.3f} ± {vs['diff_se']:.3f}   optimizer steps {report['optimizer_steps']}", flush=True)
    (out / "summary.json").parent.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(json.dumps(rows, indent=2))
    print(f"load average after: {load_average()}")
    print(f"reproduce: {' '.join(sys.argv)}")
    return 0 if all(r["ok"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
