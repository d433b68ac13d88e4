"""Procedural Solidity tasks: small generated contracts with or without one planted vulnerability, to detect
(label + lines, scored by :mod:`codealign.domains.solidity.answers`) or to repair (judged on py-evm: the
functional transactions must behave and every exploit variant must fail, on scenarios drawn per job).

A repair task's ``assets["evm"]`` holds only the fixed part of its scenario (the contract's name, the helper
contracts) and names its family and parameters; the judge draws the rest per job (:func:`draws`, from a seed
only the harness can derive): every address, the block and gas, the amounts and their order, a history of
ordinary use before each exploit, and 2-3 exploit variants per family (an EOA, a contract, a phished owner;
a receiver that reverts or burns its gas; an empty or a funded overspender). Exploits are detected from
balances and storage slots at the original's layout, never from the contract's getters.

Families (:data:`FAMILIES`), one per vulnerability class, each a template over a grid of parameters
(``names``: contract, state and function names; ``unit``: the amounts; ``style``: a structural variant):

* ``reentrancy`` — a vault that pays out with ``call.value`` before it zeroes or lowers the balance; the
  exploit is an attacker contract that re-enters from its fallback and drains the other depositors (in one
  transaction, or deposit first and strike later);
* ``unchecked_call`` — a ledger that lowers the balance, then ``send``/``call.value`` without checking the
  result; the exploit is a receiver that rejects ether: the ledger says paid, the receiver never got it;
* ``tx_origin`` — a wallet that authenticates its owner with ``tx.origin``; the exploit is the owner
  tricked into calling an attacker's contract that calls the wallet;
* ``access_control`` — an owned registry where one privileged function lacks ``onlyOwner``; the exploit is
  the attacker calling it, directly, through a contract, or through a contract the owner is tricked into calling;
* ``overflow`` — a token ledger (solc 0.4, no checked arithmetic) whose transfer underflows or whose batch
  transfer overflows a product; the exploit mints tokens (the holders' balances no longer sum to the supply).

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
import random
from pathlib import Path
from typing import Any, Iterable

from codealign.domains import splits
from codealign.domains.solidity.handwritten import MARK, strip_markers
from codealign.domains.splits import SPLITS, Bundle
from codealign.errors import UserError
from codealign.types import Task

GENERATOR_VERSION = "3"
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
        """The fixed part of the py-evm scenario: the contract's name and the helper contracts' source."""
        raise NotImplementedError

    def draw(self, params: dict[str, Any], rng: random.Random) -> dict[str, Any]:
        """One draw of the scenario (format: ``resources/evm_runner.py``): the world (addresses, block, gas
        price), the functional transactions and every exploit variant, their amounts and actors from ``rng``."""
        raise NotImplementedError


def _call(sender: str, sig: str, *args, wei: int = 0, to: str = "@target", **expect) -> dict:
    """A transaction step; ``expect`` as in the runner (``ok``, ``returns``/``op``/``value``)."""
    step = {"from": sender, "to": to, "call": sig, "args": list(args), "value": wei}
    return {**step, "expect": expect} if expect else step


def _getter(sig: str, *args, returns: str = "uint256", value: Any = None) -> dict:
    """A call of the contract's own getter (part of its behaviour, never how an exploit is detected)."""
    return _call("viewer", sig, *args, returns=returns, op="==", value=value)


def _balance(ref: str, value: int, op: str = "==") -> dict:
    return {"balance": ref, "expect": {"op": op, "value": value}}


def _slot(slot: int, value: Any, key: str | None = None, op: str = "==", address: bool = False) -> dict:
    """A read of the target's storage at the original's layout (a mapping entry when ``key`` is given)."""
    expect = {"op": op, "value": value, **({"returns": "address"} if address else {})}
    return {"storage": "@target", "slot": slot, **({"key": key} if key is not None else {}), "expect": expect}


def _deploy(sender: str, helper: str, name: str, types: list[str], args: list) -> dict:
    return {"from": sender, "deploy": helper, "as": name, "types": types, "args": args}


def _address(rng: random.Random) -> str:
    return "0x" + rng.getrandbits(160).to_bytes(20, "big").hex()


