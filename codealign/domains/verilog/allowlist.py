"""What a candidate design may contain, decided on slang's syntax tree (pyslang), never on regexes over text.

The candidate is lexed raw (nothing is preprocessed, so no file is ever opened) and re-emitted by
:func:`emit` as the one text every compiler builds: no directive or macro use but a plain ``timescale``
line, no attribute ``(* *)``, no comment. :func:`main` shows that ``iverilog -E`` and ``verilator -E`` read
that text as the same tokens. Its tree is then walked, every ``generate`` branch and every module included,
whatever a constant or a parameter would select:

* top-level items: modules, UDPs and packages, plus compilation-unit declarations, checked like module
  bodies (no ``bind``, ``config``, interfaces, programs, classes, DPI imports or exports);
* no ``defparam``, ``force``/``release``, procedural ``assign``/``deassign``;
* no name can be looked up upward, out of the design: a dotted name starts at a variable of a struct,
  union, enum or named type, or is ``inst.name`` with ``inst`` an instance of a module the design defines and
  ``name`` a port, net or variable at that module's top level; a task or function called, or a block
  disabled, by a simple name is one the design declares; each declared in a scope that lexically holds the
  use and exists whenever the use does (:func:`_declarations`), so whichever branch a simulator builds the
  name binds inside the design; ``$root``, ``$unit``, ``this``/``super``, ``::`` and ``import`` of packages
  the candidate does not define are refused;
* every instantiated module is one the candidate defines (or a gate primitive), and no candidate module takes
  a reserved name (the testbench's modules);
* no assignment (to the port, a select or a member of it, or through a streaming concatenation),
  increment, net declaration assignment (``wire a = x;``), gate output or ``inout``/``output`` connection
  (``.a(a)``, ``.a``, ``.*``) drives a module's own ``input`` port (or the net inside an explicit port
  ``.a(x)``), there is no ``alias``, and the top module declares the reference's inputs as inputs (a design
  that drives its inputs would drive the testbench's stimulus net, e.g. to X, which the reference then sees);
* each port of the top module is the net of its name (no ``.a(x)``, ``a[1:0]`` or ``{a, b}`` port): what
  the RTLLM shadow reads as ``dut.a`` is the port, never a decoy beside it;
* every system task or function is in :data:`ALLOWED_SYSTEM_NAMES`, the name taken from the token's value
  (an escaped identifier ``\\$finish `` is the name ``$finish``), and ``$random`` takes its seed argument
  (the simulation's one generator is the testbench's stimulus source).

Printing is not restricted (``$display``, ``$write``, ``$strobe`` may print anything): the verdict never
reads untagged output. :func:`check_design` is the interface (cocotb designs go through it too); :func:`main` is the
sandboxed job step (self-contained, so ``python -I allowlist.py`` runs without the package on ``sys.path``).
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import asdict, dataclass

import pyslang
from pyslang import parsing, syntax

# Pure functions of their arguments, time and randomness, and outputs to stdout. Everything else (files,
# plusargs, ending or steering the simulation, dumping, other scopes, Verilator's $c C++) is refused, and so
# are $monitor (a new one cancels the testbench's), $monitoroff and $timeformat (global state), and the random
# functions that draw from the simulation's one generator ($urandom, $urandom_range, and $random without its
# seed argument): the testbench draws its stimulus there, so a design calling them would choose which
# stimulus the testbench sends.
ALLOWED_SYSTEM_NAMES = frozenset(
    "$signed $unsigned $clog2 $bits $high $low $left $right $size $increment $dimensions "
    "$unpacked_dimensions $countones $countbits $onehot $onehot0 $isunknown $cast $typename $isunbounded "
    "$ln $log10 $exp $sqrt $pow $floor $ceil $sin $cos $tan $asin $acos $atan $atan2 $hypot $sinh $cosh "
    "$tanh $asinh $acosh $atanh $rtoi $itor $realtobits $bitstoreal $shortrealtobits $bitstoshortreal "
    "$random $dist_uniform $dist_normal $dist_exponential $dist_poisson "
    "$time $stime $realtime $past $rose $fell $stable $changed $sampled "
    "$display $displayb $displayh $displayo $write $writeb $writeh $writeo $strobe $strobeb $strobeh "
    "$strobeo $sformat $sformatf $swrite $swriteb $swriteh $swriteo $sscanf $printtimescale $info $warning "
    "$error".split()
)

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
    "NetAlias": "alias",
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
    of another direction would drive the testbench's stimulus). Each file is checked as :func:`emit` writes
    it (what is compiled); text slang cannot parse gives one ``compiler`` violation."""
    emitted = {}
    violations = []
    for name, text in files.items():
        emitted[name], refused = emit(text, name)
        violations += refused
    if violations:
        return violations
    sm = pyslang.SourceManager()
    tree = syntax.SyntaxTree.fromBuffers([sm.assignText(name, text) for name, text in emitted.items()], sm)
    errors = [d for d in tree.diagnostics if d.isError()]
    if errors:
        return [Violation(f"text the checker cannot parse ({errors[0].code})", _line(sm, errors[0]), "compiler")]
    modules: dict = {}
    others = _walk_top(tree.root, sm, violations, modules)
    for name, node in modules.items():
        if name in reserved:
            violations.append(Violation(f"module name {name} (taken by the testbench)", _line(sm, node)))
    if top in modules:
        for name, direction, inside in _port_list(modules[top]):
            if name in inputs and direction != "input":
                violations.append(Violation(f"port {name} declared {direction} (an input)", _line(sm, modules[top])))
            # the RTLLM shadow reads the port as ``dut.name``: that must be the port's own net, not a decoy
            if inside != {name}:
                violations.append(Violation(f"top-module port {name} that is not the net {name}",
                                            _line(sm, modules[top])))
    declared = _declarations(tree.root)
    for node in [*modules.values(), *others]:
        _Module(node, sm, modules, violations, declared).check()
    return list(dict.fromkeys(violations))


