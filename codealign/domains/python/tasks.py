"""Procedural Python tasks: fill one span of a small function inside a mini-repository, judged by its calls.

The mini-repository is the package ``kit`` (``kit/__init__.py`` plus one module per family). A task writes one function into ``kit/<family>.py``, hides one span of it and
asks for the span as a fill-in-the-middle prompt (StarCoder sentinels, as the tiny model's tokenizer has);
the candidate is the middle, judged by the python domain calling the function of ``prefix + middle + suffix``
on inputs (``assets["calls"]``) and comparing its results, outside the sandbox, with the reference's. ``metadata["language"]`` is ``text`` so that generators keep a sampled middle
verbatim: code extraction would end a one-line hole with a newline (``if x > 3\\n:``). Every function has the
same shape, so a small model can learn it::

    def NAME(ARG):
        \"\"\"DOCSTRING\"\"\"
        ACC = INIT
        for VAR in ITERABLE:
            if CONDITION:
                UPDATE
        return RESULT

Span kinds (``SPAN_KINDS``): ``condition`` (the ``if`` expression), ``update`` (the statement under the
``if``), ``return`` (the returned expression) — one-line holes without indentation — and ``loop`` (the loop's
body) and ``body`` (everything after the docstring) — whole lines, indentation included.

Families (``FAMILIES``): ``text`` (count / keep / drop characters of a class), ``numbers`` (sums and counts
over a list under a threshold), ``tally`` (dicts of word counts or lengths by a key), ``parse`` (numbers in
delimited text), ``bounds`` (filter, round and cap a list of floats). Each has a finite parameter grid and
four phrasings of the docstring; the docstring alone states every parameter.

**The split** is :mod:`codealign.domains.splits`'s: parameter combinations held out by hash
(``HELDOUT_PARAM_FRACTION``) and the last phrasing held out; a held-out task has parameters, a phrasing or
both that no train task has (``metadata["novel"]``). Span kinds appear on both sides.

**The calls** are fixed cases that depend only on (family, parameters), plus ``DRAWS`` inputs drawn per job
from the family's random inputs with a seed the judge derives from its secret (:mod:`codealign.domains.draws`), so a candidate
cannot know them; expected outputs come from the generator's reference, run on the judge's side
(:func:`drawn_cases`). The fixed cases are inputs from a seeded pool with the reference's outputs. Beyond the pool's first four inputs (two typical ones, an empty one, a random one), an input is added
whenever the tests so far accept one of the wrong middles of :func:`golden_mutants` (the span blanked, an
integer literal off by one, a comparison made (non-)strict, the returned accumulator replaced by the argument,
the middle of every neighbouring parameter combination), so every such mutant that behaves differently on the
pool fails the tests. Mutants that agree with the reference on the whole pool are taken as correct and left
out.

Guaranteed: the same arguments give the same tasks, byte for byte; a larger ``n`` extends a smaller one's
list; prompts are short (``MAX_PROMPT_TOKENS`` of the tiny model's tokenizer, checked for every bundled
task in the tests). ``write_bundled()`` regenerates ``resources/tasks/{train,heldout}.jsonl``.
"""

from __future__ import annotations

import functools
import itertools
import random
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Iterable

from codealign.domains.python.worker import encode_value
from codealign.domains.splits import (FEEDBACK, Bundle, canonical, check_split, draw, family_names,
                                      feedback_pools, labelled, novelty, params_held_out, params_key, params_slug)
from codealign.errors import UserError
from codealign.fim import fim_format
from codealign.types import Task

GENERATOR_VERSION = "1"
HELDOUT_PARAM_FRACTION = 0.2
HELDOUT_PHRASING = 3
BUNDLED_COUNTS = {"train": 240, "heldout": 72}
BUNDLED_SEED = 0
EVAL_RESERVE = 144
"""Held-out tasks (the seed-0 draw's first) kept for evaluation: the ``feedback`` pool shares no (family,
params) with them (:func:`codealign.domains.splits.feedback_pools`). The family holds out only 38 parameter
combinations and these 144 tasks use 32 of them, so the pool (630 tasks, 108 combinations) is mostly train
combinations in the held-out phrasing: evaluation keeps its size, the pool is new in phrasing more than in
parameters (docs/pipeline.md)."""
MAX_PROMPT_TOKENS = 256
SPAN_KINDS = ("condition", "update", "return", "loop", "body")
_FIXED_INPUTS = 4
_TYPICAL_INPUTS = 3  # every pool opens with two typical inputs and an empty one; the rest are random
DRAWS = 8
_TEST_TIMEOUT_S = 5.0