def _actors(rng: random.Random) -> dict[str, str]:
    """Every actor's address, drawn."""
    return {name: _address(rng) for name in ACTORS}


def _worlds(rng: random.Random, n: int) -> list[dict[str, Any]]:
    """The chains ``n`` draws run on: the block (number, timestamp, coinbase, difficulty, gas limit, the hashes
    of its 256 ancestors), each transaction's gas and price and the actors' ether, so no constant or range of
    the harness tells a judged chain from a real one. Each number is drawn at a scale (its bit length) from a
    stratum of its range, each draw in another stratum and the strata in an order of their own per number, so
    for any threshold on one number some draws lie on each side of it (unless it sits inside the lowest or
    highest stratum) and no two numbers rise together. Not drawn: each transaction's gas stays within the
    runner's gas budget of a draw (``DRAW_GAS``, 5,000,000), and solc 0.4 has no ``chainid``."""
    ranges = {"block_number": (1, 2**48), "timestamp": (1, 2**64 - 1), "gas_price": (1, 10**12),
              "difficulty": (1, 2**256 - 1), "tx_gas": (500_000, 5_000_000), "funds": (10**20, 10**27)}
    orders = {name: rng.sample(range(n), n) for name in (*ranges, "gas_limit")}
    worlds = []
    for i in range(n):
        env = {name: _scaled(rng, lo, hi, orders[name][i], n) for name, (lo, hi) in ranges.items()}
        env.update(gas_limit=_scaled(rng, env["tx_gas"], 2**63 - 1, orders["gas_limit"][i], n),
                   coinbase=_address(rng), ancestry=rng.getrandbits(256))
        worlds.append(env)
    return worlds