def module_ports(text: str, module: str) -> list[tuple[str, str]]:
    """``(name, direction)`` of each port of ``module`` defined in ``text`` (trusted text: a reference)."""
    tree = syntax.SyntaxTree.fromText(text)  # its nodes live only as long as the tree object
    modules: dict = {}
    _walk_top(tree.root, pyslang.SourceManager(), [], modules)
    return _ports(modules[module]) if module in modules else []


SHARED_STATE_NAMES = frozenset(
    "$random $urandom $urandom_range $dist_uniform $dist_normal $dist_exponential $dist_poisson $dist_chi_square "
    "$dist_t $dist_erlang".split())
"""System functions whose state one simulation shares between modules (Icarus keeps one ``$random`` generator
for all of them): a design calling any of them, in any form, is never simulated beside another."""
_SIMPLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*\Z")


def batch_form(emitted: str, suffix: str) -> dict:
    """``emitted`` (:func:`emit`'s text of a checked design) made fit to share a simulation: every module it
    defines renamed to ``NAME_suffix`` where a module name stands (its declaration, ``endmodule : NAME``, an
    instantiation), found on slang's tree and rewritten on slang's tokens, so no other text changes.
    ``{"text": renamed text, "modules": [names defined]}``, or ``{"refused": why}`` for a design that may not
    share one: one that calls a function of :data:`SHARED_STATE_NAMES` (however spelled), defines anything at
    the top level but modules (packages, primitives and compilation-unit declarations live in scopes all files
    share), or a module whose name is not a simple identifier."""
    sm, toks, _, _ = _lex(emitted, "cand.i")
    shared = sorted({t.valueText for t in toks if t.valueText in SHARED_STATE_NAMES})
    if shared:
        return {"refused": f"calls {shared[0]}, whose state the simulation shares"}
    tree = syntax.SyntaxTree.fromText(emitted)
    if any(d.isError() for d in tree.diagnostics):
        return {"refused": "text the checker cannot parse"}
    members = tree.root.members if tree.root.kind.name == "CompilationUnit" else (tree.root,)
    others = sorted({m.kind.name for m in members} - {"ModuleDeclaration", "TimeUnitsDeclaration", "EmptyMember"})
    if others:
        return {"refused": f"defines {others[0]} at the top level"}
    names = {m.header.name.valueText for m in members if m.kind.name == "ModuleDeclaration"}
    if not names or not all(_SIMPLE_NAME.match(n) for n in names):
        return {"refused": "defines no module, or one whose name is not a simple identifier"}
    spots: set[int] = set()

    def visit(n) -> None:
        if isinstance(n, syntax.SyntaxNode):
            if n.kind.name == "ModuleDeclaration":
                spots.add(n.header.name.location.offset)
                if n.blockName is not None:
                    spots.add(n.blockName.name.location.offset)
            elif n.kind.name == "HierarchyInstantiation" and n.type.valueText in names:
                spots.add(n.type.location.offset)

    tree.root.visit(visit)
    out = [_trivia(t, " ") + (f"{t.valueText}_{suffix}" if t.location.offset in spots else t.rawText) for t in toks]
    return {"text": "".join(out) + "\n", "modules": sorted(names)}


