"""What a candidate design may contain, decided on slang's syntax tree (pyslang), never on regexes over text.

The candidate is lexed raw first: every compiler directive must be one that reads nothing and embeds nothing
(``include``, ``line``, ``pragma``, ``protect``, Verilator's ``systemc_*``/``verilator_config`` are refused, so
no host file is ever opened). Only then is it preprocessed and parsed (no include paths) and the whole tree
walked, every ``generate`` branch and every module included, whatever a parameter would select:

* top-level items: modules, UDPs and packages, plus compilation-unit declarations, checked like module
  bodies (no ``bind``, ``config``, interfaces, programs, classes, DPI imports or exports);
* no ``defparam``, ``force``/``release``, procedural ``assign``/``deassign``;
* every hierarchical name (``a.b``) starts at a scope the same module declares (an instance, a named or
  generate block, or a variable of a struct, union, enum or named type), so nothing outside the candidate's
  own instances is reachable; ``$root``, ``$unit``, ``this``/``super``, ``::`` and ``import`` of packages the
  candidate does not define are refused;
* every instantiated module is one the candidate defines (or a gate primitive), and no candidate module takes
  a reserved name (the testbench's modules);
* no assignment, increment, gate output or ``inout``/``output`` connection drives a module's own ``input``
  port, and the top module declares the reference's inputs as inputs (a design that drives its inputs would
  drive the testbench's stimulus net, e.g. to X, which the reference then sees);
* every system task or function is in :data:`ALLOWED_SYSTEM_NAMES`, the name taken from the token's value
  (an escaped identifier ``\\$finish `` is the name ``$finish``).

Printing is not restricted (``$display``, ``$write``, ``$strobe`` may print anything): the verdict never
reads untagged output. :func:`check_design` is the interface (cocotb designs go through it too); :func:`main` is the
sandboxed job step (self-contained, so ``python -I allowlist.py`` runs without the package on ``sys.path``).
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass

import pyslang
from pyslang import parsing, syntax

# Pure functions of their arguments, time and randomness, and outputs to stdout. Everything else (files,
# plusargs, ending or steering the simulation, dumping, other scopes, Verilator's $c C++) is refused, and so
# are $monitor (a new one cancels the testbench's), $monitoroff and $timeformat (global state).
ALLOWED_SYSTEM_NAMES = frozenset(
    "$signed $unsigned $clog2 $bits $high $low $left $right $size $increment $dimensions "
    "$unpacked_dimensions $countones $countbits $onehot $onehot0 $isunknown $cast $typename $isunbounded "
    "$ln $log10 $exp $sqrt $pow $floor $ceil $sin $cos $tan $asin $acos $atan $atan2 $hypot $sinh $cosh "
    "$tanh $asinh $acosh $atanh $rtoi $itor $realtobits $bitstoreal $shortrealtobits $bitstoshortreal "
    "$random $urandom $urandom_range $dist_uniform $dist_normal $dist_exponential $dist_poisson "
    "$time $stime $realtime $past $rose $fell $stable $changed $sampled "
    "$display $displayb $displayh $displayo $write $writeb $writeh $writeo $strobe $strobeb $strobeh "
    "$strobeo $sformat $sformatf $swrite $swriteb $swriteh $swriteo $sscanf $printtimescale $info $warning "
    "$error".split()
)

# Directives that read, embed or relabel nothing. Any other directive must be a macro the candidate defines.
ALLOWED_DIRECTIVES = frozenset(
    "define undef undefineall ifdef ifndef elsif else endif timescale default_nettype resetall celldefine "
    "endcelldefine unconnected_drive nounconnected_drive begin_keywords end_keywords __FILE__ __LINE__".split()
)
# Names other tools read as directives even when the candidate defines a macro of that name.
TOOL_DIRECTIVE_PREFIXES = ("include", "line", "pragma", "protect", "endprotect", "systemc", "verilator",
                           "coverage", "__")

_TOP_LEVEL = {"ModuleDeclaration", "UdpDeclaration", "PackageDeclaration", "TimeUnitsDeclaration",
              "TypedefDeclaration", "ParameterDeclarationStatement", "FunctionDeclaration", "TaskDeclaration",
              "DataDeclaration", "NetDeclaration", "EmptyMember", "PackageImportDeclaration", "CompilationUnit"}
_REFUSED = {
    "DefParam": "defparam",
    "ProceduralForceStatement": "force",
    "ProceduralReleaseStatement": "release",
    "ProceduralAssignStatement": "procedural assign",
    "ProceduralDeassignStatement": "deassign",
    "BindDirective": "bind",
    "DPIImport": "DPI import",
    "DPIExport": "DPI export",
    "ConfigDeclaration": "config",
    "InterfaceDeclaration": "interface",
    "ProgramDeclaration": "program",
    "ClassDeclaration": "class",
    "CheckerDeclaration": "checker",
    "ExternModuleDecl": "extern module",
    "ExternUdpDecl": "extern primitive",
    "LibraryDeclaration": "library",
    "ThisHandle": "this",
    "SuperHandle": "super",
    "LocalScope": "local::",
    "UnitScope": "$unit",
    "RootScope": "$root",
}
_ASSIGNMENTS = {"AssignmentExpression", "NonblockingAssignmentExpression", "AddAssignmentExpression",
                "SubtractAssignmentExpression", "MultiplyAssignmentExpression", "DivideAssignmentExpression",
                "ModAssignmentExpression", "AndAssignmentExpression", "OrAssignmentExpression",
                "XorAssignmentExpression", "LogicalLeftShiftAssignmentExpression",
                "LogicalRightShiftAssignmentExpression", "ArithmeticLeftShiftAssignmentExpression",
                "ArithmeticRightShiftAssignmentExpression"}

_INCREMENTS = {"PostdecrementExpression", "PostincrementExpression", "UnaryPredecrementExpression",
               "UnaryPreincrementExpression"}


@dataclass(frozen=True)
class Violation:
    """One refused construct: what it is (``defparam``, ``$finish``, ``hierarchical name tb.x``, ...) and
    the 1-based line of the candidate it is on (0 where unknown)."""

    construct: str
    line: int = 0
    kind: str = "construct"
    """``construct``, or ``compiler`` for what compiling the design alone also rejects (text slang cannot
    parse, an instance of an undefined module): the compiler's message then names the failure."""


