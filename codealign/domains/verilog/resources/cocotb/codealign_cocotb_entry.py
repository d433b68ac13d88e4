"""Trusted entry point of cocotb inside the simulator (``PYGPI_ENTRY_POINT=codealign_cocotb_entry:
_initialise_testbench``): cocotb's own start-up, with two changes that keep the verdict out of the design's
reach.

* Results: when cocotb's regression manager writes its xUnit results (after the last test, before the
  simulator ends and runs the design's ``final`` blocks), the same XML is also sent on the socket whose
  descriptor ``$CODEALIGN_COCOTB_CHANNEL`` names (a socketpair made by the trusted pytest plugin), and the
  socket is closed. A design cannot write to a socket through the simulator's file system tasks: a socket
  is not reopened by path (``/proc/self/fd/N`` gives ENXIO) and the simulator's own descriptor table holds
  only the files it opened. The results file cocotb also writes is left for the harness's own checks and
  never read by the judge.
* Imports: cocotb puts the simulation's working folder ("") first on ``sys.path``; it is taken off again
  before the test modules are imported, so a module the design wrote there is never imported.
"""

import os
import socket
import sys
import xml.etree.ElementTree as ET

import cocotb
from cocotb import _initialise_testbench  # noqa: F401  (the entry function)
from cocotb.regression import RegressionManager
from cocotb.xunit_reporter import XUnitReporter

_channel = socket.socket(fileno=int(os.environ["CODEALIGN_COCOTB_CHANNEL"]))
_write, _discover = XUnitReporter.write, RegressionManager.from_discovery.__func__


def _write_and_send(self):
    _write(self)
    try:
        _channel.sendall(ET.tostring(self.results, encoding="utf-8"))
    finally:
        _channel.close()


def _discover_without_cwd(cls, dut):
    while "" in sys.path:
        sys.path.remove("")
    return _discover(cls, dut)


XUnitReporter.write = _write_and_send
RegressionManager.from_discovery = classmethod(_discover_without_cwd)


def __getattr__(name):
    """The embedding reads its other hooks (``_rlock``, ``_sim_event``, ``_log_from_c``...) from the entry
    module: they are cocotb's."""
    return getattr(cocotb, name)
