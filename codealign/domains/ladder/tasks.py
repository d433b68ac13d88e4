"""Procedural ladder tasks: control specifications a small model can learn, judged by the scan-cycle simulator.

Each task is a short spec in words with its interface (BOOL inputs and outputs); the answer is a ladder
program in rung text, judged against the task's reference program (assets as in :mod:`.assets`, ``kind``
``reference``): the exhaustive search of the product machine, the task's traces and random traces drawn per
job (:mod:`.scoring`). ``metadata["solution"]`` is the same reference program.

Families (``FAMILIES``), each a finite grid of parameters and four phrasings of its spec:

* ``seal_in`` — start/stop with a seal-in contact: signal names, stop button wired NO or NC, which button
  wins when both are pressed, an optional permissive (``Ready``) or trip (``Overload``) input;
* ``interlock`` — two outputs that are never on together: held (jog) or latched with a common stop, and
  whether a simultaneous request starts the first output or neither;
* ``latch`` — SET/RST memory: set on the level or on the rising edge, which wins when both act in one scan,
  reset button wired NO or NC;
* ``two_hand`` — two-hand control: both buttons held, or both pressed in the same scan and then held; an
  optional guard switch or NC emergency stop;
* ``sequence`` — 2 or 3 stages started in order (one rung per stage), each running only while the one
  before it runs, with a common stop wired NO or NC;
* ``timer`` — on-delay (TON), off-delay (TOF) and pulse (TP) behaviour with a preset of 300 ms to 2 s;
* ``delayed_start`` — a warning horn at start, the motor a delay later (two rungs, a timer, seal-in).

**The traces** depend only on (family, parameters): a scenario written for the family, then, for every
golden mutant (:func:`golden_mutants`: every graph edit of :mod:`.edits` of the reference, the reference of
every other parameter combination with the same interface, all outputs held off, all held on) that the
traces so far accept, the shortest input sequence on which the simulator shows it differs from the reference
(:func:`~codealign.domains.ladder.equivalence.compare_programs`). Expected values are the reference's. So
every golden mutant fails its task; a mutant the exhaustive search proves equivalent is no mutant and is
left out.

**The split** is :mod:`codealign.domains.splits`'s: parameter combinations held out by hash
(``HELDOUT_PARAM_FRACTION``) and the last phrasing held out (``metadata["novel"]`` says which).

Guaranteed: the same arguments give the same tasks, byte for byte; a larger ``n`` extends a smaller one's
list; prompts are short (``MAX_PROMPT_TOKENS`` of the tiny model's tokenizer, checked for every bundled
task in the tests). ``write_bundled()`` regenerates ``resources/tasks/{train,heldout}.jsonl``.
"""

from __future__ import annotations

import copy
import functools
import itertools
import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from codealign.domains.ladder.checks import Declarations, check_program, errors
from codealign.domains.ladder.edits import candidate_edits
from codealign.domains.ladder.equivalence import compare_programs
from codealign.domains.ladder.parser import parse_program
from codealign.domains.ladder.simulator import Simulator, Step, Trace, compare_rows
from codealign.domains.ladder.assets import DEFAULT_SCAN_MS, task_prompt
from codealign.domains.splits import (FEEDBACK, SPLITS, Bundle, canonical, check_split, draw, family_names,
                                      feedback_pools, labelled, novelty, params_held_out, params_key, params_slug)
from codealign.errors import UserError
from codealign.types import Task

GENERATOR_VERSION = "2"
HELDOUT_PARAM_FRACTION = 0.2
HELDOUT_PHRASING = 3
PHRASINGS = 4
BUNDLED_COUNTS = {"train": 240, "heldout": 72}
BUNDLED_SEED = 0
EVAL_RESERVE = 144
"""Held-out tasks (the seed-0 draw's first) kept for evaluation: the ``feedback`` pool shares no (family,
params) with them (:func:`codealign.domains.splits.feedback_pools`)."""
MAX_PROMPT_TOKENS = 256


@dataclass(frozen=True)
class Design:
    """One concrete control task: its interface, reference program and scenario."""

    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    reference: str
    scenario: tuple[tuple[int, dict[str, bool]], ...]
    """Steps ``(cycles, input values)``; the first sets every input."""


def _pressed(pressed: bool, wiring: str) -> bool:
    """The input value of a push button: an NC-wired button reads FALSE while pressed."""
    return pressed if wiring == "NO" else not pressed


