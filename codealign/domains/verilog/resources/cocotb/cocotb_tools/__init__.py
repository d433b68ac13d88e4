"""cocotb 2.x moved the runner to ``cocotb_tools.runner``; CVDP harnesses written for the 1.x API import it
from there. This shim (trusted, on the harness's PYTHONPATH) points that name at cocotb 1.9's runner."""
