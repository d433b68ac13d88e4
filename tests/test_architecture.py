"""The architecture's guard: codealign's import graph, read from the source with ``ast``, points one way.

Every ``import`` and ``from ... import`` of every module under ``codealign/`` counts, at any depth (inside
functions and ``if TYPE_CHECKING:`` too): ``from a import b`` is an arrow to ``a.b`` when that is a module,
else to ``a``; relative imports are resolved against the importing package. Files under a ``resources/``
folder are programs run inside the sandbox (or data), not modules of the package, and are not read.
The README's "Architecture" section states these rules; keep the two in step.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "codealign"

_T, _E, _J, _C, _X, _F, _P = ("codealign.types", "codealign.errors", "codealign.jsonl", "codealign.config",
                               "codealign.extraction", "codealign.fim", "codealign.prompts")
_R = "codealign.registry"
_SB, _D, _EX = "codealign.sandbox", "codealign.domains", "codealign.execution"

#: Which component may import which: every arrow between two components must be listed here, and every listed
#: arrow must be drawn by some import (so the table is the import graph, no more, no less). A component is a base
#: module, a package, or the library facade ``codealign`` (only itself); a module belongs to the component of the
#: longest name it is or lies under. An entry naming a module inside another component (``codealign.train.models``)
#: allows that module only. Listed lowest first; the components and these arrows form no circle.
IMPORTS: dict[str, tuple[str, ...]] = {
    _T: (),
    _E: (),
    _J: (_E,),
    _C: (_E,),
    _X: (),
    _F: (_E,),
    _P: (),  # prompt formatting: below both generate (sampling) and train (SFT, DPO, GRPO)
    _R: (_E,),  # one registry helper: domains, generators, pair strategies, isolation backends
    _SB: (_T, _E, _R),
    _D: (_T, _E, _J, _X, _F, _R, _SB),
    _EX: (_T, _E, _J, _SB, _D),
    "codealign.pairs": (_T, _E, _J, _R),
    "codealign.data": (_E, _J, _F, _D),  # domains: each registered language's tree-sitter syntax
    "codealign.doctor": (_E, _SB, _D),
    "codealign.train": (_T, _E, _J, _C, _P,
                        "codealign.pairs.command"),  # DPO reads the pairs file the pairs stage wrote (read_pairs)
    "codealign.generate": (_T, _E, _J, _P, _R,
                           _D,  # stop sequences, and extraction through domains.candidates.make_candidate
                           "codealign.train.models"),  # the HF generator loads a model as training saved it
    "codealign.bench": (_T, _E, _J, _D, _EX,
                        "codealign.generate.command"),  # a benchmark samples its answers with a generator
    "codealign.reward": (_T, _E, _SB, _D, _EX,
                         "codealign.pairs.pool"),  # the reward is the score pairs are ranked by
    "codealign.pipeline": (_T, _E, _J, _C, _SB, _D, _EX, "codealign.pairs", "codealign.doctor", "codealign.train",
                           "codealign.generate", "codealign.bench", "codealign.reward"),
    "codealign": (_T, _E, _EX, "codealign.pairs", "codealign.train", "codealign.bench"),
    "codealign.cli": (_T, _E, _J, _C, _SB, _D, _EX, "codealign.pairs", "codealign.data", "codealign.doctor",
                      "codealign.train", "codealign.generate", "codealign.bench", "codealign.reward",
                      "codealign.pipeline", "codealign"),
}

#: The pipeline's modules in the order a run is built: each imports only modules before it. The run report reads a
#: run's state and is written by the report stage; the package ``codealign.pipeline`` re-exports its modules.
PIPELINE_ORDER = ("codealign.pipeline.config", "codealign.pipeline.plan", "codealign.pipeline.rounds",
                  "codealign.pipeline.state", "codealign.pipeline.run_report", "codealign.pipeline.eval_stages",
                  "codealign.pipeline.stages", "codealign.pipeline.run", "codealign.pipeline")

#: Imported at a module's top level, these load torch (seconds, gigabytes): only ``codealign.train`` may.
HEAVY = ("torch", "transformers", "trl", "peft", "accelerate", "datasets", "vllm", "deepspeed", "liger_kernel")
HEAVY_ALLOWED = ("codealign.train",)

#: Registry modules of ``codealign.domains``: they may name every domain package.
REGISTRY = ("codealign.domains", "codealign.domains.base")


@dataclass(frozen=True)
class Arrow:
    module: str
    imported: str
    top_level: bool
    """Executed on import of ``module`` (not inside a function, not under ``if TYPE_CHECKING:``)."""


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted(ROOT.rglob("*.py")):
        if "resources" in path.relative_to(ROOT).parts:
            continue
        found[_module_name(path)] = path
    return found


MODULES = _modules()


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    package = module.split(".") if is_package else module.split(".")[:-1]
    base = package[: len(package) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _arrows(module: str, path: Path) -> list[Arrow]:
    is_package = path.name == "__init__.py"
    arrows: list[Arrow] = []

    def visit(node: ast.AST, top_level: bool) -> None:
        if isinstance(node, ast.Import):
            arrows.extend(Arrow(module, alias.name, top_level) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            source = _resolve(module, is_package, node)
            for alias in node.names:
                target = f"{source}.{alias.name}"
                arrows.append(Arrow(module, target if target in MODULES else source, top_level))
        for child in ast.iter_child_nodes(node):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                visit(child, False)
            elif isinstance(node, ast.If) and _is_type_checking(node.test) and child in node.body:
                visit(child, False)
            else:
                visit(child, top_level)

    visit(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)), True)
    return arrows


GRAPH: list[Arrow] = [a for module, path in MODULES.items() for a in _arrows(module, path)]


def _owner(module: str, prefixes) -> str | None:
    """The longest name in ``prefixes`` that ``module`` is, or lies under (the root package: only is)."""
    matching = [p for p in prefixes if module == p or (p != ROOT.name and module.startswith(p + "."))]
    return max(matching, key=len) if matching else None


def component_of(module: str) -> str | None:
    """The component (a key of :data:`IMPORTS`) that ``module`` belongs to, None for a module outside them all."""
    return _owner(module, IMPORTS)


def _under(module: str, target: str) -> bool:
    """``module`` is ``target`` or lies under it (the facade ``codealign``: only is)."""
    return module == target or (target != ROOT.name and module.startswith(target + "."))


def _allowed(module: str, imported: str) -> bool:
    return any(_under(imported, target) for target in IMPORTS[component_of(module)])


def _circles(edges: dict[str, set[str]]) -> list[frozenset[str]]:
    """The strongly connected parts of more than one node (Tarjan's algorithm, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found = []
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges.get(root, ()))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                elif child in stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                part = set()
                while True:
                    member = stack.pop()
                    part.add(member)
                    if member == node:
                        break
                if len(part) > 1:
                    found.append(frozenset(part))
    return found