def _stop(var: str, wiring: str) -> str:
    """The contact that passes power while the stop button ``var`` is not pressed."""
    return f"NC({var})" if wiring == "NO" else f"NO({var})"


_WIRED_NC = (" {v} is wired normally closed (FALSE while pressed).",
             " {v} is an NC button: it reads FALSE when pressed.",
             " The {v} input is FALSE while {v} is pressed (NC wiring).",
             " {v} reads TRUE until it is pressed (NC).")


def _wiring_note(var: str, wiring: str, k: int) -> str:
    return _WIRED_NC[k].format(v=var) if wiring == "NC" else ""


def _scenario(wiring: dict[str, str], rows: list[tuple[int, dict[str, bool]]]) -> tuple:
    """Steps from rows of ``(cycles, {input: pressed})``; every input starts released, each button read
    through its wiring (inputs not in ``wiring`` are plain NO signals)."""
    steps = []
    for i, (cycles, pressed) in enumerate(rows):
        values = {name: False for name in wiring} if i == 0 else {}
        values.update(pressed)
        steps.append((cycles, {n: _pressed(v, wiring.get(n, "NO")) for n, v in values.items()}))
    return tuple(steps)


class Family:
    """A kind of control task: a finite parameter grid, a design per combination, :data:`PHRASINGS` specs."""

    name: str = ""
    space: dict[str, tuple] = {}

    def valid(self, p: dict[str, Any]) -> bool:
        return True

    def design(self, p: dict[str, Any]) -> Design:
        raise NotImplementedError

    def spec(self, p: dict[str, Any], k: int) -> str:
        """The spec in phrasing ``k``; it states every parameter not already in the interface."""
        raise NotImplementedError

    def combos(self) -> list[dict[str, Any]]:
        grid = (dict(zip(self.space, values)) for values in itertools.product(*self.space.values()))
        return [p for p in grid if self.valid(p)]


class SealIn(Family):
    name = "seal_in"
    NAMES = (("Start", "Stop", "Motor"), ("Run", "Halt", "Pump"), ("On", "Off", "Fan"), ("Go", "Stop", "Conveyor"),
             ("StartBtn", "StopBtn", "Mixer"))
    GUARDS = {"none": None, "permit": "Ready", "trip": "Overload"}
    space = {"names": tuple(range(len(NAMES))), "stop": ("NO", "NC"), "wins": ("stop", "start"),
             "guard": tuple(GUARDS)}

    def design(self, p):
        start, stop, out = self.NAMES[p["names"]]
        guard = self.GUARDS[p["guard"]]
        guard_contact = {"none": "", "permit": " NO(Ready)", "trip": " NC(Overload)"}[p["guard"]]
        if p["wins"] == "stop":
            body = f"[NO({start}) | NO({out})] {_stop(stop, p['stop'])}"
        else:
            body = f"[NO({start}) | NO({out}) {_stop(stop, p['stop'])}]"
        inputs = (start, stop) + ((guard,) if guard else ())
        wiring = {start: "NO", stop: p["stop"], **({guard: "NO"} if guard else {})}
        rows = [(1, {"Ready": True} if guard == "Ready" else {}), (1, {start: True}), (2, {start: False}),
                (1, {stop: True}), (1, {stop: False}), (1, {start: True, stop: True}), (1, {stop: False}),
                (1, {start: False})]
        if guard:
            trip = guard == "Overload"
            rows += [(1, {guard: trip}), (1, {guard: not trip}), (1, {start: True}), (1, {start: False})]
        return Design(inputs, (out,), f"{body}{guard_contact} OUT({out})", _scenario(wiring, rows))

    def spec(self, p, k):
        start, stop, out = self.NAMES[p["names"]]
        winner, other_state = (stop, "off") if p["wins"] == "stop" else (start, "on")
        head = (f"{out} starts when {start} is pressed and keeps running after {start} is released; {stop} stops "
                f"it. {winner} wins if both are pressed.",
                f"Seal-in rung: pressing {start} latches {out} on, pressing {stop} turns it off; with both pressed "
                f"{out} is {other_state}.",
                f"Start/stop control of {out} with momentary buttons {start} and {stop}. When both are pressed, "
                f"{winner} has priority.",
                f"Pressing {start} switches {out} on and it stays on by itself until {stop} is pressed. Pressing "
                f"both at once leaves {out} {other_state}.")[k]
        guard = {"none": ("", "", "", ""),
                 "permit": (f" {out} can only run while Ready is TRUE; losing Ready stops it.",
                            f" Ready must be TRUE for {out} to be on; when Ready drops, {out} drops out.",
                            f" {out} also needs the permissive Ready: without it {out} stops and stays off.",
                            f" {out} runs only with Ready TRUE and does not restart by itself when Ready returns."),
                 "trip": (f" Overload TRUE stops {out}; it stays off until started again.",
                          f" While Overload is TRUE {out} is off, and it needs a new {start} afterwards.",
                          f" An Overload trip switches {out} off until the next start.",
                          f" Overload forces {out} off; a new start is needed once it clears.")}[p["guard"]][k]
        return head + guard + _wiring_note(stop, p["stop"], k)


