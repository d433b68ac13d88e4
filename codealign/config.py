"""Configs are dataclasses; files are YAML over them, with ``key.sub=value`` overrides from the command line.

``load_config(SomeConfig, "run.yaml", ["dpo.beta=0.2", "seed=3"])`` reads the YAML, applies the overrides
(values parsed as YAML, so ``true``, ``3``, ``[a, b]`` work), and builds the dataclass, recursing into
fields whose type is itself a dataclass. Unknown keys and malformed files raise :class:`UserError` naming
the key or file; validation stays in each dataclass's ``__post_init__``.
"""

from __future__ import annotations

import dataclasses
import os
import typing
from pathlib import Path
from typing import Any, Sequence, TypeVar

from codealign.errors import UserError

T = TypeVar("T")


def load_yaml(path: str | os.PathLike) -> dict[str, Any]:
    import yaml

    p = Path(path)
    if not p.is_file():
        raise UserError(f"{p}: no such config file")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise UserError(f"{p}: not valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise UserError(f"{p}: expected a mapping at the top level, got {type(data).__name__}")
    return data


def apply_overrides(data: dict[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """A copy of ``data`` with each ``dotted.key=value`` applied."""
    import copy

    import yaml

    out = copy.deepcopy(data)
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise UserError(f"override {item!r} is not of the form key=value")
        target = out
        *parents, leaf = key.split(".")
        for part in parents:
            node = target.setdefault(part, {})
            if not isinstance(node, dict):
                raise UserError(f"override {item!r}: {part!r} is not a section")
            target = node
        try:
            target[leaf] = yaml.safe_load(raw) if raw != "" else ""
        except yaml.YAMLError:
            target[leaf] = raw
    return out


def load_section(path: str | os.PathLike | None, overrides: Sequence[str] = (), section: str = "") -> dict[str, Any]:
    """Settings from a YAML file — its ``section:`` mapping when it has one, else its top level — with the
    ``key=value`` overrides applied. For configs whose dataclass validates its own keys (``from_dict``)."""
    data: dict[str, Any] = {}
    if path is not None:
        loaded = load_yaml(path)
        data = dict(loaded[section]) if section and isinstance(loaded.get(section), dict) else loaded
    return apply_overrides(data, overrides)


def build(cls: type[T], data: dict[str, Any], where: str = "") -> T:
    """Instantiate dataclass ``cls`` from a mapping; nested dataclass fields are built recursively."""
    if not isinstance(data, dict):
        raise UserError(f"{where or cls.__name__}: expected a mapping, got {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise UserError(f"unknown config key(s) {', '.join(repr(where + k) for k in unknown)} for {cls.__name__}; "
                        f"known: {', '.join(sorted(fields))}")
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for name, value in data.items():
        sub = hints.get(name)
        if dataclasses.is_dataclass(sub) and isinstance(value, dict):
            value = build(sub, value, f"{where}{name}.")
        kwargs[name] = value
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise UserError(f"invalid {cls.__name__}: {exc}") from None


def load_config(cls: type[T], path: str | os.PathLike | None = None, overrides: Sequence[str] = (),
                base: dict[str, Any] | None = None) -> T:
    """``cls`` from ``base`` (e.g. a preset), then the YAML file, then the overrides — later wins."""
    data = dict(base or {})
    if path is not None:
        data = deep_merge(data, load_yaml(path))
    return build(cls, apply_overrides(data, overrides))


def to_dict(config: Any) -> dict[str, Any]:
    return dataclasses.asdict(config)


def deep_merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """``a`` updated by ``b``, recursing into mappings both have."""
    out = dict(a)
    for key, value in b.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out