REPO_FILES = {"kit/__init__.py": '"""kit: small helpers for text, numbers, tallies, parsing and bounds."""\n'}
"""The mini-repository's files besides the task's module and its tests."""


@dataclass(frozen=True)
class Function:
    """One concrete function in the fixed shape (see the module docstring)."""

    name: str
    arg: str
    doc: str
    acc: str
    init: str
    var: str
    iterable: str
    condition: str
    update: str
    result: str


def render(module_doc: str, f: Function) -> tuple[str, dict[str, tuple[int, int]]]:
    """The module's source and, per span kind, the (start, end) of the span in it."""
    pieces = [(None, f'"""{module_doc}"""\n\n\ndef {f.name}({f.arg}):\n    """{f.doc}"""\n'),
              ("body", f"    {f.acc} = {f.init}\n    for {f.var} in {f.iterable}:\n"),
              ("loop", "        if "), ("condition", f.condition), ("loop", ":\n            "),
              ("update", f.update), ("loop", "\n"), ("body", "    return "), ("return", f.result), ("body", "\n")]
    source, spans = "", {}
    nesting = {"body": (), "loop": ("body",), "condition": ("loop", "body"), "update": ("loop", "body"),
               "return": ("body",)}
    for kind, text in pieces:
        start = len(source)
        source += text
        for k in (kind, *nesting.get(kind, ())) if kind else ():
            begin, _ = spans.get(k, (start, start))
            spans[k] = (begin, len(source))
    return source, spans


def blank(kind: str) -> str:
    """A middle of ``kind`` that is valid Python and does nothing useful."""
    return {"condition": "None", "return": "None", "update": "pass", "loop": "        pass\n",
            "body": "    pass\n"}[kind]


# -- families --------------------------------------------------------------------------------------------
Phrasing = Callable[[dict[str, Any]], str]


class Family:
    """A kind of function: a finite parameter grid, a function per combination, four phrasings, inputs."""

    name: str = ""
    module_doc: str = ""
    space: dict[str, tuple] = {}

    def valid(self, p: dict[str, Any]) -> bool:
        return True

    def function(self, p: dict[str, Any]) -> Function:
        """The function for ``p`` with an empty docstring (the phrasing fills it)."""
        raise NotImplementedError

    def phrasings(self) -> tuple[Phrasing, ...]:
        raise NotImplementedError

    def inputs(self, p: dict[str, Any], rng: random.Random) -> list[Any]:
        """Candidate test inputs (the function's one argument), typical ones first."""
        raise NotImplementedError

    def combos(self) -> list[dict[str, Any]]:
        keys = list(self.space)
        grid = (dict(zip(keys, values)) for values in itertools.product(*self.space.values()))
        return [p for p in grid if self.valid(p)]

    def neighbours(self, p: dict[str, Any]) -> list[dict[str, Any]]:
        """Valid combinations that differ from ``p`` in one parameter (the next value, cyclically)."""
        out = []
        for key, values in self.space.items():
            other = dict(p, **{key: values[(values.index(p[key]) + 1) % len(values)]})
            if other != p and self.valid(other):
                out.append(other)
        return out


_CHAR_CLASSES = {  # name: (test, negated test, plural noun, singular noun)
    "vowel": ('ch in "aeiou"', 'ch not in "aeiou"', "vowels", "vowel"),
    "digit": ("ch.isdigit()", "not ch.isdigit()", "digits", "digit"),
    "upper": ("ch.isupper()", "not ch.isupper()", "uppercase letters", "uppercase letter"),
    "space": ('ch == " "', 'ch != " "', "spaces", "space"),
    "alpha": ("ch.isalpha()", "not ch.isalpha()", "letters", "letter"),
}
_CLASS_SLUG = {"vowel": "vowels", "digit": "digits", "upper": "uppercase", "space": "spaces", "alpha": "letters"}