class Interlock(Family):
    name = "interlock"
    NAMES = (("Fwd", "Rev"), ("Up", "Down"), ("Fill", "Drain"), ("Left", "Right"), ("Open", "Close"))
    space = {"names": tuple(range(len(NAMES))), "mode": ("held", "latched"), "tie": ("first", "none"),
             "stop": ("NO", "NC")}

    def valid(self, p):
        return p["mode"] == "latched" or p["stop"] == "NO"

    def design(self, p):
        a, b = self.NAMES[p["names"]]
        btn_a, btn_b = f"{a}Btn", f"{b}Btn"
        latched = p["mode"] == "latched"

        def rung(own, btn, other, other_btn):
            request = f"NO({btn})" + (f" NC({other_btn})" if p["tie"] == "none" else "")
            if not latched:
                return f"{request} NC({other}) OUT({own})" if p["tie"] == "first" else f"{request} OUT({own})"
            return f"[{request} | NO({own})] {_stop('Stop', p['stop'])} NC({other}) OUT({own})"

        reference = f"{rung(a, btn_a, b, btn_b)}\n{rung(b, btn_b, a, btn_a)}"
        inputs = (btn_a, btn_b) + (("Stop",) if latched else ())
        wiring = {btn_a: "NO", btn_b: "NO", **({"Stop": p["stop"]} if latched else {})}
        rows = [(1, {}), (1, {btn_a: True}), (1, {btn_a: False}), (1, {btn_b: True}), (1, {btn_b: False})]
        if latched:
            rows += [(1, {"Stop": True}), (1, {"Stop": False}), (1, {btn_b: True}), (1, {btn_b: False})]
        rows += [(1, {btn_a: True, btn_b: True}), (2, {btn_a: False, btn_b: False})]
        return Design(inputs, (a, b), reference, _scenario(wiring, rows))

    def spec(self, p, k):
        a, b = self.NAMES[p["names"]]
        first = p["tie"] == "first"
        if p["mode"] == "held":
            text = (f"{a} is on while {a}Btn is held and {b} while {b}Btn is held, but never both: "
                    + (f"an output cannot turn on while the other is on, and if both buttons are pressed together "
                       f"{a} wins." if first else "while both buttons are held neither is on."),
                    f"Interlock {a} and {b}: {a} follows {a}Btn, {b} follows {b}Btn, never both on. "
                    + (f"The one already on blocks the other; from rest, pressing both at once gives {a}." if first
                       else "Holding both buttons turns both off."),
                    f"Jog control: holding {a}Btn runs {a}, holding {b}Btn runs {b}, mutually exclusive"
                    + (f"; a running output blocks the other and {a} has priority when both start in the same scan."
                       if first else ": with both buttons held nothing runs."),
                    f"Drive {a} from button {a}Btn and {b} from button {b}Btn (on only while held). "
                    + (f"An output stays off while the other one is on, and {a} is preferred when both are "
                       f"requested at once." if first else "If both buttons are down, switch both outputs off."))[k]
            return text
        text = (f"{a}Btn starts {a} and {b}Btn starts {b}; each keeps running after its button is released and Stop "
                f"stops both, winning over the start buttons. One cannot start while the other runs"
                + (f", and if both buttons are pressed together {a} starts." if first else
                   ", and pressing both buttons together starts neither."),
                f"Two seal-in outputs {a} and {b} with start buttons {a}Btn and {b}Btn and a common Stop that has "
                f"priority. Never both on: the running one blocks the other; "
                + (f"{a} wins a tie." if first else "a tie starts neither."),
                f"Latch {a} with {a}Btn and {b} with {b}Btn, unlatch both with Stop (Stop dominant). Interlock "
                f"them so that a running output blocks the other"
                + (f"; on a simultaneous press {a} starts." if first else "; a simultaneous press starts nothing."),
                f"Momentary {a}Btn and {b}Btn start {a} and {b}, which then hold themselves on until Stop (which "
                f"overrides starting). Starting one is refused while the other runs, and "
                + (f"{a} is chosen when both are pressed at once." if first
                   else "pressing both at once starts neither."))[k]
        return text + _wiring_note("Stop", p["stop"], k)


