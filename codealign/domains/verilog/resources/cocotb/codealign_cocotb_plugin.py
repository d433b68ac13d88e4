"""Trusted pytest plugin of codealign's cocotb harness (loaded with ``-p codealign_cocotb_plugin``).

It records every ``build`` and ``test`` call a harness makes through ``cocotb.runner``: each test call's
results file (cocotb's own xUnit XML, written by cocotb's regression manager, whatever name the harness or
pytest gives it) is copied to ``$CODEALIGN_COCOTB_RESULTS/tNNN.xml``, or ``tNNN.missing`` is written when the
simulation left none; a failed build writes ``bNNN.failed`` with the error and the build log. The judge reads
only these files; pytest's exit status and everything printed are ignored.
"""

import itertools
import os
import shutil
from pathlib import Path

from cocotb import runner as _runner

_OUT = Path(os.environ["CODEALIGN_COCOTB_RESULTS"])
_calls = itertools.count()
_build, _test = _runner.Simulator.build, _runner.Simulator.test


def _build_recorded(self, *args, **kwargs):
    n = next(_calls)
    try:
        return _build(self, *args, **kwargs)
    except BaseException as exc:
        log = kwargs.get("log_file")
        text = f"{type(exc).__name__}: {exc}\n"
        if log and os.path.isfile(log):
            text += Path(log).read_text(errors="replace")[-8000:]
        (_OUT / f"b{n:03d}.failed").write_text(text)
        raise


def _test_recorded(self, *args, **kwargs):
    n = next(_calls)
    self.env.pop("COCOTB_RESULTS_FILE", None)
    try:
        return _test(self, *args, **kwargs)
    finally:
        results = self.env.get("COCOTB_RESULTS_FILE")
        if results and os.path.isfile(results):
            shutil.copyfile(results, _OUT / f"t{n:03d}.xml")
        else:
            (_OUT / f"t{n:03d}.missing").write_text("")


_runner.Simulator.build = _build_recorded
_runner.Simulator.test = _test_recorded