class Text(Family):
    name = "text"
    module_doc = "kit.text: string helpers."
    space = {"op": ("count", "keep", "drop"), "cls": tuple(_CHAR_CLASSES)}

    def function(self, p):
        test, negated, _, _ = _CHAR_CLASSES[p["cls"]]
        slug = _CLASS_SLUG[p["cls"]]
        if p["op"] == "count":
            return Function(f"count_{slug}", "text", "", "total", "0", "ch", "text", test, "total += 1", "total")
        return Function(f"{p['op']}_{slug}", "text", "", "out", '""', "ch", "text",
                        test if p["op"] == "keep" else negated, "out += ch", "out")

    def phrasings(self):
        def pick(p, count, keep, drop):
            _, _, plural, singular = _CHAR_CLASSES[p["cls"]]
            return {"count": count, "keep": keep, "drop": drop}[p["op"]].format(plural=plural, singular=singular)

        return (
            lambda p: pick(p, "Return the number of {plural} in text.", "Return text with only its {plural} kept.",
                           "Return text with all {plural} removed."),
            lambda p: pick(p, "Count how many characters of text are {plural}.",
                           "Build a string of the {plural} of text, in order.",
                           "Build a string of the characters of text that are not {plural}."),
            lambda p: pick(p, "How many {plural} text contains.", "Keep each {singular} of text, drop the rest.",
                           "Drop each {singular} of text, keep the rest."),
            lambda p: pick(p, "Tally the {plural} found in text and return that count.",
                           "Return the {plural} that appear in text, joined in their original order.",
                           "Return a copy of text without any {plural}."),
        )

    def inputs(self, p, rng):
        alphabet = "abcdeiouxyz 019" if p["cls"] == "vowel" else "abcdeXYZ 019.!"
        fixed = ["hello world 42", "queue"] if p["cls"] == "vowel" else ["Hello World 42!", "A1 b2 C3"]
        return fixed + [""] + ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 12))) for _ in range(16)]


_RELATIONS = {">": ("greater than", "above"), "<": ("less than", "below"), ">=": ("at least", "at_least"),
              "<=": ("at most", "at_most")}
_AGGREGATES = {  # name: (update, function name prefix, noun phrase, per-value phrase, symbolic phrase)
    "sum": ("total += x", "sum", "sum of the values", "the value", "Sum of values"),
    "count": ("total += 1", "count", "number of values", "one", "Count of values"),
    "squares": ("total += x * x", "sum_squares", "sum of the squares of the values", "its square",
                "Sum of squares of values"),
    "abs": ("total += abs(x)", "sum_abs", "sum of the absolute values of the values", "its absolute value",
            "Sum of absolute values of values"),
}


class Numbers(Family):
    name = "numbers"
    module_doc = "kit.numbers: arithmetic over lists of numbers."
    space = {"agg": tuple(_AGGREGATES), "rel": tuple(_RELATIONS), "k": (0, 2, 3, 5, 10)}

    def function(self, p):
        update, prefix, *_ = _AGGREGATES[p["agg"]]
        return Function(f"{prefix}_{_RELATIONS[p['rel']][1]}", "values", "", "total", "0", "x", "values",
                        f"x {p['rel']} {p['k']}", update, "total")

    def phrasings(self):
        def words(p):
            return _AGGREGATES[p["agg"]], _RELATIONS[p["rel"]][0], p["k"]

        def p0(p):
            (_, _, noun, _, _), rel, k = words(p)
            return f"Return the {noun} {rel} {k}."

        def p1(p):
            (_, _, _, each, _), rel, k = words(p)
            return f"Add up {each} for every value that is {rel} {k} and return the total."

        def p2(p):
            (_, _, _, _, symbolic), _, k = words(p)
            return f"{symbolic} {p['rel']} {k}."

        def p3(p):
            (_, _, noun, _, _), rel, k = words(p)
            return f"Over the values {rel} {k}, compute the {noun.replace(' of the values', '')}."

        return p0, p1, p2, p3

    def inputs(self, p, rng):
        k = p["k"]
        fixed = [[k - 1, k, k + 1, k + 4, -2], [1, 2, 3, 5, 8, 13]]
        return fixed + [[]] + [[rng.randint(-6, 14) for _ in range(rng.randint(1, 7))] for _ in range(16)]


