"""The test-strength screen's designs: answers that no useful test may pass, made from a task's port list.

A task's test is *weak* when one of these passes it (:func:`codealign.bench.screen.screen` runs them and
marks the task): ``constant-0``, ``constant-1``, ``all-X`` and ``all-Z`` drive every output with ``'0``,
``'1``, ``'x`` or ``'z``; ``inverted-reference`` is the reference behind a wrapper that inverts every output
bit. Each is generated from the reference's module interface as slang elaborates it (its header, parameter
and port declarations, kept verbatim, so the testbench's parameter overrides and port widths still fit);
beside the inverted design, and in every design of a multi-file task (whose other files may use the file's
other modules), the reference's own text is kept with its module renamed. What is guaranteed: every design drives each output of the task's top module and nothing else
of it; inout ports are left undriven by the constant designs and passed through by the inverted one. Not
guaranteed: a reference whose ports slang cannot elaborate (unpacked array ports, interfaces) gives designs
that do not compile, which fail like any other design; the screen then says nothing about that task.
"""

from __future__ import annotations

import re

import pyslang
from pyslang import ast, syntax

from codealign.extraction import format_files
from codealign.types import Task

DESIGNS = ("constant-0", "constant-1", "all-X", "all-Z", "inverted-reference")
"""The screen's designs, in the order they are tried."""
_FILL = {"constant-0": "'0", "constant-1": "'1", "all-X": "'x", "all-Z": "'z"}
_KEPT = (syntax.SyntaxKind.PortDeclaration, syntax.SyntaxKind.ParameterDeclarationStatement,
         syntax.SyntaxKind.TypedefDeclaration)


def screen_answers(task: Task) -> dict[str, str]:
    """Design name → an answer to ``task`` (as a model would write it); {} for a task without a reference
    (a judge-only task has no port list to build from)."""
    reference = _reference(task)
    if reference is None:
        return {}
    files, ref_file, ref_module, top = reference
    text = files[ref_file]
    inner = f"{top}_screen_ref"
    renamed = re.sub(rf"\b(module|macromodule)(\s+){re.escape(ref_module)}(?![\w$])", rf"\1\2{inner}", text)
    out = {}
    for name in DESIGNS:
        design = screen_design(text, ref_module, top, name, inner) + "\n"
        if name == "inverted-reference" or len(files) > 1:  # the other files may use the file's other modules
            design = renamed.rstrip("\n") + "\n\n" + design
        out[name] = format_files({**files, ref_file: design}, "systemverilog") \
            if task.assets.get("format") == "cocotb" else design
    return out


def screen_design(reference: str, module: str, top: str, design: str, inner: str) -> str:
    """The module ``top`` with ``module``'s interface (from ``reference``) that behaves as ``design``
    (one of :data:`DESIGNS`); ``inverted-reference`` instantiates ``inner`` (the reference renamed)."""
    if design not in DESIGNS:
        raise ValueError(f"unknown screen design {design!r}; choose one of: {', '.join(DESIGNS)}")
    header, ports, params = _interface(reference, module)
    lines = [re.sub(rf"(?<![\w$]){re.escape(module)}(?![\w$])", top, header[0], count=1), *header[1:]]
    outputs = [n for n, d in ports if d == "out"]
    if design in _FILL:
        lines += [f"  assign {n} = {_FILL[design]};" for n in outputs]
    else:
        lines += [f"  logic [$bits({n})-1:0] {n}_screen_n;" for n in outputs]
        overrides = f" #({', '.join(f'.{p}({p})' for p in params)})" if params else ""
        conns = ", ".join(f".{n}({n}_screen_n)" if d == "out" else f".{n}({n})" for n, d in ports)
        lines.append(f"  {inner}{overrides} screen_inner({conns});")
        lines += [f"  assign {n} = ~{n}_screen_n;" for n in outputs]
    return "\n".join(lines + ["endmodule"])


def _reference(task: Task) -> tuple[dict[str, str], str, str, str] | None:
    """(reference files, the file defining the module the test drives, that module's name in the
    reference, the name the test instantiates), or None without a reference (or for a task that is not
    run here)."""
    assets = task.assets
    top = assets.get("top_module", "TopModule")
    if assets.get("skip") or not top:
        return None
    if assets.get("format") == "cocotb":
        files = dict(task.metadata.get("reference") or {})
        module = top
    elif isinstance(assets.get("ref"), str) and assets["ref"]:
        module = assets.get("ref_module") or assets.get("ref_top_module") or "RefModule"
        files = {"ref.sv": assets["ref"]}
    else:
        return None
    defining = [p for p, t in files.items() if re.search(rf"\b(module|macromodule)\s+{re.escape(module)}(?![\w$])", t)]
    return (files, defining[0], module, top) if defining else None


def _interface(text: str, module: str) -> tuple[list[str], list[tuple[str, str]], list[str]]:
    """``module``'s header lines (the header, then its port, parameter and typedef declarations), its ports
    as ``(name, "in" | "out" | "inout")`` and its overridable parameters, as slang elaborates it."""
    tree = syntax.SyntaxTree.fromText(text)
    decl = next((m for m in _modules(tree.root) if m.header.name.valueText == module), None)
    if decl is None:
        raise ValueError(f"no module {module!r} in the reference")
    options = ast.CompilationOptions()
    options.topModules = {module}
    compilation = ast.Compilation(pyslang.Bag([options]))
    compilation.addSyntaxTree(tree)
    inst = next(i for i in compilation.getRoot().topInstances if i.name == module)
    directions = {ast.ArgumentDirection.In: "in", ast.ArgumentDirection.Out: "out"}
    ports = [(p.name, directions.get(p.direction, "inout")) for p in inst.body.portList]
    params = [m.name for m in inst.body if m.kind == ast.SymbolKind.Parameter and not m.isLocalParam]
    header = [str(decl.header).strip()] + ["  " + str(m).strip() for m in decl.members if m.kind in _KEPT]
    return header, ports, params


def _modules(root) -> list:
    """The module declarations of a parsed text (slang's root is the module itself when there is one)."""
    members = [root] if root.kind == syntax.SyntaxKind.ModuleDeclaration else list(root.members)
    return [m for m in members if m.kind == syntax.SyntaxKind.ModuleDeclaration]
