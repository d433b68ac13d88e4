from cocotb.runner import *  # noqa: F401,F403
from cocotb.runner import get_runner  # noqa: F401