def check_design(files: dict[str, str], reserved: frozenset[str] = frozenset(), top: str | None = None,
                 inputs: frozenset[str] = frozenset()) -> list[Violation]:
    """The violations of the design made of ``files`` (name -> text, one compilation unit, in order); empty
    when it may be simulated. ``reserved``: module names the design may not define (the testbench's);
    ``top`` must declare each port of ``inputs`` that it has as an ``input`` (the reference's inputs: a port
    of another direction would drive the testbench's stimulus). Text slang cannot parse gives one
    ``compiler`` violation."""
    violations = check_directives(files)
    if violations:
        return violations
    sm = pyslang.SourceManager()
    tree = syntax.SyntaxTree.fromBuffers([sm.assignText(name, text) for name, text in files.items()], sm)
    errors = [d for d in tree.diagnostics if d.isError()]
    if errors:
        return [Violation(f"text the checker cannot parse ({errors[0].code})", _line(sm, errors[0]), "compiler")]
    modules: dict = {}
    others = _walk_top(tree.root, sm, violations, modules)
    for name, node in modules.items():
        if name in reserved:
            violations.append(Violation(f"module name {name} (taken by the testbench)", _line(sm, node)))
    if top in modules:
        for name, direction in _ports(modules[top]):
            if name in inputs and direction != "input":
                violations.append(Violation(f"port {name} declared {direction} (an input)", _line(sm, modules[top])))
    for node in [*modules.values(), *others]:
        _Module(node, sm, modules, violations).check()
    return list(dict.fromkeys(violations))


def module_ports(text: str, module: str) -> list[tuple[str, str]]:
    """``(name, direction)`` of each port of ``module`` defined in ``text`` (trusted text: a reference)."""
    tree = syntax.SyntaxTree.fromText(text)  # its nodes live only as long as the tree object
    modules: dict = {}
    _walk_top(tree.root, pyslang.SourceManager(), [], modules)
    return _ports(modules[module]) if module in modules else []


def check_directives(files: dict[str, str]) -> list[Violation]:
    """The refused compiler directives of the raw (unpreprocessed) text, macro bodies included: run before
    anything preprocesses the text, so that no directive ever reads a file."""
    sm = pyslang.SourceManager()
    return [v for name, text in files.items() for v in _directives(sm.assignText(name, text), sm)]


def _line(sm, at) -> int:
    loc = at.sourceRange.start if isinstance(at, syntax.SyntaxNode) else at.location
    return sm.getLineNumber(sm.getFullyOriginalLoc(loc)) if loc.buffer.id else 0


def _directives(buffer, sm) -> list[Violation]:
    """Directives of the raw (unpreprocessed) text, macro bodies included."""
    out, defined = [], set()
    lexer = parsing.Lexer(buffer, pyslang.BumpAllocator(), pyslang.Diagnostics(), sm)
    previous = None
    while True:
        tok = lexer.lex()
        kind = tok.kind
        if kind == parsing.TokenKind.EndOfFile:
            break
        if previous is not None and previous.kind == parsing.TokenKind.Directive and previous.rawText == "`define" \
                and kind == parsing.TokenKind.Identifier:
            defined.add(tok.valueText)
        if kind == parsing.TokenKind.Directive:
            name = tok.rawText.lstrip("`")
            tool = name.startswith(TOOL_DIRECTIVE_PREFIXES) and name not in ("__FILE__", "__LINE__")
            if tool or (name not in ALLOWED_DIRECTIVES and name not in defined):
                out.append(Violation(f"directive `{name}", _line(sm, tok)))
        previous = tok
    return out


