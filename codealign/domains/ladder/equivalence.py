"""Behavioural equivalence of two ladder programs on the scan-cycle semantics.

:func:`compare_programs` runs a reference and a candidate side by side on

1. the given traces (the task's),
2. random traces from ``seed`` (inputs toggled at random, held for up to the longest timer preset so
   timers can expire; the judge passes a per-job seed it derived from a secret, see :mod:`codealign.domains.draws`),
3. and, when every input is BOOL and the joint state space is small, an exhaustive breadth-first search of
   the product machine: every reachable pair of states under every input vector. When that search
   completes without a difference the two programs are proven equal on the watched outputs from the
   all-FALSE start; when it finds one, the shortest input sequence that shows it becomes a counterexample
   trace (and counts in the score). When the search runs out of budget on the candidate's state although the
   reference's own states fit in ``MAX_TRANSITIONS // REFERENCE_MARGIN``, the candidate is not equivalent.

Every trace is one draw: ``traces_passed`` counts those on which the candidate matched the reference on every
watched value in every scan (a search counterexample is a draw the candidate failed).

Guaranteed: deterministic for a given seed; bounded work: ``max_transitions`` for the search, a fixed number of
random scans, and at most ``max_work`` element evaluations planned (elements of both programs times the scans
of the traces, the search and the covering traces, plus the reference's enumerations), else
:class:`~codealign.domains.ladder.simulator.BudgetError` before any simulation. Not guaranteed: with INT
inputs, more than six inputs or a reference over budget the answer rests on the traces alone (``method`` says
which).
"""

from __future__ import annotations

import itertools
import random
from collections import deque
from dataclasses import dataclass
from typing import Any

from codealign.domains.ladder.checks import infer_types
from codealign.domains.ladder.model import TIMER_KINDS, Block, Compare, Duration, Program
from codealign.domains.ladder.simulator import BudgetError, Simulator, Step, Trace, compare_rows, same_value

MAX_EXHAUSTIVE_INPUTS = 6
MAX_TRANSITIONS = 12_000
RANDOM_TRACES = 12
RANDOM_STEPS = 10
MAX_HOLD = 60
MAX_WORK = 4_000_000
REFERENCE_MARGIN = 8
"""A candidate whose product search runs out of budget where the reference's own states fit in
``MAX_TRANSITIONS // REFERENCE_MARGIN`` transitions is not equivalent: its extra state (a long timer, a large
counter) is what the search could not cover."""


@dataclass
class Equivalence:
    equivalent: bool
    method: str
    """'exhaustive' (the state-space search completed: its answer is a proof either way), 'traces' (task
    and random traces only: the search does not apply or the reference's own states are over budget) or
    'candidate-over-budget' (the search ran out on the candidate's state where the reference's fits well within
    it: not equivalent, counted as one failed draw)."""
    matched: int
    total: int
    counterexample: dict[str, Any] | None = None
    """First differing trace: its steps, watch list, the reference's rows (``expected``) and the candidate's
    (``got``), and the first differing (scan, variable)."""
    traces_run: int = 0
    traces_passed: int = 0
    states: int = 0

    @property
    def score(self) -> float:
        """The fraction of draws (traces) passed."""
        return self.traces_passed / self.traces_run if self.traces_run else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"equivalent": self.equivalent, "method": self.method, "matched": self.matched, "total": self.total,
                "counterexample": self.counterexample, "traces_run": self.traces_run,
                "traces_passed": self.traces_passed, "states": self.states}


