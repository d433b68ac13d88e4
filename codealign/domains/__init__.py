"""Domains: what is run. Each module knows one language's toolchain and how to judge a candidate."""

from __future__ import annotations

import importlib

from codealign.domains.base import Domain
from codealign.errors import UserError

_REGISTRY = {
    "verilog": "codealign.domains.verilog:VerilogDomain",
    "python": "codealign.domains.python:PythonDomain",
    "solidity": "codealign.domains.solidity:SolidityDomain",
    "ladder": "codealign.domains.ladder:LadderDomain",
}

DOMAINS = tuple(_REGISTRY)


def get_domain(name: str, **options) -> Domain:
    """The domain called ``name`` (``verilog``, ``python``, ``solidity``, ``ladder``)."""
    target = _REGISTRY.get(name)
    if target is None:
        raise UserError(f"unknown domain {name!r}; choose one of: {', '.join(DOMAINS)}")
    module, attr = target.split(":")
    return getattr(importlib.import_module(module), attr)(**options)
