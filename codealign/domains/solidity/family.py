"""Procedural Solidity tasks: small generated contracts with or without one planted vulnerability, to detect
(label + lines, scored by :mod:`codealign.domains.solidity.answers`) or to repair (judged on py-evm: the
task's functional transactions must behave and its exploit must fail).

Families (:data:`FAMILIES`), one per vulnerability class, each a template over a grid of parameters
(``names``: contract, state and function names; ``unit``: the amounts; ``style``: a structural variant):

* ``reentrancy`` — a vault that pays out with ``call.value`` before it zeroes or lowers the balance; the
  exploit is an attacker contract that re-enters from its fallback and drains the other depositors;
* ``unchecked_call`` — a ledger that lowers the balance, then ``send``/``call.value`` without checking the
  result; the exploit is a receiver that rejects ether: the ledger says paid, the ether stays;
* ``tx_origin`` — a wallet that authenticates its owner with ``tx.origin``; the exploit is the owner
  tricked into calling an attacker's contract that calls the wallet;
* ``access_control`` — an owned registry where one privileged function lacks ``onlyOwner``; the exploit is
  the attacker calling it;
* ``overflow`` — a token ledger (solc 0.4, no checked arithmetic) whose transfer underflows or whose batch
  transfer overflows a product; the exploit mints the attacker a huge balance.

Every contract is ``pragma solidity ^0.4.24`` (solc-js 0.4.26, which setup installs), so arithmetic wraps.
Task kinds per parameter combination: ``detect`` of the vulnerable contract, ``detect`` of its repaired
version (label: not vulnerable) and ``repair`` of the vulnerable one (reference: the repaired version).

**The split** is by what a task shows: a task is held out when the sha256 of its contract text (see
:func:`novelty`), read as a fraction, falls below :data:`HELDOUT_PARAM_FRACTION`, or when its phrasing is
the last one; tasks that would show the same contract with the same instruction are generated once. So no
held-out prompt is a train prompt, although parameter combinations differ only in what the EVM scenario
uses. Deterministic: the same arguments give the same tasks, and a larger ``n`` extends a smaller one's list.
``write_bundled`` writes the bundled JSONL files.
"""

from __future__ import annotations

import functools
import itertools
from pathlib import Path
from typing import Any, Iterable

from codealign.domains import splits
from codealign.domains.solidity.answers import Label, golden_answer
from codealign.domains.solidity.tasks import MARK, strip_markers
from codealign.domains.splits import SPLITS, Bundle
from codealign.errors import UserError
from codealign.types import Task

GENERATOR_VERSION = "2"
HELDOUT_PARAM_FRACTION = 0.25
HELDOUT_PHRASING = 3
BUNDLED_COUNTS = {"train": 240, "heldout": 80}
BUNDLED_SEED = 0
EVAL_RESERVE = 80
"""Held-out tasks (the seed-0 draw's first: the bundled held-out set) kept for evaluation: the ``feedback``
pool shows no contract they show (:func:`codealign.domains.splits.feedback_pools`). The held-out universe
shows few contracts (76), so the reserve is the bundled set's size, not 144."""
KINDS = ("detect", "safe", "repair")
"""Task variants per parameter combination: detect the planted bug, detect on the repaired contract, repair."""
ETHER = 10**18
PRAGMA = "pragma solidity ^0.4.24;\n\n"

DETECT_PHRASINGS = (
    "Audit this contract.",
    "Is this contract vulnerable?",
    "Review this Solidity code for a security bug.",
    "Check this contract for a vulnerability.",
)
REPAIR_PHRASINGS = (
    "This contract has a {what} bug. Fix it and keep its behaviour.",
    "Repair the {what} vulnerability in this contract without changing what it does.",
    "Fix the {what} flaw below; every function must keep working.",
    "Patch the {what} issue in this contract, keeping its interface and behaviour.",
)
ANSWER_FORMAT = ('Answer JSON: {"vulnerable": bool, "category": reentrancy|unchecked_low_level_calls|'
                 'access_control|arithmetic, "lines": [n], "explanation": str}.')