def elaboration_error(files: dict[str, str]) -> str:
    """The first error slang reports elaborating ``files`` (name -> text) as one design; "" when none: a batch
    of renamed designs and their harness must elaborate whole (no member names another's module). Mixed
    time scales are no error here."""
    sm = pyslang.SourceManager()
    compilation = pyslang.ast.Compilation()
    for name, text in files.items():
        compilation.addSyntaxTree(syntax.SyntaxTree.fromText(text, sm, name))
    # a design without a timescale beside one with it: Icarus gives it the default, as when it is built alone
    errors = [d for d in compilation.getAllDiagnostics()
              if d.isError() and d.code != pyslang.Diags.MissingTimeScale]
    return f"{errors[0].code} at line {_line(sm, errors[0])}" if errors else ""


def emit(text: str, name: str = "cand.sv") -> tuple[str, list[Violation]]:
    """The text every later step reads and every compiler compiles, and the refused lexical constructs of
    ``text``: its tokens as slang lexes them (no preprocessing), comments dropped, each token preceded by the
    line breaks before it (so line numbers stay) or one space. Refused: every compiler directive or macro
    use but a plain ``timescale UNIT / PRECISION`` (kept as written: the build reads it as the design's
    time scale), and attributes ``(* *)`` (a comment to Icarus's preprocessor, a string-holding construct to
    slang). Tokens slang cannot lex give one ``compiler`` violation."""
    sm, tokens, diagnostics, _ = _lex(text, name)
    violations, out = [], []
    kinds = [t.kind.name for t in tokens]
    for i, tok in enumerate(tokens):
        kind = kinds[i]
        if kind == "Directive" and not (tok.rawText == "`timescale" and kinds[i + 1:i + 4] == _TIMESCALE
                                        and _trivia(tokens[i + 4] if i + 4 < len(tokens) else None, "").count("\n")):
            violations.append(Violation(f"directive {tok.rawText}", _line(sm, tok)))
        elif _attribute(tokens, i):
            violations.append(Violation("attribute (* *)", _line(sm, tok)))
        elif kind == "Unknown":
            violations.append(Violation(f"text the checker cannot lex ({tok.rawText!r})", _line(sm, tok), "compiler"))
        out.append(_trivia(tok, " ") + tok.rawText)
    errors = [d for d in diagnostics if d.isError()]
    if errors:
        violations.append(Violation(f"text the checker cannot lex ({errors[0].code})", _line(sm, errors[0]),
                                    "compiler"))
    return "".join(out) + "\n", list(dict.fromkeys(violations))


_TIMESCALE = ["TimeLiteral", "Slash", "TimeLiteral"]


def _trivia(tok, blank: str) -> str:
    """What stands for the whitespace and comments before ``tok``: its line breaks, else ``blank`` where there
    is any (so no two tokens are glued together that were apart), else nothing."""
    if tok is None:
        return "\n"
    raw = "".join(t.getRawText() for t in tok.trivia)
    return "\n" * raw.count("\n") or (blank if raw else "")


