import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("CODEALIGN_SHARED_DATA", REPO.parent / "shared" / "data"))

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("RAY_AUTH_MODE", "disabled")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data (read-only test data: VerilogEval, RTLLM, SmartBugs, ladder fixtures)."""
    if not SHARED_DATA.is_dir():
        pytest.fail(f"shared data folder missing: {SHARED_DATA} (set CODEALIGN_SHARED_DATA)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def backend():
    """The best isolation backend available here (bwrap in CI)."""
    from codealign.sandbox.backends import get_backend

    return get_backend("auto")


@pytest.fixture(scope="session")
def process_backend():
    from codealign.sandbox.process import ProcessBackend

    return ProcessBackend()

import sys  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