class Latch(Family):
    name = "latch"
    NAMES = (("Set", "Reset", "Lamp"), ("Fault", "Ack", "Alarm"), ("Arm", "Disarm", "Armed"),
             ("Call", "Cancel", "CallLight"), ("Trip", "Clear", "Tripped"))
    space = {"names": tuple(range(len(NAMES))), "wins": ("reset", "set"), "trigger": ("level", "edge"),
             "reset": ("NO", "NC")}

    def design(self, p):
        s, r, q = self.NAMES[p["names"]]
        set_rung = f"{'P' if p['trigger'] == 'edge' else 'NO'}({s}) SET({q})"
        reset_contact = "NO" if p["reset"] == "NO" else "NC"
        reset_rung = f"{reset_contact}({r}) RST({q})"
        rungs = (set_rung, reset_rung) if p["wins"] == "reset" else (reset_rung, set_rung)
        wiring = {s: "NO", r: p["reset"]}
        rows = [(1, {}), (2, {s: True}), (1, {s: False}), (1, {r: True}), (1, {r: False}), (1, {s: True}),
                (1, {r: True}), (1, {s: False}), (1, {r: False}), (1, {s: True, r: True}), (2, {r: False}),
                (1, {s: False})]
        return Design((s, r), (q,), "\n".join(rungs), _scenario(wiring, rows))

    def spec(self, p, k):
        s, r, q = self.NAMES[p["names"]]
        winner = r if p["wins"] == "reset" else s
        edge = p["trigger"] == "edge"
        head = (f"{s} sets {q} and {r} resets it; {q} keeps its state in between.",
                f"Latch {q}: SET by {s}, RST by {r}.",
                f"Memory bit {q}: turned on by {s}, turned off by {r}, holding its state otherwise.",
                f"Use {s} to switch {q} on and {r} to switch it off; {q} remembers its last state.")[k]
        trigger = ((f" Only the press of {s} (its rising edge) sets {q}.", f" Set on the rising edge of {s} only.",
                    f" Holding {s} does nothing more: only its rising edge turns {q} on.",
                    f" {q} is set once per press of {s} (edge-triggered).") if edge else
                   (f" {q} is set in every scan while {s} is TRUE.", f" Set while {s} is TRUE (level).",
                    f" While {s} is held, {q} is turned on in every scan.",
                    f" {s} acts by level: as long as it is TRUE it sets {q}."))[k]
        priority = (f" When both act in the same scan, {winner} wins.", f" If both act in one scan, {winner} wins.",
                    f" {winner} has priority when set and reset act in the same scan.",
                    f" A set and a reset in the same scan leave the result of {winner}.")[k]
        return head + trigger + priority + _wiring_note(r, p["reset"], k)