def _attribute(tokens, i: int) -> bool:
    """Whether ``tokens[i]`` opens or closes what a preprocessor reads as ``(* *)`` (``(`` glued to a token
    starting with ``*``, or one ending with ``*`` glued to ``)``), the implicit event list ``(*)`` aside."""
    def glued(j: int) -> bool:
        return 0 <= j < len(tokens) - 1 and not tokens[j + 1].trivia

    def implicit(j: int) -> bool:
        return [t.rawText for t in tokens[max(j - 1, 0):j + 2]] == ["(", "*", ")"] and glued(j - 1) and glued(j)

    opens = tokens[i].rawText == "(" and glued(i) and tokens[i + 1].rawText.startswith("*")
    closes = tokens[i].rawText.endswith("*") and glued(i) and tokens[i + 1].rawText == ")"
    return (opens and not implicit(i + 1)) or (closes and not implicit(i))


def tokens(text: str) -> list[tuple[str, str, int]]:
    """``(kind, text, line)`` of each token slang lexes in ``text`` (no preprocessing): what two readers of
    one text must agree on (kind and text)."""
    sm, toks, _, _ = _lex(text)
    return [(tok.kind.name, tok.rawText, _line(sm, tok)) for tok in toks]


def _lex(text: str, name: str = "t.sv") -> tuple:
    """slang's source manager, tokens (no preprocessing) and diagnostics of ``text``, and the allocator the
    tokens live in."""
    sm, diagnostics, memory = pyslang.SourceManager(), pyslang.Diagnostics(), pyslang.BumpAllocator()
    lexer = parsing.Lexer(sm.assignText(name, text), memory, diagnostics, sm)
    toks = []
    while (tok := lexer.lex()).kind != parsing.TokenKind.EndOfFile:
        toks.append(tok)
    return sm, toks, diagnostics, memory