_KEYS = {  # name: (expression, slug, noun)
    "word": ("w", "word", "word"),
    "first": ("w[0]", "initial", "first letter"),
    "length": ("len(w)", "length", "word length"),
    "lower": ("w.lower()", "lowercase", "lowercased word"),
}
_VALUES = {  # name: (expression, slug, what each entry holds, what each word adds)
    "count": ("1", "count", "the number of such words", "one"),
    "letters": ("len(w)", "letters", "the total length of such words", "its length"),
}


class Tally(Family):
    name = "tally"
    module_doc = "kit.tally: counting words into dicts."
    space = {"key": tuple(_KEYS), "value": tuple(_VALUES), "k": (2, 3, 4, 5)}

    def function(self, p):
        key, key_slug, _ = _KEYS[p["key"]]
        value, value_slug, _, _ = _VALUES[p["value"]]
        return Function(f"{value_slug}_by_{key_slug}", "words", "", "counts", "{}", "w", "words",
                        f"len(w) >= {p['k']}", f"counts[{key}] = counts.get({key}, 0) + {value}", "counts")

    def phrasings(self):
        def words(p):
            return _KEYS[p["key"]][2], _VALUES[p["value"]], p["k"]

        def p0(p):
            key, (_, _, holds, _), k = words(p)
            return f"Map each {key} to {holds}, over the words of at least {k} letters."

        def p1(p):
            key, (_, _, holds, _), k = words(p)
            return f"Return a dict from {key} to {holds}, for words of length {k} or more."

        def p2(p):
            key, (_, _, _, adds), k = words(p)
            return f"For each word longer than {k - 1} letters, add {adds} to the entry of its {key}."

        def p3(p):
            key, (_, _, holds, _), k = words(p)
            return f"Group the words having {k}+ letters by {key}; give {holds} per group."

        return p0, p1, p2, p3

    def inputs(self, p, rng):
        vocab = ["a", "an", "Ant", "ant", "bee", "Bee", "cat", "crab", "kiwi", "Kiwi", "lemon", "melon", "banana"]
        fixed = [["bee", "ant", "Bee", "an", "kiwi"], ["cat", "crab", "cat", "lemon", "a"]]
        return fixed + [[]] + [[rng.choice(vocab) for _ in range(rng.randint(1, 7))] for _ in range(16)]


_SEPARATORS = {",": "commas", ";": "semicolons", "|": "vertical bars", " ": "spaces"}
_RESULTS = {  # name: (expression, function name, what is returned)
    "list": ("nums", "parse_numbers", "the list of those numbers"),
    "sum": ("sum(nums)", "sum_numbers", "the sum of those numbers"),
    "max": ("max(nums, default=0)", "max_number", "the largest of those numbers (0 if none)"),
    "count": ("len(nums)", "count_numbers", "how many such numbers there are"),
}


class Parse(Family):
    name = "parse"
    module_doc = "kit.parse: parsing delimited text."
    space = {"result": tuple(_RESULTS), "sep": tuple(_SEPARATORS), "padded": (False, True)}

    def valid(self, p):
        return not (p["sep"] == " " and p["padded"])

    def function(self, p):
        result, name, _ = _RESULTS[p["result"]]
        test = "part.strip().isdigit()" if p["padded"] else "part.isdigit()"
        return Function(name, "text", "", "nums", "[]", "part", f'text.split("{p["sep"]}")', test,
                        "nums.append(int(part))", result)

    def phrasings(self):
        def words(p):
            fields = "digits with optional spaces around" if p["padded"] else "only digits"
            return _SEPARATORS[p["sep"]], fields, _RESULTS[p["result"]][2]

        def p0(p):
            sep, fields, result = words(p)
            return f"Split text on {sep}; fields of {fields} are numbers. Return {result}."

        def p1(p):
            sep, fields, result = words(p)
            return f"Read the fields of text between {sep}, keep those of {fields} as ints, return {result}."

        def p2(p):
            sep, fields, result = words(p)
            return f"text holds fields separated by {sep}. Numbers are fields of {fields}. Give {result}."

        def p3(p):
            sep, fields, result = words(p)
            return f"Parse the {sep}-separated fields made of {fields} and return {result}."

        return p0, p1, p2, p3

    def inputs(self, p, rng):
        fields = ["12", "7", "x", "", "40", "a1", "-2", "3"] + ([" 4", "5 ", " 9 "] if p["sep"] != " " else [])
        sep = p["sep"]
        fixed = [sep.join(["12", "x", "7", "", "30"]), sep.join(["a1", "8", "-2"] + ([" 4"] if sep != " " else []))]
        return fixed + [""] + [sep.join(rng.choice(fields) for _ in range(rng.randint(1, 6))) for _ in range(16)]


