"""The runner codealign uses for a cocotb task that brings no runner of its own: build the design from
``VERILOG_SOURCES`` with ``TOPLEVEL`` and the JSON parameters in ``CODEALIGN_COCOTB_PARAMETERS``, then run
the test module ``MODULE`` (cocotb 1.x ``cocotb.runner``)."""

import json
import os

from cocotb.runner import get_runner


def test_cocotb_module():
    runner = get_runner(os.environ.get("SIM", "icarus"))
    runner.build(sources=os.environ["VERILOG_SOURCES"].split(), hdl_toplevel=os.environ["TOPLEVEL"],
                 parameters=json.loads(os.environ.get("CODEALIGN_COCOTB_PARAMETERS") or "{}"), always=True,
                 timescale=("1ns", "1ps"), log_file="build.log")
    runner.test(hdl_toplevel=os.environ["TOPLEVEL"], test_module=os.environ["MODULE"])
