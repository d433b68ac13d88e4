"""Domains: what is run. Each package here knows one language (its toolchain, judge, tasks, extraction, ...)
behind the :class:`~codealign.domains.base.Domain` interface.

The registry: the built-in domains below, plus every entry point of the ``codealign.domains`` group
(``name = "package.module:DomainClass"``), so a third-party package adds a domain without editing codealign::

    [project.entry-points."codealign.domains"]
    vhdl = "codealign_vhdl:VhdlDomain"

The built-ins are known without reading package metadata, so they work from a source tree too.
"""

from __future__ import annotations

import functools
import importlib
from importlib import metadata
from typing import Any

from codealign.domains.base import Domain
from codealign.errors import UserError, closest

_BUILTIN = {
    "verilog": "codealign.domains.verilog:VerilogDomain",
    "python": "codealign.domains.python:PythonDomain",
    "solidity": "codealign.domains.solidity:SolidityDomain",
    "ladder": "codealign.domains.ladder:LadderDomain",
}
ENTRY_POINT_GROUP = "codealign.domains"


@functools.lru_cache(maxsize=1)
def _registry() -> dict[str, str]:
    found = dict(_BUILTIN)
    for entry in metadata.entry_points(group=ENTRY_POINT_GROUP):
        found.setdefault(entry.name, entry.value)
    return found


def domain_names() -> tuple[str, ...]:
    """Every registered domain: the built-ins, then those of the entry-point group."""
    return tuple(_registry())


def domain_class(name: str) -> type[Domain]:
    """The class of the domain called ``name``; UserError naming the closest when there is none."""
    target = _registry().get(name)
    if target is None:
        raise UserError(f"unknown domain {name!r}{closest(name, domain_names())}")
    module, attr = target.split(":")
    return getattr(importlib.import_module(module), attr)


def get_domain(name: str, **options: Any) -> Domain:
    """The domain called ``name`` (see :func:`domain_names`), built with the constructor ``options``."""
    return domain_class(name)(**options)


def preset_names() -> dict[str, str]:
    """Every preset of every domain: preset name → domain name."""
    return {preset: name for name in domain_names() for preset in domain_class(name).presets()}


def preset_data(name: str) -> tuple[str, dict[str, Any]]:
    """The domain a preset is for, and its YAML mapping (without the ``paper`` and ``notes`` prose)."""
    import yaml

    owners = preset_names()
    if name not in owners:
        raise UserError(f"unknown preset {name!r}{closest(name, owners)}")
    domain = owners[name]
    data = yaml.safe_load(domain_class(domain).presets()[name].read_text(encoding="utf-8")) or {}
    if data.get("domain", domain) != domain:
        raise UserError(f"preset {name!r} of domain {domain!r} says domain: {data['domain']!r}")
    data.pop("paper", None)
    data.pop("notes", None)
    return domain, data