class TwoHand(Family):
    name = "two_hand"
    NAMES = (("Left", "Right", "Press"), ("HandL", "HandR", "Ram"), ("BtnA", "BtnB", "Punch"),
             ("Hand1", "Hand2", "Clamp"))
    GUARDS = {"none": None, "guard": "Guard", "estop": "EStop"}
    space = {"names": tuple(range(len(NAMES))), "mode": ("held", "same_scan"), "guard": tuple(GUARDS)}

    def design(self, p):
        left, right, out = self.NAMES[p["names"]]
        guard = self.GUARDS[p["guard"]]
        hands = f"NO({left}) NO({right})" + (f" NO({guard})" if guard else "")
        if p["mode"] == "held":
            reference = f"{hands} OUT({out})"
        else:
            reference = f"[P({left}) P({right}) | NO({out})] {hands} OUT({out})"
        wiring = {left: "NO", right: "NO", **({guard: "NC" if guard == "EStop" else "NO"} if guard else {})}
        both = {left: True, right: True}
        rows = [(1, {"Guard": False} if guard == "Guard" else {}), (1, both)]
        if guard == "Guard":
            rows += [(1, {left: False, right: False}), (1, {"Guard": True}), (2, both)]
        rows += [(1, {left: False}), (1, {left: True}), (1, {right: False}), (1, {left: False}), (1, {left: True}),
                 (1, {right: True}), (1, {left: False, right: False}), (2, both)]
        if guard:
            stop = {"Guard": False} if guard == "Guard" else {"EStop": True}
            rows += [(1, stop), (1, {"Guard": True} if guard == "Guard" else {"EStop": False})]
        return Design((left, right) + ((guard,) if guard else ()), (out,), reference, _scenario(wiring, rows))

    def spec(self, p, k):
        left, right, out = self.NAMES[p["names"]]
        if p["mode"] == "held":
            head = (f"{out} runs only while both {left} and {right} are held; releasing either stops it.",
                    f"Two-hand control: {out} is on exactly while {left} and {right} are both pressed.",
                    f"Both hands are needed: {out} needs {left} and {right} held together and stops when one lets go.",
                    f"Switch {out} on only with {left} and {right} both held down, off as soon as one is released.")[k]
        else:
            head = (f"{out} starts only when {left} and {right} are pressed in the same scan, then runs while both "
                    f"stay held; after a stop both must be pressed together again.",
                    f"Two-hand start: {left} and {right} must go TRUE in the same scan to start {out}; it runs while "
                    f"both are held and a release needs a new simultaneous press.",
                    f"Start {out} on a simultaneous press of {left} and {right} (same scan). {out} stops when either "
                    f"is released and restarts only on a new simultaneous press.",
                    f"{out} is started by pressing {left} and {right} in one and the same scan and keeps running while "
                    f"both are held; pressing one after the other does not start it.")[k]
        guard = {"none": ("", "", "", ""),
                 "guard": (f" Guard must be TRUE for {out} to run.", f" {out} also needs Guard closed (TRUE).",
                           f" Opening Guard (FALSE) stops {out}.", f" {out} may run only with Guard TRUE."),
                 "estop": (f" EStop is a normally closed emergency stop (FALSE while pressed) that stops {out}.",
                           f" The NC emergency stop EStop (FALSE when pressed) switches {out} off.",
                           f" Pressing EStop (an NC button, FALSE when pressed) stops {out}.",
                           f" EStop, wired normally closed, reads FALSE when pressed and stops {out}.")}[p["guard"]][k]
        return head + guard


class Sequence(Family):
    name = "sequence"
    NAMES = (("Feed", "Mix", "Cap"), ("M1", "M2", "M3"), ("Oil", "Spin", "Saw"), ("Fan", "Pump", "Heat"),
             ("A1", "A2", "A3"))
    space = {"names": tuple(range(len(NAMES))), "stages": (2, 3), "stop": ("NO", "NC")}

    def stages(self, p):
        return self.NAMES[p["names"]][:p["stages"]]

    def design(self, p):
        stages = self.stages(p)
        rungs = []
        for i, stage in enumerate(stages):
            before = f" NO({stages[i - 1]})" if i else ""
            rungs.append(f"[NO(S{stage}) | NO({stage})] {_stop('Stop', p['stop'])}{before} OUT({stage})")
        starts = tuple(f"S{s}" for s in stages)
        wiring = {**{s: "NO" for s in starts}, "Stop": p["stop"]}
        rows = [(1, {})]
        rows += [row for s in reversed(starts[1:]) for row in ((1, {s: True}), (1, {s: False}))]
        rows += [row for s in starts for row in ((1, {s: True}), (1, {s: False}))]
        rows += [(1, {"Stop": True}), (1, {"Stop": False})]
        return Design(starts + ("Stop",), stages, "\n".join(rungs), _scenario(wiring, rows))

    def spec(self, p, k):
        stages = self.stages(p)
        order = ", ".join(stages[:-1]) + f" and {stages[-1]}"
        text = (f"Stages {order} start in order: each has a start button S<stage> and keeps running after release. "
                f"A stage can start and run only while the stage before it runs. Stop stops all and wins.",
                f"Sequence start of {order}: button S{stages[0]} starts {stages[0]}, S{stages[1]} starts "
                f"{stages[1]} and so on; each seals itself in and drops when the previous stage is off. Stop, "
                f"dominant, stops everything.",
                f"Cascade of seal-in stages {order}, each started by its button S<stage> and allowed only while the "
                f"previous one is on. A common Stop overrides the starts and switches all off.",
                f"Run {order} one after another: pressing S<stage> starts that stage only if the stage before it is "
                f"running; stages hold themselves on, fall out when the one before stops, and Stop (priority) "
                f"stops all.")[k]
        return text + _wiring_note("Stop", p["stop"], k)