def _line(sm, at) -> int:
    loc = at.sourceRange.start if isinstance(at, syntax.SyntaxNode) else at.location
    return sm.getLineNumber(sm.getFullyOriginalLoc(loc)) if loc.buffer.id else 0


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

    def __init__(self, node, sm, modules, violations, declared):
        self.sm, self.modules, self.violations, self.declared = sm, modules, violations, declared
        self.inputs = _input_names(node)
        self.key = _key(node)
        self.nodes: list = []
        node.visit(self.nodes.append)

    def _visible(self, name: str, at) -> list:
        """What ``name`` is declared as in the scopes that hold ``at`` and exist whenever ``at`` does (empty when
        it is declared nowhere such): there every simulator resolves it, never upward into the testbench,
        whatever branch or parameter value it builds."""
        scopes = set(_scopes(at))
        return [what for scope, what in self.declared.get(name, ()) if scope in scopes]

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
        elif kind in ("SystemName", "IdentifierName") and \
                (n.systemIdentifier if kind == "SystemName" else n.identifier).valueText == "$random":
            self._random(n)
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
        elif kind == "Declarator" and n.initializer is not None and _scopes(n)[0] == self.key:
            self._drives(n, n)  # ``wire a = x;`` on an input's name: a net declaration assignment drives it
        elif kind in ("InvocationExpression", "ExpressionStatement", "DisableStatement"):
            self._called(getattr(n, "left", None) or getattr(n, "expr", None) or n.name, kind)
        elif kind == "PackageImportItem" and "::" + n.package.valueText not in self.modules:
            self.refuse(f"import of package {n.package.valueText}", n)
        elif kind == "PrimitiveInstantiation":
            gate = n.type.valueText
            for inst in _items(n.instances):
                ports = list(_items(inst.connections))
                # pullup/pulldown drive every terminal, tran* both, buf/not all but their input, others one
                driven = len(ports) if gate in ("pullup", "pulldown") else 2 if "tran" in gate else \
                    len(ports) - 1 if gate in ("buf", "not") else 1
                for port in ports[:driven]:
                    self._drives(port.expr, n)

    def _random(self, n) -> None:
        """``$random`` (however spelled) only as ``$random(seed)``, which draws from the design's own seed."""
        parent = n.parent
        call = parent is not None and parent.kind.name == "InvocationExpression" and _key(parent.left) == _key(n)
        if not call or parent.arguments is None or len(list(_items(parent.arguments.parameters))) != 1:
            self.refuse("$random without a seed argument", n)

    def _scoped(self, n) -> None:
        if n.separator.kind.name == "DoubleColon":
            left = _leftmost(n)
            name = getattr(left, "identifier", None)
            if name is None or ("::" + name.valueText) not in self.modules and name.valueText != "std":
                self.refuse(f"scope {str(n).strip()}", n)
            return
        parent = n.parent
        if parent is not None and parent.kind.name == "ScopedName" and _key(parent.left) == _key(n):
            return  # the outermost name of a chain decides
        left = _leftmost(n)
        name = getattr(left, "identifier", None)
        found = self._visible(name.valueText, n) if name is not None else []
        if not found or not all(what == "members" or self._port_of_instance(what, n, left) for what in found):
            self.refuse(f"hierarchical name {str(n).strip()}", n)

    def _port_of_instance(self, what, n, left) -> bool:
        """``inst.name``: an instance (not an array of them) of a module the design defines, and a name that
        module declares at its top level (a port, net or variable: present whatever it builds)."""
        if what[0] != "instance" or left.kind.name != "IdentifierName" or _key(n.left) != _key(left):
            return False
        right = getattr(n.right, "identifier", None)
        module = self.modules.get(what[1])
        return right is not None and module is not None and right.valueText in _top_names(module)

    def _called(self, name, kind) -> None:
        """A subroutine called, or a block or task disabled, by a simple name: simulators look such a name up
        through the instance hierarchy when the design does not declare it."""
        ident = name.identifier.valueText if name is not None and name.kind.name == "IdentifierName" else "$"
        if not ident.startswith("$") and not self._visible(ident, name):
            what = "disable of" if kind == "DisableStatement" else "call of"
            self.refuse(f"{what} {ident} (not declared where it is used)", name)

    def _drives(self, target, at) -> None:
        for name in _written_names(target):
            if name in self.inputs:
                self.refuse(f"drives its own input {name}", at)

    def _connections(self, inst_node, module) -> None:
        ports = _ports(module)
        driving = {name for name, direction in ports if direction != "input"}
        for inst in _items(inst_node.instances):
            for i, conn in enumerate(_items(inst.connections)):
                kind = conn.kind.name
                if kind == "NamedPortConnection" and conn.name.valueText in driving:
                    # ``.a`` alone connects the signal of the same name
                    self._drives(conn.expr if conn.expr is not None else conn, inst_node)
                elif kind == "WildcardPortConnection":  # ``.*``: each port to the signal of its name
                    for name in sorted(driving & self.inputs):
                        self.refuse(f"drives its own input {name}", inst_node)
                elif kind == "OrderedPortConnection" and i < len(ports) and ports[i][0] in driving:
                    self._drives(conn.expr, inst_node)


def _declarations(root) -> dict[str, set]:
    """Where and as what each name a dotted name, a call or a ``disable`` may start at is declared:
    ``(scope, what)`` with the key of the innermost scope that holds the declaration wherever the declaration
    exists (a branch of a generate construct holds its own name) and ``("instance", module)``, ``"instances"``
    (an array), ``"block"``
    (named or generate block), ``"members"`` (a variable of a struct, union, enum or named type) or
    ``"subroutine"``."""
    declared: dict[str, set] = {}

    def collect(n) -> None:
        if not isinstance(n, syntax.SyntaxNode):
            return
        kind = n.kind.name
        name, scope, what = None, None, None
        if kind == "HierarchicalInstance" and n.decl is not None and n.parent is not None:
            what = ("instance", n.parent.type.valueText) if not len(n.decl.dimensions) else "instances"
            name, scope = n.decl.name, _scopes(n)[0]
        elif kind in ("GenerateBlock", "SequentialBlockStatement", "ParallelBlockStatement"):
            clause = getattr(n, "beginName", None) or getattr(n, "blockName", None) or n.label
            if clause is not None:
                name, scope, what = clause.name, _key(n) if _is_branch(n) else _scopes(n.parent)[0], "block"
        elif kind in ("FunctionDeclaration", "TaskDeclaration"):
            name, scope, what = getattr(n.prototype.name, "identifier", None), _scopes(n.parent)[0], "subroutine"
        elif kind == "Declarator" and n.parent is not None:
            parent = n.parent
            data_type = getattr(parent, "type", None) if parent.kind.name == "DataDeclaration" else \
                getattr(getattr(parent, "header", None), "dataType", None)
            if data_type is not None and data_type.kind.name in _MEMBER_TYPES:
                name, scope, what = n.name, _scopes(n)[0], "members"
        if name is not None and name.valueText:
            declared.setdefault(name.valueText, set()).add((scope, what))

    root.visit(collect)
    return declared


