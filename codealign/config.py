"""Configs are dataclasses; files are YAML over them, with ``key.sub=value`` overrides from the command line.

``load_config(SomeConfig, "run.yaml", ["dpo.beta=0.2", "seed=3"])`` reads the YAML, applies the overrides
(values parsed as YAML, so ``true``, ``3``, ``[a, b]`` work), and builds the dataclass, recursing into
fields whose type is itself a dataclass. Unknown keys and malformed files raise :class:`UserError` naming
the key or file; validation stays in each dataclass's ``__post_init__``.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import typing
from pathlib import Path
from typing import Any, Sequence, TypeVar

from codealign.errors import UserError

T = TypeVar("T")

IO = {"io": True}
"""Field metadata (``field(default=..., metadata=IO)``) of a run config's file inputs and outputs (the model it
starts from, the rows it reads, the folder it writes), as apart from its trainer settings: a caller that supplies
them itself (``codealign run``) refuses them as keys, since nothing would read them."""


def io_fields(cls: Any) -> dict[str, Any]:
    """The fields of dataclass ``cls`` marked :data:`IO`, with their defaults (None for a required one)."""
    return {f.name: _field_default(f) for f in dataclasses.fields(cls) if f.metadata.get("io")}


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


def build(cls: type[T], data: dict[str, Any], where: str = "") -> T:
    """Instantiate dataclass ``cls`` from a mapping; nested dataclass fields (also ``X | None``) are built
    recursively, on top of the values of the field's own default when it has one.

    Every key of every section is checked before anything is constructed, so an unknown key fails fast and
    names the closest valid one; strings in numeric fields are read as numbers (YAML reads ``1e-4`` as a
    string); a ``ValueError``/``TypeError``/``UserError`` from a ``__post_init__`` becomes a ``UserError``
    naming the section."""
    check_keys(cls, data, where)
    return _construct(cls, data, where)


def check_keys(cls: type, data: Any, where: str = "") -> None:
    """Raise ``UserError`` on the first key of ``data`` (or of a nested section) that ``cls`` lacks."""
    if not isinstance(data, dict):
        raise UserError(f"{where.rstrip('.') or cls.__name__}: expected a mapping, got {type(data).__name__}")
    names = [f.name for f in dataclasses.fields(cls)]
    for key in data:
        if key not in names:
            close = difflib.get_close_matches(str(key), names, n=1)
            hint = f"did you mean {where}{close[0]}?" if close else f"known: {', '.join(sorted(names))}"
            raise UserError(f"{where}{key}: unknown config key; {hint}")
    hints = typing.get_type_hints(cls)
    for key, value in data.items():
        sub = _dataclass_of(hints.get(key))
        if sub is not None and isinstance(value, dict):
            check_keys(sub, value, f"{where}{key}.")


def _dataclass_of(hint: Any) -> type | None:
    """The dataclass a field holds: its type, or ``X`` of ``X | None``."""
    if dataclasses.is_dataclass(hint):
        return hint
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    return args[0] if len(args) == 1 and dataclasses.is_dataclass(args[0]) else None


def _coerce(hint: Any, value: Any, key: str) -> Any:
    """A string in a numeric field read as a number (YAML 1.1 reads ``1e-4`` as a string); a string that is no
    number there is a UserError naming ``key``, unless the field also takes strings."""
    kinds = [hint, *typing.get_args(hint)]
    numeric = [kind for kind in (int, float) if kind in kinds]
    if not isinstance(value, str) or not numeric:
        return value
    for kind in numeric:
        try:
            return kind(value)
        except ValueError:
            pass
    if str in kinds or typing.Any in kinds:
        return value
    raise UserError(f"{key}: expected a number, got {value!r}")


def _init_values(obj: Any) -> dict[str, Any]:
    """The constructor arguments that rebuild dataclass instance ``obj`` (nested ones as mappings)."""
    return {f.name: _init_values(v) if dataclasses.is_dataclass(v := getattr(obj, f.name)) else v
            for f in dataclasses.fields(obj) if f.init}


def _field_default(f: dataclasses.Field) -> Any:
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return None if f.default is dataclasses.MISSING else f.default


def _construct(cls: type[T], data: dict[str, Any], where: str) -> T:
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for name, value in data.items():
        sub = _dataclass_of(hints.get(name))
        if sub is not None and isinstance(value, dict):
            default = _field_default(fields[name])
            if isinstance(default, sub):
                value = deep_merge(_init_values(default), value)
            value = _construct(sub, value, f"{where}{name}.")
        else:
            value = _coerce(hints.get(name), value, f"{where}{name}")
        kwargs[name] = value
    missing = [f.name for f in fields.values() if f.init and f.name not in kwargs
               and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
    if missing:
        raise UserError(f"{where}{missing[0]}: required config key is missing")
    try:
        return cls(**kwargs)
    except (TypeError, ValueError, UserError) as exc:
        raise UserError(f"{where.rstrip('.') if where else f'invalid {cls.__name__}'}: {exc}") from None


def load_config(cls: type[T], path: str | os.PathLike | None = None, overrides: Sequence[str] = (),
                base: dict[str, Any] | None = None, section: str = "") -> T:
    """``cls`` from ``base`` (e.g. a preset), then the YAML file, then the overrides — later wins. With
    ``section``, a file that has a ``section:`` mapping gives only that mapping (``codealign train dpo`` reads the
    ``dpo:`` section of a run's config file, or a file of DPO settings alone)."""
    data = dict(base or {})
    if path is not None:
        loaded = load_yaml(path)
        if section and isinstance(loaded.get(section), dict):
            loaded = loaded[section]
        data = deep_merge(data, loaded)
    return build(cls, apply_overrides(data, overrides))


def to_dict(config: Any) -> dict[str, Any]:
    return dataclasses.asdict(config)


def dotted_keys(data: dict[str, Any], prefix: str = "") -> list[str]:
    """The dotted key of every leaf of the nested mapping ``data`` (``{"dpo": {"beta": 1}}`` → ``["dpo.beta"]``;
    an empty mapping is a leaf)."""
    keys: list[str] = []
    for key, value in data.items():
        if isinstance(value, dict) and value:
            keys += dotted_keys(value, f"{prefix}{key}.")
        else:
            keys.append(f"{prefix}{key}")
    return keys


def deep_merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """``a`` updated by ``b``, recursing into mappings both have."""
    out = dict(a)
    for key, value in b.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def field_docs(cls: type, prefix: str = "") -> list[tuple[str, Any, str]]:
    """``(dotted key, default, first docstring line)`` for each field of dataclass ``cls``, nested dataclass
    fields under their parent's key; the docstrings are the string literals that follow each field in the
    class body (how this project documents config fields). A field with no default shows ``"(required)"``."""
    import ast
    import inspect
    import textwrap

    body = ast.parse(textwrap.dedent(inspect.getsource(cls))).body[0].body
    docs = {}
    for node, after in zip(body, body[1:]):
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and isinstance(after, ast.Expr) \
                and isinstance(after.value, ast.Constant) and isinstance(after.value.value, str):
            docs[node.target.id] = " ".join(after.value.value.split())
    hints = typing.get_type_hints(cls)
    rows: list[tuple[str, Any, str]] = []
    for f in dataclasses.fields(cls):
        if not f.init:
            continue
        nested = _dataclass_of(hints.get(f.name))
        if nested is not None:
            rows += field_docs(nested, f"{prefix}{f.name}.")
            continue
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        rows.append((prefix + f.name, "(required)" if required else _field_default(f), docs.get(f.name, "")))
    return rows