class Timer(Family):
    name = "timer"
    NAMES = (("Button", "Lamp"), ("Sensor", "Alarm"), ("Door", "Buzzer"), ("Switch", "Fan"))
    PRESETS = {3: ("300ms", "300 ms"), 5: ("500ms", "500 ms"), 10: ("1s", "1 s"), 20: ("2s", "2 s")}
    space = {"names": tuple(range(len(NAMES))), "kind": ("on_delay", "off_delay", "pulse"),
             "scans": tuple(PRESETS)}

    def design(self, p):
        i, q = self.NAMES[p["names"]]
        block = {"on_delay": "TON", "off_delay": "TOF", "pulse": "TP"}[p["kind"]]
        n = p["scans"]
        rows = [(1, {}), (n - 1, {i: True}), (2, {i: False}), (n + 2, {i: True}), (n + 2, {i: False}),
                (1, {i: True}), (1, {i: False}), (1, {i: True}), (n + 2, {i: False})]
        reference = f"NO({i}) {block}(T1, PT={self.PRESETS[n][0]}) OUT({q})"
        return Design((i,), (q,), reference, _scenario({i: "NO"}, rows))

    def spec(self, p, k):
        i, q = self.NAMES[p["names"]]
        t = self.PRESETS[p["scans"]][1]
        return {"on_delay": (f"{q} turns on when {i} has been TRUE for {t} and turns off as soon as {i} is FALSE.",
                             f"On-delay: {q} follows {i} going TRUE after {t}, and goes FALSE at once with {i}.",
                             f"Delay switching {q} on by {t} after {i} turns on; {i} off switches {q} off at once.",
                             f"{i} must stay TRUE for {t} before {q} comes on; {q} drops as soon as {i} drops."),
                "off_delay": (f"{q} is on while {i} is TRUE and stays on for {t} after {i} turns FALSE.",
                              f"Off-delay: {q} turns on with {i} and turns off {t} after {i} goes FALSE.",
                              f"Keep {q} on for {t} after {i} switches off; {q} comes on at once with {i}.",
                              f"{q} follows {i} on immediately but lingers {t} after {i} goes off."),
                "pulse": (f"When {i} turns TRUE, {q} gives one pulse of {t}; the pulse is not restarted while it "
                          f"runs.",
                          f"Pulse: each rising edge of {i} makes {q} TRUE for exactly {t} (no retrigger during the "
                          f"pulse).",
                          f"On {i} going TRUE, switch {q} on for {t}, however long {i} stays on; edges during the "
                          f"pulse are ignored.",
                          f"A fixed {t} pulse on {q} starts at each rising edge of {i}, unless a pulse is already "
                          f"running.")}[p["kind"]][k]


