"""The README's library snippet runs as written, on bundled data (it is read out of README.md)."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

README = Path(__file__).resolve().parents[1] / "README.md"


def library_snippet() -> str:
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Library\n"):text.index("\n## ", text.index("## Library\n") + 1)]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_readme_library_snippet_runs_as_written(tmp_path):
    proc = subprocess.run([sys.executable, "-c", library_snippet()], cwd=tmp_path, capture_output=True, text=True,
                          timeout=600, env={**os.environ, "TQDM_DISABLE": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    verdicts, pairs, pass_at_1 = proc.stdout.strip().splitlines()[-1].rsplit(" ", 2)
    assert verdicts == str(["PASS"] * 3 + ["COMPILE_ERROR"] * 3)
    assert int(pairs) == 3 and float(pass_at_1) == 1.0