def _walk_top(root, sm, violations, modules) -> list:
    """Sort the top-level items: refused ones into ``violations``, modules and packages (``::name``) into
    ``modules``; returns the other allowed ones (compilation-unit declarations, checked like a module body)."""
    others = []
    # a text of one item parses to that item, not to a compilation unit
    for member in root.members if root.kind.name == "CompilationUnit" else (root,):
        kind = member.kind.name
        if kind not in _TOP_LEVEL:
            violations.append(Violation(_REFUSED.get(kind, f"top-level {kind}"), _line(sm, member)))
        elif kind == "ModuleDeclaration":
            modules[member.header.name.valueText] = member
        elif kind == "PackageDeclaration":
            modules.setdefault("::" + member.header.name.valueText, member)
        else:
            others.append(member)
    return others


# Types whose variables have members (``s.field``, ``e.name()``): a dotted name may start at such a variable.
_MEMBER_TYPES = {"NamedType", "StructType", "UnionType", "EnumType"}


class _Module:
    """The checks that need a module's own declarations."""

    def __init__(self, node, sm, modules, violations):
        self.sm, self.modules, self.violations = sm, modules, violations
        self.inputs = {name for name, direction in _ports(node) if direction == "input"}
        self.scopes: set[str] = set()
        """Names a dotted name may start at: instances, generate and named blocks, variables with members."""
        self.nodes: list = []
        node.visit(self._collect)

    def _collect(self, n) -> None:
        self.nodes.append(n)
        if not isinstance(n, syntax.SyntaxNode):
            return
        kind = n.kind.name
        if kind == "HierarchicalInstance" and n.decl is not None:
            self.scopes.add(n.decl.name.valueText)
        elif kind == "NamedBlockClause":
            self.scopes.add(n.name.valueText)
        elif kind == "Declarator" and n.parent is not None:
            parent = n.parent
            data_type = getattr(parent, "type", None) if parent.kind.name == "DataDeclaration" else \
                getattr(getattr(parent, "header", None), "dataType", None)
            if data_type is not None and data_type.kind.name in _MEMBER_TYPES:
                self.scopes.add(n.name.valueText)

    def check(self) -> None:
        for n in self.nodes:
            if isinstance(n, syntax.SyntaxNode):
                self._node(n)
            else:
                self._token(n)

    def refuse(self, what: str, at, kind: str = "construct") -> None:
        self.violations.append(Violation(what, _line(self.sm, at), kind))

    def _token(self, tok) -> None:
        text = tok.valueText
        if text.startswith("$") and tok.kind.name in ("SystemIdentifier", "Identifier") \
                and text not in ALLOWED_SYSTEM_NAMES:
            self.refuse(text, tok)

    def _node(self, n) -> None:
        kind = n.kind.name
        if kind in _REFUSED:
            self.refuse(_REFUSED[kind], n)
        elif kind == "ScopedName":
            self._scoped(n)
        elif kind == "HierarchyInstantiation":
            type_name = n.type.valueText
            if type_name not in self.modules:
                self.refuse(f"instance of {type_name} (not defined by the design)", n, "compiler")
            else:
                self._connections(n, self.modules[type_name])
        elif kind in _ASSIGNMENTS:
            self._drives(n.left, n)
        elif kind in _INCREMENTS:
            self._drives(n.operand, n)
        elif kind == "PackageImportItem" and "::" + n.package.valueText not in self.modules:
            self.refuse(f"import of package {n.package.valueText}", n)
        elif kind == "PrimitiveInstantiation":
            gate = n.type.valueText
            driven = None if gate in ("pullup", "pulldown") else 2 if "tran" in gate else 1
            for inst in _items(n.instances):
                for port in list(_items(inst.connections))[:driven]:
                    self._drives(port.expr, n)

    def _scoped(self, n) -> None:
        if n.separator.kind.name == "DoubleColon":
            left = _leftmost(n)
            name = getattr(left, "identifier", None)
            if name is None or ("::" + name.valueText) not in self.modules and name.valueText != "std":
                self.refuse(f"scope {str(n).strip()}", n)
            return
        parent = n.parent
        if parent is not None and parent.kind.name == "ScopedName" and parent.left is n:
            return  # the outermost name of a chain decides
        left = _leftmost(n)
        name = getattr(left, "identifier", None)
        if name is None or name.valueText not in self.scopes:
            self.refuse(f"hierarchical name {str(n).strip()}", n)

    def _drives(self, target, at) -> None:
        for name in _written_names(target):
            if name in self.inputs:
                self.refuse(f"drives its own input {name}", at)

    def _connections(self, inst_node, module) -> None:
        ports = _ports(module)
        driving = {name for name, direction in ports if direction in ("output", "inout")}
        for inst in _items(inst_node.instances):
            for i, conn in enumerate(_items(inst.connections)):
                kind = conn.kind.name
                if kind == "NamedPortConnection" and conn.name.valueText in driving:
                    self._drives(conn.expr, inst_node)
                elif kind == "OrderedPortConnection" and i < len(ports) and ports[i][0] in driving:
                    self._drives(conn.expr, inst_node)