class DelayedStart(Family):
    name = "delayed_start"
    NAMES = (("Start", "Stop", "Horn", "Motor"), ("Run", "Halt", "Beacon", "Crusher"), ("Go", "Off", "Siren", "Saw"))
    DELAYS = {10: ("1s", "1 s"), 20: ("2s", "2 s"), 30: ("3s", "3 s")}
    space = {"names": tuple(range(len(NAMES))), "scans": tuple(DELAYS), "stop": ("NO", "NC")}

    def design(self, p):
        start, stop, horn, motor = self.NAMES[p["names"]]
        stop_contact = _stop(stop, p["stop"])
        reference = (f"[NO({start}) | NO({horn}) | NO({motor})] {stop_contact} "
                     f"TON(T1, PT={self.DELAYS[p['scans']][0]}) OUT({motor})\n"
                     f"[NO({start}) | NO({horn})] {stop_contact} NC({motor}) OUT({horn})")
        n = p["scans"]
        rows = [(1, {}), (1, {start: True}), (n + 2, {start: False}), (1, {stop: True}), (1, {stop: False}),
                (2, {start: True}), (3, {start: False}), (1, {stop: True}), (2, {stop: False}),
                (1, {start: True, stop: True}), (1, {stop: False}), (n + 1, {start: False})]
        return Design((start, stop), (horn, motor), reference, _scenario({start: "NO", stop: p["stop"]}, rows))

    def spec(self, p, k):
        start, stop, horn, motor = self.NAMES[p["names"]]
        d = self.DELAYS[p["scans"]][1]
        text = (f"Pressing {start} sounds {horn} at once; {d} later {motor} starts and {horn} stops. {motor} then "
                f"keeps running. {stop} stops everything and wins over {start}.",
                f"Start-up warning: {start} switches {horn} on, and {d} after the press {motor} starts while {horn} "
                f"goes off. {stop} (dominant) ends the warning and stops {motor}.",
                f"Delayed start of {motor}: {horn} warns for {d} after {start} is pressed, then {motor} runs and "
                f"{horn} is silent. Both latch; {stop} switches everything off and overrides {start}.",
                f"{start} begins a start-up: {horn} sounds for {d}, then {motor} runs on its own and {horn} stops. "
                f"{stop} has priority and turns both off.")[k]
        return text + _wiring_note(stop, p["stop"], k)


_FAMILY_LIST = (SealIn(), Interlock(), Latch(), TwoHand(), Sequence(), Timer(), DelayedStart())
FAMILIES = tuple(f.name for f in _FAMILY_LIST)
_BY_NAME = {f.name: f for f in _FAMILY_LIST}


def family(name: str) -> Family:
    family_names(name, FAMILIES)
    return _BY_NAME[name]


def _check_params(family_name: str, params: dict[str, Any]) -> dict[str, Any]:
    fam = family(family_name)
    if set(params) != set(fam.space) or any(params[k] not in fam.space[k] for k in params) or not fam.valid(params):
        raise UserError(f"invalid parameters for ladder task family {family_name!r}: {params}")
    return {key: params[key] for key in fam.space}


# -- traces and golden mutants ---------------------------------------------------------------------------
def _mutant_programs(family_name: str, params: dict[str, Any], design: Design) -> list[tuple[str, str]]:
    """(description, program text) of every candidate mutant, in a fixed order (see the module docstring)."""
    fam = family(family_name)
    out = [("all outputs off", "\n".join(f"RST({o})" for o in design.outputs)),
           ("all outputs on", "\n".join(f"OUT({o})" for o in design.outputs))]
    for other in fam.combos():
        if other == params or sum(other[k] != params[k] for k in params) != 1:
            continue
        neighbour = fam.design(other)
        if (neighbour.inputs, neighbour.outputs) == (design.inputs, design.outputs):
            out.append((f"reference of {canonical(other)}", neighbour.reference))
    rng = random.Random(f"{family_name}|{canonical(params)}")
    out += [(edit.description, edit.program.text()) for edit in candidate_edits(parse_program(design.reference), rng)]
    seen, unique = {design.reference}, []
    for description, text in out:
        if text not in seen:
            seen.add(text)
            unique.append((description, text))
    return unique


@functools.lru_cache(maxsize=None)
def _checked(family_name: str, params_json: str) -> tuple[tuple[dict[str, Any], ...], tuple[tuple[str, str], ...]]:
    """(traces as asset dicts, golden mutants) of one parameter combination: the scenario, then a
    counterexample for each mutant the traces so far accept; mutants proven equivalent are dropped."""
    params = json.loads(params_json)
    design = family(family_name).design(params)
    reference = parse_program(design.reference)
    decl = Declarations(set(design.inputs), set(design.outputs), {})
    outputs = list(design.outputs)

    def run(program, trace):
        return Simulator(program, scan_ms=DEFAULT_SCAN_MS).run(trace)

    scenario = Trace([Step(c, dict(v)) for c, v in design.scenario], outputs)
    traces = [Trace(scenario.steps, outputs, run(reference, scenario))]
    golden = []
    for description, text in _mutant_programs(family_name, params, design):
        program = parse_program(text)
        if errors(check_program(program, decl)):
            continue
        if any(compare_rows(t.expected, run(program, t))[2] for t in traces):
            golden.append((description, text))
            continue
        eq = compare_programs(reference, program, inputs=list(design.inputs), outputs=outputs,
                              scan_ms=DEFAULT_SCAN_MS, seed=len(traces), random_count=4)
        if eq.counterexample is None:
            continue
        cx = eq.counterexample
        traces.append(Trace([Step(s["cycles"], dict(s["inputs"])) for s in cx["steps"]], cx["watch"], cx["expected"]))
        golden.append((description, text))
    return tuple(t.to_dict() for t in traces), tuple(golden)