def domain_package(module: str) -> str | None:
    """``codealign.domains.<name>`` for a module of a domain package (not the registry or shared helpers)."""
    parts = module.split(".")
    if len(parts) < 3 or parts[:2] != ["codealign", "domains"]:
        return None
    candidate = ".".join(parts[:3])
    return candidate if (ROOT / "domains" / parts[2] / "__init__.py").is_file() else None


def _check(offences: list[str]) -> None:
    unique = sorted(set(offences))
    if unique:
        pytest.fail(f"{len(unique)} offending arrow(s):\n" + "\n".join(unique), pytrace=False)


def test_every_module_belongs_to_a_component():
    missing = sorted(m for m in MODULES if component_of(m) is None)
    assert not missing, f"modules of no component (add them to IMPORTS and the README): {', '.join(missing)}"


def test_every_arrow_between_components_is_named_in_the_table():
    offences = [f"{a.module} -> {a.imported} ({component_of(a.module)} may not import {component_of(a.imported)}: "
                f"name the arrow in IMPORTS, or move the code)" for a in GRAPH
                if component_of(a.module) and component_of(a.imported) not in (None, component_of(a.module))
                and not _allowed(a.module, a.imported)]
    _check(offences)


def test_every_arrow_the_table_names_is_drawn_by_an_import():
    drawn = {(component_of(a.module), target) for a in GRAPH if component_of(a.module)
             for target in IMPORTS[component_of(a.module)] if _under(a.imported, target)}
    stale = sorted(f"{src} -> {dst}" for src, targets in IMPORTS.items() for dst in targets if (src, dst) not in drawn)
    assert not stale, f"arrows in IMPORTS that no import draws (remove them): {', '.join(stale)}"


def test_the_table_lists_components_lowest_first_so_they_form_no_circle():
    order = list(IMPORTS)
    offences = [f"{src} -> {dst}" for src, targets in IMPORTS.items() for dst in targets
                if order.index(component_of(dst)) >= order.index(src)]
    assert not offences, f"arrows to a component listed at or after the importer: {', '.join(offences)}"