class Family:
    """One vulnerability class: a parameter grid, the contract with and without the bug, the scenario."""

    name = ""
    category = ""
    """The answer class (:data:`codealign.domains.solidity.answers.CATEGORIES`)."""
    what = ""
    """The class in a repair prompt's words."""
    names: tuple[dict[str, str], ...] = ()
    space: dict[str, tuple] = {}

    def combos(self) -> list[dict[str, Any]]:
        keys = list(self.space)
        return [dict(zip(keys, values)) for values in itertools.product(*(self.space[k] for k in keys))]

    def source(self, params: dict[str, Any], vulnerable: bool) -> str:
        """The contract; in the vulnerable one, labelled lines end with the ``// <vuln>`` marker."""
        raise NotImplementedError

    def scenario(self, params: dict[str, Any]) -> dict[str, Any]:
        """The py-evm scenario (format: ``resources/evm_runner.py``)."""
        raise NotImplementedError


def _call(sender: str, sig: str, *args, wei: int = 0, to: str = "@target", **expect) -> dict:
    """A transaction step; ``expect`` as in the runner (``ok``, ``returns``/``op``/``value``)."""
    step = {"from": sender, "to": to, "call": sig, "args": list(args), "value": wei}
    return {**step, "expect": expect} if expect else step


def _read(sig: str, *args, returns: str = "uint256", op: str = "==", value: Any = None) -> dict:
    return _call("viewer", sig, *args, returns=returns, op=op, value=value)


def _balance(ref: str, value: int, op: str = "==") -> dict:
    return {"balance": ref, "expect": {"op": op, "value": value}}


def _vault_head(n: dict[str, str]) -> str:
    return (f"{PRAGMA}contract {n['C']} {{\n    mapping(address => uint256) public {n['bal']};\n\n"
            f"    function {n['dep']}() public payable {{\n        {n['bal']}[msg.sender] += msg.value;\n    }}\n\n")


VAULT_NAMES = (
    {"C": "EtherVault", "bal": "balances", "dep": "deposit", "wd": "withdraw"},
    {"C": "PiggyBank", "bal": "savings", "dep": "save", "wd": "cashOut"},
    {"C": "CommunityFund", "bal": "shares", "dep": "contribute", "wd": "redeem"},
    {"C": "DepositBox", "bal": "credit", "dep": "put", "wd": "take"},
)