def _ports(module) -> list[tuple[str, str]]:
    """``(name, direction)`` of each port of a module declaration, in order (ANSI ports without a direction
    take the previous one's; ``inout`` for the first)."""
    ports = getattr(getattr(module, "header", None), "ports", None)
    if ports is None:
        return []
    if ports.kind.name == "AnsiPortList":
        out, direction = [], "inout"
        for port in _items(ports.ports):
            if isinstance(port, syntax.ImplicitAnsiPortSyntax):
                d = getattr(port.header, "direction", None)
                direction = d.valueText if d is not None and d.valueText else direction
                out.append((port.declarator.name.valueText, direction))
        return out
    directions = {}
    for member in module.members:
        if member.kind.name == "PortDeclaration":
            for decl in _items(member.declarators):
                direction = getattr(member.header, "direction", None)
                directions[decl.name.valueText] = direction.valueText if direction is not None else ""
    return [(str(port).strip(), directions.get(str(port).strip(), "")) for port in _items(ports.ports)]


def _items(nodes):
    """The nodes of a separated list (its comma tokens left out)."""
    return (n for n in nodes if isinstance(n, syntax.SyntaxNode))


def _leftmost(n):
    while n is not None and n.kind.name == "ScopedName":
        n = n.left
    return n


def _written_names(expr) -> list[str]:
    """The variables an lvalue (or a port connection's expression) writes: ``a`` of ``a[3]``, both of
    ``{a, b}``."""
    if expr is None:
        return []
    kind = expr.kind.name
    if kind in ("IdentifierName", "IdentifierSelectName"):
        return [expr.identifier.valueText]
    if kind == "ElementSelectExpression":
        return _written_names(expr.left)
    if kind in ("ParenthesizedExpression", "SimplePropertyExpr", "SimpleSequenceExpr"):
        return _written_names(expr.expression if kind == "ParenthesizedExpression" else
                              expr.expr)
    if kind == "ConcatenationExpression":
        return [name for e in _items(expr.expressions) for name in _written_names(e)]
    return []


def main(argv: list[str]) -> int:
    """``allowlist.py [--reserved A,B] [--top T --inputs A,B] [--iverilog PATH] SOURCE PREPROCESSED`` (see
    :func:`check_design` for the options): check SOURCE's directives; then,
    given ``--iverilog``, preprocess SOURCE into PREPROCESSED with it and check PREPROCESSED's tree (what is
    compiled is what was checked), else check SOURCE's. Prints ``{"violations": [...], "preprocess": {"rc",
    "log"} or null}``; exits 0 (clean), 2 (only ``compiler`` violations) or 3 (refused)."""
    import subprocess

    args = list(argv)
    options = {}
    while args and args[0].startswith("--"):
        options[args[0]] = args[1]
        del args[:2]
    source, preprocessed = args
    reserved, inputs = (frozenset(filter(None, options.get(flag, "").split(","))) for flag in ("--reserved", "--inputs"))
    report: dict = {"violations": [], "preprocess": None}

    def read(path: str) -> dict[str, str]:
        with open(path, "rb") as fh:  # latin-1: one character per byte, as the compiler reads it
            return {path: fh.read().decode("latin-1")}

    violations = check_directives(read(source))
    if not violations and "--iverilog" in options:
        done = subprocess.run([options["--iverilog"], "-g2012", "-E", "-o", preprocessed, source],
                              stdin=subprocess.DEVNULL, capture_output=True)
        report["preprocess"] = {"rc": done.returncode,
                                "log": (done.stdout + done.stderr).decode("utf-8", "replace")[-4000:]}
        if done.returncode != 0:
            print(json.dumps(report))
            return 3
    if not violations:
        violations = check_design(read(preprocessed if "--iverilog" in options else source), reserved,
                                  options.get("--top"), inputs)
    report["violations"] = [asdict(v) for v in violations]
    print(json.dumps(report))
    if not violations:
        return 0
    return 2 if all(v.kind == "compiler" for v in violations) else 3


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
