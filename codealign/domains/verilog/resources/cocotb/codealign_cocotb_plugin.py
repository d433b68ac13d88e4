"""Trusted pytest plugin of codealign's cocotb harness (loaded with ``-p codealign_cocotb_plugin``).

It records every ``build`` and ``test`` call a harness makes through ``cocotb.runner`` and sends what it
records straight to the job's trusted channel (fd 3), as ``@name 0 length`` records: no file the
simulation could write ever carries a verdict.

* Each test call gets a socketpair; the simulator inherits one end (and ``PYGPI_ENTRY_POINT`` makes
  :mod:`codealign_cocotb_entry` send cocotb's xUnit results on it). What arrives is sent as ``tNNN_xml``;
  nothing (the simulation died, or never reached cocotb's tear-down) is ``tNNN_missing``.
* A failed build is ``bNNN_failed`` with the error and the build log (no design code has run yet).
* While a test call runs, the files of its build folder are read-only, so a design cannot rewrite the
  compiled simulation (or its command file) that a later test call runs; a build makes them writable again.
* This process holds fd 3 and is made non-dumpable, so the simulator (a child of the same uid) can neither
  inherit the channel nor reopen it through ``/proc/<pid>/fd`` or write this process's memory.

The judge reads only these records; pytest's exit status and everything printed are ignored.
"""

import ctypes
import itertools
import os
import socket
import subprocess
import threading
from pathlib import Path

from cocotb import runner as _runner

_TRUSTED = 3
_PR_SET_DUMPABLE = 4
_calls = itertools.count()
_build, _test = _runner.Simulator.build, _runner.Simulator.test

os.set_inheritable(_TRUSTED, False)
ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0)


class _Subprocess:
    """``cocotb.runner``'s view of :mod:`subprocess`: the simulator it launches also inherits ``fds``."""

    fds: tuple = ()

    def __getattr__(self, name):
        return getattr(subprocess, name)

    def run(self, *args, **kwargs):
        return subprocess.run(*args, pass_fds=self.fds, **kwargs)


_launch = _Subprocess()
_runner.subprocess = _launch


def _send(name: str, data: bytes) -> None:
    os.write(_TRUSTED, f"@{name} 0 {len(data)}\n".encode())
    view = memoryview(data)
    while view:
        view = view[os.write(_TRUSTED, view):]


def _set_writable(folder, writable: bool) -> None:
    for path in Path(folder).rglob("*"):
        if path.is_file() and not path.is_symlink():
            mode = path.stat().st_mode
            path.chmod(mode | 0o200 if writable else mode & ~0o222)


def _build_recorded(self, *args, **kwargs):
    n = next(_calls)
    build_dir = kwargs.get("build_dir", "sim_build")
    if os.path.isdir(build_dir):
        _set_writable(build_dir, True)
    try:
        return _build(self, *args, **kwargs)
    except BaseException as exc:
        log = kwargs.get("log_file")
        text = f"{type(exc).__name__}: {exc}\n"
        if log and os.path.isfile(log):
            text += Path(log).read_text(errors="replace")[-8000:]
        _send(f"b{n:03d}_failed", text.encode("utf-8", "replace"))
        raise


def _test_recorded(self, *args, **kwargs):
    n = next(_calls)
    ours, theirs = socket.socketpair()
    received: list[bytes] = []
    reader = threading.Thread(target=_drain, args=(ours, received), daemon=True)
    reader.start()
    build_dir = getattr(self, "build_dir", None)
    if build_dir and os.path.isdir(build_dir):
        _set_writable(build_dir, False)
    os.environ["CODEALIGN_COCOTB_CHANNEL"] = str(theirs.fileno())
    _launch.fds = (theirs.fileno(),)
    try:
        return _test(self, *args, **kwargs)
    finally:
        _launch.fds = ()
        theirs.close()
        reader.join()
        ours.close()
        data = b"".join(received)
        _send(f"t{n:03d}_xml" if data else f"t{n:03d}_missing", data)
        if build_dir and os.path.isdir(build_dir):
            _set_writable(build_dir, True)


def _drain(sock: socket.socket, into: list) -> None:
    while chunk := sock.recv(65536):
        into.append(chunk)


_runner.Simulator.build = _build_recorded
_runner.Simulator.test = _test_recorded
