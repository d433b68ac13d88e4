"""A named, ordered registry: how domains, generators, pair strategies and isolation backends are found.

Each registers its built-ins once, here in the code (so they work from a source tree, without package
metadata), as ``"module:attr"`` strings imported on first use or as objects; a third-party package adds more
through the registry's entry-point group without editing codealign::

    [project.entry-points."codealign.domains"]
    vhdl = "codealign_vhdl:VhdlDomain"

Guaranteed: :meth:`Registry.names` lists the built-ins in registration order, then the entry points in the
order package metadata gives them (read once, on first use), each name once (an entry point with a built-in's
name is ignored: the built-in wins); an unknown name is a :class:`~codealign.errors.UserError` of one line naming the closest valid
choice. Not guaranteed: that an entry point's module imports; that fails only when that name is looked up.
"""

from __future__ import annotations

import importlib
from importlib import metadata
from typing import Any, Generic, Iterator, TypeVar

from codealign.errors import UserError, closest

T = TypeVar("T")


class Registry(Generic[T]):
    """Name → entry (``T``, or a ``"module:attr"`` string that resolves to one); ``kind`` names the entries in
    error messages ("unknown {kind} 'x'"), ``group`` is the entry-point group plugins register under."""

    def __init__(self, kind: str, group: str = "") -> None:
        self.kind = kind
        self.group = group
        self._entries: dict[str, T | str] = {}
        self._plugins: dict[str, str] | None = None

    def register(self, name: str, entry: T | str) -> None:
        """Add ``entry`` under ``name``; a name registered twice is a ``ValueError`` (a built-in is written once)."""
        if name in self._entries:
            raise ValueError(f"{self.kind} {name!r} is registered twice")
        self._entries[name] = entry

    def _all(self) -> dict[str, T | str]:
        if self._plugins is None:
            self._plugins = {}
            if self.group:
                for point in metadata.entry_points(group=self.group):
                    self._plugins.setdefault(point.name, point.value)
        return {**self._entries, **{k: v for k, v in self._plugins.items() if k not in self._entries}}

    def names(self) -> tuple[str, ...]:
        """Every registered name: the built-ins in registration order, then the plugins."""
        return tuple(self._all())

    def __contains__(self, name: object) -> bool:
        return name in self._all()

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def get(self, name: str) -> T:
        """The entry called ``name`` (a ``"module:attr"`` string imported now); a UserError naming the closest
        registered name when there is none."""
        entry = self._all().get(name)
        if entry is None:
            raise UserError(f"unknown {self.kind} {name!r}{closest(name, self.names())}")
        if isinstance(entry, str):
            module, _, attr = entry.partition(":")
            resolved: Any = importlib.import_module(module)
            for part in attr.split("."):
                resolved = getattr(resolved, part)
            return resolved
        return entry