class Bounds(Family):
    name = "bounds"
    module_doc = "kit.bounds: clamping and rounding."
    space = {"lo": (0, 1, 5), "hi": (10, 50, 100), "digits": (0, 1, 2)}

    def function(self, p):
        return Function("cap_values", "values", "", "out", "[]", "x", "values", f"x >= {p['lo']}",
                        f"out.append(min(round(x, {p['digits']}), {p['hi']}))", "out")

    def phrasings(self):
        return (
            lambda p: f"Return the values that are at least {p['lo']}, each rounded to {p['digits']} decimals "
                      f"and capped at {p['hi']}.",
            lambda p: f"Drop values below {p['lo']}; round the rest to {p['digits']} decimal places and limit "
                      f"them to at most {p['hi']}.",
            lambda p: f"Values >= {p['lo']}, rounded to {p['digits']} digits after the point, clamped to "
                      f"{p['hi']} at most, as a list.",
            lambda p: f"Keep each value of at least {p['lo']}, rounding it to {p['digits']} decimals and clipping "
                      f"it at {p['hi']}; return them in order.",
        )

    def inputs(self, p, rng):
        lo, hi = p["lo"], p["hi"]
        fixed = [[lo - 0.5, lo, lo + 1.2345, hi - 0.004, hi + 7.5], [3.14159, 12.5, 0.75, 49.96, 101.2]]
        return fixed + [[]] + [[round(rng.uniform(-5, 120), 4) for _ in range(rng.randint(1, 6))]
                               for _ in range(16)]


_FAMILY_LIST: tuple[Family, ...] = (Text(), Numbers(), Tally(), Parse(), Bounds())
FAMILIES: tuple[str, ...] = tuple(f.name for f in _FAMILY_LIST)
_BY_NAME = {f.name: f for f in _FAMILY_LIST}


def family(name: str) -> Family:
    if name not in _BY_NAME:
        raise UserError(f"unknown python task family {name!r}; choose from: {', '.join(FAMILIES)}")
    return _BY_NAME[name]


# -- tests and mutants -----------------------------------------------------------------------------------
def _source(family_name: str, params: dict[str, Any]) -> tuple[str, Function, dict[str, tuple[int, int]]]:
    fam = family(family_name)
    f = fam.function(params)
    source, spans = render(fam.module_doc, f)
    return source, f, spans


def _run(source: str, name: str, args: list[Any]) -> list[tuple[bool, Any]]:
    """``name(arg)`` for each arg, in a fresh namespace: ``(True, value)`` or ``(False, exception type)``.
    Only the generator's own functions and their mutants run here (no model output)."""
    namespace: dict[str, Any] = {}
    exec(compile(source, "<kit>", "exec"), namespace)
    out = []
    for arg in args:
        try:
            out.append((True, namespace[name](_copy(arg))))
        except Exception as exc:  # a mutant may raise anything
            out.append((False, type(exc).__name__))
    return out


def _copy(value: Any) -> Any:
    return list(value) if isinstance(value, list) else value


_INT = re.compile(r"(?<![\w.])(\d+)(?![\w.])")
_STRICT = {">=": ">", "<=": "<", ">": ">=", "<": "<="}
_COMPARISON = re.compile(r">=|<=|>|<")


def _local_mutants(middle: str) -> list[tuple[str, str]]:
    """Every integer literal of ``middle`` plus one, and every comparison made (non-)strict, one at a time."""
    out = []
    for m in _INT.finditer(middle):
        out.append((f"{m.group(1)} -> {int(m.group(1)) + 1}",
                    middle[:m.start()] + str(int(m.group(1)) + 1) + middle[m.end():]))
    for m in _COMPARISON.finditer(middle):
        out.append((f"{m.group(0)} -> {_STRICT[m.group(0)]}",
                    middle[:m.start()] + _STRICT[m.group(0)] + middle[m.end():]))
    return out


def _middle(family_name: str, params: dict[str, Any], kind: str) -> str:
    source, _, spans = _source(family_name, params)
    start, end = spans[kind]
    return source[start:end]