def _scaled(rng: random.Random, lo: int, hi: int, stratum: int, strata: int) -> int:
    """A value in [lo, hi] whose bit length is drawn from the ``stratum``-th of ``strata`` equal parts of the
    range's bit lengths."""
    low, high = lo.bit_length(), hi.bit_length()
    span = high - low + 1
    first = low + span * stratum // strata
    bits = rng.randint(first, max(first, low + span * (stratum + 1) // strata - 1))
    return rng.randint(max(lo, 1 << (bits - 1)), min(hi, (1 << bits) - 1))


OUTSIDER_FEES = 16
"""Fees an outsider tries to set in an access-control draw, one from each of as many strata of the bit lengths
of a uint256, so a guard that lets anyone set a fee within some window of scales is met inside it."""


def _any_uint(rng: random.Random) -> int:
    """A uint256 at a drawn scale, its extremes included."""
    return rng.choice((0, 2**256 - 1, _scaled(rng, 1, 2**256 - 1, 0, 1)))


def _shuffled(rng: random.Random, *blocks: list[dict]) -> list[dict]:
    """Independent groups of steps in a drawn order."""
    order = list(blocks)
    rng.shuffle(order)
    return [step for block in order for step in block]


def _beyond(rng: random.Random, limit: int) -> int:
    """An amount over ``limit`` at a drawn scale: just over, well over, or anywhere up to 2**256 - 1."""
    return limit + rng.choice((rng.randint(1, 100), rng.randint(101, 10**9), rng.randint(10**9, 2**256 - 1 - limit)))


def _after_history(rng: random.Random, exploits: list[dict], use) -> list[dict]:
    """Each exploit after a drawn number (0-5) of ordinary uses of the contract (``use(rng)``: steps that leave
    what the exploit checks unchanged), so a contract cannot stay safe for its first few transactions only."""
    for exploit in exploits:
        history = [step for _ in range(rng.randint(0, 5)) for step in use(rng)]
        exploit["steps"] = history + exploit["steps"]
    return exploits


ACTORS = ("owner", "alice", "bob", "carol", "attacker", "accomplice", "viewer")
BALANCES_SLOT = 0
"""Storage slot of the balances mapping in the vault and token contracts (their first state variable)."""


def _vault_head(n: dict[str, str]) -> str:
    return (f"{PRAGMA}contract {n['C']} {{\n    mapping(address => uint256) public {n['bal']};\n\n"
            f"    function {n['dep']}() public payable {{\n        {n['bal']}[msg.sender] += msg.value;\n    }}\n\n")


VAULT_NAMES = (
    {"C": "EtherVault", "bal": "balances", "dep": "deposit", "wd": "withdraw"},
    {"C": "PiggyBank", "bal": "savings", "dep": "save", "wd": "cashOut"},
    {"C": "CommunityFund", "bal": "shares", "dep": "contribute", "wd": "redeem"},
    {"C": "DepositBox", "bal": "credit", "dep": "put", "wd": "take"},
)


def _wallet(n: dict[str, str], withdraw_all: bool) -> str:
    """A contract user of a vault: deposits and withdraws like an account, accepts ether."""
    take = "vault.{wd}();" if withdraw_all else "vault.{wd}(amount);"
    return ("contract Wallet {\n    IVault vault;\n\n    constructor(address target) public {\n"
            "        vault = IVault(target);\n    }\n\n"
            "    function put() public payable {\n        vault.{dep}.value(msg.value)();\n    }\n\n"
            "    function take(uint256 amount) public {\n        " + take + "\n    }\n\n"
            "    function () public payable {}\n}\n").replace("{wd}", n["wd"]).replace("{dep}", n["dep"])


def _vault_interface(n: dict[str, str], withdraw_all: bool) -> str:
    wd = f"{n['wd']}()" if withdraw_all else f"{n['wd']}(uint256 amount)"
    return f"{PRAGMA}interface IVault {{\n    function {n['dep']}() external payable;\n    function {wd} external;\n}}\n\n"


def _wallet_round_trip(n: dict[str, str], amount: int, withdraw_all: bool) -> list[dict]:
    """carol's contract wallet deposits and takes back ``amount``: contracts are customers too."""
    return [_deploy("carol", "Wallet", "wallet", ["address"], ["@target"]),
            _call("carol", "put()", wei=amount, to="@wallet", ok=True),
            _slot(BALANCES_SLOT, amount, key="@wallet"),
            _call("carol", "take(uint256)", amount, to="@wallet", ok=True),
            _balance("@wallet", amount), _slot(BALANCES_SLOT, 0, key="@wallet")]


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
        n = self.names[params["names"]]
        every = params["style"] == "all"
        again = f"vault.{n['wd']}({'' if every else 'stake'});"
        helpers = (_vault_interface(n, every) +
                   "contract Attack {\n    IVault vault;\n    uint256 stake;\n    uint256 rounds;\n    uint256 limit;\n\n"
                   "    constructor(address target, uint256 maxRounds) public {\n        vault = IVault(target);\n"
                   "        limit = maxRounds;\n    }\n\n"
                   "    function run() public payable {\n        stake = msg.value;\n"
                   f"        vault.{n['dep']}.value(msg.value)();\n        {again}\n    }}\n\n"
                   f"    function put() public payable {{\n        stake = msg.value;\n"
                   f"        vault.{n['dep']}.value(msg.value)();\n    }}\n\n"
                   f"    function strike() public {{\n        {again}\n    }}\n\n"
                   "    function () public payable {\n        if (rounds < limit && address(vault).balance >= stake) {\n"
                   f"            rounds++;\n            {again}\n        }}\n    }}\n}}\n\n" + _wallet(n, every))
        return {"contract": n["C"], "helpers": helpers}

    def draw(self, params, rng):
        n, u = self.names[params["names"]], params["unit"] * ETHER
        every = params["style"] == "all"
        wd, dep = (f"{n['wd']}()" if every else f"{n['wd']}(uint256)"), f"{n['dep']}()"
        a, b = u * rng.randint(2, 6), u * rng.randint(1, 6)
        out = a if every else u * rng.randint(1, a // u)
        left = a - out
        too_much = () if every else (left + u * rng.randint(1, 3),)
        functional = _shuffled(rng, [_call("alice", dep, wei=a, ok=True)], [_call("bob", dep, wei=b, ok=True)]) + [
            _slot(BALANCES_SLOT, a, key="@alice"), _getter(f"{n['bal']}(address)", "@alice", value=a),
            _call("alice", wd, *(() if every else (out,)), ok=True),
            _slot(BALANCES_SLOT, left, key="@alice"), _slot(BALANCES_SLOT, b, key="@bob"),
            _balance("@target", left + b),
            _call("alice", wd, *too_much, ok=False),
            *_wallet_round_trip(n, u * rng.randint(1, 3), every),
            _balance("@target", left + b)]
        victims = _shuffled(rng, [_call("alice", dep, wei=u * rng.randint(1, 5))],
                            [_call("bob", dep, wei=u * rng.randint(1, 5))])
        pool = sum(step["value"] for step in victims)
        stake, rounds = u * rng.randint(1, 2), rng.randint(1, 4)
        attack = _deploy("attacker", "Attack", "attack", ["address", "uint256"], ["@target", rounds])
        drained = [_balance("@target", pool, op="<")]
        exploits = [
            {"variant": "one_transaction", "steps": [*victims, attack, _call("attacker", "run()", wei=stake, to="@attack")],
             "exploited": drained},
            {"variant": "deposit_then_strike",
             "steps": [attack, _call("attacker", "put()", wei=stake, to="@attack"), *victims,
                       _call("accomplice", "strike()", to="@attack")], "exploited": drained},
        ]
        round_trip = (lambda r: [_call("carol", dep, wei=u * r.randint(1, 3)), _call("carol", wd)]) if every else \
            (lambda r: [_call("carol", dep, wei=u), _call("carol", wd, u)])
        return {"actors": _actors(rng), "functional": functional, "exploits": _after_history(rng, exploits, round_trip)}


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
        n = self.names[params["names"]]
        helpers = (_vault_interface(n, False) +
                   "contract Rejecter {\n    IVault vault;\n    bool invalid;\n\n"
                   "    constructor(address target, bool useInvalid) public {\n        vault = IVault(target);\n"
                   "        invalid = useInvalid;\n    }\n\n"
                   f"    function put() public payable {{\n        vault.{n['dep']}.value(msg.value)();\n    }}\n\n"
                   f"    function take(uint256 amount) public {{\n        vault.{n['wd']}(amount);\n    }}\n\n"
                   "    function () public payable {\n        assert(!invalid);\n        revert();\n    }\n}\n\n"
                   + _wallet(n, False))
        return {"contract": n["C"], "helpers": helpers}

    def draw(self, params, rng):
        n, u = self.names[params["names"]], params["unit"] * ETHER
        wd, dep = f"{n['wd']}(uint256)", f"{n['dep']}()"
        a, b = u * rng.randint(2, 6), u * rng.randint(1, 4)
        out = u * rng.randint(1, a // u)
        functional = _shuffled(rng, [_call("alice", dep, wei=a, ok=True)], [_call("bob", dep, wei=b, ok=True)]) + [
            _call("alice", wd, out, ok=True), _slot(BALANCES_SLOT, a - out, key="@alice"),
            _getter(f"{n['bal']}(address)", "@alice", value=a - out), _balance("@target", a - out + b),
            _call("alice", wd, a - out + u * rng.randint(1, 3), ok=False),
            *_wallet_round_trip(n, u * rng.randint(1, 3), False), _balance("@target", a - out + b)]
        exploits = []
        for variant, invalid in (("receiver_reverts", False), ("receiver_hits_invalid", True)):
            put = u * rng.randint(1, 4)
            # The receiver's ether plus what the ledger still owes it: anything less is ether it lost.
            owed = {"sum": [{"balance": "@rejecter"}, {"storage": "@target", "slot": BALANCES_SLOT, "key": "@rejecter"}],
                    "expect": {"op": "<", "value": put}}
            exploits.append({"variant": variant, "steps": [
                _call("bob", dep, wei=u * rng.randint(1, 4)),
                _deploy("attacker", "Rejecter", "rejecter", ["address", "bool"], ["@target", invalid]),
                _call("attacker", "put()", wei=put, to="@rejecter"),
                _call("attacker", "take(uint256)", u * rng.randint(1, put // u), to="@rejecter")],
                "exploited": [owed]})
        return {"actors": _actors(rng), "functional": functional,
                "exploits": _after_history(rng, exploits, lambda r: [_call("carol", dep, wei=u), _call("carol", wd, u)])}


class TxOrigin(Family):
    name, category, what = "tx_origin", "access_control", "tx.origin authentication"
    names = (
        {"C": "FamilyWallet", "pay": "pay"},
        {"C": "Purse", "pay": "spend"},
        {"C": "Treasury", "pay": "release"},
        {"C": "Allowance", "pay": "sendTo"},
    )
    space = {"names": (0, 1, 2, 3), "unit": (1, 2, 3), "style": ("require", "modifier")}
    OWNER_SLOT = 0

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
        n = self.names[params["names"]]
        helpers = (f"{PRAGMA}interface IWallet {{\n"
                   f"    function {n['pay']}(address to, uint256 amount) external;\n}}\n\n"
                   "contract Phish {\n    IWallet wallet;\n    address thief;\n    uint256 part;\n\n"
                   "    constructor(address target, address to, uint256 amount) public {\n"
                   "        wallet = IWallet(target);\n        thief = to;\n        part = amount;\n    }\n\n"
                   "    function claimReward() public {\n"
                   f"        wallet.{n['pay']}(thief, part == 0 ? address(wallet).balance : part);\n    }}\n}}\n")
        return {"contract": n["C"], "helpers": helpers}

    def draw(self, params, rng):
        n, u = self.names[params["names"]], params["unit"] * ETHER
        pay = f"{n['pay']}(address,uint256)"
        funds = u * rng.randint(3, 9)
        paid = u * rng.randint(1, 2)
        functional = [_slot(self.OWNER_SLOT, "@owner", address=True),
                      _call("owner", pay, "@bob", paid, ok=True), _balance("@target", funds - paid),
                      _call(rng.choice(("alice", "bob", "carol")), pay, "@alice", u, ok=False),
                      _balance("@target", funds - paid)]
        exploits = []
        for variant, part in (("drain", 0), ("skim", u * rng.randint(1, 2))):
            thief = rng.choice(("@attacker", "@accomplice"))
            exploits.append({"variant": variant, "steps": [
                _deploy("attacker", "Phish", "phish", ["address", "address", "uint256"], ["@target", thief, part]),
                _call("owner", "claimReward()", to="@phish")], "exploited": [_balance("@target", funds, op="<")]})
        return {"actors": _actors(rng), "constructor": {"value": funds}, "functional": functional,
                "exploits": _after_history(rng, exploits, lambda r: [_call("owner", pay, "@target", u * r.randint(1, 3))])}


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
    OWNER_SLOT, FEE_SLOT = 0, 1

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
        n = self.names[params["names"]]
        helpers = (f"{PRAGMA}interface IOwned {{\n    function {n['setFee']}(uint256 value) external;\n"
                   f"    function {n['setOwner']}(address next) external;\n"
                   f"    function {n['sweep']}(address to) external;\n}}\n\n"
                   "contract Relay {\n    IOwned target;\n\n    constructor(address t) public {\n"
                   "        target = IOwned(t);\n    }\n\n"
                   f"    function setFee(uint256 value) public {{\n        target.{n['setFee']}(value);\n    }}\n\n"
                   f"    function setOwner(address next) public {{\n        target.{n['setOwner']}(next);\n    }}\n\n"
                   f"    function sweep(address to) public {{\n        target.{n['sweep']}(to);\n    }}\n}}\n")
        return {"contract": n["C"], "helpers": helpers}

    def draw(self, params, rng):
        n, u = self.names[params["names"]], params["unit"] * ETHER
        set_fee, set_owner, sweep = f"{n['setFee']}(uint256)", f"{n['setOwner']}(address)", f"{n['sweep']}(address)"
        funds = u * rng.randint(1, 9)
        fee, fee2 = rng.randint(100, 10**9), _any_uint(rng)
        outsider = rng.choice(("alice", "bob", "carol"))
        functional = _shuffled(
            rng,
            [_call("owner", set_fee, fee, ok=True), _slot(self.FEE_SLOT, fee), _getter(f"{n['fee']}()", value=fee)],
            [*(_call(outsider, set_fee, _scaled(rng, 1, 2**256 - 1, k, OUTSIDER_FEES), ok=False)
               for k in range(OUTSIDER_FEES)), _call(outsider, set_owner, f"@{outsider}", ok=False),
             _call(outsider, sweep, f"@{outsider}", ok=False), _balance("@target", funds)],
        ) + [_call("owner", sweep, "@bob", ok=True), _balance("@target", 0),
             _call("owner", set_owner, "@alice", ok=True), _slot(self.OWNER_SLOT, "@alice", address=True),
             _getter("owner()", returns="address", value="@alice"),
             _call("alice", set_fee, fee2, ok=True), _slot(self.FEE_SLOT, fee2),
             _call("owner", set_fee, fee, ok=False)]
        style = params["style"]
        value = {"setFee": lambda: _any_uint(rng), "setOwner": lambda: rng.choice(("@attacker", "@accomplice")),
                 "sweep": lambda: rng.choice(("@attacker", "@accomplice"))}[style]
        sig = {"setFee": set_fee, "setOwner": set_owner, "sweep": sweep}[style]
        relayed = {"setFee": "setFee(uint256)", "setOwner": "setOwner(address)", "sweep": "sweep(address)"}[style]
        # The fee exploit is seen as the fee changed from the owner's, so its value may be any uint256.
        exploited = {"setFee": lambda v: _slot(self.FEE_SLOT, fee, op="!="),
                     "setOwner": lambda v: _slot(self.OWNER_SLOT, v, address=True),
                     "sweep": lambda v: _balance("@target", funds, op="<")}[style]
        setup = [_call("owner", set_fee, fee)]
        relay = _deploy("attacker", "Relay", "relay", ["address"], ["@target"])
        exploits = [{"variant": variant, "steps": [*setup, *steps(v)], "exploited": [exploited(v)]}
                    for variant, steps, v in (
                        ("direct", lambda v: [_call("attacker", sig, v)], value()),
                        ("through_a_contract", lambda v: [relay, _call("attacker", relayed, v, to="@relay")], value()),
                        ("owner_phished", lambda v: [relay, _call("owner", relayed, v, to="@relay")], value()))]
        return {"actors": _actors(rng), "constructor": {"value": funds}, "functional": functional,
                "exploits": _after_history(rng, exploits, lambda r: [_call("owner", set_fee, r.randint(100, 10**9))])}


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
        return {"contract": self.names[params["names"]]["C"]}

    def draw(self, params, rng):
        n = self.names[params["names"]]
        supply = params["unit"] * rng.randint(1, 9)
        bal, tr = f"{n['bal']}(address)", f"{n['tr']}(address,uint256)"
        batch = f"{n['batch']}(address[],uint256)"
        a = rng.randint(supply // 4, supply // 2)
        if params["style"] == "transfer":
            b = rng.randint(1, a)
            functional = [_call("owner", tr, "@alice", a, returns="bool", value=True),
                          _slot(BALANCES_SLOT, a, key="@alice"), _slot(BALANCES_SLOT, supply - a, key="@owner"),
                          _getter(bal, "@alice", value=a),
                          _call("alice", tr, "@bob", b, ok=True), _slot(BALANCES_SLOT, b, key="@bob"),
                          _call("alice", tr, "@bob", a - b + rng.randint(1, 50), ok=False),
                          _slot(BALANCES_SLOT, a - b, key="@alice")]
            held = rng.randint(1, 20)
            exploits = [{"variant": "empty_sender", "steps": [_call("attacker", tr, "@accomplice", _beyond(rng, 0))]},
                        {"variant": "holder_overspends",
                         "steps": [_call("owner", tr, "@attacker", held),
                                   _call("attacker", tr, "@accomplice", _beyond(rng, held))]}]
        else:
            each = a // 2
            w = rng.randint(1, each // 2)
            functional = [_call("owner", batch, ["@alice", "@bob"], each, ok=True),
                          _slot(BALANCES_SLOT, each, key="@alice"), _slot(BALANCES_SLOT, supply - 2 * each, key="@owner"),
                          _getter(bal, "@alice", value=each),
                          _call("alice", batch, ["@bob", "@carol"], w, ok=True),
                          _slot(BALANCES_SLOT, each + w, key="@bob"), _slot(BALANCES_SLOT, w, key="@carol"),
                          _call("alice", batch, ["@bob", "@carol"], each - 2 * w + 1, ok=False),
                          _slot(BALANCES_SLOT, each - 2 * w, key="@alice")]
            count = rng.choice((2, 4))
            wrap = rng.choice((3, 5))
            exploits = [{"variant": "product_wraps_to_zero",
                         "steps": [_call("attacker", batch, (["@attacker", "@accomplice"] * 2)[:count], 2**256 // count)]},
                        {"variant": "product_wraps_small",
                         "steps": [_call("owner", batch, ["@attacker"], wrap),
                                   _call("attacker", batch, (["@accomplice", "@attacker"] * 3)[:wrap],
                                         2**256 // wrap + 1)]}]
        # Conservation of the supply, read from storage: a sum over every holder other than the supply is a
        # minted (or burnt) balance.
        holders = ["@owner", "@alice", "@bob", "@carol", "@attacker", "@accomplice"]
        supply_kept = {"sum": [{"storage": "@target", "slot": BALANCES_SLOT, "key": h} for h in holders],
                       "expect": {"op": "!=", "value": supply}}
        move = tr if params["style"] == "transfer" else batch
        there, back = (("@carol", 1), ("@owner", 1)) if move == tr else ((["@carol"], 1), (["@owner"], 1))
        for exploit in _after_history(rng, exploits, lambda r: [_call("owner", move, *there), _call("carol", move, *back)]):
            exploit["exploited"] = [supply_kept]
        return {"actors": _actors(rng), "constructor": {"types": ["uint256"], "args": [supply]},
                "functional": functional, "exploits": exploits}


_FAMILY_LIST: tuple[Family, ...] = (Reentrancy(), UncheckedCall(), TxOrigin(), AccessControl(), Overflow())
FAMILIES = tuple(f.name for f in _FAMILY_LIST)
_BY_NAME = {f.name: f for f in _FAMILY_LIST}


def family(name: str) -> Family:
    if name not in _BY_NAME:
        raise UserError(f"unknown solidity task family {name!r}; choose from: {', '.join(FAMILIES)}")
    return _BY_NAME[name]


def draws(family_name: str, params: dict[str, Any], seed: int, n: int) -> list[dict[str, Any]]:
    """``n`` draws of a family task's scenario from ``seed`` (the same seed, the same draws)."""
    fam = family(family_name)
    worlds = _worlds(random.Random(f"{seed}/env"), n)
    return [{**fam.draw(params, random.Random(f"{seed}/{i}")), "env": worlds[i]} for i in range(n)]


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
                  "evm": {**fam.scenario(params), "family": family_name, "params": dict(params)},
                  "filename": "contract.sol"}
    else:
        source = vulnerable_source if kind == "detect" else fixed
        label = {"vulnerable": kind == "detect", "category": fam.category if kind == "detect" else None,
                 "lines": lines if kind == "detect" else []}
        prompt = f"{DETECT_PHRASINGS[phrasing]} {ANSWER_FORMAT}\n\n{_numbered(source)}"
        assets = {"kind": "detect", "source": source, "label": label, "use_slither": False,
                  "filename": "contract.sol"}
        # The answer is JSON, not code: no Solidity extraction (see codealign.domains.candidates.make_candidate).
        metadata["language"] = "text"
    return Task(task_id=f"sol-{family_name}-{kind}-{slug}-p{phrasing}", domain="solidity", prompt=prompt,
                assets=assets, metadata=metadata)


def _numbered(source: str) -> str:
    """The contract with line numbers, which the answer's ``lines`` refer to."""
    return "".join(f"{i}: {line}\n" for i, line in enumerate(source.splitlines(), 1))


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

