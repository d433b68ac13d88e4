import os
import sys
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
sys.path.insert(0, str(Path(__file__).parent))


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
def tiny(tmp_path_factory):
    """A very small offline model folder (built once per test session) for training tests."""
    from codealign.train.models import build_tiny_model

    return str(build_tiny_model(tmp_path_factory.mktemp("tiny") / "model", hidden_size=64, layers=2, heads=2,
                                kv_heads=1, intermediate_size=128))


@pytest.fixture(scope="session")
def process_backend():
    from codealign.sandbox.process import ProcessBackend

    return ProcessBackend()



@pytest.fixture
def openai_server():
    """The stand-in OpenAI-compatible server (tests/openai_standin.py) on a free port, reset; its base URL."""
    from openai_standin import StandIn, serve

    StandIn.reset()
    httpd, url = serve()
    yield url
    httpd.shutdown()