class Reentrancy(Family):
    name, category, what = "reentrancy", "reentrancy", "reentrancy"
    names = VAULT_NAMES
    space = {"names": (0, 1, 2, 3), "unit": (1, 2, 3), "style": ("all", "amount")}

    def source(self, params, vulnerable):
        n = self.names[params["names"]]
        mark = f" {MARK}" if vulnerable else ""
        if params["style"] == "all":
            head = (f"    function {n['wd']}() public {{\n        uint256 amount = {n['bal']}[msg.sender];\n"
                    "        require(amount > 0);\n")
            update = f"        {n['bal']}[msg.sender] = 0;"
        else:
            head = (f"    function {n['wd']}(uint256 amount) public {{\n"
                    f"        require({n['bal']}[msg.sender] >= amount);\n")
            update = f"        {n['bal']}[msg.sender] -= amount;"
        call = "        require(msg.sender.call.value(amount)());"
        body = f"{call}{mark}\n{update}{mark}\n" if vulnerable else f"{update}\n{call}\n"
        return _vault_head(n) + head + body + "    }\n}\n"

    def scenario(self, params):
        n, u = self.names[params["names"]], params["unit"] * ETHER
        every = params["style"] == "all"
        wd = f"{n['wd']}()" if every else f"{n['wd']}(uint256)"
        args = () if every else (u,)
        helpers = (f"{PRAGMA}interface IVault {{\n    function {n['dep']}() external payable;\n"
                   f"    function {wd.replace('(uint256)', '(uint256 amount)')} external;\n}}\n\n"
                   "contract Attack {\n    IVault vault;\n    uint256 stake;\n    uint256 rounds;\n\n"
                   "    constructor(address target) public {\n        vault = IVault(target);\n    }\n\n"
                   "    function run() public payable {\n        stake = msg.value;\n"
                   f"        vault.{n['dep']}.value(msg.value)();\n"
                   f"        vault.{n['wd']}({'' if every else 'stake'});\n"
                   "    }\n\n    function () public payable {\n"
                   "        if (rounds < 3 && address(vault).balance >= stake) {\n            rounds++;\n"
                   f"            vault.{n['wd']}({'' if every else 'stake'});\n        }}\n    }}\n}}\n")
        bal = f"{n['bal']}(address)"
        functional = [
            _call("alice", f"{n['dep']}()", wei=2 * u, ok=True),
            _call("bob", f"{n['dep']}()", wei=3 * u, ok=True),
            _read(bal, "@alice", value=2 * u),
            _call("alice", wd, *args, ok=True),
            _read(bal, "@alice", value=0 if every else u),
            _balance("@target", 3 * u if every else 4 * u),
            _call("alice", wd, *((5 * u,) if not every else ()), ok=False),
        ]
        exploit = [_call("bob", f"{n['dep']}()", wei=3 * u),
                   {"from": "attacker", "deploy": "Attack", "as": "attack", "types": ["address"], "args": ["@target"]},
                   _call("attacker", "run()", wei=u, to="@attack")]
        return {"contract": n["C"], "helpers": helpers, "functional": functional, "exploit": exploit,
                "exploited": [_balance("@attack", u, ">")]}


class UncheckedCall(Family):
    name, category, what = "unchecked_call", "unchecked_low_level_calls", "unchecked low-level call"
    names = VAULT_NAMES
    space = {"names": (0, 1, 2, 3), "unit": (1, 2, 3), "style": ("send", "call")}

    def source(self, params, vulnerable):
        n = self.names[params["names"]]
        send = "msg.sender.send(amount)" if params["style"] == "send" else "msg.sender.call.value(amount)()"
        pay = f"        {send}; {MARK}" if vulnerable else f"        require({send});"
        return (_vault_head(n) + f"    function {n['wd']}(uint256 amount) public {{\n"
                f"        require({n['bal']}[msg.sender] >= amount);\n        {n['bal']}[msg.sender] -= amount;\n"
                f"{pay}\n    }}\n}}\n")

    def scenario(self, params):
        n, u = self.names[params["names"]], params["unit"] * ETHER
        helpers = (f"{PRAGMA}interface IVault {{\n    function {n['dep']}() external payable;\n"
                   f"    function {n['wd']}(uint256 amount) external;\n}}\n\n"
                   "contract Rejecter {\n    IVault vault;\n\n"
                   "    constructor(address target) public {\n        vault = IVault(target);\n    }\n\n"
                   f"    function run() public payable {{\n        vault.{n['dep']}.value(msg.value)();\n"
                   f"        vault.{n['wd']}(msg.value);\n    }}\n\n"
                   "    function () public payable {\n        revert();\n    }\n}\n")
        bal, wd = f"{n['bal']}(address)", f"{n['wd']}(uint256)"
        functional = [
            _call("alice", f"{n['dep']}()", wei=2 * u, ok=True),
            _call("alice", wd, u, ok=True),
            _read(bal, "@alice", value=u),
            _balance("@target", u),
            _call("alice", wd, 2 * u, ok=False),
        ]
        exploit = [{"from": "attacker", "deploy": "Rejecter", "as": "rejecter", "types": ["address"],
                    "args": ["@target"]},
                   _call("attacker", "run()", wei=u, to="@rejecter")]
        return {"contract": n["C"], "helpers": helpers, "functional": functional, "exploit": exploit,
                "exploited": [_read(bal, "@rejecter", value=0), _balance("@target", u)]}