_SCOPES = {"CompilationUnit", "ModuleDeclaration", "PackageDeclaration", "GenerateBlock",
           "SequentialBlockStatement", "ParallelBlockStatement", "FunctionDeclaration", "TaskDeclaration"}


def _key(n) -> tuple:
    start = n.sourceRange.start
    return n.kind.name, start.buffer.id, start.offset, n.sourceRange.end.offset


def _is_branch(n) -> bool:
    """Whether ``n`` is the body of a branch of an ``if``/``case`` generate construct or of a generate loop:
    it exists only where the condition (or the loop bound) builds it, which simulators may evaluate apart."""
    parent = n.parent
    kind = parent.kind.name if parent is not None else ""
    if kind in ("ElseClause", "StandardCaseItem", "DefaultCaseItem"):
        grand = parent.parent
        body = parent.clause if grand is not None and grand.kind.name in ("IfGenerate", "CaseGenerate") else None
    else:
        body = parent.block if kind in ("IfGenerate", "LoopGenerate") else None
    return body is not None and _key(body) == _key(n)


def _scopes(n) -> list[tuple]:
    """The keys of the scopes that hold ``n``, innermost first (``n`` itself when it is one), ending with the
    compilation unit's."""
    out = []
    while n is not None:
        if n.kind.name in _SCOPES or _is_branch(n):
            out.append(_key(n))
        n = n.parent
    return out + [("unit",)]


def _ports(module) -> list[tuple[str, str]]:
    """``(name, direction)`` of each port of a module declaration, in order (see :func:`_port_list`)."""
    return [(name, direction) for name, direction, _ in _port_list(module)]


def _input_names(module) -> set[str]:
    """The module's own names that carry an input port's value (what driving from inside would drive the
    instantiating module's net): ``a`` of ``input a``, ``x`` of ``.a(x)`` with ``input x``."""
    return {name for _, direction, inside in _port_list(module) if direction == "input" for name in inside}


def _port_list(module) -> list[tuple[str, str, set[str]]]:
    """``(name, direction, names inside)`` of each port of a module declaration, in order: the name an
    instance connects by (the expression's text for a port with none), its direction (ANSI ports without one
    take the previous one's, ``inout`` for the first; a port whose names inside differ in direction is
    ``mixed``, one with none declared ``""``) and the module's own names it connects (``x`` of ``.a(x)``)."""
    ports = getattr(getattr(module, "header", None), "ports", None)
    if ports is None:
        return []
    if ports.kind.name == "AnsiPortList":
        out, direction = [], "inout"
        for port in _items(ports.ports):
            if isinstance(port, syntax.ImplicitAnsiPortSyntax):
                d = getattr(port.header, "direction", None)
                direction = d.valueText if d is not None and d.valueText else direction
                out.append((port.declarator.name.valueText, direction, {port.declarator.name.valueText}))
            elif port.kind.name == "ExplicitAnsiPort":  # ``output .a(x)``
                direction = port.direction.valueText or direction
                out.append((port.name.valueText, direction, _identifiers(port.expr)))
        return out
    directions = {}
    for member in module.members:
        if member.kind.name == "PortDeclaration":
            for decl in _items(member.declarators):
                direction = getattr(member.header, "direction", None)
                directions[decl.name.valueText] = direction.valueText if direction is not None else ""
    out = []
    for port in _items(ports.ports):
        inside = _identifiers(port)
        found = {directions.get(name, "") for name in inside}
        direction = found.pop() if len(found) == 1 else "mixed" if found else ""
        name = port.name.valueText if port.kind.name == "ExplicitNonAnsiPort" else str(port).strip()
        out.append((name, direction, inside))
    return out


