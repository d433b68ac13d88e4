"""Domains: what is run. Each package here knows one language (its toolchain, judge, tasks, extraction, ...)
behind the :class:`~codealign.domains.base.Domain` interface.

:data:`DOMAINS` (a :class:`~codealign.registry.Registry`) holds the built-in domains below, plus every entry
point of the ``codealign.domains`` group (``name = "package.module:DomainClass"``), so a third-party package adds
a domain without editing codealign::

    [project.entry-points."codealign.domains"]
    vhdl = "codealign_vhdl:VhdlDomain"
"""

from __future__ import annotations

from typing import Any

from codealign.domains.base import Domain
from codealign.errors import UserError, closest
from codealign.registry import Registry

DOMAINS: Registry[type[Domain]] = Registry("domain", "codealign.domains")
DOMAINS.register("verilog", "codealign.domains.verilog:VerilogDomain")
DOMAINS.register("python", "codealign.domains.python:PythonDomain")
DOMAINS.register("solidity", "codealign.domains.solidity:SolidityDomain")
DOMAINS.register("ladder", "codealign.domains.ladder:LadderDomain")


def domain_names() -> tuple[str, ...]:
    """Every registered domain: the built-ins, then those of the entry-point group."""
    return DOMAINS.names()


def domain_class(name: str) -> type[Domain]:
    """The class of the domain called ``name``; UserError naming the closest when there is none."""
    return DOMAINS.get(name)


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
