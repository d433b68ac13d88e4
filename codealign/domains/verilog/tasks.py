"""Procedural Verilog tasks: a family of small specs on which a model's generalisation can be measured.

Each task is a short natural-language spec with a port list, a reference ``module RefModule`` and a
self-checking testbench in the shape of VerilogEval v2's (``module tb`` drives ``RefModule`` and
``TopModule`` from a ``stimulus_gen``, compares every output on both clock edges and prints
``Mismatches: N in M samples`` from a ``final`` block), so the verilog domain scores these tasks exactly as
it scores VerilogEval. A candidate must define ``module TopModule``.

Families (``FAMILIES``): combinational logic, arithmetic, multiplexers, comparators, counters, shift
registers, edge detectors, sequence detectors, parity, popcount, decoders, priority encoders. Each has a
finite grid of parameters and four phrasings of its spec.

**The split** (:mod:`codealign.domains.splits`, shared with the other domains' families) is fixed,
deterministic and independent of ``n`` and ``seed``:

* a parameter combination is *held out* when ``sha256("<family>|<canonical JSON of params>")``, read as a
  fraction in [0, 1), is below ``HELDOUT_PARAM_FRACTION`` (0.2);
* the last phrasing of every family (index 3) is *held out*;
* a task (family, params, phrasing) is in ``train`` when neither its params nor its phrasing are held out,
  otherwise in ``heldout``. So every held-out task has parameters, a phrasing or both that no train task
  has (``metadata["novel"]`` says which), and no (params, phrasing) pair is in both splits.

Guaranteed: the same arguments give the same tasks, byte for byte; ``generate_tasks`` with a larger ``n``
extends the list for a smaller one; every reference passes its own testbench, and the testbench rejects
the reference with an output bit inverted and the reference of every neighbouring parameter combination
that has the same ports (``golden_mutants``; tested per family, and for every bundled task by
``benchmarks/verilog_bundled_tasks.py --check``). Not guaranteed: that a testbench tells apart port
*widths* or extra ports (a wider design whose low bits behave the same is truncated by the connection, as
in VerilogEval).

``benchmarks/verilog_bundled_tasks.py --write`` regenerates the bundled demo sets; ``--check`` runs their
golden self-test through the verilog domain.
"""

from __future__ import annotations

import functools
import itertools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

from codealign.domains import splits
from codealign.domains.splits import SPLITS, Bundle
from codealign.domains.verilog.jobs import reference_solution
from codealign.errors import UserError
from codealign.types import Candidate, ExecResult, Task, Verdict

GENERATOR_VERSION = "1"
HELDOUT_PARAM_FRACTION = 0.2
HELDOUT_PHRASING = 3
BUNDLED_COUNTS = {"train": 300, "heldout": 72}
BUNDLED_SEED = 0
EVAL_RESERVE = 144
"""Held-out tasks (the seed-0 draw's first) kept for evaluation: the ``feedback`` pool shares no (family,
params) with them (:func:`codealign.domains.splits.feedback_pools`)."""

PROMPT_HEAD = "Implement the module TopModule with these ports (1 bit unless noted):\n"


# -- designs: ports, reference body, stimulus -----------------------------------------------------------
@dataclass(frozen=True)
class Port:
    name: str
    width: int = 1
    reg: bool = False
    """An output assigned in an ``always`` block (declared ``output reg`` in the reference)."""


@dataclass(frozen=True)
class Design:
    """One concrete circuit: its interface, the reference module's body and the testbench stimulus."""

    inputs: tuple[Port, ...]
    outputs: tuple[Port, ...]
    body: str
    """Statements of the reference module after its port list (indented two spaces, no ``endmodule``)."""
    stimulus: str
    """Statements of the stimulus generator's ``initial`` block (before ``$finish``)."""
    stim_locals: str = ""
    """Declarations in the stimulus generator (temporaries used by ``stimulus``)."""


def _range(width: int) -> str:
    return f"[{width - 1}:0] " if width > 1 else ""


def _bits(width: int) -> str:
    return "1 bit" if width == 1 else f"{width} bits"


def _clog2(value: int) -> int:
    return max(1, (value - 1).bit_length())


def _phase(count: int, assigns: dict[str, str], pre: str = "") -> str:
    """``count`` half-cycles, each assigning every input (non-blocking, on both clock edges)."""
    lines = [f"\t\trepeat({count}) @(posedge clk, negedge clk) begin"]
    if pre:
        lines.append(f"\t\t\t{pre}")
    lines += [f"\t\t\t{name} <= {expr};" for name, expr in assigns.items()]
    lines.append("\t\tend")
    return "\n".join(lines)


def _init(values: dict[str, str]) -> str:
    return "\n".join(f"\t\t{name} = {expr};" for name, expr in values.items())


def _chance(one_in: int) -> str:
    """A Verilog expression that is 1 with probability 1/one_in (a power of two)."""
    return f"(($random & {one_in - 1}) == 0)"


def _sequential_stimulus(data: dict[str, str], reset: str | None = None, active_high: bool = True,
                         enable: str | None = None) -> str:
    """Reset, a busy phase (frequent resets, enable toggling) then a long phase (rare resets) so that wrap
    points and async/sync reset timing are both exercised."""
    def level(expr: str) -> str:
        return expr if active_high else f"!{expr}"

    init = {name: "0" for name in data}
    if reset:
        init[reset] = "1" if active_high else "0"
    if enable:
        init[enable] = "0"
    parts = [_init(init), "\t\trepeat(2) @(posedge clk);"]
    for count, reset_rate, enable_rate in ((120, 4, 2), (600, 256, 8)):
        assigns = dict(data)
        if reset:
            assigns[reset] = level(_chance(reset_rate))
        if enable:
            assigns[enable] = f"!{_chance(enable_rate)}"
        parts.append(_phase(count, assigns))
    return "\n".join(parts)


def _combinational_stimulus(inputs: Iterable[Port], count: int = 200) -> str:
    names = [p.name for p in inputs]
    return "\n".join([_init({n: "0" for n in names}), _phase(count, {n: "$random" for n in names})])


# -- families --------------------------------------------------------------------------------------------
Phrasing = Callable[[dict[str, Any]], str]