def _identifiers(node) -> set[str]:
    """The simple names referenced in ``node`` (port references, identifiers)."""
    names: set[str] = set()

    def visit(n) -> None:
        if isinstance(n, syntax.SyntaxNode) and n.kind.name in ("PortReference", "IdentifierName",
                                                                 "IdentifierSelectName"):
            names.add((n.name if n.kind.name == "PortReference" else n.identifier).valueText)

    if node is not None:
        node.visit(visit)
    return names


def _top_names(module) -> set[str]:
    """The names a module declares at its top level: ports, nets and variables."""
    names = {name for name, _ in _ports(module)}
    for member in module.members:
        if member.kind.name in ("DataDeclaration", "NetDeclaration", "PortDeclaration"):
            names.update(d.name.valueText for d in _items(member.declarators))
    return names


def _items(nodes):
    """The nodes of a separated list (its comma tokens left out)."""
    return (n for n in nodes if isinstance(n, syntax.SyntaxNode))


def _leftmost(n):
    while n is not None and n.kind.name == "ScopedName":
        n = n.left
    return n


def _written_names(expr) -> list[str]:
    """The variables an lvalue (or a port connection's expression, a declarator with an initializer) writes:
    ``a`` of ``a[3]`` and of ``a.field``, both of ``{a, b}`` and of ``{>>{a, b}}``."""
    if expr is None:
        return []
    kind = expr.kind.name
    if kind in ("IdentifierName", "IdentifierSelectName"):
        return [expr.identifier.valueText]
    if kind in ("Declarator", "NamedPortConnection"):
        return [expr.name.valueText]
    if kind in ("ElementSelectExpression", "ScopedName", "MemberAccessExpression"):  # a[i], a.field
        return _written_names(expr.left)
    if kind == "StreamingConcatenationExpression":
        return [name for e in _items(expr.expressions) for name in _written_names(e.expression)]
    if kind in ("ParenthesizedExpression", "SimplePropertyExpr", "SimpleSequenceExpr"):
        return _written_names(expr.expression if kind == "ParenthesizedExpression" else
                              expr.expr)
    if kind == "ConcatenationExpression":
        return [name for e in _items(expr.expressions) for name in _written_names(e)]
    return []


def agreement(emitted_path: str, emitted: str, commands: dict[str, list[str]]) -> tuple[list[Violation], dict | None]:
    """Run each preprocessor command (``{name: argv}``, printing what it reads of ``emitted_path``) and refuse
    where its output's tokens differ from slang's tokens of ``emitted``: a second reader of one text. The
    second item is ``{"rc", "log"}`` of a preprocessor that failed (then there are no violations), else None."""
    import subprocess

    mine = tokens(emitted)
    for name, argv in commands.items():
        done = subprocess.run([*argv, emitted_path], stdin=subprocess.DEVNULL, capture_output=True)
        if done.returncode != 0:
            return [], {"rc": done.returncode, "log": (done.stdout + done.stderr).decode("utf-8", "replace")[-4000:]}
        theirs = tokens(done.stdout.decode("latin-1"))
        if [t[:2] for t in theirs] != [t[:2] for t in mine]:
            at = next((i for i, (x, y) in enumerate(zip(mine, theirs)) if x[:2] != y[:2]), min(len(mine), len(theirs)))
            line = mine[at][2] if at < len(mine) else (mine[-1][2] if mine else 0)
            return [Violation(f"text {name} reads differently from the checker", line)], None
    return [], None


