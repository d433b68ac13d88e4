"""``codealign doctor``: each toolchain with its version, a live known-good / known-bad check per domain, and
the isolation backend in effect with the reason it was chosen."""

from __future__ import annotations

import argparse
import importlib
import shutil
import sys
import time
from typing import Any

from codealign.domains import DOMAINS, get_domain
from codealign.domains.base import command_version
from codealign.errors import UserError

TOOLS = {
    "iverilog": ("iverilog", "-V"),
    "vvp": ("vvp", "-V"),
    "verilator": ("verilator", "--version"),
    "ccache": ("ccache", "--version"),
    "bwrap": ("bwrap", "--version"),
    "node": ("node", "--version"),
    "solcjs": ("solcjs", "--version"),
    "slither": ("slither", "--version"),
}

PY_PACKAGES = ("torch", "transformers", "trl", "peft", "accelerate", "datasets", "ray", "tree_sitter", "bm25s")


def _which(tool: str) -> str | None:
    """Find a tool on PATH or beside this interpreter (a venv's console scripts)."""
    import os

    return shutil.which(tool) or shutil.which(tool, path=os.path.dirname(sys.executable))


def _package_version(name: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(name.replace("_", "-"))
    except metadata.PackageNotFoundError:
        return ""


def _live_check(domain_name: str, backend) -> dict[str, Any]:
    try:
        domain = get_domain(domain_name)
    except (ImportError, UserError) as exc:
        return {"ok": False, "detail": f"domain not available: {exc}"}
    problem = domain.check_toolchain()
    if problem:
        return {"ok": False, "detail": problem}
    cases = domain.selftest_cases()
    if not cases:
        return {"ok": True, "detail": "no live check defined", "toolchain": domain.toolchain_version()}
    outcomes = []
    t0 = time.monotonic()
    for task, cand, expected in cases:
        got = domain.evaluate(task, cand, backend)
        outcomes.append((expected.value, got.verdict.value, got.details.get("error", "")))
    ok = all(exp == got for exp, got, _ in outcomes)
    detail = "; ".join(f"expected {e}, got {g}" + (f" ({err})" if err and e != g else "") for e, g, err in outcomes)
    return {"ok": ok, "detail": detail, "seconds": round(time.monotonic() - t0, 2),
            "toolchain": domain.toolchain_version()}


def run(args: argparse.Namespace) -> dict[str, Any]:
    from codealign.sandbox.backends import choose_backend

    installs = list(args.install_solc)
    if args.install_solc_defaults or installs:
        from codealign.domains.solidity import solc

        versions = installs or list(solc.DEFAULT_VERSIONS)
        for version in versions:
            path = solc.install_solc(version)
            if not args.quiet:
                print(f"solc {version}: installed at {path}", file=sys.stderr)
        if args.install_solc_defaults and not installs and args.quiet:
            return {"installed_solc": versions}

    choice = choose_backend(args.backend)
    report: dict[str, Any] = {
        "python": sys.version.split()[0],
        "tools": {name: command_version(_which(argv[0]), *argv[1:]) if _which(argv[0]) else ""
                  for name, argv in TOOLS.items()},
        "packages": {name: _package_version(name) for name in PY_PACKAGES},
        "isolation": {"backend": choice.backend.name, "reason": choice.reason, "guarantees": choice.backend.describe()},
        "domains": {name: _live_check(name, choice.backend) for name in DOMAINS},
    }
    try:
        solc = importlib.import_module("codealign.domains.solidity.solc")
        report["solc_installed"] = sorted(solc.installed_versions())
    except (ImportError, AttributeError):
        report["solc_installed"] = []
    report["ok"] = all(d["ok"] for d in report["domains"].values())
    if not (args.json or args.quiet):
        _print(report)
    report["exit_code"] = 0 if report["ok"] else 1
    return report


def _print(report: dict[str, Any]) -> None:
    print("toolchains:")
    for name, version in report["tools"].items():
        print(f"  {name:<10} {version or 'MISSING'}")
    print("python packages:")
    for name, version in report["packages"].items():
        print(f"  {name:<12} {version or 'not installed'}")
    print(f"solc-js versions: {', '.join(report['solc_installed']) or 'none'}")
    iso = report["isolation"]
    print(f"isolation: {iso['backend']} — {iso['reason']}\n  {iso['guarantees']}")
    print("live checks:")
    for name, check in report["domains"].items():
        mark = "ok  " if check["ok"] else "FAIL"
        print(f"  [{mark}] {name:<9} {check['detail']}")