class TxOrigin(Family):
    name, category, what = "tx_origin", "access_control", "tx.origin authentication"
    names = (
        {"C": "FamilyWallet", "pay": "pay"},
        {"C": "Purse", "pay": "spend"},
        {"C": "Treasury", "pay": "release"},
        {"C": "Allowance", "pay": "sendTo"},
    )
    space = {"names": (0, 1, 2, 3), "unit": (1, 2, 3), "style": ("require", "modifier")}

    def source(self, params, vulnerable):
        n = self.names[params["names"]]
        who = "tx.origin" if vulnerable else "msg.sender"
        mark = f" {MARK}" if vulnerable else ""
        head = (f"{PRAGMA}contract {n['C']} {{\n    address public owner;\n\n"
                "    constructor() public payable {\n        owner = msg.sender;\n    }\n\n")
        if params["style"] == "require":
            return (head + "    function () public payable {}\n\n"
                    f"    function {n['pay']}(address to, uint256 amount) public {{\n"
                    f"        require({who} == owner);{mark}\n        to.transfer(amount);\n    }}\n}}\n")
        return (head + f"    modifier onlyOwner() {{\n        require({who} == owner);{mark}\n        _;\n    }}\n\n"
                "    function () public payable {}\n\n"
                f"    function {n['pay']}(address to, uint256 amount) public onlyOwner {{\n"
                "        to.transfer(amount);\n    }\n}\n")

    def scenario(self, params):
        n, u = self.names[params["names"]], params["unit"] * ETHER
        pay = f"{n['pay']}(address,uint256)"
        helpers = (f"{PRAGMA}interface IWallet {{\n"
                   f"    function {n['pay']}(address to, uint256 amount) external;\n}}\n\n"
                   "contract Phish {\n    IWallet wallet;\n    address thief;\n\n"
                   "    constructor(address target) public {\n        wallet = IWallet(target);\n"
                   "        thief = msg.sender;\n    }\n\n    function claimReward() public {\n"
                   f"        wallet.{n['pay']}(thief, address(wallet).balance);\n    }}\n}}\n")
        functional = [
            _call("owner", pay, "@bob", u, ok=True),
            _balance("@target", 4 * u),
            _call("alice", pay, "@alice", u, ok=False),
            _balance("@target", 4 * u),
        ]
        exploit = [{"from": "attacker", "deploy": "Phish", "as": "phish", "types": ["address"], "args": ["@target"]},
                   _call("owner", "claimReward()", to="@phish")]
        return {"contract": n["C"], "helpers": helpers, "constructor": {"value": 5 * u},
                "functional": functional, "exploit": exploit, "exploited": [_balance("@target", 0)]}


