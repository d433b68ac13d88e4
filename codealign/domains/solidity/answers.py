"""Vulnerability-detection answers for Solidity (the Smart-LLaMA-DPO task): classes, the answer format, a
lenient parser, the detector-to-class mapping and the graded score.

Answer format (what prompts ask for; JSON, optionally inside a ```json fence)::

    {"vulnerable": true, "category": "reentrancy", "lines": [24, 25],
     "explanation": "withdraw() sends ether with call.value before it sets the balance to zero, ..."}

``category`` is one of :data:`CATEGORIES` (the paper's four main classes first, then the rest of the
SmartBugs/DASP classes) or a common alias ("timestamp dependence", "integer overflow", ...); a list, or a
string naming several classes, names several. Free text is parsed leniently (a yes/no verdict with negations
counted per clause, see :func:`text_verdict`; every class named; "line(s) N, M-K"); what could not be read is
reported in the parse notes, and an answer with neither a verdict nor a class is *unparseable*. At most
:data:`MAX_LINES` lines are read from one answer.

Score (graded, in [0, 1]) when the contract is labelled vulnerable:
``0.4 * detection + 0.3 * class + 0.2 * lines + 0.1 * explanation``, where

* ``detection`` = 1 when the answer says vulnerable; an answer that says "not vulnerable" gets 0 for every
  component (class, lines and explanation presuppose a detection);
* ``class`` = the fraction of the named classes that the label accepts (its class or one of
  ``accepted_categories``): naming extra classes scores below naming the right one alone;
* ``lines`` = F1 between answered and labelled lines, a line counting as matched within ±1
  (:data:`LINE_TOLERANCE`);
* ``explanation`` = the mean of the checks that apply: it names a function that holds a labelled line; for
  reentrancy, it describes the order (external call before the state update); when Slither reports a
  finding of the labelled class, the answer agrees with it (same class, and a line or function of that
  finding named). With no applicable check, a non-empty explanation scores 1.

The answer is *correct* (the verdict's PASS) only when every class it names is accepted and its lines are
within the bound (:func:`lines_within_bound`: they overlap the labelled lines and are at most
:data:`LINE_SLACK` more), so a class-only answer, "lines 1-200" or a list of every line FAILs with a score
below the golden answer's. Documented order this gives: golden answer 1.0 > right class, wrong lines (≤ 0.8)
> wrong class, right lines (≤ 0.7) > "not vulnerable" (0.0). Unparseable answers score 0 and say so. For a contract labelled not
vulnerable, "not vulnerable" scores 1 and any vulnerable answer 0.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

CATEGORIES = (
    "reentrancy",
    "time_manipulation",
    "arithmetic",
    "delegatecall",
    "access_control",
    "unchecked_low_level_calls",
    "bad_randomness",
    "denial_of_service",
    "front_running",
    "short_addresses",
    "other",
)
"""Answer classes: Smart-LLaMA-DPO's four (reentrancy, timestamp dependence, integer overflow/underflow,
delegatecall) first, then the remaining SmartBugs-curated (DASP) classes."""

SMARTBUGS_FOLD = {"delegatecall": "access_control"}
"""SmartBugs has no delegatecall class: its delegatecall contracts are labelled access_control."""

_ALIASES = [
    ("reentrancy", r"re-?entran\w*|reentrant"),
    ("time_manipulation", r"time(?:stamp)?[ _-]*(?:dependen\w*|manipulation)|block\.timestamp|\btimestamp\b"),
    ("arithmetic", r"integer[ _-]*(?:overflow|underflow)|over/underflow|overflow|underflow|arithmetic"),
    ("delegatecall", r"delegate[ _-]?call"),
    ("unchecked_low_level_calls", r"unchecked[ _-]*(?:low[ _-]*level[ _-]*)?(?:calls?|return[ _-]*values?|send)"
                                  r"|unhandled[ _-]*exceptions?"),
    ("access_control", r"access[ _-]*control|authori[sz]ation|unprotected|missing[ _-]*(?:owner|modifier)"),
    ("bad_randomness", r"(?:bad|weak|insecure|predictable)[ _-]*random\w*|randomness"),
    ("denial_of_service", r"denial[ _-]*of[ _-]*service|\bdos\b"),
    ("front_running", r"front[ _-]*running|transaction[ _-]*order\w*|\btod\b|race[ _-]*condition"),
    ("short_addresses", r"short[ _-]*address\w*"),
    ("other", r"\bother\b"),
]
_ALIAS_RE = [(cat, re.compile(rx, re.I)) for cat, rx in _ALIASES]

DETECTOR_CATEGORY = {
    "reentrancy-eth": "reentrancy",
    "reentrancy-no-eth": "reentrancy",
    "timestamp": "time_manipulation",
    "controlled-delegatecall": "delegatecall",
    "delegatecall-loop": "delegatecall",
    "suicidal": "access_control",
    "arbitrary-send-eth": "access_control",
    "arbitrary-send-erc20": "access_control",
    "unprotected-upgrade": "access_control",
    "tx-origin": "access_control",
    "controlled-array-length": "access_control",
    "protected-vars": "access_control",
    "unchecked-lowlevel": "unchecked_low_level_calls",
    "unchecked-send": "unchecked_low_level_calls",
    "unchecked-transfer": "unchecked_low_level_calls",
    "weak-prng": "bad_randomness",
    "calls-loop": "denial_of_service",
    "msg-value-loop": "denial_of_service",
    "uninitialized-storage": "other",
}
"""Slither detectors (0.11.6 names) that signal each class. Slither has no detector for integer overflow
under solc < 0.8, front running or short addresses: those classes are never predicted by it. Reentrancy
counts only the detectors that report a state change after the call (``-eth``, ``-no-eth``), not
``-benign``/``-events``; ``low-level-calls`` (informational, fires on every call) is not a finding."""

LINE_TOLERANCE = 1
LINE_SLACK = 4
"""A detection is right only when its lines overlap the labelled lines (within :data:`LINE_TOLERANCE`) and
it lists at most this many lines more than the label has (or, for a label without lines, at most this many)."""
MAX_LINES = 10_000
"""Lines read from one answer; a longer list is read up to here (it fails the bound anyway)."""
_MAX_LINES_TEXT = 200_000
WEIGHTS = {"detection": 0.4, "class": 0.3, "lines": 0.2, "explanation": 0.1}


def normalize_category(text: str | None) -> str | None:
    """The class a name or alias denotes (``"Timestamp Dependence"`` → ``time_manipulation``), or None."""
    if not text:
        return None
    key = re.sub(r"[\s-]+", "_", str(text).strip().lower())
    if key in CATEGORIES:
        return key
    found = first_category_in(str(text))
    return found


def first_category_in(text: str) -> str | None:
    """The class whose alias appears first in free text."""
    found = _categories_in(text)
    return found[0] if found else None


def _categories_in(text: str) -> list[str]:
    """Every class whose alias appears in free text, in order of first appearance."""
    text = text[:_MAX_LINES_TEXT]
    firsts = [(m.start(), cat) for cat, rx in _ALIAS_RE for m in [rx.search(text)] if m]
    return [cat for _, cat in sorted(firsts)]


def fold(category: str | None) -> str | None:
    """The SmartBugs class a category is labelled as."""
    return SMARTBUGS_FOLD.get(category, category) if category else None


# -- answers ---------------------------------------------------------------------------------------------
@dataclass
class DetectionAnswer:
    """A parsed answer. ``vulnerable`` is None when the answer gave no verdict."""

    vulnerable: bool | None
    category: str | None = None
    lines: list[int] = field(default_factory=list)
    explanation: str = ""
    format: str = "json"
    notes: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    """Every class the answer names, in order (``category`` is the first)."""

    def __post_init__(self):
        if self.category and self.category not in self.categories:
            self.categories = [self.category, *self.categories]
        if not self.category and self.categories:
            self.category = self.categories[0]

    @property
    def parseable(self) -> bool:
        return self.vulnerable is not None or self.category is not None

    def to_dict(self) -> dict[str, Any]:
        return {"vulnerable": self.vulnerable, "category": self.category, "categories": self.categories,
                "lines": self.lines,
                "explanation": self.explanation, "format": self.format, "notes": self.notes,
                "parseable": self.parseable}


_FENCE = re.compile(r"```[a-zA-Z]*\s*\n(.*?)```", re.S)
_LINES = re.compile(r"\b(?:lines?|L)\s*[#:]?\s*(\d+(?:\s*(?:-|–|to)\s*\d+)?(?:\s*(?:,|and|&)\s*L?\d+"
                    r"(?:\s*(?:-|–|to)\s*\d+)?)*)", re.I)
_POSITIVE = re.compile(r"\bvulnerab\w*|\bexploit\w*|\battack\w*", re.I)
_KEYS = {
    "vulnerable": ("vulnerable", "is_vulnerable", "vulnerability_present", "has_vulnerability"),
    "category": ("category", "type", "class", "vulnerability", "vulnerability_type", "vuln_type", "label"),
    "lines": ("lines", "line", "vulnerable_lines", "line_numbers", "locations"),
    "explanation": ("explanation", "reason", "reasoning", "description", "rationale", "why"),
}


def _expand_lines(text: str) -> list[int]:
    lines: set[int] = set()
    for part in re.split(r"\s*(?:,|and|&)\s*", text[:_MAX_LINES_TEXT]):
        part = part.strip().lstrip("Ll")
        m = re.match(r"(\d+)\s*(?:-|–|to)\s*(\d+)$", part)
        if m:
            lo, hi = int(m.group(1)), int(m.group(2))
            if 0 < lo <= hi and hi - lo <= 200:
                lines.update(range(lo, hi + 1))
        elif part.isdigit():
            lines.add(int(part))
    return sorted(x for x in lines if x > 0)


def _coerce_lines(value: Any) -> list[int] | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return [value] if value > 0 else []
    if isinstance(value, str):
        return _expand_lines(value)
    if isinstance(value, list):
        out: set[int] = set()
        for item in value:
            got = _coerce_lines(item)
            if got is None:
                return None
            out.update(got)
            if len(out) > MAX_LINES:
                break
        return sorted(out)[: MAX_LINES + 1]
    return None


def _coerce_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        v = value.strip().lower()
        if v in ("true", "yes", "y", "1", "vulnerable"):
            return True
        if v in ("false", "no", "n", "0", "safe", "not vulnerable"):
            return False
    if isinstance(value, (int, float)):
        return bool(value)
    return None


def _json_candidates(text: str) -> list[str]:
    found = [m.group(1) for m in _FENCE.finditer(text)]
    start = text.find("{")
    end = text.rfind("}")
    if 0 <= start < end:
        found.append(text[start:end + 1])
    return found


def _from_json(obj: dict) -> DetectionAnswer:
    lowered = {str(k).strip().lower(): v for k, v in obj.items()}
    picked = {}
    for name, keys in _KEYS.items():
        for k in keys:
            if k in lowered:
                picked[name] = lowered[k]
                break
    notes = []
    vulnerable = _coerce_bool(picked["vulnerable"]) if "vulnerable" in picked else None
    if "vulnerable" in picked and vulnerable is None:
        notes.append(f"could not read 'vulnerable': {picked['vulnerable']!r}")
    raw = picked.get("category")
    named = [c for c in (raw if isinstance(raw, list) else [raw]) if c not in (None, "", "none", "None")]
    categories = []
    for raw_cat in named[:len(CATEGORIES) + 1]:
        key = re.sub(r"[\s-]+", "_", str(raw_cat).strip().lower())
        found = [key] if key in CATEGORIES else _categories_in(str(raw_cat))
        if not found:
            notes.append(f"unknown category {raw_cat!r}")
        categories += [c for c in found if c not in categories]
    category = categories[0] if categories else None
    lines = _coerce_lines(picked.get("lines", [])) if picked.get("lines") is not None else []
    if lines is None:
        notes.append(f"could not read 'lines': {picked.get('lines')!r}")
        lines = []
    if vulnerable is None and category is not None:
        vulnerable = True
        notes.append("no 'vulnerable' field; a category implies vulnerable")
    explanation = picked.get("explanation") or ""
    return DetectionAnswer(vulnerable, category if vulnerable is not False else None, lines,
                           str(explanation), "json", notes, categories if vulnerable is not False else [])


def _from_text(text: str) -> DetectionAnswer:
    notes = ["not JSON; read as free text"]
    head = text.strip().lower()
    vulnerable: bool | None = None
    if re.match(r"^(?:answer\s*:\s*)?yes(?:\s*[,.:;!-]|\s*$)", head):
        vulnerable = True
    elif re.match(r"^(?:answer\s*:\s*)?no(?:\s*[,.:;!-]|\s*$)", head):
        vulnerable = False
    else:
        vulnerable = text_verdict(text)
    categories = _categories_in(text) if vulnerable is not False else []
    if vulnerable is None and categories:
        vulnerable = True
    lines: set[int] = set()
    for m in _LINES.finditer(text[:_MAX_LINES_TEXT]):
        lines.update(_expand_lines(m.group(1)))
        if len(lines) > MAX_LINES:
            break
    if vulnerable is None:
        notes.append("no verdict (vulnerable or not) found")
    if vulnerable and not categories:
        notes.append("no vulnerability class found")
    return DetectionAnswer(vulnerable, categories[0] if categories else None, sorted(lines)[: MAX_LINES + 1],
                           text.strip(), "text", notes, categories)


_CLAUSE_END = re.compile(r"[,;:.!?()\n]|\b(?:so|but|because|since|therefore|thus|hence|which|while|although|"
                         r"and|or|yet)\b", re.I)
_NEGATOR = re.compile(r"^(?:not|no|never|none|nor|cannot|\w+n't)$", re.I)
_CLOSE_NEGATOR = re.compile(r"\b(?:without|free\s+(?:of|from)|lacks?|lacking)(?:\s+(?:any|known|obvious|"
                            r"serious|real))*\s*$", re.I)
_VERDICT_WORD = re.compile(r"\bvulnerab\w*", re.I)
_FIELD_VERDICT = re.compile(r"\bvulnerab\w*(?:\s+(?:found|detected|present))?\s*[:=?]\s*"
                            r"(yes|no|none|nothing|true|false|0)\b(?!\s+of\b)", re.I)
_SAFE = re.compile(r"\b(?:is|looks|appears|seems)\s+(?:to\s+be\s+)?(?:safe|secure)\b", re.I)


def text_verdict(text: str) -> bool | None:
    """The verdict of free text: the first mention of "vulnerable"/"vulnerability" decides, negated by each
    negation in its own clause (``not``, ``no``, ``never``, ``-n't``; ``without``/``free of``/``lacks``
    only right before it), so "not free of vulnerabilities" is vulnerable, "no longer vulnerable" and
    "without vulnerabilities" are not, and "without a guard, it is vulnerable" is. A field that answers
    after the word (``vulnerable: no``, "Vulnerable? No", "Vulnerabilities found: none/0") decides first, and
    "is safe/secure" counts too; else exploit/attack words mean vulnerable; None when nothing
    decides."""
    text = text[:_MAX_LINES_TEXT]
    found = _FIELD_VERDICT.search(text)
    if found:
        return found.group(1).lower() in ("yes", "true")
    for m in _VERDICT_WORD.finditer(text):
        before = text[:m.start()]
        ends = list(_CLAUSE_END.finditer(before[-400:]))
        clause = before[-400:][ends[-1].end():] if ends else before[-400:]
        negations = sum(bool(_NEGATOR.match(w)) for w in re.findall(r"[A-Za-z']+", clause)[-6:])
        negations += bool(_CLOSE_NEGATOR.search(clause))
        return negations % 2 == 0
    if _SAFE.search(text):
        return False
    return True if _POSITIVE.search(text) else None


def parse_answer(text: str) -> DetectionAnswer:
    """Read an answer: JSON first (fenced or the outermost braces), then free text. Never raises; check
    :attr:`DetectionAnswer.parseable` and ``notes``."""
    if not text or not text.strip():
        return DetectionAnswer(None, format="empty", notes=["empty answer"])
    for chunk in _json_candidates(text):
        try:
            obj = json.loads(chunk)
        except (json.JSONDecodeError, ValueError):
            continue
        if isinstance(obj, dict):
            return _from_json(obj)
    return _from_text(text)


# -- contracts ---------------------------------------------------------------------------------------------
def _blank_comments_and_strings(source: str) -> str:
    """Comments and string literals replaced by spaces, newlines kept, so offsets and lines still match."""

    def blank(m: re.Match) -> str:
        return re.sub(r"[^\n]", " ", m.group(0))

    return re.sub(r"//[^\n]*|/\*.*?\*/|\"(?:\\.|[^\"\\\n])*\"|'(?:\\.|[^'\\\n])*'", blank, source, flags=re.S)


_FUNC_HEAD = re.compile(r"\b(function|modifier|constructor)\b\s*(\w*)")


def function_spans(source: str) -> list[tuple[str, int, int]]:
    """(name, first line, last line) of every function, modifier and constructor with a body.
    An unnamed ``function ()`` is called ``fallback``."""
    text = _blank_comments_and_strings(source)
    spans = []
    for m in _FUNC_HEAD.finditer(text):
        kind, name = m.group(1), m.group(2)
        if kind == "function" and not name:
            name = "fallback"
        elif kind == "constructor":
            name = "constructor"
        i = m.end()
        while i < len(text) and text[i] not in "{;":
            i += 1
        if i >= len(text) or text[i] == ";":
            continue
        depth = 0
        j = i
        while j < len(text):
            if text[j] == "{":
                depth += 1
            elif text[j] == "}":
                depth -= 1
                if depth == 0:
                    break
            j += 1
        spans.append((name, text.count("\n", 0, m.start()) + 1, text.count("\n", 0, j) + 1))
    return spans


def functions_at(source: str, lines: list[int]) -> list[str]:
    """Names of the innermost functions that contain any of ``lines``."""
    spans = function_spans(source)
    names = []
    for line in lines:
        inside = [s for s in spans if s[1] <= line <= s[2]]
        if inside:
            name = min(inside, key=lambda s: s[2] - s[1])[0]
            if name not in names:
                names.append(name)
    return names


# -- scoring -----------------------------------------------------------------------------------------------
def line_f1(predicted: list[int], labelled: list[int], tolerance: int = LINE_TOLERANCE) -> float:
    """F1 of predicted against labelled lines, a line matching when within ``tolerance``."""
    if not predicted or not labelled:
        return 0.0
    precision = sum(any(abs(p - t) <= tolerance for t in labelled) for p in predicted) / len(predicted)
    recall = sum(any(abs(p - t) <= tolerance for p in predicted) for t in labelled) / len(labelled)
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


_ORDER_WORDS = re.compile(r"\b(before|prior\s+to|after|until|only\s+then|first|then)\b", re.I)
_STATE_WORDS = re.compile(r"\b(state|balances?|updat\w*|sets?|reset\w*|zero\w*|deduct\w*|decrement\w*|"
                          r"subtract\w*|record\w*|storage|variable|mapping|bookkeeping)\b", re.I)
_CALL_WORDS = re.compile(r"\b(call\w*|external|send\w*|transfer\w*|re-?enter\w*|fallback|withdraw\w*)", re.I)


def describes_reentrancy_order(explanation: str) -> bool:
    """Heuristic: the explanation relates the external call and the state update in time (an ordering
    word, a state word and a call word all appear)."""
    return bool(_ORDER_WORDS.search(explanation) and _STATE_WORDS.search(explanation)
                and _CALL_WORDS.search(explanation))


def _mentions(explanation: str, name: str) -> bool:
    if name in ("fallback", "constructor"):
        return re.search(rf"\b{name}\b", explanation, re.I) is not None
    return re.search(rf"\b{re.escape(name)}\b", explanation) is not None


@dataclass
class Label:
    """The ground truth of a detection task (``Task.assets["label"]``)."""

    vulnerable: bool
    category: str | None = None
    lines: list[int] = field(default_factory=list)
    accepted_categories: list[str] = field(default_factory=list)
    functions: list[str] = field(default_factory=list)

    @classmethod
    def from_assets(cls, raw: dict, source: str) -> "Label":
        if not isinstance(raw, dict) or "vulnerable" not in raw:
            raise ValueError("detection task needs assets['label'] = {'vulnerable': bool, 'category', 'lines'}")
        category = normalize_category(raw.get("category")) if raw.get("category") else None
        if raw.get("vulnerable") and category is None:
            raise ValueError(f"label category {raw.get('category')!r} is not one of {', '.join(CATEGORIES)}")
        lines = sorted(int(x) for x in raw.get("lines", []))
        accepted = [normalize_category(c) for c in raw.get("accepted_categories", [])]
        functions = list(raw.get("functions") or functions_at(source, lines))
        return cls(bool(raw["vulnerable"]), category, lines, [c for c in accepted if c], functions)

    def accepts(self, category: str | None) -> bool:
        return category is not None and (category == self.category or category in self.accepted_categories)


def score_detection(answer: DetectionAnswer, label: Label, findings: list[dict] | None) -> dict[str, Any]:
    """Components, checks and the weighted score of an answer. ``findings`` are normalised Slither findings
    (dicts with ``category``, ``lines``, ``functions``) or None when no analysis is available."""
    checks: dict[str, bool | None] = {"mentions_function": None, "state_change_order": None,
                                      "consistent_with_slither": None, "lines_within_bound": None}
    if not answer.parseable:
        components = dict.fromkeys(WEIGHTS, 0.0)
        return {"components": components, "checks": checks, "score": 0.0, "correct": False}
    if not label.vulnerable:
        right = answer.vulnerable is False
        components = dict.fromkeys(WEIGHTS, 1.0 if right else 0.0)
        return {"components": components, "checks": checks, "score": 1.0 if right else 0.0, "correct": right}
    if not answer.vulnerable:
        components = dict.fromkeys(WEIGHTS, 0.0)
        return {"components": components, "checks": checks, "score": 0.0, "correct": False}
    named = answer.categories or [answer.category]
    accepted = [c for c in named if label.accepts(c)]
    class_ok = bool(accepted) and len(accepted) == len(named)
    checks["lines_within_bound"] = lines_within_bound(answer.lines, label.lines)
    text = answer.explanation
    if label.functions:
        checks["mentions_function"] = any(_mentions(text, f) for f in label.functions)
    if label.category == "reentrancy":
        checks["state_change_order"] = class_ok and describes_reentrancy_order(text)
    if findings is not None:
        agreeing = [f for f in findings if fold(f["category"]) == fold(label.category)]
        if agreeing:
            checks["consistent_with_slither"] = fold(answer.category) == fold(label.category) and any(
                line_f1(answer.lines, f["lines"]) > 0 or any(_mentions(text, fn) for fn in f["functions"])
                for f in agreeing)
    applicable = [v for k, v in checks.items() if v is not None and k != "lines_within_bound"]
    explanation = (sum(applicable) / len(applicable)) if applicable else (1.0 if text.strip() else 0.0)
    components = {"detection": 1.0, "class": len(accepted) / len(named) if accepted else 0.0,
                  "lines": line_f1(answer.lines, label.lines), "explanation": explanation}
    score = sum(WEIGHTS[k] * v for k, v in components.items())
    correct = class_ok and checks["lines_within_bound"]
    return {"components": components, "checks": checks, "score": round(min(1.0, score), 6), "correct": correct}


def lines_within_bound(answered: list[int], labelled: list[int]) -> bool:
    """The answered lines overlap the labelled ones (within :data:`LINE_TOLERANCE`) and are at most
    :data:`LINE_SLACK` more; for a label without lines, at most :data:`LINE_SLACK` lines."""
    if len(answered) > len(labelled) + LINE_SLACK:
        return False
    return not labelled or any(abs(a - t) <= LINE_TOLERANCE for a in answered for t in labelled)


def golden_answer(label: Label) -> str:
    """The answer the label itself gives, in the documented JSON format (what an oracle would write)."""
    if not label.vulnerable:
        return json.dumps({"vulnerable": False, "category": None, "lines": [], "explanation": "No vulnerability."})
    where = ", ".join(f"{f}()" if f not in ("fallback", "constructor") else f"the {f}" for f in label.functions)
    explanation = f"{label.category} vulnerability in {where or 'the contract'} at line(s) " \
                  f"{', '.join(map(str, label.lines))}."
    if label.category == "reentrancy":
        explanation += " It makes an external call before it updates the state (the balance), so the callee " \
                       "can re-enter and withdraw again."
    return json.dumps({"vulnerable": True, "category": label.category, "lines": label.lines,
                       "explanation": explanation})
