"""What of the host a sandboxed job may see: the interpreter the harness runs on and the job's own ``binds``.

The bwrap and docker backends show a job these folders (read-only, at their own paths) and nothing else of
the host's home folders, checkout or harness state. The system's toolchains (``/usr`` and the parts of
``/etc`` they read) come from the host under bwrap and from the image under docker.
"""

from __future__ import annotations

import os
import stat
import sys

SYSTEM_DIRS = ("/usr",)
"""Host folders bwrap shows whole: the toolchains (compilers, simulators, node and the global npm packages)."""

SYSTEM_LINKS = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
"""Top-level names that merged-/usr systems make symlinks into ``/usr`` (recreated as links, else bound)."""

SYSTEM_ETC = ("/etc/alternatives", "/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/passwd",
              "/etc/group", "/etc/nsswitch.conf", "/etc/localtime", "/etc/ssl/openssl.cnf")
"""The parts of ``/etc`` the toolchains read: the dynamic loader's cache, Debian's alternatives (``c++``,
``awk``), user and group names (no passwords: those are in ``/etc/shadow``), the time zone, OpenSSL's config
(node reads it at start-up)."""


def interpreter_paths() -> list[str]:
    """The harness's Python: its installation (wherever it lives, a pyenv under a home folder included) and
    the virtual environment; jobs run this interpreter."""
    return [sys.prefix, sys.base_prefix, os.path.dirname(os.path.realpath(sys.executable))]


def host_binds(extra: tuple[str, ...] = ()) -> list[str]:
    """The host folders a job reads, resolved, outermost only: the interpreter and ``extra`` (the job's
    ``binds``)."""
    wanted = {*interpreter_paths(), *extra}
    chosen: list[str] = []
    for path in sorted(os.path.realpath(p) for p in wanted if p and os.path.exists(p)):
        if not any(path == c or path.startswith(c.rstrip("/") + "/") for c in chosen):
            chosen.append(path)
    return chosen


def closed_ancestors(path: str) -> list[str]:
    """The folders above ``path`` that other users cannot traverse (no ``o+x``): where an unprivileged uid
    cannot reach ``path``."""
    closed = []
    parent = os.path.dirname(os.path.realpath(path))
    while True:
        try:
            if not os.stat(parent).st_mode & stat.S_IXOTH:
                closed.append(parent)
        except OSError:
            pass
        if parent == "/":
            return closed[::-1]
        parent = os.path.dirname(parent)


def traverse_only_dirs(paths: list[str]) -> list[str]:
    """Folders above ``paths`` that others may traverse but not list (``o+x`` without ``o+r``): the mark an
    earlier ``scripts/setup.sh`` left on home folders so that sandbox uids could reach a pyenv interpreter.
    Every world-readable file below such a folder is readable by process-backend jobs."""
    found: set[str] = set()
    for path in paths:
        parent = os.path.dirname(os.path.realpath(path))
        while parent != "/":
            try:
                mode = os.stat(parent).st_mode
            except OSError:
                mode = 0
            if mode & stat.S_IXOTH and not mode & stat.S_IROTH:
                found.add(parent)
            parent = os.path.dirname(parent)
    return sorted(found)
