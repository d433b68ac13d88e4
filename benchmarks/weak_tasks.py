"""How many outside Verilog tasks have weak tests (issue 27, item 6): the test-strength screen
(:mod:`codealign.bench.screen`) runs its five designs (constant-0, constant-1, all-X, all-Z, inverted
reference) through the real judge on every VerilogEval problem (spec-to-rtl: the code-complete variant
shares its testbenches), every RTLLM design and every CVDP example, and prints the counts and the weak task
ids with the designs that passed.

    python benchmarks/weak_tasks.py --data ../shared/data [--backend bwrap] [--cache /tmp/weak.sqlite]

Measured figures are quoted in the README (``Weak tests``), with this command.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from codealign.bench.screen import screen
from codealign.domains.verilog.cvdp import load_cvdp
from codealign.domains.verilog.rtllm import load_rtllm
from codealign.domains.verilog.verilogeval import load_verilogeval


def suites(data: Path) -> dict:
    cvdp = sorted((data / "cvdp").glob("*.jsonl"))
    return {"VerilogEval": lambda: load_verilogeval(data / "verilogeval" / "problems.jsonl", "spec-to-rtl"),
            "RTLLM": lambda: load_rtllm(data / "rtllm" / "problems.jsonl"),
            "CVDP examples": lambda: [t for f in cvdp for t in load_cvdp(f) if not t.assets.get("skip")]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--backend", default="auto")
    parser.add_argument("--cache", default=None, help="a verdict cache path (reruns reuse it)")
    parser.add_argument("--only", choices=("VerilogEval", "RTLLM", "CVDP examples"), default=None)
    args = parser.parse_args()
    for name, load in suites(args.data).items():
        if args.only and name != args.only:
            continue
        tasks = load()
        t0 = time.monotonic()
        found = screen("verilog", tasks, backend=args.backend, cache=args.cache)
        print(f"{name}: {len(found['weak'])} weak of {found['screened']} screened ({len(tasks)} tasks, "
              f"{len(found['unscreened'])} unscreened, {time.monotonic() - t0:.0f} s)")
        for tid, designs in found["weak"].items():
            print(f"  {tid}: {', '.join(designs)}")
        for design, ids in found["compile_errors"].items():
            print(f"  {design} did not compile for {len(ids)}: {', '.join(ids)}")
        for tid in found["unscreened"]:
            print(f"  unscreened {tid}")


if __name__ == "__main__":
    main()