class AccessControl(Family):
    name, category, what = "access_control", "access_control", "access control"
    names = (
        {"C": "NameRegistry", "fee": "fee", "setFee": "setFee", "setOwner": "transferOwnership", "sweep": "collect"},
        {"C": "Marketplace", "fee": "commission", "setFee": "setCommission", "setOwner": "setOwner",
         "sweep": "withdrawFees"},
        {"C": "Lottery", "fee": "ticketPrice", "setFee": "setPrice", "setOwner": "changeOwner", "sweep": "payout"},
        {"C": "Subscription", "fee": "monthly", "setFee": "setMonthly", "setOwner": "handOver", "sweep": "cashIn"},
    )
    space = {"names": (0, 1, 2, 3), "unit": (1, 2, 3), "style": ("setFee", "setOwner", "sweep")}

    def source(self, params, vulnerable):
        n = self.names[params["names"]]

        def guard(fn: str) -> str:
            return f" {MARK}" if vulnerable and params["style"] == fn else ""

        def only(fn: str) -> str:
            return "" if vulnerable and params["style"] == fn else " onlyOwner"

        return (f"{PRAGMA}contract {n['C']} {{\n    address public owner;\n    uint256 public {n['fee']};\n\n"
                "    modifier onlyOwner() {\n        require(msg.sender == owner);\n        _;\n    }\n\n"
                "    constructor() public payable {\n        owner = msg.sender;\n    }\n\n"
                f"    function {n['setFee']}(uint256 value) public{only('setFee')} {{{guard('setFee')}\n"
                f"        {n['fee']} = value;\n    }}\n\n"
                f"    function {n['setOwner']}(address next) public{only('setOwner')} {{{guard('setOwner')}\n"
                "        owner = next;\n    }\n\n"
                f"    function {n['sweep']}(address to) public{only('sweep')} {{{guard('sweep')}\n"
                "        to.transfer(address(this).balance);\n    }\n}\n")

    def scenario(self, params):
        n, u = self.names[params["names"]], params["unit"] * ETHER
        set_fee, set_owner, sweep = f"{n['setFee']}(uint256)", f"{n['setOwner']}(address)", f"{n['sweep']}(address)"
        functional = [
            _call("owner", set_fee, 7, ok=True),
            _read(f"{n['fee']}()", value=7),
            _call("owner", sweep, "@bob", ok=True),
            _balance("@target", 0),
            _call("owner", set_owner, "@alice", ok=True),
            _read("owner()", returns="address", value="@alice"),
        ]
        attack = {"setFee": (_call("attacker", set_fee, 13), _read(f"{n['fee']}()", value=13)),
                  "setOwner": (_call("attacker", set_owner, "@attacker"),
                               _read("owner()", returns="address", value="@attacker")),
                  "sweep": (_call("attacker", sweep, "@attacker"), _balance("@target", 0))}[params["style"]]
        return {"contract": n["C"], "constructor": {"value": 5 * u}, "functional": functional,
                "exploit": [attack[0]], "exploited": [attack[1]]}


class Overflow(Family):
    name, category, what = "overflow", "arithmetic", "integer overflow"
    names = (
        {"C": "PointsToken", "bal": "balanceOf", "tr": "transfer", "batch": "batchTransfer"},
        {"C": "LoyaltyCredits", "bal": "credits", "tr": "give", "batch": "giveMany"},
        {"C": "GameGold", "bal": "gold", "tr": "move", "batch": "airdrop"},
        {"C": "Coupons", "bal": "coupons", "tr": "handOver", "batch": "distribute"},
    )
    space = {"names": (0, 1, 2, 3), "unit": (100, 500, 1000), "style": ("transfer", "batch")}

    def source(self, params, vulnerable):
        n = self.names[params["names"]]
        b = n["bal"]
        mark = f" {MARK}" if vulnerable else ""
        head = (f"{PRAGMA}contract {n['C']} {{\n    mapping(address => uint256) public {b};\n\n"
                f"    constructor(uint256 supply) public {{\n        {b}[msg.sender] = supply;\n    }}\n\n")
        if params["style"] == "transfer":
            check = f"{b}[msg.sender] - amount >= 0" if vulnerable else f"{b}[msg.sender] >= amount"
            return (head + f"    function {n['tr']}(address to, uint256 amount) public returns (bool) {{\n"
                    f"        require({check});{mark}\n        {b}[msg.sender] -= amount;{mark}\n"
                    f"        {b}[to] += amount;\n        return true;\n    }}\n}}\n")
        guard = "" if vulnerable else f"        require(value <= {b}[msg.sender] / receivers.length);\n"
        return (head + f"    function {n['batch']}(address[] receivers, uint256 value) public {{\n"
                f"{guard}        uint256 total = receivers.length * value;{mark}\n"
                f"        require({b}[msg.sender] >= total);\n        {b}[msg.sender] -= total;\n"
                "        for (uint256 i = 0; i < receivers.length; i++) {\n"
                f"            {b}[receivers[i]] += value;\n        }}\n    }}\n}}\n")

    def scenario(self, params):
        n, supply = self.names[params["names"]], params["unit"]
        bal, tr = f"{n['bal']}(address)", f"{n['tr']}(address,uint256)"
        if params["style"] == "transfer":
            functional = [
                _call("owner", tr, "@alice", 30, returns="bool", value=True),
                _read(bal, "@alice", value=30),
                _read(bal, "@owner", value=supply - 30),
                _call("alice", tr, "@bob", 10, ok=True),
                _read(bal, "@bob", value=10),
            ]
            exploit = [_call("attacker", tr, "@bob", 1)]
        else:
            batch = f"{n['batch']}(address[],uint256)"
            functional = [
                _call("owner", batch, ["@alice", "@bob"], 30, ok=True),
                _read(bal, "@alice", value=30),
                _read(bal, "@owner", value=supply - 60),
                _call("alice", batch, ["@bob"], 10, ok=True),
                _read(bal, "@bob", value=40),
            ]
            exploit = [_call("attacker", batch, ["@attacker", "@bob"], 2**255)]
        return {"contract": n["C"], "constructor": {"types": ["uint256"], "args": [supply]},
                "functional": functional, "exploit": exploit, "exploited": [_read(bal, "@attacker", op=">",
                                                                                   value=supply)]}