def _candidate_mutants(family_name: str, params: dict[str, Any], kind: str) -> list[tuple[str, str]]:
    """Wrong middles to try for one span: blanked, local edits, (``return``) the accumulator replaced by the
    argument, neighbours' middles (distinct, not the reference)."""
    middle = _middle(family_name, params, kind)
    found = [("blank", blank(kind)), *_local_mutants(middle)]
    if kind == "return":  # elsewhere this edit can append to the list being iterated, forever
        f = family(family_name).function(params)
        found.append((f"{f.acc} -> {f.arg}", re.sub(rf"\b{f.acc}\b", f.arg, middle)))
    for other in family(family_name).neighbours(params):
        changed = ", ".join(f"{k}={v!r}" for k, v in other.items() if params[k] != v)
        found.append((f"neighbour {changed}", _middle(family_name, other, kind)))
    seen, out = {middle}, []
    for description, text in found:
        if text not in seen:
            seen.add(text)
            out.append((description, text))
    return out


@functools.lru_cache(maxsize=None)
def _suite(family_name: str, params_json: str) -> tuple[tuple[tuple[Any, Any], ...], dict[str, tuple]]:
    """The test cases ``((input, expected), ...)`` and, per span kind, the mutants they reject."""
    import json

    params = json.loads(params_json)
    fam = family(family_name)
    source, f, spans = _source(family_name, params)
    pool = fam.inputs(params, random.Random(f"inputs|{family_name}|{params_json}"))
    expected = _run(source, f.name, pool)
    if not all(ok for ok, _ in expected):
        raise AssertionError(f"reference of {family_name} {params} raises on its own inputs")
    chosen = list(range(_FIXED_INPUTS))
    rejected: dict[str, list[tuple[str, str]]] = {}
    for kind in SPAN_KINDS:
        start, end = spans[kind]
        for description, text in _candidate_mutants(family_name, params, kind):
            try:
                outputs = _run(source[:start] + text + source[end:], f.name, pool)
            except SyntaxError:
                continue
            differs = [i for i, got in enumerate(outputs) if got != expected[i]]
            if not differs:
                continue
            if not any(i in chosen for i in differs):
                chosen.append(differs[0])
            rejected.setdefault(kind, []).append((description, text))
    cases = tuple((pool[i], expected[i][1]) for i in sorted(chosen))
    return cases, {k: tuple(v) for k, v in rejected.items()}


def drawn_cases(family_name: str, params: dict[str, Any], n: int, seed: int) -> list[tuple[list, Any]]:
    """``n`` calls ``([input], reference output)`` whose inputs are drawn with ``seed`` from the family's random
    inputs; the outputs come from the generator's own reference, run here (no candidate code). ValueError for
    an unknown family or invalid parameters."""
    fam = _BY_NAME.get(family_name)
    if fam is None or set(params) != set(fam.space) or not fam.valid(params) \
            or any(params[k] not in fam.space[k] for k in params):
        raise ValueError(f"assets.calls.draw: no python task family {family_name!r} with parameters {params}")
    source, f, _ = _source(family_name, params)
    rng, drawn = random.Random(seed), []
    while len(drawn) < n:
        drawn += fam.inputs(params, rng)[_TYPICAL_INPUTS:]
    drawn = drawn[:n]
    outputs = _run(source, f.name, drawn)
    if not all(ok for ok, _ in outputs):
        raise AssertionError(f"reference of {family_name} {params} raises on a drawn input")
    return [([arg], value) for arg, (_, value) in zip(drawn, outputs)]


def golden_mutants(task: Task) -> list[tuple[str, str]]:
    """Wrong middles of ``task`` that its tests reject, as ``(description, middle)``: see the module doc."""
    meta = task.metadata
    _, rejected = _suite(meta["family"], canonical(meta["params"]))
    return list(rejected.get(meta["span_kind"], ()))


# -- tasks -----------------------------------------------------------------------------------------------
_SYMBOLS = {",": "comma", ";": "semicolon", "|": "bar", " ": "space", ">": "gt", "<": "lt", ">=": "ge", "<=": "le"}