def _longest_hold(programs: tuple[Program, ...], scan_ms: int) -> int:
    longest = 0
    for program in programs:
        for _, e in program.elements():
            if isinstance(e, Block) and e.kind in TIMER_KINDS and isinstance(e.preset, Duration):
                longest = max(longest, e.preset.ms)
            elif isinstance(e, Block) and isinstance(e.preset, int):
                longest = max(longest, e.preset * scan_ms)
    return max(1, min(MAX_HOLD, longest // scan_ms + 2))


def _int_pool(programs: tuple[Program, ...], name: str) -> list[int]:
    """Boundary values for an INT input: each literal it is compared with, and its neighbours."""
    pool = {0}
    for program in programs:
        for _, e in program.elements():
            if isinstance(e, Compare) and name in (e.left, e.right):
                for v in (e.left, e.right):
                    if isinstance(v, int):
                        pool.update((v - 1, v, v + 1))
    return sorted(pool)


def random_traces(programs: tuple[Program, ...], inputs: list[str], outputs: list[str], types: dict[str, str],
                  scan_ms: int, seed: int, count: int = RANDOM_TRACES, steps: int = RANDOM_STEPS) -> list[Trace]:
    """``count`` random traces over ``inputs`` watching ``outputs``; the same arguments give the same traces.

    A step either changes one input (half the steps: a BOOL input toggles, as one button press or release does,
    which is how sequences of states are reached) or draws each input anew with probability 1/2; it then holds
    for 1, 2, 3 scans or long enough for the longest timer or counter preset to expire."""
    rng = random.Random(seed)
    hold = _longest_hold(programs, scan_ms)
    pools = {n: _int_pool(programs, n) for n in inputs if types.get(n, "BOOL") != "BOOL"}

    def draw(name: str) -> Any:
        return rng.choice(pools[name]) if name in pools else rng.random() < 0.5

    traces = []
    for _ in range(count):
        current = {name: draw(name) for name in inputs}
        rows = [Step(rng.choice((1, 1, 1, 2, 3, hold)), dict(current))]
        for _ in range(steps - 1):
            values: dict[str, Any] = {}
            if inputs and rng.random() < 0.5:
                name = rng.choice(inputs)
                values[name] = draw(name) if name in pools else not current[name]
            else:
                for name in inputs:
                    if rng.random() < 0.5:
                        values[name] = draw(name)
            current.update(values)
            rows.append(Step(rng.choice((1, 1, 1, 2, 3, hold)), values))
        traces.append(Trace(rows, list(outputs)))
    return traces


def _vectors(inputs: list[str]) -> list[dict[str, bool]]:
    return [dict(zip(inputs, bits)) for bits in itertools.product((False, True), repeat=len(inputs))]


def _explore(start: tuple, vectors: list[dict[str, bool]], advance, max_transitions: int):
    """Breadth-first search from ``start`` under every input vector: ``advance(node, vector)`` is the next node,
    or None for a transition that ends the search. Returns (completed, parent map ``node -> (node before,
    vector) | None``, the ending ``(node, vector)`` or None); not completed when ``max_transitions`` ran out."""
    parent: dict[tuple, tuple | None] = {start: None}
    queue = deque([start])
    transitions = 0
    while queue:
        node = queue.popleft()
        for vector in vectors:
            transitions += 1
            if transitions > max_transitions:
                return False, parent, None
            nxt = advance(node, vector)
            if nxt is None:
                return True, parent, (node, vector)
            if nxt not in parent:
                parent[nxt] = (node, vector)
                queue.append(nxt)
    return True, parent, None


def _path(parent: dict[tuple, tuple | None], node: tuple) -> list[tuple[tuple, dict[str, bool]]]:
    """The (node reached, vector) transitions from the search's start to ``node``."""
    path = []
    while parent[node] is not None:
        before, vector = parent[node]
        path.append((node, vector))
        node = before
    return path[::-1]


def _enumerate(reference: Simulator, vectors: list[dict[str, bool]], max_transitions: int):
    """(completed, parent map, start) of the breadth-first search of ``reference``'s own states."""

    def advance(state, vector):
        reference.load(state)
        reference.assign(vector)
        reference.scan()
        return reference.state()

    reference.reset()
    start = reference.state()
    completed, parent, _ = _explore(start, vectors, advance, max_transitions)
    return completed, parent, start


def covering_traces(reference: Simulator, inputs: list[str], outputs: list[str], visited: set, seed: int,
                    max_transitions: int = MAX_TRANSITIONS, tail: int = RANDOM_STEPS) -> list[Trace]:
    """Traces that reach every state of ``reference`` (BOOL ``inputs``, each scan under a full input vector) that
    is not in ``visited``: the shortest input sequence to the state, then ``tail`` random one-scan steps from
    ``seed``; at most ``max_transitions`` scans in all. Empty when the reference's state space is larger than
    ``max_transitions`` allows to enumerate."""
    vectors = _vectors(inputs)
    completed, parent, start = _enumerate(reference, vectors, max_transitions)
    if not completed:
        return []
    rng = random.Random(seed)
    covered = set(visited) | {start}
    traces, scans = [], 0
    for state in parent:
        if state in covered:
            continue
        path = _path(parent, state)
        scans += len(path) + tail
        if scans > max_transitions:
            break
        covered.update(node for node, _ in path)
        steps = [Step(1, v) for _, v in path] + [Step(1, rng.choice(vectors)) for _ in range(tail)]
        traces.append(Trace(steps, list(outputs)))
    return traces


def _search(ref: Simulator, cand: Simulator, inputs: list[str], outputs: list[str],
            max_transitions: int) -> tuple[bool, list[dict[str, bool]] | None, int]:
    """(completed, counterexample input sequence or None, states seen) of the product-machine BFS."""

    def advance(node, vector):
        ref.load(node[0])
        cand.load(node[1])
        ref.assign(vector)
        cand.assign(vector)
        ref.scan()
        cand.scan()
        if any(not same_value(ref.read(o), cand.read(o)) for o in outputs):
            return None
        return ref.state(), cand.state()

    ref.reset()
    cand.reset()
    completed, parent, end = _explore((ref.state(), cand.state()), _vectors(inputs), advance, max_transitions)
    path = None if end is None else [v for _, v in _path(parent, end[0])] + [end[1]]
    return completed, path, len(parent)


def compare_programs(reference: Program, candidate: Program, *, inputs: list[str], outputs: list[str],
                     types: dict[str, str] | None = None, scan_ms: int = 100, traces: list[Trace] = (),
                     seed: int = 0, random_count: int = RANDOM_TRACES, random_steps: int = RANDOM_STEPS,
                     max_transitions: int = MAX_TRANSITIONS, max_work: int = MAX_WORK,
                     cover: bool = False) -> Equivalence:
    """Does ``candidate`` behave like ``reference`` on ``outputs``? See the module docstring. ``cover``: add
    :func:`covering_traces` for the reference states the traces did not reach (the judge does)."""
    declared = dict(types or {})
    ref_types = {**infer_types(reference, declared)[0], **declared}
    cand_types = {**infer_types(candidate, declared)[0], **declared}
    ref = Simulator(reference, scan_ms=scan_ms, types=ref_types)
    cand = Simulator(candidate, scan_ms=scan_ms, types=cand_types)
    inputs, outputs = sorted(inputs), sorted(outputs)
    method, states = "traces", 0
    all_traces = [Trace(t.steps, list(t.watch)) for t in traces]
    all_traces += random_traces((reference, candidate), inputs, outputs, ref_types, scan_ms, seed, random_count,
                                random_steps)
    bool_inputs = all(ref_types.get(n, "BOOL") == "BOOL" for n in inputs)
    searched = outputs and bool_inputs and len(inputs) <= MAX_EXHAUSTIVE_INPUTS
    ref_elements = sum(1 for _ in reference.elements())
    elements = ref_elements + sum(1 for _ in candidate.elements())
    work = (elements * (sum(t.scans for t in all_traces) + (max_transitions if searched else 0)
                        + (max_transitions if searched and cover else 0)) + ref_elements * max_transitions * cover
            + ref_elements * (max_transitions // REFERENCE_MARGIN) * bool(searched))
    if work > max_work:
        raise BudgetError(f"judging needs {work} element evaluations ({elements} elements in the two programs); "
                          f"the budget is {max_work}: write a smaller program")
    over_budget = False
    if searched:
        completed, path, states = _search(ref, cand, inputs, outputs, max_transitions)
        if completed:
            method = "exhaustive"
        elif _enumerate(ref, _vectors(inputs), max_transitions // REFERENCE_MARGIN)[0]:
            method, over_budget = "candidate-over-budget", True
        if path is not None:
            all_traces.insert(0, Trace([Step(1, v) for v in path], list(outputs)))
    matched = total = passed = 0
    counterexample = None
    visited: set = set()
    pending, covered = list(all_traces), not (cover and searched)
    while pending:
        trace = pending.pop(0)
        want, got = ref.run(trace, visited), cand.run(trace)
        m, t, bad = compare_rows(want, got)
        matched, total, passed = matched + m, total + t, passed + (not bad)
        if bad and counterexample is None:
            scan, col, exp, have = bad[0]
            counterexample = {**trace.to_dict(), "expected": want, "got": got,
                              "first_difference": {"scan": scan + 1, "variable": trace.watch[col],
                                                   "expected": exp, "got": have}}
        if not pending and not covered:
            covered = True
            pending = covering_traces(ref, inputs, outputs, visited, seed, max_transitions)
            all_traces += pending
    equivalent = counterexample is None and not over_budget
    return Equivalence(equivalent, method, matched, total, counterexample, len(all_traces) + over_budget, passed,
                       states)