_FAMILY_LIST: tuple[Family, ...] = (Reentrancy(), UncheckedCall(), TxOrigin(), AccessControl(), Overflow())
FAMILIES = tuple(f.name for f in _FAMILY_LIST)
_BY_NAME = {f.name: f for f in _FAMILY_LIST}


def family(name: str) -> Family:
    if name not in _BY_NAME:
        raise UserError(f"unknown solidity task family {name!r}; choose from: {', '.join(FAMILIES)}")
    return _BY_NAME[name]


# -- the split -------------------------------------------------------------------------------------------
def shown_source(family_name: str, params: dict[str, Any], kind: str) -> str:
    """The contract a task of this kind shows: the vulnerable one to detect or repair, the repaired one for a
    ``safe`` detection. Several parameter combinations (and families) can show the same text: the amounts
    live only in the EVM scenario, and repaired contracts converge."""
    fam = family(family_name)
    return strip_markers(fam.source(params, vulnerable=kind != "safe"))[0]


def novelty(family_name: str, params: dict[str, Any], kind: str, phrasing: int) -> list[str]:
    """``"contract"`` when the shown contract is held out (hashed as text, so combinations that show the same
    contract fall on the same side), ``"phrasing"`` when the phrasing is."""
    held = splits.params_held_out("contract", {"source": shown_source(family_name, params, kind)},
                                  HELDOUT_PARAM_FRACTION)
    return [name for name, is_held in (("contract", held), ("phrasing", phrasing == HELDOUT_PHRASING)) if is_held]


def split_of(family_name: str, params: dict[str, Any], kind: str, phrasing: int) -> str:
    return "heldout" if novelty(family_name, params, kind, phrasing) else "train"


# -- tasks -----------------------------------------------------------------------------------------------
def make_task(family_name: str, params: dict[str, Any], kind: str, phrasing: int) -> Task:
    """The task for one (family, params, kind, phrasing)."""
    fam = family(family_name)
    if params not in fam.combos() or kind not in KINDS or not 0 <= phrasing < len(DETECT_PHRASINGS):
        raise UserError(f"invalid solidity task {family_name} {params} {kind} p{phrasing}")
    vulnerable_source, lines = strip_markers(fam.source(params, vulnerable=True))
    fixed = fam.source(params, vulnerable=False)
    slug = "-".join(str(v) for v in params.values())
    novel = novelty(family_name, params, kind, phrasing)
    metadata = {"family": family_name, "params": dict(params), "kind": kind, "phrasing": phrasing,
                "split": "heldout" if novel else "train", "novel": novel, "category": fam.category,
                "generator": f"codealign.solidity_family/{GENERATOR_VERSION}"}
    if kind == "repair":
        prompt = f"{REPAIR_PHRASINGS[phrasing].format(what=fam.what)} Answer with the whole fixed contract.\n\n" \
                 f"{vulnerable_source}"
        assets = {"kind": "repair", "source": vulnerable_source, "category": fam.category, "fixed": fixed,
                  "evm": fam.scenario(params), "filename": "contract.sol"}
    else:
        source = vulnerable_source if kind == "detect" else fixed
        label = {"vulnerable": kind == "detect", "category": fam.category if kind == "detect" else None,
                 "lines": lines if kind == "detect" else []}
        prompt = f"{DETECT_PHRASINGS[phrasing]} {ANSWER_FORMAT}\n\n{_numbered(source)}"
        assets = {"kind": "detect", "source": source, "label": label, "use_slither": False,
                  "filename": "contract.sol"}
        # The answer is JSON, not code: no Solidity extraction (see codealign.generate.make_candidate).
        metadata["language"] = "text"
    return Task(task_id=f"sol-{family_name}-{kind}-{slug}-p{phrasing}", domain="solidity", prompt=prompt,
                assets=assets, metadata=metadata)