def test_no_modules_import_each_other_in_a_circle():
    edges: dict[str, set[str]] = {}
    for a in GRAPH:
        if a.imported in MODULES and a.imported != a.module:
            edges.setdefault(a.module, set()).add(a.imported)
    circles = [" <-> ".join(sorted(c)) for c in _circles(edges)]
    assert not circles, "import circles (move what both need into a module both import): " + "; ".join(circles)


def test_every_pipeline_module_has_a_place_in_the_pipeline_order():
    missing = sorted(m for m in MODULES if component_of(m) == "codealign.pipeline" and m not in PIPELINE_ORDER)
    assert not missing, f"pipeline modules not in PIPELINE_ORDER: {', '.join(missing)}"


def test_the_pipelines_modules_import_only_those_before_them():
    offences = [f"{a.module} -> {a.imported} (the pipeline order puts it after {a.module})" for a in GRAPH
                if a.module in PIPELINE_ORDER and a.imported in PIPELINE_ORDER and a.module != a.imported
                and PIPELINE_ORDER.index(a.imported) > PIPELINE_ORDER.index(a.module)]
    _check(offences)


def test_domains_never_import_each_other():
    offences = []
    for a in GRAPH:
        src, dst = domain_package(a.module), domain_package(a.imported)
        if src and dst and src != dst:
            offences.append(f"{a.module} -> {a.imported} (domain {src.rsplit('.', 1)[1]} imports domain "
                            f"{dst.rsplit('.', 1)[1]})")
    _check(offences)


def test_only_the_domain_registry_imports_a_domain_package_from_outside_it():
    offences = []
    for a in GRAPH:
        dst = domain_package(a.imported)
        if dst and domain_package(a.module) != dst and a.module not in REGISTRY:
            offences.append(f"{a.module} -> {a.imported} ({component_of(a.module)} names domain "
                            f"{dst.rsplit('.', 1)[1]}; go through the registry)")
    _check(offences)


def test_argparse_is_imported_only_under_cli():
    offences = [f"{a.module} -> argparse ({component_of(a.module)} parses arguments)"
                for a in GRAPH if a.imported.split(".")[0] == "argparse" and _owner(a.module, ["codealign.cli"]) is None]
    _check(offences)


def test_only_train_imports_torch_and_its_stack_at_module_top_level():
    offences = [f"{a.module} -> {a.imported} ({component_of(a.module)} loads torch on import)"
                for a in GRAPH
                if a.top_level and a.imported.split(".")[0] in HEAVY and _owner(a.module, HEAVY_ALLOWED) is None]
    _check(offences)


# -- the guard's own parsing, on sources written for it ----------------------------------------------------------

@pytest.mark.parametrize("source, module, is_package, expected", [
    ("from . import x", "codealign.domains.verilog", True, "codealign.domains.verilog"),
    ("from .. import base", "codealign.domains.verilog", True, "codealign.domains"),
    ("from ..base import Domain", "codealign.domains.verilog.tasks", False, "codealign.domains.base"),
    ("from .tasks import T", "codealign.domains.verilog.mutate", False, "codealign.domains.verilog.tasks"),
])
def test_relative_imports_resolve_against_the_importing_package(source, module, is_package, expected):
    assert _resolve(module, is_package, ast.parse(source).body[0]) == expected


def test_from_imports_point_at_the_named_submodule_when_there_is_one(tmp_path):
    path = tmp_path / "m.py"
    path.write_text("from codealign import bench, UserError\nimport codealign\n")
    assert {a.imported for a in _arrows("codealign.sandbox.m", path)} == {"codealign.bench", "codealign"}


def test_a_module_nobody_placed_has_no_component_and_the_facade_covers_only_itself():
    assert component_of("codealign.newthing") is None and component_of("codealign") == "codealign"
    assert component_of("codealign.train.models") == "codealign.train"


def test_an_arrow_to_a_named_module_allows_that_module_only():
    assert _allowed("codealign.generate.hf", "codealign.train.models")
    assert not _allowed("codealign.generate.hf", "codealign.train.dpo")


def test_circles_are_found_and_a_chain_is_not_one():
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": {"e"}}
    assert _circles(edges) == [frozenset("abc")]
    assert _circles({"a": {"b"}, "b": {"c"}}) == []


def test_imports_inside_functions_count_but_are_not_top_level(tmp_path):
    path = tmp_path / "m.py"
    path.write_text("import os\ndef f():\n    import torch\nif TYPE_CHECKING:\n    import trl\n")
    arrows = {a.imported: a.top_level for a in _arrows("codealign.m", path)}
    assert arrows == {"os": True, "torch": False, "trl": False}
