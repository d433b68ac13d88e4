"""Call-graph context: the definitions, in other files of the repository, of what a file imports and calls.

Python: ``import m`` / ``import m as x`` / ``from m import f as g`` / relative imports are resolved against the
repository's module paths; every call ``g(...)``, ``x.f(...)``, ``x.C(...)`` whose callee resolves to a
top-level function or class of another repository file yields that definition (decorators included).
Verilog and Solidity have no per-symbol imports worth the name: a module instantiated, or a contract /
library / interface / free function named, in the file yields its declaration in another file.

Guaranteed: resolution uses the syntax trees only (nothing is imported or run); results are ordered most
relevant first (most calls, then first call position) and carry each definition once. Not guaranteed:
dynamic calls (``getattr``, methods reached through instances, star imports) are not followed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath

from codealign.data.spans import Source

_PY_DEFS = ("function_definition", "class_definition")
_OTHER_DEFS = {
    "verilog": ("module_declaration",),
    "solidity": ("contract_declaration", "library_declaration", "interface_declaration", "function_definition"),
}


@dataclass(frozen=True)
class Definition:
    """The text of one definition: ``name`` in ``path``, starting at line ``line`` (0-based)."""

    path: str
    name: str
    line: int
    text: str
    calls: int = 0


def module_name(path: str) -> str:
    """Dotted module name of a repository-relative ``.py`` path (``pkg/__init__.py`` → ``pkg``)."""
    parts = list(PurePosixPath(path).with_suffix("").parts)
    if parts and parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


class RepoIndex:
    """Top-level definitions of every parsed file of one repository, by file and by name."""

    def __init__(self, sources: dict[str, Source]):
        self.sources = sources
        self.defs: dict[str, dict[str, Definition]] = {
            path: _top_level_defs(path, src) for path, src in sources.items()}
        self.modules: dict[str, str] = {}
        for path in sorted(sources, key=lambda p: (p.count("/"), p)):
            if sources[path].language != "python":
                continue
            parts = module_name(path).split(".")
            for i in range(len(parts)):
                self.modules.setdefault(".".join(parts[i:]), path)

    def context_for(self, path: str) -> list[Definition]:
        """Definitions in other files that ``path`` uses, most relevant first."""
        source = self.sources[path]
        if source.language == "python":
            found = self._python_calls(path, source)
        else:
            found = self._named_uses(path, source)
        order = sorted(found.items(), key=lambda kv: (-kv[1][0], kv[1][1]))
        return [Definition(d.path, d.name, d.line, d.text, count) for d, (count, _) in order]

    def _python_calls(self, path: str, source: Source) -> dict[Definition, list[int]]:
        imports = _python_imports(source, module_name(path), path.endswith("__init__.py"))
        found: dict[Definition, list[int]] = {}
        for node in source.nodes():
            if node.type != "call":
                continue
            callee = node.child_by_field_name("function")
            if callee is None or callee.type not in ("identifier", "attribute"):
                continue
            definition = self._resolve(_text(source, callee).split("."), imports, path)
            if definition is not None:
                hit = found.setdefault(definition, [0, node.start_byte])
                hit[0] += 1
        return found

    def _resolve(self, dotted: list[str], imports: dict[str, tuple[str, str | None]], here: str) -> Definition | None:
        head = dotted[0]
        if head not in imports:
            return None
        module, symbol = imports[head]
        rest = dotted[1:]
        if symbol is not None:
            target = self.modules.get(module)
            if target is not None and target != here and not rest:
                return self.defs[target].get(symbol)
            sub = self.modules.get(f"{module}.{symbol}")
            if sub is not None and len(rest) == 1 and sub != here:
                return self.defs[sub].get(rest[0])
            if target is not None and target != here and len(rest) >= 1:
                return self.defs[target].get(symbol)
            return None
        if not rest:
            return None
        target = self.modules.get(".".join([module, *rest[:-1]]))
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
            if node.child_count == 0 and node.type in ("identifier", "simple_identifier"):
                name = _text(source, node)
                if name in by_name and name not in own:
                    hit = found.setdefault(by_name[name], [0, node.start_byte])
                    hit[0] += 1
        return found


def _text(source: Source, node) -> str:
    return source.data[node.start_byte:node.end_byte].decode("utf-8", "replace")


def _top_level_defs(path: str, source: Source) -> dict[str, Definition]:
    defs: dict[str, Definition] = {}
    if source.language == "python":
        for node in source.tree.root_node.named_children:
            inner = node.child_by_field_name("definition") if node.type == "decorated_definition" else node
            if inner is not None and inner.type in _PY_DEFS:
                name = _text(source, inner.child_by_field_name("name"))
                defs.setdefault(name, Definition(path, name, node.start_point[0], _text(source, node)))
        return defs
    kinds = _OTHER_DEFS[source.language]
    for node in source.nodes():
        if node.type in kinds:
            name = _declared_name(source, node)
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
        if child.type in ("simple_identifier", "identifier"):
            return _text(source, child)
        if child.type in ("module_header", "module_ansi_header", "module_nonansi_header"):
            stack = list(child.children) + stack
    return ""


def _python_imports(source: Source, current: str, is_package: bool) -> dict[str, tuple[str, str | None]]:
    """local name → (module, symbol or None for a module binding)."""
    package = current if is_package else current.rpartition(".")[0]
    out: dict[str, tuple[str, str | None]] = {}
    for node in source.nodes():
        if node.type == "import_statement":
            for child in node.named_children:
                if child.type == "aliased_import":
                    out[_text(source, child.child_by_field_name("alias"))] = (
                        _text(source, child.child_by_field_name("name")), None)
                elif child.type == "dotted_name":
                    dotted = _text(source, child)
                    out[dotted.split(".")[0]] = (dotted.split(".")[0], None)
        elif node.type == "import_from_statement":
            module_node = node.child_by_field_name("module_name")
            if module_node is None:
                continue
            module = _absolute(_text(source, module_node), package)
            for child in node.children_by_field_name("name"):
                if child.type == "aliased_import":
                    name = _text(source, child.child_by_field_name("name"))
                    local = _text(source, child.child_by_field_name("alias"))
                else:
                    name = local = _text(source, child)
                out[local] = (module, name)
    return out


def _absolute(module: str, package: str) -> str:
    if not module.startswith("."):
        return module
    dots = len(module) - len(module.lstrip("."))
    base = package.split(".") if package else []
    base = base[:len(base) - (dots - 1)] if dots > 1 else base
    rest = module.lstrip(".")
    return ".".join([*base, rest] if rest else base)