def _numbered(source: str) -> str:
    """The contract with line numbers, which the answer's ``lines`` refer to."""
    return "".join(f"{i}: {line}\n" for i, line in enumerate(source.splitlines(), 1))


def reference_answer(task: Task) -> str:
    """The golden answer: the label's JSON for a detection, the repaired contract for a repair."""
    if task.assets["kind"] == "repair":
        return task.assets["fixed"]
    return golden_answer(Label.from_assets(task.assets["label"], task.assets["source"]))


@functools.lru_cache(maxsize=None)
def _distinct(family_name: str) -> tuple[tuple[str, tuple], ...]:
    """(kind, params items) of a family in grid order, keeping the first of those whose task would show a
    contract an earlier one (of any family, in :data:`FAMILIES` order, for detections) already shows: two
    tasks with one prompt are one task."""
    seen: set[tuple[str, str, str]] = set()
    for name in FAMILIES[: FAMILIES.index(family_name) + 1]:
        keep = []
        for params in family(name).combos():
            for kind in KINDS:
                scope = name if kind == "repair" else ""
                key = (scope, kind, shown_source(name, params, kind))
                if key not in seen:
                    seen.add(key)
                    keep.append((kind, tuple(params.items())))
    return tuple(keep)


def universe(family_name: str, split: str) -> list[tuple[dict[str, Any], str, int]]:
    """Every distinct (params, kind, phrasing) of a family in ``split``, in grid order."""
    splits.check_split(split)
    if split == splits.FEEDBACK:
        return list(_feedback()[family_name])
    return [(dict(items), kind, k) for kind, items in _distinct(family_name)
            for k in range(len(DETECT_PHRASINGS)) if split_of(family_name, dict(items), kind, k) == split]


def generate_tasks(families: str | Iterable[str] | None = None, n: int = 100, seed: int = 0,
                   split: str = "train") -> list[Task]:
    """``n`` distinct tasks of ``split``, round robin over ``families`` (all by default), every prefix mixing
    the kinds evenly. Deterministic for (families, seed, split); a larger ``n`` extends a smaller one's list."""
    splits.check_split(split)
    pools = {name: universe(name, split) for name in splits.family_names(families, FAMILIES)}
    return [splits.labelled(make_task(name, *item), split)
            for name, item in splits.draw(pools, n, seed, split, _stratum)]


def _stratum(family_name: str, item: tuple[dict[str, Any], str, int]) -> int:
    return KINDS.index(item[1])


@functools.lru_cache(maxsize=None)
def _feedback() -> dict[str, list[tuple[dict[str, Any], str, int]]]:
    return splits.feedback_pools({name: universe(name, "heldout") for name in FAMILIES}, EVAL_RESERVE, _stratum,
                                 lambda name, item: shown_source(name, item[0], item[1]))


# -- bundled demo sets -----------------------------------------------------------------------------------
BUNDLE = Bundle(Path(__file__).resolve().parent / "resources" / "tasks", generate_tasks, BUNDLED_COUNTS, BUNDLED_SEED)
bundled_tasks = BUNDLE.tasks
bundled_generation = BUNDLE.generation
write_bundled = BUNDLE.write

