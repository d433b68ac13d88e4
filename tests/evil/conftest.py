"""Fixtures shared by the hostile-program suites: both backends, and bwrap alone."""

import pytest


@pytest.fixture(params=["process", "bwrap"])
def any_backend(request):
    from codealign.sandbox.backends import get_backend

    return get_backend(request.param)


@pytest.fixture
def bwrap_backend():
    from codealign.sandbox.backends import get_backend

    return get_backend("bwrap")
