"""The README's five-minute tour, run as written: its bash block is read out of README.md, so the tour cannot
rot. Real toolchains and real TRL on the tiny offline model (a few minutes on 2 CPU cores)."""

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]


def tour_commands() -> list[list[str]]:
    """The commands of the tour's bash block: continuation lines joined, comments dropped."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## Five-minute tour"):]
    start = section.index("```bash\n") + len("```bash\n")
    block = section[start:section.index("```", start)]
    lines = block.replace("\\\n", " ").splitlines()
    return [argv for line in lines if (argv := shlex.split(line, comments=True))]


@pytest.mark.timeout(1800)  # about 4 minutes on 2 idle cores; far longer on a shared, loaded machine
def test_tour_runs_as_written_and_each_command_feeds_the_next(tmp_path):
    commands = tour_commands()
    assert commands and all(argv[0] == "codealign" for argv in commands), commands
    (tmp_path / "examples").symlink_to(REPO / "examples")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "OMP_NUM_THREADS": "1"}
    for argv in commands:
        proc = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, f"{shlex.join(argv)} exited {proc.returncode}:\n{proc.stderr[-3000:]}"
    pairs = (tmp_path / "pairs.jsonl").read_text().splitlines()
    assert pairs, "sampling the warmed-up model gave no execution pairs"
    assert (tmp_path / "rise_pairs" / "dataset_info.json").is_file()
    for run in ("dpo", "dpo-rise"):
        final = json.loads((tmp_path / "runs" / "tour" / run / "final.json").read_text())
        assert (tmp_path / final["model"] / "config.json").is_file() and not final["stopped_reason"]