def make_task(family_name: str, params: dict[str, Any], phrasing: int, kind: str) -> Task:
    """The task for one (family, params, phrasing, span kind); UserError for unknown or invalid values."""
    fam = family(family_name)
    if set(params) != set(fam.space) or any(params[k] not in fam.space[k] for k in params) or not fam.valid(params):
        raise UserError(f"invalid parameters for python task family {family_name!r}: {params}")
    params = {key: params[key] for key in fam.space}
    phrasings = fam.phrasings()
    if not 0 <= phrasing < len(phrasings):
        raise UserError(f"family {family_name!r} has phrasings 0..{len(phrasings) - 1}, not {phrasing}")
    if kind not in SPAN_KINDS:
        raise UserError(f"unknown span kind {kind!r}; choose from: {', '.join(SPAN_KINDS)}")
    f = replace(fam.function(params), doc=phrasings[phrasing](params))
    source, spans = render(fam.module_doc, f)
    start, end = spans[kind]
    cases, _ = _suite(family_name, canonical(params))
    novel = novelty(family_name, params, phrasing, fraction=HELDOUT_PARAM_FRACTION, heldout_phrasing=HELDOUT_PHRASING)
    prefix, suffix = source[:start], source[end:]
    return Task(
        task_id=f"py-{family_name}-{params_slug(params, _SYMBOLS)}-{kind}-p{phrasing}",
        domain="python",
        prompt=fim_format("starcoder").render(prefix, suffix),
        assets={"module": f"kit/{family_name}.py", "prefix": prefix, "suffix": suffix, "files": dict(REPO_FILES),
                "calls": {"function": f.name,
                          "cases": [[encode_value([arg]), encode_value(value)] for arg, value in cases],
                          "draw": {"family": family_name, "params": params, "n": DRAWS}},
                "test_timeout_s": _TEST_TIMEOUT_S},
        limits={"wall_s": 30.0},
        metadata={"family": family_name, "params": params, "phrasing": phrasing, "span_kind": kind,
                  "middle_code": source[start:end], "split": "heldout" if novel else "train", "novel": novel,
                  "language": "text", "generator": f"codealign.python_tasks/{GENERATOR_VERSION}"},
    )


def universe(family_name: str, split: str) -> list[tuple[dict[str, Any], int, str]]:
    """Every (params, phrasing, span kind) of a family in ``split``, in grid order."""
    check_split(split)
    if split == FEEDBACK:
        return list(_feedback()[family_name])
    fam = family(family_name)
    out = []
    for params, phrasing, kind in itertools.product(fam.combos(), range(len(fam.phrasings())), SPAN_KINDS):
        novel = novelty(family_name, params, phrasing, fraction=HELDOUT_PARAM_FRACTION,
                        heldout_phrasing=HELDOUT_PHRASING)
        if ("heldout" if novel else "train") == split:
            out.append((params, phrasing, kind))
    return out


def _stratum(family_name: str, item: tuple[dict[str, Any], int, str]) -> tuple[int, bool, bool]:
    """Span kind, then novelty: every prefix of a family's draw spreads over both about evenly."""
    params, phrasing, kind = item
    return (SPAN_KINDS.index(kind), params_held_out(family_name, params, HELDOUT_PARAM_FRACTION),
            phrasing == HELDOUT_PHRASING)


def generate_tasks(families: str | Iterable[str] | None = None, n: int = 100, seed: int = 0,
                   split: str = "train") -> list[Task]:
    """``n`` distinct tasks of ``split``, drawn without replacement, round robin over ``families`` (all by
    default). Deterministic for (families, seed, split); a larger ``n`` extends a smaller one's list.
    Raises UserError for an unknown family or split, or when fewer than ``n`` tasks exist."""
    check_split(split)
    pools = {name: universe(name, split) for name in family_names(families, FAMILIES)}
    return [labelled(make_task(name, *item), split) for name, item in draw(pools, n, seed, split, _stratum)]


@functools.lru_cache(maxsize=None)
def _feedback() -> dict[str, list[tuple[dict[str, Any], int, str]]]:
    return feedback_pools({name: universe(name, "heldout") for name in FAMILIES}, EVAL_RESERVE, _stratum, params_key)


# -- bundled demo sets -----------------------------------------------------------------------------------
BUNDLE = Bundle(Path(__file__).resolve().parent / "resources" / "tasks", generate_tasks, BUNDLED_COUNTS, BUNDLED_SEED)
bundled_tasks = BUNDLE.tasks
bundled_generation = BUNDLE.generation
write_bundled = BUNDLE.write

