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

#: The layers, lowest first. A module may import its own layer and the layers below, never one above.
#: A module belongs to the layer of the longest listed name it is or lies under (``codealign`` itself, the library
#: facade, covers only itself); a module with none fails ``test_every_module_has_a_layer``.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("base", ("codealign.types", "codealign.config", "codealign.jsonl", "codealign.errors", "codealign.extraction",
              "codealign.fim", "codealign.registry")),
    ("sandbox", ("codealign.sandbox",)),
    ("domains", ("codealign.domains",)),
    ("execution", ("codealign.execution",)),
    ("stages", ("codealign.bench", "codealign.pairs", "codealign.train", "codealign.generate", "codealign.reward",
                "codealign.data", "codealign.doctor")),
    ("pipeline", ("codealign.pipeline", "codealign.report", "codealign")),
    ("cli", ("codealign.cli",)),
]

#: The pipeline layer's modules in the order a run is built: each imports only modules before it, so
#: ``pipeline <-> report`` and every other circle inside the layer is refused. The run report reads a run's state and
#: is written by the report stage; the package ``codealign.pipeline`` re-exports its modules; the facade comes last.
PIPELINE_ORDER = ("codealign.pipeline.config", "codealign.pipeline.plan", "codealign.pipeline.rounds",
                  "codealign.pipeline.state", "codealign.report", "codealign.pipeline.evaluate",
                  "codealign.pipeline.stages", "codealign.pipeline.run", "codealign.pipeline", "codealign")

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


def layer_of(module: str) -> int | None:
    prefix = _owner(module, [p for _, prefixes in LAYERS for p in prefixes])
    if prefix is None:
        return None
    return next(i for i, (_, prefixes) in enumerate(LAYERS) if prefix in prefixes)


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


def test_every_module_has_a_layer():
    missing = sorted(m for m in MODULES if layer_of(m) is None)
    assert not missing, f"modules with no layer (add them to LAYERS and the README): {', '.join(missing)}"


def test_imports_never_point_up_the_layers():
    offences = []
    for a in GRAPH:
        src, dst = layer_of(a.module), layer_of(a.imported)
        if src is not None and dst is not None and dst > src:
            offences.append(f"{a.module} -> {a.imported} (layer {LAYERS[src][0]} imports layer {LAYERS[dst][0]})")
    _check(offences)


def test_every_pipeline_layer_module_has_a_place_in_the_pipeline_order():
    layer = next(i for i, (name, _) in enumerate(LAYERS) if name == "pipeline")
    missing = sorted(m for m in MODULES if layer_of(m) == layer and m not in PIPELINE_ORDER)
    assert not missing, f"pipeline-layer modules not in PIPELINE_ORDER: {', '.join(missing)}"


def test_the_pipeline_layers_modules_import_only_those_before_them():
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
            offences.append(f"{a.module} -> {a.imported} (layer {LAYERS[layer_of(a.module)][0]} names domain "
                            f"{dst.rsplit('.', 1)[1]}; go through the registry)")
    _check(offences)


def test_argparse_is_imported_only_under_cli():
    offences = [f"{a.module} -> argparse (layer {LAYERS[layer_of(a.module) or 0][0]} parses arguments)"
                for a in GRAPH if a.imported.split(".")[0] == "argparse" and _owner(a.module, ["codealign.cli"]) is None]
    _check(offences)


def test_only_train_imports_torch_and_its_stack_at_module_top_level():
    offences = [f"{a.module} -> {a.imported} (layer {LAYERS[layer_of(a.module) or 0][0]} loads torch on import)"
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


def test_a_module_nobody_placed_has_no_layer():
    assert layer_of("codealign.newthing") is None and layer_of("codealign") == layer_of("codealign.pipeline")


def test_imports_inside_functions_count_but_are_not_top_level(tmp_path):
    path = tmp_path / "m.py"
    path.write_text("import os\ndef f():\n    import torch\nif TYPE_CHECKING:\n    import trl\n")
    arrows = {a.imported: a.top_level for a in _arrows("codealign.m", path)}
    assert arrows == {"os": True, "torch": False, "trl": False}
