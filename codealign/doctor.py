"""``codealign doctor``: each toolchain with its version, a live known-good / known-bad check per domain, and
the isolation backend in effect with the reason it was chosen."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from typing import Any, Sequence

from codealign.domains import domain_names, get_domain
from codealign.domains.base import Domain, command_version
from codealign.errors import UserError

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
        return {"ok": True, "checked": False, "detail": "not checked: the domain defines no selftest_cases()",
                "toolchain": domain.toolchain_version()}
    outcomes = []
    t0 = time.monotonic()
    for task, cand, expected in cases:
        got = domain.evaluate(task, cand, backend)
        outcomes.append((expected.value, got.verdict.value, got.details.get("error", "")))
    ok = all(exp == got for exp, got, _ in outcomes)
    detail = "; ".join(f"expected {e}, got {g}" + (f" ({err})" if err and e != g else "") for e, g, err in outcomes)
    return {"ok": ok, "checked": True, "detail": detail, "seconds": round(time.monotonic() - t0, 2),
            "toolchain": domain.toolchain_version()}


def docker_images() -> dict[str, Any] | None:
    """The engine's codealign images (name → size) and whether the sandbox's default image is among them;
    None when Docker is not installed."""
    from codealign.sandbox.docker import DEFAULT_IMAGE

    docker = _which("docker")
    if docker is None:
        return None
    try:
        proc = subprocess.run([docker, "images", "--format", "{{.Repository}}:{{.Tag}}\t{{.Size}}"],
                              capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return {"images": {}, "default": DEFAULT_IMAGE, "problem": f"docker images failed: {exc}"}
    if proc.returncode != 0:
        reason = " ".join(proc.stderr.split())[:200] or f"exit status {proc.returncode}"
        return {"images": {}, "default": DEFAULT_IMAGE,
                "problem": f"no Docker engine answers ({reason}); bash scripts/setup.sh starts one"}
    rows = (line.partition("\t") for line in proc.stdout.splitlines())
    images = {name: size for name, _, size in rows if name.startswith("codealign")}
    problem = "" if DEFAULT_IMAGE in images else \
        f"no image {DEFAULT_IMAGE} (build it: bash scripts/docker_images.sh)"
    return {"images": images, "default": DEFAULT_IMAGE, "problem": problem}


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


def isolation_warnings(backend_name: str) -> list[str]:
    """What the host shows sandboxed jobs that it should not: the process backend's exposure of the host
    filesystem, an interpreter the process backend's uids cannot reach, and home folders that an earlier
    ``scripts/setup.sh`` made traversable for them (with the command that undoes it)."""
    from codealign.sandbox.binds import interpreter_paths, traverse_only_dirs
    from codealign.sandbox.cache import default_cache_path
    from codealign.sandbox.process import process_problem

    warnings = []
    if backend_name == "process":
        warnings.append("the process backend hides nothing of the host filesystem: candidates can read every "
                        "world-readable file (use --backend bwrap or docker to judge untrusted code)")
    problem = process_problem()
    if problem:
        warnings.append(f"process backend unusable: {problem}")
    for folder in traverse_only_dirs([*interpreter_paths(), str(default_cache_path())]):
        warnings.append(f"{folder} is traversable by other users (o+x, left by an earlier setup): process-backend "
                        f"jobs can read every world-readable file below it; bwrap and docker do not need it: "
                        f"chmod o-x {folder}")
    return warnings


def diagnose(backend: str = "auto") -> dict[str, Any]:
    """Toolchain and package versions, the isolation backend in effect and why, and every domain's live
    check; ``ok`` when every live check passed."""
    from codealign.sandbox.backends import BACKENDS, choose_backend

    choice = choose_backend(backend)
    domains = {name: get_domain(name) for name in domain_names()}
    sandbox_tools = {argv[0]: argv for argv in (BACKENDS.get(name).tool for name in BACKENDS) if argv}
    tools = {**{tool: argv for d in domains.values() for tool, argv in d.tools.items()}, **sandbox_tools}
    report: dict[str, Any] = {
        "python": sys.version.split()[0],
        "tools": {name: command_version(_which(argv[0]), *argv[1:]) if _which(argv[0]) else ""
                  for name, argv in tools.items()},
        "packages": {name: _package_version(name) for name in PY_PACKAGES},
        "isolation": {"backend": choice.backend.name, "reason": choice.reason, "guarantees": choice.backend.describe(),
                      "warnings": isolation_warnings(choice.backend.name)},
        "docker": docker_images(),
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
    lines += [f"  WARNING: {warning}" for warning in iso["warnings"]]
    if report["docker"] is not None:
        images = ", ".join(f"{name} ({size})" for name, size in report["docker"]["images"].items())
        lines.append(f"docker images: {images or 'none'}"
                     + (f"\n  {report['docker']['problem']}" if report["docker"]["problem"] else ""))
    lines.append("live checks:")
    for name, check in report["domains"].items():
        mark = ("ok  " if check.get("checked", True) else "----") if check["ok"] else "FAIL"
        lines.append(f"  [{mark}] {name:<9} {check['detail']}")
    return "\n".join(lines)