def check_file(source: str, target: str, options: dict) -> tuple[int, dict]:
    """Write :func:`emit`'s text of the file ``source`` to ``target`` (the one text every later step compiles),
    refuse its lexical constructs, show that each given compiler's preprocessor (``options["iverilog"]``:
    ``iverilog -E``, ``options["verilator"]``: ``verilator -E``) reads ``target`` as the same tokens as slang
    does, and check its tree (``options["reserved"]``, ``["top"]``, ``["inputs"]``: see :func:`check_design`).
    Returns the exit status (0 clean, 2 only ``compiler`` violations, 3 refused) and the report
    ``{"violations": [...], "preprocess": {"rc", "log"} or null}``."""
    with open(source, "rb") as fh:  # latin-1: one character per byte, as the compilers read it
        text = fh.read().decode("latin-1")
    emitted, violations = emit(text, source)
    with open(target, "w", encoding="latin-1") as fh:
        fh.write(emitted)
    report: dict = {"violations": [], "preprocess": None}
    if not violations:
        commands = {}
        if options.get("iverilog"):
            commands["iverilog -E"] = [options["iverilog"], "-g2012", "-E", "-o", "/dev/stdout"]
        if options.get("verilator"):
            commands["verilator -E"] = [options["verilator"], "-E", "-P"]
        violations, report["preprocess"] = agreement(target, emitted, commands)
        if report["preprocess"]:
            return 3, report
    if not violations:
        violations = check_design({source: emitted}, frozenset(options.get("reserved") or ()), options.get("top"),
                                  frozenset(options.get("inputs") or ()))
    report["violations"] = [asdict(v) for v in violations]
    if not violations:
        return 0, report
    return (2 if all(v.kind == "compiler" for v in violations) else 3), report


def serve() -> int:
    """The warm checker (``allowlist.py --serve``, a :mod:`codealign.sandbox.worker` protocol server): one
    request per stdin line, ``{"source": text (one character per byte), "reserved", "top", "inputs",
    "iverilog", "verilator", "batch_suffix" (optional)}``, answered on fd 3 with ``{"rc", "report", "emitted"}``
    (:func:`check_file`'s status and report, the emitted text), plus ``"batch"``: :func:`batch_form` of a clean
    design under ``batch_suffix`` where the request gives one. A request ``{"elaborate": {name: text}}`` is
    answered ``{"error": ...}`` (:func:`elaboration_error`). Each request is checked as ``cand.sv`` in a fresh folder, deleted
    after; requests are data (lexed, parsed, preprocessed), never run. A request the check raises on is
    answered ``{"rc": 1, "error"}`` and ends the worker, so the next request gets a fresh one."""
    import os
    import shutil
    import tempfile
    import traceback

    channel = os.fdopen(3, "w", encoding="utf-8")
    channel.write('{"ready": true}\n')
    channel.flush()
    home = os.getcwd()
    for line in sys.stdin:
        folder = tempfile.mkdtemp(dir=home)
        failed = False
        try:
            request = json.loads(line)
            if "elaborate" in request:
                response = {"error": elaboration_error(request["elaborate"])}
            else:
                os.chdir(folder)
                with open("cand.sv", "wb") as fh:
                    fh.write(request["source"].encode("latin-1"))
                rc, report = check_file("cand.sv", "cand.i", request)
                with open("cand.i", encoding="latin-1") as fh:
                    response = {"rc": rc, "report": report, "emitted": fh.read()}
                if rc == 0 and request.get("batch_suffix"):
                    response["batch"] = batch_form(response["emitted"], request["batch_suffix"])
        except Exception:  # any failure of the check on this design is its verdict, and ends this worker
            response, failed = {"rc": 1, "error": traceback.format_exc()[-4000:]}, True
        finally:
            os.chdir(home)
            shutil.rmtree(folder, ignore_errors=True)
        channel.write(json.dumps(response) + "\n")
        channel.flush()
        if failed:
            return 1
    return 0


def main(argv: list[str]) -> int:
    """``allowlist.py [--reserved A,B] [--top T --inputs A,B] [--iverilog PATH] [--verilator PATH] SOURCE
    EMITTED``: :func:`check_file` as a job step; prints the report and exits with its status.
    ``allowlist.py --serve``: :func:`serve`."""
    if argv == ["--serve"]:
        return serve()
    args = list(argv)
    options: dict = {}
    while args and args[0].startswith("--"):
        options[args[0][2:]] = args[1]
        del args[:2]
    source, target = args
    for flag in ("reserved", "inputs"):
        options[flag] = [name for name in options.get(flag, "").split(",") if name]
    rc, report = check_file(source, target, options)
    print(json.dumps(report))
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
