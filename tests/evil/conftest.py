"""Fixtures shared by the hostile-program suites: both backends, and bwrap alone."""

import pytest


@pytest.fixture(params=["process", "bwrap"])
def any_backend(request):
    """Both backends; process only where its uids can reach the interpreter (a fresh machine's 0700 /root
    hides a pyenv from them; tests/evil/test_host_secrets.py asserts what process then cannot do)."""
    from codealign.sandbox.backends import get_backend
    from codealign.sandbox.process import process_problem

    if request.param == "process" and process_problem():
        pytest.skip(f"process backend: {process_problem()}")
    return get_backend(request.param)


@pytest.fixture
def bwrap_backend():
    from codealign.sandbox.backends import get_backend

    return get_backend("bwrap")


@pytest.fixture(params=["bwrap", "docker"], scope="module")
def isolating_backend(request):
    """bwrap and docker, one module at a time; a Docker engine that is not usable fails the test (CI has one)."""
    from codealign.sandbox.backends import get_backend

    if request.param == "docker":
        from codealign.sandbox.docker import docker_problem

        problem = docker_problem()
        if problem:
            pytest.fail(f"the Docker backend is not usable: {problem}")
    return get_backend(request.param)