class Family:
    """A kind of circuit: a finite parameter grid, a design per parameter combination and four phrasings."""

    name: str = ""
    space: dict[str, tuple] = {}
    """Parameter name -> allowed values; the grid is their product, filtered by :meth:`valid`."""

    def valid(self, params: dict[str, Any]) -> bool:
        return True

    def design(self, params: dict[str, Any]) -> Design:
        raise NotImplementedError

    def phrasings(self) -> tuple[Phrasing, ...]:
        raise NotImplementedError

    def combos(self) -> list[dict[str, Any]]:
        keys = list(self.space)
        grid = (dict(zip(keys, values)) for values in itertools.product(*self.space.values()))
        return [p for p in grid if self.valid(p)]

    def neighbours(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        """Valid combinations that differ from ``params`` in exactly one parameter (the next value)."""
        out = []
        for key, values in self.space.items():
            i = values.index(params[key])
            other = dict(params, **{key: values[(i + 1) % len(values)]})
            if other != params and self.valid(other):
                out.append(other)
        return out


_GATES = ("and", "or", "xor", "nand", "nor", "xnor")


def _gate_expr(gate: str, x: str, y: str) -> str:
    sym = {"and": "&", "or": "|", "xor": "^", "nand": "&", "nor": "|", "xnor": "^"}[gate]
    return f"~({x} {sym} {y})" if gate in ("nand", "nor", "xnor") else f"({x} {sym} {y})"


def _article(word: str) -> str:
    return "an" if word[0].lower() in "aeiox" else "a"


class Logic(Family):
    name = "logic"
    space = {"gate1": _GATES, "gate2": _GATES + ("none",)}

    def design(self, p):
        names = ("a", "b") if p["gate2"] == "none" else ("a", "b", "c")
        inputs = tuple(Port(n) for n in names)
        expr = _gate_expr(p["gate1"], "a", "b")
        if p["gate2"] != "none":
            expr = _gate_expr(p["gate2"], expr, "c")
        if expr.startswith("(") and expr.endswith(")"):
            expr = expr[1:-1]
        return Design(inputs, (Port("out"),), f"  assign out = {expr};", _combinational_stimulus(inputs, 100))

    def phrasings(self):
        def g(p, k):
            return p[k].upper()

        def p0(p):
            if p["gate2"] == "none":
                return f"Compute out = a {g(p, 'gate1')} b."
            return f"Compute out = (a {g(p, 'gate1')} b) {g(p, 'gate2')} c."

        def p1(p):
            if p["gate2"] == "none":
                return f"The output out is the {g(p, 'gate1')} of the inputs a and b."
            return f"The output out is the {g(p, 'gate2')} of c with the {g(p, 'gate1')} of a and b."

        def p2(p):
            first = f"{_article(p['gate1'])} {g(p, 'gate1')} gate"
            if p["gate2"] == "none":
                return f"Wire a and b into {first} that drives out."
            second = f"{_article(p['gate2'])} {g(p, 'gate2')} gate"
            return f"Wire a and b into {first}, then wire that gate's output and c into {second} that drives out."

        def p3(p):
            if p["gate2"] == "none":
                return f"Let out be the result of applying the {g(p, 'gate1')} operation to a and b."
            return (f"Let x be the result of applying {g(p, 'gate1')} to a and b. "
                    f"out is the result of applying {g(p, 'gate2')} to x and c.")

        return (p0, p1, p2, p3)


class Arith(Family):
    name = "arith"
    space = {"op": ("add", "sub"), "width": tuple(range(2, 9)), "carry_in": (False, True),
             "carry_out": (False, True)}

    @staticmethod
    def names(p):
        return ("sum", "cin", "cout") if p["op"] == "add" else ("diff", "bin", "bout")

    def design(self, p):
        w = p["width"]
        res, cin, cout = self.names(p)
        inputs = [Port("a", w), Port("b", w)] + ([Port(cin)] if p["carry_in"] else [])
        outputs = ([Port(cout)] if p["carry_out"] else []) + [Port(res, w)]
        sym = "+" if p["op"] == "add" else "-"
        rhs = f"a {sym} b" + (f" {sym} {cin}" if p["carry_in"] else "")
        lhs = f"{{{cout}, {res}}}" if p["carry_out"] else res
        return Design(tuple(inputs), tuple(outputs), f"  assign {lhs} = {rhs};", _combinational_stimulus(inputs))

    def phrasings(self):
        def p0(p):
            res, cin, cout = self.names(p)
            w = p["width"]
            if p["op"] == "add":
                text = f"Add a and b{f' and the carry-in {cin}' if p['carry_in'] else ''} as {w}-bit unsigned numbers. "
                text += f"{res} gets the low {w} bits of the result"
                return text + (f" and {cout} gets the carry out." if p["carry_out"] else ".")
            borrow_in = f" and the borrow-in {cin}" if p["carry_in"] else ""
            text = f"Subtract b{borrow_in} from a as {w}-bit unsigned numbers. "
            text += f"{res} gets the low {w} bits of the result"
            return text + (f" and {cout} is 1 when the true result is negative." if p["carry_out"] else ".")

        def p1(p):
            res, cin, cout = self.names(p)
            w = p["width"]
            sym, kind = ("+", "adder") if p["op"] == "add" else ("-", "subtractor")
            text = f"Implement a {w}-bit unsigned {kind}: {res} = a {sym} b"
            text += f" {sym} {cin}" if p["carry_in"] else ""
            text += f" (modulo 2^{w})"
            if p["carry_out"]:
                if p["op"] == "add":
                    text += f"; {cout} is the carry out of the top bit"
                else:
                    text += f"; {cout} is 1 when a < b" + (f" + {cin}" if p["carry_in"] else "")
            return text + "."

        def p2(p):
            res, cin, cout = self.names(p)
            w = p["width"]
            sym = "+" if p["op"] == "add" else "-"
            total = f"a {sym} b" + (f" {sym} {cin}" if p["carry_in"] else "")
            if p["carry_out"]:
                return (f"{{{cout}, {res}}} is the {w + 1}-bit result of {total}, where a and b are unsigned "
                        f"{w}-bit numbers extended to {w + 1} bits.")
            return f"{res} is {total} truncated to {w} bits (unsigned, wrapping on overflow)."

        def p3(p):
            res, cin, cout = self.names(p)
            w = p["width"]
            if p["op"] == "add":
                text = f"This combinational block sums two {w}-bit unsigned operands a and b"
                text += f" together with a carry input {cin}" if p["carry_in"] else ""
                text += f". The {w}-bit output {res} holds the sum"
                if p["carry_out"]:
                    return text + f" and {cout} holds the bit that overflows."
                return text + " without any carry output."
            text = f"This combinational block takes b away from a, both {w}-bit unsigned operands"
            text += f", and also takes away the borrow input {cin}" if p["carry_in"] else ""
            text += f". The {w}-bit output {res} holds the difference"
            if p["carry_out"]:
                return text + f" and {cout} flags a borrow (result below zero)."
            return text + " without any borrow output."

        return (p0, p1, p2, p3)


class Mux(Family):
    name = "mux"
    space = {"ways": (2, 3, 4, 5, 6, 8), "width": tuple(range(1, 9))}

    def design(self, p):
        n, w = p["ways"], p["width"]
        inputs = (Port("sel", _clog2(n)),) + tuple(Port(f"in{i}", w) for i in range(n))
        cases = "\n".join(f"      {i}: out = in{i};" for i in range(n))
        body = f"  always @(*)\n    case (sel)\n{cases}\n      default: out = 0;\n    endcase"
        return Design(inputs, (Port("out", w, reg=True),), body, _combinational_stimulus(inputs))

    def phrasings(self):
        def rest(p, text):
            n = p["ways"]
            if n & (n - 1):
                return text + f" If sel is {n} or more, out is 0."
            return text

        def size(p):
            return f"{p['width']}-bit"

        def p0(p):
            return rest(p, f"A {p['ways']}-to-1 multiplexer of {size(p)} values: out equals in0 when sel is 0, "
                           f"in1 when sel is 1, and so on up to in{p['ways'] - 1}.")

        def p1(p):
            return rest(p, f"Select one of the {p['ways']} {size(p)} inputs in0 to in{p['ways'] - 1} using sel "
                           "and drive it onto out.")

        def p2(p):
            return rest(p, f"out = in[sel], where the inputs are in0 .. in{p['ways'] - 1}, each {_bits(p['width'])}.")

        def p3(p):
            text = (f"Route data input number sel (counting from in0) to the output out. There are {p['ways']} "
                    f"data inputs, each {_bits(p['width'])} wide.")
            n = p["ways"]
            return text + (" When sel names no existing input, out must be all zeros." if n & (n - 1) else "")

        return (p0, p1, p2, p3)


_REL = {"eq": ("==", "equal to"), "ne": ("!=", "not equal to"), "lt": ("<", "less than"),
        "le": ("<=", "less than or equal to"), "gt": (">", "greater than"),
        "ge": (">=", "greater than or equal to")}


class Compare(Family):
    name = "compare"
    space = {"rel": tuple(_REL), "width": tuple(range(2, 9)), "signed": (False, True)}

    def valid(self, p):
        return not (p["signed"] and p["rel"] in ("eq", "ne"))

    def design(self, p):
        w = p["width"]
        inputs = (Port("a", w), Port("b", w))
        sym = _REL[p["rel"]][0]
        expr = f"$signed(a) {sym} $signed(b)" if p["signed"] else f"a {sym} b"
        stimulus = "\n".join([_init({"a": "0", "b": "0"}),
                              _phase(200, {"a": "t", "b": "($random & 3) ? $random : t"}, pre="t = $random;")])
        return Design(inputs, (Port("out"),), f"  assign out = {expr};", stimulus, f"\treg {_range(w)}t;")

    def phrasings(self):
        def kind(p):
            return "signed (two's complement)" if p["signed"] else "unsigned"

        def p0(p):
            text = f"Set out to 1 when a is {_REL[p['rel']][1]} b, else 0."
            if p["rel"] in ("eq", "ne"):
                return text
            return text + f" a and b are {kind(p)} {p['width']}-bit numbers."

        def p1(p):
            if p["rel"] in ("eq", "ne"):
                return f"out = (a {_REL[p['rel']][0]} b)."
            return f"out = (a {_REL[p['rel']][0]} b), comparing a and b as {kind(p)} numbers."

        def p2(p):
            k = "" if p["rel"] in ("eq", "ne") else f" {kind(p)}"
            return (f"Build a {p['width']}-bit{k} comparator whose output out is high exactly when a is "
                    f"{_REL[p['rel']][1]} b.")

        def p3(p):
            k = "" if p["rel"] in ("eq", "ne") else f", treating them as {kind(p)}"
            return (f"Compare the {p['width']}-bit inputs a and b{k}. out must be 1 if a is "
                    f"{_REL[p['rel']][1]} b and 0 otherwise.")

        return (p0, p1, p2, p3)


_MODULI = {2: 3, 3: 6, 4: 10, 5: 20, 6: 50}


def _reset_name(p) -> str:
    return "reset" if p["active"] == "high" else "resetn"


class Counter(Family):
    name = "counter"
    space = {"width": tuple(_MODULI), "direction": ("up", "down"), "reset": ("sync", "async"),
             "active": ("high", "low"), "enable": (False, True), "modulo": (False, True)}

    @staticmethod
    def top(p) -> int:
        return (_MODULI[p["width"]] if p["modulo"] else 1 << p["width"]) - 1

    def design(self, p):
        w, rst, top = p["width"], _reset_name(p), self.top(p)
        inputs = [Port("clk"), Port(rst)] + ([Port("en")] if p["enable"] else [])
        edge = f" or {'posedge' if p['active'] == 'high' else 'negedge'} {rst}" if p["reset"] == "async" else ""
        cond = rst if p["active"] == "high" else f"!{rst}"
        if p["direction"] == "up":
            step = f"(q == {top}) ? 0 : q + 1" if p["modulo"] else "q + 1"
        else:
            step = f"(q == 0) ? {top} : q - 1" if p["modulo"] else "q - 1"
        body = (f"  always @(posedge clk{edge})\n    if ({cond})\n      q <= 0;\n"
                f"    else{' if (en)' if p['enable'] else ''}\n      q <= {step};")
        stim = _sequential_stimulus({}, rst, p["active"] == "high", "en" if p["enable"] else None)
        return Design(tuple(inputs), (Port("q", w, reg=True),), body, stim)

    def phrasings(self):
        def counts(p):
            top = self.top(p)
            if p["direction"] == "up":
                return f"counts up from 0 to {top} and then wraps to 0"
            return f"counts down from {top} to 0 and then wraps to {top}"

        def reset(p):
            level = "high" if p["active"] == "high" else "low"
            kind = "synchronous" if p["reset"] == "sync" else "asynchronous"
            return f"The active-{level} {kind} reset {_reset_name(p)} sets q to 0."

        def p0(p):
            text = f"Build a {p['width']}-bit counter q that {counts(p)}, stepping on each rising edge of clk. "
            text += reset(p)
            if p["enable"]:
                text += " The counter only changes when en is 1; when en is 0 it holds its value."
            return text

        def p1(p):
            step = "increments" if p["direction"] == "up" else "decrements"
            text = f"q is a {p['width']}-bit register clocked on the positive edge of clk. On each edge"
            text += " where en is high" if p["enable"] else ""
            text += f", q {step}"
            if p["modulo"]:
                top = self.top(p)
                text += f", going from {top} back to 0" if p["direction"] == "up" else f", going from 0 back to {top}"
            else:
                text += " and wraps around"
            kind = "synchronous" if p["reset"] == "sync" else "asynchronous"
            return text + f". The reset input {_reset_name(p)} is {kind} and active {p['active']}; it clears q to 0."

        def p2(p):
            text = f"Counter, {p['width']} bits, counting {p['direction']}"
            text += f", modulo {_MODULI[p['width']]}." if p["modulo"] else ", wrapping around."
            kind = "synchronous" if p["reset"] == "sync" else "asynchronous"
            text += f" Reset: {kind}, active {p['active']}, input {_reset_name(p)}, resets q to 0."
            return text + (" Enable: en, count only when en = 1." if p["enable"] else "")

        def p3(p):
            text = "On every positive clock edge"
            text += " for which en is asserted" if p["enable"] else ""
            text += f", the {p['width']}-bit output q moves one step {p['direction']}"
            text += f" through the range 0 to {self.top(p)}, wrapping around." if p["modulo"] else ", wrapping around."
            level = "1" if p["active"] == "high" else "0"
            when = "immediately, without waiting for the clock" if p["reset"] == "async" else "at the next clock edge"
            return text + f" While {_reset_name(p)} is {level}, q becomes 0 {when}."

        return (p0, p1, p2, p3)


class Shift(Family):
    name = "shift"
    space = {"width": tuple(range(2, 9)), "direction": ("left", "right"), "load": (False, True),
             "enable": (False, True)}

    @staticmethod
    def next_value(p) -> str:
        w = p["width"]
        low = "q[0]" if w == 2 else f"q[{w - 2}:0]"
        high = f"q[{w - 1}]" if w == 2 else f"q[{w - 1}:1]"
        return f"{{{low}, sin}}" if p["direction"] == "left" else f"{{sin, {high}}}"

    def design(self, p):
        w = p["width"]
        inputs = [Port("clk")] + ([Port("load"), Port("d", w)] if p["load"] else [])
        inputs += ([Port("en")] if p["enable"] else []) + [Port("sin")]
        lines = ["  always @(posedge clk)"]
        branch = "if"
        if p["load"]:
            lines += ["    if (load)", "      q <= d;"]
            branch = "else if"
        if p["enable"]:
            lines += [f"    {branch} (en)", f"      q <= {self.next_value(p)};"]
        elif p["load"]:
            lines += ["    else", f"      q <= {self.next_value(p)};"]
        else:
            lines += [f"    q <= {self.next_value(p)};"]
        data = {"sin": "$random"}
        if p["load"]:
            data.update(load=_chance(8), d="$random")
        stim = _sequential_stimulus(data, enable="en" if p["enable"] else None)
        return Design(tuple(inputs), (Port("q", w, reg=True),), "\n".join(lines), stim)

    def phrasings(self):
        def where(p):
            return "q[0]" if p["direction"] == "left" else f"q[{p['width'] - 1}]"

        def toward(p):
            return "toward the most significant bit" if p["direction"] == "left" else "toward bit 0"

        def p0(p):
            text = f"Implement a {p['width']}-bit shift register q on the rising edge of clk. "
            if p["load"]:
                text += "When load is 1, q is loaded with d. Otherwise, "
            text += ("when en is 1, " if p["load"] else "When en is 1, ") if p["enable"] else ""
            text += f"q shifts {p['direction']} ({toward(p)}) and sin enters at {where(p)}."
            return text + (" When en is 0, q keeps its value." if p["enable"] else "")

        def p1(p):
            text = "On each positive edge of clk"
            if p["load"]:
                text += f": if load is 1, q <= d; otherwise{' if en is 1' if p['enable'] else ''}"
            elif p["enable"]:
                text += " where en is 1"
            text += f", q <= {self.next_value(p)}."
            return text + f" q is {p['width']} bits wide and has no reset."

        def p2(p):
            text = (f"Shift register, {p['width']} bits, shifting {p['direction']}, serial input sin entering at "
                    f"{where(p)}")
            text += ", parallel load from d when load = 1 (load wins)" if p["load"] else ""
            text += ", shifting only when en = 1" if p["enable"] else ""
            return text + ". Output q. No reset."

        def p3(p):
            text = "Every rising clock edge"
            text += " with en high" if p["enable"] else ""
            text += f" moves the bits of the {p['width']}-bit register q one place {toward(p)}; the vacated bit "
            text += f"{where(p)} takes the value of sin."
            if p["load"]:
                text += " A high load instead copies d into q" + (", regardless of en." if p["enable"] else ".")
            return text

        return (p0, p1, p2, p3)


_EDGE_EXPR = {"rising": "in & ~prev", "falling": "~in & prev", "any": "in ^ prev"}
_EDGE_WORDS = {"rising": "changes from 0 to 1", "falling": "changes from 1 to 0", "any": "changes value"}


class Edge(Family):
    name = "edge"
    space = {"width": tuple(range(1, 9)), "kind": ("rising", "falling", "any"), "mode": ("pulse", "capture")}

    def design(self, p):
        w = p["width"]
        inputs = [Port("clk")] + ([Port("reset")] if p["mode"] == "capture" else []) + [Port("in", w)]
        expr = _EDGE_EXPR[p["kind"]]
        if p["mode"] == "pulse":
            update = f"    out <= {expr};"
        else:
            update = f"    if (reset)\n      out <= 0;\n    else\n      out <= out | ({expr});"
        body = f"  reg {_range(w)}prev;\n  always @(posedge clk) begin\n    prev <= in;\n{update}\n  end"
        stim = _sequential_stimulus({"in": "$random"}, "reset" if p["mode"] == "capture" else None)
        return Design(tuple(inputs), (Port("out", w, reg=True),), body, stim)

    def phrasings(self):
        def each(p):
            return "" if p["width"] == 1 else "For each bit i, "

        def bit(p, name):
            return name if p["width"] == 1 else f"{name}[i]"

        def tail(p):
            if p["mode"] == "pulse":
                return ""
            return (f" Once set, {bit(p, 'out')} stays 1 until reset; the synchronous active-high reset "
                    "clears out to 0.")

        def p0(p):
            if p["mode"] == "pulse":
                what = (f"{bit(p, 'out')} is 1 for the clock cycle right after {bit(p, 'in')} "
                        f"{_EDGE_WORDS[p['kind']]}, else 0")
            else:
                what = f"{bit(p, 'out')} becomes 1 in the clock cycle after {bit(p, 'in')} {_EDGE_WORDS[p['kind']]}"
            start = each(p)
            what = what if start else what[0].upper() + what[1:]
            return (f"Detect {p['kind'] if p['kind'] != 'any' else 'both'} edges of the {p['width']}-bit input "
                    f"in, sampled on the rising edge of clk. {start}{what}.{tail(p)}")

        def p1(p):
            verb = "becomes" if p["mode"] == "pulse" else "is ORed with"
            return (f"Keep prev, the value of in at the previous rising edge of clk. At each rising edge, out "
                    f"{verb} ({_EDGE_EXPR[p['kind']]}), using the old prev.{tail(p)} in and out are "
                    f"{_bits(p['width'])} wide.")

        def p2(p):
            kind = {"rising": "rising-edge", "falling": "falling-edge", "any": "any-edge"}[p["kind"]]
            mode = "one-cycle pulse output" if p["mode"] == "pulse" else "sticky output (cleared by synchronous reset)"
            return (f"{p['width']}-bit {kind} detector with a registered {mode}: {bit(p, 'out')} goes high on "
                    f"the rising clk edge at which {bit(p, 'in')} is seen to have "
                    f"{_EDGE_WORDS[p['kind']].replace('changes', 'changed')} "
                    "since the previous rising edge.")

        def p3(p):
            text = (f"The output out ({_bits(p['width'])}) is registered on clk. "
                    f"{'Bit i of out' if p['width'] > 1 else 'out'} reports whether the matching input bit "
                    f"{_EDGE_WORDS[p['kind']]} between the previous rising clock edge and the current one")
            if p["mode"] == "pulse":
                return text + "; it is 0 otherwise."
            return text + ", and it remembers a 1 until the synchronous, active-high reset clears it."

        return (p0, p1, p2, p3)


class SeqDet(Family):
    name = "seqdet"
    space = {"pattern": tuple("".join(bits) for n in (3, 4, 5) for bits in itertools.product("01", repeat=n)),
             "output": ("moore", "mealy")}

    def design(self, p):
        pat = p["pattern"]
        n = len(pat)
        keep = n if p["output"] == "moore" else n - 1
        window = "hist" if p["output"] == "moore" else "{hist, in}"
        body = (f"  reg [{keep - 1}:0] hist;\n  always @(posedge clk)\n    if (reset)\n      hist <= 0;\n"
                f"    else\n      hist <= {{hist[{keep - 2}:0], in}};\n  assign found = ({window} == {n}'b{pat});")
        stim = _sequential_stimulus({"in": "$random"}, "reset")
        return Design((Port("clk"), Port("reset"), Port("in")), (Port("found"),), body, stim)

    def phrasings(self):
        def seq(p):
            return ", ".join(p["pattern"])

        def when(p):
            n = len(p["pattern"])
            if p["output"] == "moore":
                return f"found is 1 during the clock cycle after the last {n} bits sampled equal the pattern"
            return (f"found is 1 as soon as the previous {n - 1} sampled bits followed by the current in equal the "
                    "pattern")

        def p0(p):
            return (f"Detect the bit sequence {seq(p)} (oldest bit first) on the serial input in, sampled on each "
                    f"rising edge of clk; overlapping matches count. {when(p)}. The synchronous active-high reset "
                    "clears the remembered bits to 0.")

        def p1(p):
            n = len(p["pattern"])
            if p["output"] == "moore":
                return (f"Shift in into a {n}-bit history register on each rising edge of clk (newest bit at "
                        f"bit 0). found = (history == {n}'b{p['pattern']}). A synchronous active-high reset "
                        "clears the history.")
            return (f"Shift in into a {n - 1}-bit history register on each rising edge of clk (newest bit at "
                    f"bit 0). found = ({{history, in}} == {n}'b{p['pattern']}), so it reacts to the current in "
                    "without waiting for the clock. A synchronous active-high reset clears the history.")

        def p2(p):
            kind = "Moore" if p["output"] == "moore" else "Mealy"
            return (f"{kind}-style sequence detector for the pattern {p['pattern']} on input in (first bit of "
                    f"the pattern arrives first, overlaps allowed). {when(p)}. Synchronous active-high reset "
                    "makes every remembered bit 0.")

        def p3(p):
            n = len(p["pattern"])
            if p["output"] == "moore":
                timing = f"registered: found rises one cycle after the {n}th bit of the pattern is clocked in"
            else:
                timing = (f"combinational: found is high while the current in completes the pattern after {n - 1} "
                          "clocked-in bits")
            return (f"Watch the serial stream in, one bit per rising clk edge, for the pattern {seq(p)} in "
                    f"arrival order, allowing overlaps. The output is {timing}. reset (synchronous, active high) "
                    "forgets all earlier bits by setting them to 0.")

        return (p0, p1, p2, p3)


class Parity(Family):
    name = "parity"
    space = {"width": tuple(range(2, 17)), "kind": ("even", "odd")}

    def design(self, p):
        inputs = (Port("in", p["width"]),)
        op = "^" if p["kind"] == "even" else "~^"
        return Design(inputs, (Port("parity"),), f"  assign parity = {op}in;", _combinational_stimulus(inputs))

    def phrasings(self):
        def p0(p):
            return (f"Compute the {p['kind']} parity bit of the {p['width']}-bit input in: parity is chosen so "
                    f"that in and parity together hold an {p['kind']} number of 1 bits.")

        def p1(p):
            op = "XOR" if p["kind"] == "even" else "XNOR"
            return f"parity = {op} of all {p['width']} bits of in."

        def p2(p):
            count = "odd" if p["kind"] == "even" else "even"
            return f"Output parity is 1 when the {p['width']}-bit input in has an {count} number of ones, else 0."

        def p3(p):
            return (f"Generate {_article(p['kind'])} {p['kind']}-parity bit for the {p['width']}-bit word in, so "
                    f"that the {p['width'] + 1} bits {{in, parity}} contain an {p['kind']} count of ones.")

        return (p0, p1, p2, p3)


class Popcount(Family):
    name = "popcount"
    space = {"width": tuple(range(2, 13)), "count": ("ones", "zeros")}

    def design(self, p):
        w = p["width"]
        ow = _clog2(w + 1)
        term = "in[i]" if p["count"] == "ones" else "!in[i]"
        body = (f"  integer i;\n  always @(*) begin\n    out = 0;\n    for (i = 0; i < {w}; i = i + 1)\n"
                f"      out = out + {term};\n  end")
        inputs = (Port("in", w),)
        return Design(inputs, (Port("out", ow, reg=True),), body, _combinational_stimulus(inputs))

    def phrasings(self):
        def bit(p):
            return "1" if p["count"] == "ones" else "0"

        def p0(p):
            return f"out is the number of {bit(p)} bits in the {p['width']}-bit input in."

        def p1(p):
            return f"Count how many bits of in ({p['width']} bits) are {bit(p)} and output the count on out."

        def p2(p):
            what = "set" if p["count"] == "ones" else "clear"
            of = " of zeros" if p["count"] == "zeros" else ""
            return f"Population count{of}: out = number of {what} bits of the {p['width']}-bit in."

        def p3(p):
            ow = _clog2(p["width"] + 1)
            return f"The {ow}-bit output out tells how many of the {p['width']} input bits in equal {bit(p)}."

        return (p0, p1, p2, p3)


class Decoder(Family):
    name = "decoder"
    space = {"bits": (1, 2, 3, 4), "enable": ("none", "high", "low"), "active": ("high", "low")}

    @staticmethod
    def enable_name(p) -> str:
        return {"none": "", "high": "en", "low": "en_n"}[p["enable"]]

    def design(self, p):
        n = p["bits"]
        en = self.enable_name(p)
        inputs = [Port("in", n)] + ([Port(en)] if en else [])
        value = "1 << in"
        if en:
            value = f"{'!' if p['enable'] == 'low' else ''}{en} ? ({value}) : 0"
        expr = f"~({value})" if p["active"] == "low" else value
        return Design(tuple(inputs), (Port("out", 1 << n),), f"  assign out = {expr};", _combinational_stimulus(inputs))

    def phrasings(self):
        def on(p):
            return "1" if p["active"] == "high" else "0"

        def off(p):
            return "0" if p["active"] == "high" else "1"

        def gate(p):
            if p["enable"] == "none":
                return ""
            en = self.enable_name(p)
            level = "0" if p["enable"] == "high" else "1"
            return f" When {en} is {level}, every bit of out is {off(p)}."

        def p0(p):
            n = p["bits"]
            return (f"Build a {n}-to-{1 << n} decoder: out[k] is {on(p)} when in equals k and every other bit of "
                    f"out is {off(p)}.{gate(p)}")

        def p1(p):
            n = p["bits"]
            expr = "1 << in" if p["active"] == "high" else "~(1 << in)"
            text = f"out ({1 << n} bits) = {expr}"
            if p["enable"] != "none":
                en = self.enable_name(p)
                level = "1" if p["enable"] == "high" else "0"
                text += f" while {en} is {level}, and {'all zeros' if p['active'] == 'high' else 'all ones'} otherwise"
            return text + "."

        def p2(p):
            n = p["bits"]
            kind = "hot" if p["active"] == "high" else "cold"
            text = f"One-{kind} decoder from the {n}-bit input in to the {1 << n}-bit output out"
            if p["enable"] != "none":
                text += f", enable input {self.enable_name(p)} active {p['enable']}"
            return text + f". The selected output bit is {on(p)}, the others {off(p)}.{gate(p)}"

        def p3(p):
            n = p["bits"]
            text = (f"Treat the {n}-bit input in as a number k. Drive bit k of the {1 << n}-bit output out to "
                    f"{on(p)} and all remaining bits to {off(p)}.")
            return text + gate(p)

        return (p0, p1, p2, p3)


class Encoder(Family):
    name = "encoder"
    space = {"width": tuple(range(2, 9)), "priority": ("high", "low"), "valid": (False, True)}

    def design(self, p):
        w = p["width"]
        loop = f"i = 0; i < {w}; i = i + 1" if p["priority"] == "high" else f"i = {w - 1}; i >= 0; i = i - 1"
        body = (f"  integer i;\n  always @(*) begin\n    out = 0;\n    for ({loop})\n      if (in[i])\n"
                "        out = i;\n  end")
        outputs = [Port("out", _clog2(w), reg=True)]
        if p["valid"]:
            body += "\n  assign valid = |in;"
            outputs.append(Port("valid"))
        inputs = (Port("in", w),)
        return Design(inputs, tuple(outputs), body, _combinational_stimulus(inputs))

    def phrasings(self):
        def which(p):
            return "highest" if p["priority"] == "high" else "lowest"

        def valid(p):
            return " valid is 1 when any bit of in is 1, else 0." if p["valid"] else ""

        def p0(p):
            return (f"Priority encoder: out is the index of the {which(p)}-numbered bit of the {p['width']}-bit "
                    f"input in that is 1; if no bit is set, out is 0.{valid(p)}")

        def p1(p):
            return (f"Scan in ({p['width']} bits) for set bits and output on out the position of the {which(p)} one "
                    f"(bit {p['width'] - 1 if p['priority'] == 'high' else 0} has priority). With in = 0, out = 0."
                    f"{valid(p)}")

        def p2(p):
            return (f"{p['width']}-input priority encoder, {'MSB' if p['priority'] == 'high' else 'LSB'} first: "
                    f"out = index of the {which(p)} 1 bit of in, or 0 when in is all zeros.{valid(p)}")

        def p3(p):
            text = (f"Among the bits of the {p['width']}-bit input in that are 1, find the one with the "
                    f"{which(p)} index and put that index on out. If in has no 1 bits, out must be 0.")
            return text + (" Also drive valid high exactly when in has at least one 1 bit." if p["valid"] else "")

        return (p0, p1, p2, p3)


_FAMILY_LIST: tuple[Family, ...] = (Logic(), Arith(), Mux(), Compare(), Counter(), Shift(), Edge(), SeqDet(),
                                    Parity(), Popcount(), Decoder(), Encoder())
_BY_NAME = {f.name: f for f in _FAMILY_LIST}
FAMILIES: tuple[str, ...] = tuple(_BY_NAME)


def family(name: str) -> Family:
    """The family called ``name``; unknown names raise UserError listing the families."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise UserError(f"unknown task family {name!r}; choose from: {', '.join(FAMILIES)}") from None


# -- rendering -------------------------------------------------------------------------------------------
def _module(name: str, d: Design, body: str) -> str:
    ports = [f"  input {_range(p.width)}{p.name}" for p in d.inputs]
    ports += [f"  output {'reg ' if p.reg else ''}{_range(p.width)}{p.name}" for p in d.outputs]
    return f"module {name} (\n" + ",\n".join(ports) + f"\n);\n\n{body}\n\nendmodule\n"


def render_reference(d: Design) -> str:
    return _module("RefModule", d, d.body)


def render_prompt(d: Design, description: str) -> str:
    lines = [f" - input  {p.name}" + (f" ({_bits(p.width)})" if p.width > 1 else "") for p in d.inputs]
    lines += [f" - output {p.name}" + (f" ({_bits(p.width)})" if p.width > 1 else "") for p in d.outputs]
    return PROMPT_HEAD + "\n".join(lines) + "\n\n" + description + "\n"


def render_testbench(d: Design) -> str:
    """A VerilogEval-shaped self-checking testbench for ``d`` (top module ``tb``)."""
    stim_inputs = [p for p in d.inputs if p.name != "clk"]
    outs = d.outputs
    stim_ports = "".join(f",\n\toutput reg {_range(p.width)}{p.name}" for p in stim_inputs)
    locals_ = f"{d.stim_locals}\n" if d.stim_locals else ""
    stim = (f"module stimulus_gen (\n\tinput clk,\n\tinput tb_match{stim_ports}\n);\n{locals_}"
            f"\tinitial begin\n{d.stimulus}\n\t\t#1 $finish;\n\tend\nendmodule\n")
    fields = "".join(f"\t\tint errors_{p.name};\n\t\tint errortime_{p.name};\n" for p in outs)
    signals = "".join(f"\tlogic {_range(p.width)}{p.name};\n" for p in stim_inputs)
    signals += "".join(f"\tlogic {_range(p.width)}{p.name}_{side};\n" for p in outs for side in ("ref", "dut"))

    def conns(suffix: str) -> str:
        names = [f"\t\t.{p.name}" for p in d.inputs] + [f"\t\t.{p.name}({p.name}{suffix})" for p in outs]
        return ",\n".join(names)

    stim_conns = ",\n".join(["\t\t.clk", "\t\t.tb_match"] + [f"\t\t.{p.name}" for p in stim_inputs])
    ref = ", ".join(f"{p.name}_ref" for p in outs)
    dut = ", ".join(f"{p.name}_dut" for p in outs)
    hints = "".join(
        f'\t\tif (stats1.errors_{p.name}) $display("Hint: Output \'%s\' has %0d mismatches. First mismatch '
        f'occurred at time %0d.", "{p.name}", stats1.errors_{p.name}, stats1.errortime_{p.name});\n'
        f'\t\telse $display("Hint: Output \'%s\' has no mismatches.", "{p.name}");\n'
        for p in outs)
    checks = "".join(
        f"\t\tif ({p.name}_ref !== ( {p.name}_ref ^ {p.name}_dut ^ {p.name}_ref )) begin\n"
        f"\t\t\tif (stats1.errors_{p.name} == 0) stats1.errortime_{p.name} = $time;\n"
        f"\t\t\tstats1.errors_{p.name}++;\n\t\tend\n"
        for p in outs)
    tb = (
        "module tb();\n"
        f"\ttypedef struct packed {{\n\t\tint errors;\n\t\tint errortime;\n{fields}\t\tint clocks;\n\t}} stats;\n"
        "\tstats stats1;\n\n"
        "\treg clk=0;\n\tinitial forever\n\t\t#5 clk = ~clk;\n\n"
        f"{signals}\n"
        "\twire tb_match;\n\twire tb_mismatch = ~tb_match;\n\n"
        f"\tstimulus_gen stim1 (\n{stim_conns} );\n"
        f"\tRefModule good1 (\n{conns('_ref')} );\n"
        f"\tTopModule top_module1 (\n{conns('_dut')} );\n\n"
        f"\tfinal begin\n{hints}"
        '\t\t$display("Hint: Total mismatched samples is %1d out of %1d samples\\n", stats1.errors, stats1.clocks);\n'
        '\t\t$display("Simulation finished at %0d ps", $time);\n'
        '\t\t$display("Mismatches: %1d in %1d samples", stats1.errors, stats1.clocks);\n'
        "\tend\n\n"
        "\t// X in the reference matches anything; X in the design under test matches only X.\n"
        f"\tassign tb_match = ( {{ {ref} }} === ( {{ {ref} }} ^ {{ {dut} }} ^ {{ {ref} }} ) );\n"
        "\talways @(posedge clk, negedge clk) begin\n"
        "\t\tstats1.clocks++;\n"
        "\t\tif (!tb_match) begin\n"
        "\t\t\tif (stats1.errors == 0) stats1.errortime = $time;\n"
        "\t\t\tstats1.errors++;\n\t\tend\n"
        f"{checks}\tend\n\n"
        '\tinitial begin\n\t\t#1000000\n\t\t$display("TIMEOUT");\n\t\t$finish();\n\tend\nendmodule\n'
    )
    return "`timescale 1 ps/1 ps\n\n" + stim + "\n" + tb


# -- the split -------------------------------------------------------------------------------------------
def params_held_out(family_name: str, params: dict[str, Any]) -> bool:
    """True when this parameter combination belongs to the held-out split (hash rule, see module doc)."""
    return splits.params_held_out(family_name, params, HELDOUT_PARAM_FRACTION)


def phrasing_held_out(phrasing: int) -> bool:
    return phrasing == HELDOUT_PHRASING


def _novelty(family_name: str, params: dict[str, Any], phrasing: int) -> list[str]:
    return splits.novelty(family_name, params, phrasing, fraction=HELDOUT_PARAM_FRACTION,
                          heldout_phrasing=HELDOUT_PHRASING)


def split_of(family_name: str, params: dict[str, Any], phrasing: int) -> str:
    return "heldout" if _novelty(family_name, params, phrasing) else "train"


# -- tasks -----------------------------------------------------------------------------------------------
def make_task(family_name: str, params: dict[str, Any], phrasing: int) -> Task:
    """The task for one (family, params, phrasing); raises UserError for an unknown family or bad params."""
    fam = family(family_name)
    if set(params) != set(fam.space) or any(params[k] not in fam.space[k] for k in params) or not fam.valid(params):
        raise UserError(f"invalid parameters for family {family_name!r}: {params}")
    params = {key: params[key] for key in fam.space}
    phrasings = fam.phrasings()
    if not 0 <= phrasing < len(phrasings):
        raise UserError(f"family {family_name!r} has phrasings 0..{len(phrasings) - 1}, not {phrasing}")
    d = fam.design(params)
    novel = _novelty(family_name, params, phrasing)
    return Task(
        task_id=f"vt-{family_name}-{splits.params_slug(params)}-p{phrasing}",
        domain="verilog",
        prompt=render_prompt(d, phrasings[phrasing](params)),
        assets={"format": "verilogeval", "test": render_testbench(d), "ref": render_reference(d),
                "top_module": "TopModule", "ref_module": "RefModule"},
        metadata={"family": family_name, "params": dict(params), "phrasing": phrasing,
                  "split": "heldout" if novel else "train", "novel": novel,
                  "generator": f"codealign.verilog_tasks/{GENERATOR_VERSION}"},
    )


def universe(family_name: str, split: str) -> list[tuple[dict[str, Any], int]]:
    """Every (params, phrasing) of a family in ``split``, in grid order."""
    splits.check_split(split)
    if split == splits.FEEDBACK:
        return list(_feedback()[family_name])
    fam = family(family_name)
    return [(p, k) for p in fam.combos() for k in range(len(fam.phrasings()))
            if split_of(family_name, p, k) == split]


def _stratum(family_name: str, item: tuple[dict[str, Any], int]) -> tuple[bool, bool]:
    """What is novel (params / phrasing): every prefix of a held-out list holds each kind in about equal
    numbers (train has one kind: none)."""
    return params_held_out(family_name, item[0]), phrasing_held_out(item[1])


def generate_tasks(families: str | Iterable[str] | None = None, n: int = 100, seed: int = 0,
                   split: str = "train") -> list[Task]:
    """``n`` distinct tasks of ``split``, drawn without replacement, round robin over ``families`` (all by
    default). Deterministic for (families, seed, split); a larger ``n`` extends a smaller one's list.
    Raises UserError for an unknown family or split, or when fewer than ``n`` tasks exist."""
    pools = {name: universe(name, split) for name in splits.family_names(families, FAMILIES)}
    return [splits.labelled(make_task(name, *item), split)
            for name, item in splits.draw(pools, n, seed, split, _stratum)]


@functools.lru_cache(maxsize=None)
def _feedback() -> dict[str, list[tuple[dict[str, Any], int]]]:
    return splits.feedback_pools({name: universe(name, "heldout") for name in FAMILIES}, EVAL_RESERVE, _stratum,
                                 splits.params_key)


def _design_of(task: Task) -> Design:
    meta = task.metadata
    return family(meta["family"]).design(meta["params"])


def _renamed(d: Design, names: dict[str, str]) -> Design:
    """``d`` with ports (and their uses in the body) renamed; names absent from ``names`` are kept."""
    if not names:
        return d
    pattern = re.compile(r"\b(" + "|".join(map(re.escape, names)) + r")\b")
    body = pattern.sub(lambda m: names[m.group(1)], d.body)

    def port(p: Port) -> Port:
        return Port(names.get(p.name, p.name), p.width, p.reg)

    return Design(tuple(map(port, d.inputs)), tuple(map(port, d.outputs)), body, d.stimulus, d.stim_locals)


def golden_mutants(task: Task) -> list[tuple[str, str]]:
    """Wrong ``TopModule`` solutions the task's testbench must reject, as ``(description, text)``: the
    reference with bit 0 of one output inverted (one per output), and the reference of every neighbouring
    parameter combination whose ports have the same directions and widths (renamed to this task's ports).
    Neighbours that change the interface are left out: the testbench does not tell port widths apart."""
    d = _design_of(task)
    out = []
    for port in d.outputs:
        inner = _module("GoldenInner", d, d.body)
        wires = f"  wire {_range(port.width)}{port.name}_inner;\n"
        conns = ", ".join([f".{p.name}" for p in d.inputs] +
                          [f".{p.name}({p.name}_inner)" if p is port else f".{p.name}" for p in d.outputs])
        plain = Design(d.inputs, tuple(Port(p.name, p.width) for p in d.outputs), "", "")
        body = f"{wires}  GoldenInner u ({conns});\n  assign {port.name} = {port.name}_inner ^ 1'b1;"
        out.append((f"bit 0 of {port.name} inverted", _module("TopModule", plain, body) + "\n" + inner))
    fam = family(task.metadata["family"])
    mine = [(p.width, "in") for p in d.inputs] + [(p.width, "out") for p in d.outputs]
    for params in fam.neighbours(task.metadata["params"]):
        other = fam.design(params)
        theirs = [(p.width, "in") for p in other.inputs] + [(p.width, "out") for p in other.outputs]
        if theirs != mine:
            continue
        names = {a.name: b.name for a, b in zip(other.inputs + other.outputs, d.inputs + d.outputs) if a.name != b.name}
        changed = ", ".join(f"{k}={v}" for k, v in params.items() if task.metadata["params"][k] != v)
        renamed = _renamed(other, names)
        out.append((f"neighbour {changed}", _module("TopModule", renamed, renamed.body)))
    return out


def golden_candidates(tasks: list[Task]) -> list[Candidate]:
    """Every task's reference and golden mutants, as candidates to run through the verilog domain."""
    candidates = []
    for task in tasks:
        candidates.append(Candidate(task.task_id, reference_solution(task), metadata={"golden": "reference"}))
        for description, text in golden_mutants(task):
            candidates.append(Candidate(task.task_id, text, metadata={"golden": "mutant", "mutant": description}))
    return candidates


def golden_check(tasks: list[Task], candidates: list[Candidate], results: list[ExecResult]) -> dict[str, Any]:
    """The golden self-test's summary from the verdicts of :func:`golden_candidates`: per family, references
    that PASS with score 1.0 and mutants that do not PASS; ``failures`` lists every candidate that broke that
    rule (a SANDBOX_ERROR counts as a failure of the check)."""
    family_of = {t.task_id: t.metadata["family"] for t in tasks}
    per_family: dict[str, dict[str, int]] = {}
    failures = []
    for cand, res in zip(candidates, results):
        row = per_family.setdefault(family_of[cand.task_id], {"tasks": 0, "references_passed": 0, "mutants": 0,
                                                               "mutants_rejected": 0})
        if cand.metadata["golden"] == "reference":
            row["tasks"] += 1
            ok = res.verdict is Verdict.PASS and res.score == 1.0
            row["references_passed"] += ok
        else:
            row["mutants"] += 1
            ok = res.verdict not in (Verdict.PASS, Verdict.SANDBOX_ERROR)
            row["mutants_rejected"] += ok
        if not ok:
            failures.append({"task_id": cand.task_id, "candidate": cand.metadata.get("mutant", "reference"),
                             "verdict": res.verdict.value, "score": res.score,
                             "failure": res.details.get("failure") or res.details.get("error", ""),
                             "log": (res.stderr or res.stdout)[-300:]})
    return {"tasks": len(tasks), "candidates": len(candidates), "per_family": per_family, "failures": failures}


# -- bundled demo sets -----------------------------------------------------------------------------------
BUNDLE = Bundle(Path(__file__).resolve().parent / "resources" / "tasks", generate_tasks, BUNDLED_COUNTS, BUNDLED_SEED)
bundled_tasks = BUNDLE.tasks
bundled_generation = BUNDLE.generation
write_bundled = BUNDLE.write

