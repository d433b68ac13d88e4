"""``codealign doctor``: each toolchain with its version, a live known-good / known-bad check per domain, and
the isolation backend in effect with the reason it was chosen."""

from __future__ import annotations

import shutil
import sys
import time
from typing import Any, Sequence

from codealign.domains import domain_names, get_domain
from codealign.domains.base import Domain, command_version
from codealign.errors import UserError

SANDBOX_TOOLS = {"bwrap": ("bwrap", "--version"), "docker": ("docker", "--version")}
"""The isolation backends' tools; each domain names its own (:attr:`Domain.tools`)."""

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


def install(requests: Sequence[str] = (), defaults: bool = False) -> dict[str, dict[str, str]]:
    """Install optional toolchain parts: each request is ``DOMAIN:ITEM`` (e.g. ``solidity:0.4.24``); with
    ``defaults``, every domain's parts the tests and benchmarks need. Returns domain → item → where."""
    wanted: dict[str, list[str]] = {}
    for request in requests:
        name, sep, item = request.partition(":")
        if not sep or not item:
            raise UserError(f"--install {request!r}: expected DOMAIN:ITEM (e.g. solidity:0.8.37)")
        get_domain(name)  # unknown domain: a UserError naming the closest
        wanted.setdefault(name, []).append(item)
    installed: dict[str, dict[str, str]] = {}
    for name, items in wanted.items():
        installed[name] = get_domain(name).install(items)
    if defaults:
        for name in domain_names():
            domain = get_domain(name)
            if type(domain).install is not Domain.install:
                installed.setdefault(name, {}).update(domain.install())
    return installed


def diagnose(backend: str = "auto") -> dict[str, Any]:
    """Toolchain and package versions, the isolation backend in effect and why, and every domain's live
    check; ``ok`` when every live check passed."""
    from codealign.sandbox.backends import choose_backend

    choice = choose_backend(backend)
    domains = {name: get_domain(name) for name in domain_names()}
    tools = {**{tool: argv for d in domains.values() for tool, argv in d.tools.items()}, **SANDBOX_TOOLS}
    report: dict[str, Any] = {
        "python": sys.version.split()[0],
        "tools": {name: command_version(_which(argv[0]), *argv[1:]) if _which(argv[0]) else ""
                  for name, argv in tools.items()},
        "packages": {name: _package_version(name) for name in PY_PACKAGES},
        "isolation": {"backend": choice.backend.name, "reason": choice.reason, "guarantees": choice.backend.describe()},
        "domains": {name: _live_check(name, choice.backend) for name in domains},
        "installed": {name: d.installed() for name, d in domains.items() if d.installed()},
    }
    report["ok"] = all(d["ok"] for d in report["domains"].values())
    return report


def format_report(report: dict[str, Any]) -> str:
    lines = ["toolchains:"]
    lines += [f"  {name:<10} {version or 'MISSING'}" for name, version in report["tools"].items()]
    lines.append("python packages:")
    lines += [f"  {name:<12} {version or 'not installed'}" for name, version in report["packages"].items()]
    for name, items in report["installed"].items():
        lines.append(f"{name} installed: {', '.join(items)}")
    iso = report["isolation"]
    lines.append(f"isolation: {iso['backend']} — {iso['reason']}\n  {iso['guarantees']}")
    lines.append("live checks:")
    for name, check in report["domains"].items():
        mark = "ok  " if check["ok"] else "FAIL"
        lines.append(f"  [{mark}] {name:<9} {check['detail']}")
    return "\n".join(lines)