def golden_mutants(task: Task) -> list[tuple[str, str]]:
    """(description, program) of the wrong programs this task's traces reject (see the module docstring)."""
    meta = task.metadata
    return list(_checked(meta["family"], canonical(_check_params(meta["family"], meta["params"])))[1])


# -- tasks -----------------------------------------------------------------------------------------------
def make_task(family_name: str, params: dict[str, Any], phrasing: int) -> Task:
    """The task for one (family, params, phrasing); UserError for unknown or invalid values."""
    params = _check_params(family_name, params)
    if not 0 <= phrasing < PHRASINGS:
        raise UserError(f"family {family_name!r} has phrasings 0..{PHRASINGS - 1}, not {phrasing}")
    fam = family(family_name)
    design = fam.design(params)
    spec = fam.spec(params, phrasing)
    traces, _ = _checked(family_name, canonical(params))
    novel = novelty(family_name, params, phrasing, fraction=HELDOUT_PARAM_FRACTION, heldout_phrasing=HELDOUT_PHRASING)
    return Task(
        task_id=f"ld-{family_name}-{params_slug(params)}-p{phrasing}",
        domain="ladder",
        prompt=task_prompt(spec, list(design.inputs), list(design.outputs), {}, DEFAULT_SCAN_MS, brief=True),
        assets={"spec": spec, "inputs": list(design.inputs), "outputs": list(design.outputs),
                "scan_ms": DEFAULT_SCAN_MS, "traces": copy.deepcopy(list(traces)), "reference": design.reference},
        metadata={"family": family_name, "params": params, "phrasing": phrasing, "solution": design.reference,
                  "rungs": design.reference.count("\n") + 1, "kind": "reference", "tags": [family_name],
                  "split": "heldout" if novel else "train", "novel": novel,
                  "generator": f"codealign.ladder_tasks/{GENERATOR_VERSION}"},
    )


def universe(family_name: str, split: str) -> list[tuple[dict[str, Any], int]]:
    """Every (params, phrasing) of a family in ``split``, in grid order."""
    check_split(split)
    if split == FEEDBACK:
        return list(_feedback()[family_name])
    out = []
    for params, phrasing in itertools.product(family(family_name).combos(), range(PHRASINGS)):
        novel = novelty(family_name, params, phrasing, fraction=HELDOUT_PARAM_FRACTION,
                        heldout_phrasing=HELDOUT_PHRASING)
        if ("heldout" if novel else "train") == split:
            out.append((params, phrasing))
    return out


def _stratum(family_name: str, item: tuple[dict[str, Any], int]) -> tuple[bool, bool]:
    params, phrasing = item
    return params_held_out(family_name, params, HELDOUT_PARAM_FRACTION), phrasing == HELDOUT_PHRASING


def generate_tasks(families: str | Iterable[str] | None = None, n: int = 100, seed: int = 0,
                   split: str = "train") -> list[Task]:
    """``n`` distinct tasks of ``split``, drawn without replacement, round robin over ``families`` (all by
    default). Deterministic for (families, seed, split); a larger ``n`` extends a smaller one's list.
    Raises UserError for an unknown family or split, or when fewer than ``n`` tasks exist."""
    check_split(split)
    pools = {name: universe(name, split) for name in family_names(families, FAMILIES)}
    return [labelled(make_task(name, *item), split) for name, item in draw(pools, n, seed, split, _stratum)]


@functools.lru_cache(maxsize=None)
def _feedback() -> dict[str, list[tuple[dict[str, Any], int]]]:
    return feedback_pools({name: universe(name, "heldout") for name in FAMILIES}, EVAL_RESERVE, _stratum, params_key)


# -- bundled demo sets -----------------------------------------------------------------------------------
BUNDLE = Bundle(Path(__file__).resolve().parent / "resources" / "tasks", generate_tasks, BUNDLED_COUNTS, BUNDLED_SEED)
bundled_tasks = BUNDLE.tasks
bundled_generation = BUNDLE.generation
write_bundled = BUNDLE.write

