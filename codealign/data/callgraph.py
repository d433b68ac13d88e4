"""Call-graph context: the definitions, in other files of the repository, of what a file imports and calls.

What a definition is, and how names reach it, is each language's :class:`~codealign.domains.syntax.Syntax`.
A language with an import resolver (``Syntax.imports``, e.g. Python's ``import m`` / ``from m import f as g``
/ relative imports) has its imports resolved against the repository's module paths; every call ``g(...)``,
``x.f(...)``, ``x.C(...)`` whose callee resolves to a top-level definition of another repository file yields
that definition (with what dresses it, e.g. decorators). A language without one (no per-symbol imports worth
the name) links by name: a declaration (module, contract, library, ...) named in the file yields its
declaration in another file of the same language.

Guaranteed: resolution uses the syntax trees only (nothing is imported or run); results are ordered most
relevant first (most calls, then first call position) and carry each definition once. Not guaranteed:
dynamic calls (``getattr``, methods reached through instances, star imports) are not followed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from codealign.data.spans import Source


@dataclass(frozen=True)
class Definition:
    """The text of one definition: ``name`` in ``path``, starting at line ``line`` (0-based)."""

    path: str
    name: str
    line: int
    text: str
    calls: int = 0


class RepoIndex:
    """Top-level definitions of every parsed file of one repository, by file and by name."""

    def __init__(self, sources: dict[str, Source]):
        self.sources = sources
        self.defs: dict[str, dict[str, Definition]] = {
            path: _top_level_defs(path, src) for path, src in sources.items()}
        # language → dotted module name (and each dotted suffix of it) → path, for languages with imports
        self.modules: dict[str, dict[str, str]] = {}
        for path in sorted(sources, key=lambda p: (p.count("/"), p)):
            imports = sources[path].syntax.imports
            if imports is None:
                continue
            parts = imports.module_name(path).split(".")
            modules = self.modules.setdefault(sources[path].language, {})
            for i in range(len(parts)):
                modules.setdefault(".".join(parts[i:]), path)

    def context_for(self, path: str) -> list[Definition]:
        """Definitions in other files that ``path`` uses, most relevant first."""
        source = self.sources[path]
        if source.syntax.imports is not None:
            found = self._imported_calls(path, source)
        else:
            found = self._named_uses(path, source)
        order = sorted(found.items(), key=lambda kv: (-kv[1][0], kv[1][1]))
        return [Definition(d.path, d.name, d.line, d.text, count) for d, (count, _) in order]

    def _imported_calls(self, path: str, source: Source) -> dict[Definition, list[int]]:
        resolver = source.syntax.imports
        imports = resolver.bindings(source.tree.root_node, source.data, path)
        modules = self.modules[source.language]
        found: dict[Definition, list[int]] = {}
        for callee, position in resolver.calls(source.tree.root_node, source.data):
            definition = self._resolve(callee.split("."), imports, modules, path)
            if definition is not None:
                hit = found.setdefault(definition, [0, position])
                hit[0] += 1
        return found

    def _resolve(self, dotted: list[str], imports: Mapping[str, tuple[str, str | None]], modules: dict[str, str],
                 here: str) -> Definition | None:
        head = dotted[0]
        if head not in imports:
            return None
        module, symbol = imports[head]
        rest = dotted[1:]
        if symbol is not None:
            target = modules.get(module)
            if target is not None and target != here and not rest:
                return self.defs[target].get(symbol)
            sub = modules.get(f"{module}.{symbol}")
            if sub is not None and len(rest) == 1 and sub != here:
                return self.defs[sub].get(rest[0])
            if target is not None and target != here and len(rest) >= 1:
                return self.defs[target].get(symbol)
            return None
        if not rest:
            return None
        target = modules.get(".".join([module, *rest[:-1]]))
        if target is None or target == here:
            return None
        return self.defs[target].get(rest[-1])

    def _named_uses(self, path: str, source: Source) -> dict[Definition, list[int]]:
        by_name: dict[str, Definition] = {}
        for other, defs in sorted(self.defs.items()):
            if other != path and self.sources[other].language == source.language:
                for name, d in defs.items():
                    by_name.setdefault(name, d)
        own = set(self.defs[path])
        found: dict[Definition, list[int]] = {}
        for node in source.nodes():
            if node.child_count == 0 and node.type in source.syntax.identifiers:
                name = _text(source, node)
                if name in by_name and name not in own:
                    hit = found.setdefault(by_name[name], [0, node.start_byte])
                    hit[0] += 1
        return found


def _text(source: Source, node) -> str:
    return source.data[node.start_byte:node.end_byte].decode("utf-8", "replace")


def _top_level_defs(path: str, source: Source) -> dict[str, Definition]:
    syntax = source.syntax
    defs: dict[str, Definition] = {}
    nodes = source.tree.root_node.named_children if syntax.top_level_definitions else source.nodes()
    for node in nodes:
        inner = node.child_by_field_name("definition") if node.type in syntax.definition_wrappers else node
        if inner is not None and inner.type in syntax.definitions:
            name = _declared_name(source, inner)
            if name:
                defs.setdefault(name, Definition(path, name, node.start_point[0], _text(source, node)))
    return defs


def _declared_name(source: Source, node) -> str:
    named = node.child_by_field_name("name")
    if named is not None:
        return _text(source, named)
    stack = list(node.children)
    while stack:
        child = stack.pop(0)
        if child.type in source.syntax.identifiers:
            return _text(source, child)
        if child.type in source.syntax.declaration_headers:
            stack = list(child.children) + stack
    return ""

