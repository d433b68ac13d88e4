"""Runs a contract's scenario on fresh in-memory py-evm chains, inside the sandbox.

Imported by ``slither_server.py`` for a request with an ``evm`` field: the candidate (``contract.sol``), the
task's helper contracts (``helpers.sol``, e.g. an attacker) and, when given, the task's original contract
(``original.sol``, for its ABI and opcodes) are compiled together through the solc adapter (standard JSON);
then each draw runs on its own fresh chain, every phase of it (the functional transactions, each exploit) from
the same state just after the target's deployment. Nothing the contracts do can reach the reply except
through the results computed here: the contracts are bytecode interpreted by py-evm, and every check reads the
chain's state (balances, storage slots), never a value the contract computes for us.

Scenario (``request["evm"]``)::

    {"contract": "Vault", "helpers": "<solidity source>", "original": "<solidity source>" (optional),
     "draws": [DRAW, ...]}

    DRAW = {"env": {"block_number", "timestamp", "coinbase": "0x..", "gas_price", "difficulty", "gas_limit",
                    "tx_gas", "funds"},
            "actors": {"owner": "0x..", ...}, "constructor": {"types", "args", "value"},
            "functional": [STEP, ...],
            "exploits": [{"variant": str, "steps": [STEP, ...], "exploited": [STEP, ...]}, ...]}

A scenario without ``draws`` (``constructor``, ``functional``, ``exploit``, ``exploited`` at its top level) is
one draw on the default environment (:data:`DEFAULT_ENV`, actors named by :func:`default_actors`).

A STEP is a transaction ``{"from": ACTOR, "to": "@target", "call": "withdraw(uint256)", "args": [...],
"value": wei, "expect": {...}}``, a deployment ``{"from": ACTOR, "deploy": "Attack", "as": "attack",
"types": [...], "args": [...], "value": wei}`` or a read of the chain's state: ``{"balance": "@attack"}``,
``{"storage": "@target", "slot": 1}`` (a slot at the compiler's layout), ``{"storage": "@target", "slot": 0,
"key": "@alice"}`` (the entry of the mapping at slot 0 for that address or uint key) or ``{"sum": [READ, ...]}``,
each with an ``expect``. ``expect`` is ``{"ok": bool}`` and/or ``{"returns": "uint256", "op": "==", "value": v}``
(``value`` may be ``@name``: that address). An argument or address written ``@name`` is an actor, ``@target``
or a deployed helper. ``functional`` steps must all meet their expectations; ``exploit`` steps run without
expectations, then the exploit succeeded when every ``exploited`` step meets its expectation.

The reply also states facts about the compiled candidate that the trusted side judges: ``opcodes`` (which of
:data:`WATCHED_OPCODES` its creation code holds, read instruction by instruction with the compiler's metadata
skipped), ``assembly`` (whether its AST holds inline assembly) and the ABIs of the candidate's and the
original's contracts.
"""

from __future__ import annotations

import json
import operator
import re
import subprocess

DEFAULT_ACTORS = ("owner", "alice", "bob", "carol", "attacker", "accomplice", "viewer")
DEFAULT_ENV = {"block_number": 1, "timestamp": 1, "coinbase": "0x" + "00" * 20, "gas_price": 0, "difficulty": 1,
               "gas_limit": 30_000_000, "tx_gas": 1_000_000, "funds": 10**21, "ancestry": 0}
"""The environment of a scenario without draws; a draw may set any of these. ``tx_gas`` is every transaction's
gas (it bounds how long a looping contract runs in the interpreter), ``funds`` every actor's starting ether,
``ancestry`` the seed of the 256 ancestor hashes ``blockhash`` returns (a real chain has them; a fresh one
would answer 0)."""
DRAW_GAS = 5_000_000
"""Gas all transactions of one draw may burn together (a contract that loops burns each transaction's gas): once
it is spent, no further transaction of the draw runs, the phase it was in fails and an exploit phase counts as
exploited, so the bound never helps a candidate. A reference repair of the bundled families uses at most about
1,800,000 per draw."""
_SPENT = f"the draw's gas budget ({DRAW_GAS:,}) is spent"
_OPS = {"==": operator.eq, "!=": operator.ne, ">": operator.gt, ">=": operator.ge, "<": operator.lt,
        "<=": operator.le}
WATCHED_OPCODES = {0x32: "ORIGIN", 0xf2: "CALLCODE", 0xf4: "DELEGATECALL", 0xff: "SELFDESTRUCT"}
_METADATA = re.compile(rb"\xa1\x65bzzr0\x58\x20.{32}\x00\x29|\xa2\x65bzzr1\x58\x20.{32}\x64solc\x43.{3}\x00\x32"
                       rb"|\xa2\x64ipfs\x58\x22.{34}\x64solc\x43.{3}\x00\x33", re.S)
"""The CBOR metadata solc appends to each contract's code (swarm hashes up to 0.5, IPFS from 0.6): data, not
instructions."""


def default_actors() -> dict[str, str]:
    from eth_utils import keccak

    return {name: "0x" + keccak(text=f"codealign-actor-{name}")[-20:].hex() for name in DEFAULT_ACTORS}


def compile_sources(adapter: str, sources: dict[str, str]) -> tuple[dict, str]:
    """Standard-JSON compile; returns ({file: {"contracts": {name: {"abi", "bin"}}, "assembly": bool}}, error
    text or "")."""
    request = {"language": "Solidity", "sources": {name: {"content": text} for name, text in sources.items()},
               "settings": {"outputSelection": {"*": {"*": ["abi", "evm.bytecode.object"], "": ["ast"]}}}}
    proc = subprocess.run([adapter, "--standard-json"], input=json.dumps(request), capture_output=True, text=True,
                          timeout=120)
    try:
        out = json.loads(proc.stdout)
    except ValueError:
        return {}, (proc.stderr or proc.stdout or "no compiler output")[-4000:]
    errors = [e.get("formattedMessage") or e.get("message", "") for e in out.get("errors", [])
              if e.get("severity") == "error"]
    if errors:
        return {}, "\n".join(errors)[-4000:]
    units = {}
    for name in sources:
        contracts = out.get("contracts", {}).get(name, {})
        units[name] = {"contracts": {n: {"abi": c.get("abi", []),
                                         "bin": c.get("evm", {}).get("bytecode", {}).get("object", "")}
                                     for n, c in contracts.items()},
                       "assembly": _has_assembly(out.get("sources", {}).get(name, {}).get("ast"))}
    return units, ""


def _has_assembly(node) -> bool:
    """Whether an AST (compact or legacy form) holds an inline assembly block."""
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if item.get("nodeType") == "InlineAssembly" or item.get("name") == "InlineAssembly":
                return True
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def opcodes_in(code: bytes) -> list[str]:
    """Names of the :data:`WATCHED_OPCODES` among the instructions of ``code`` (push data and the compiler's
    metadata skipped). Data the compiler places after the code may read as instructions: a watched byte
    there is reported too (a false alarm is a refusal, never a pass)."""
    code = _METADATA.sub(b"\x00", code)
    found, i = set(), 0
    while i < len(code):
        op = code[i]
        if op in WATCHED_OPCODES:
            found.add(WATCHED_OPCODES[op])
        i += 1 + (op - 0x5f if 0x60 <= op <= 0x7f else 0)
    return sorted(found)


class GasBudgetSpent(Exception):
    """The draw's :data:`DRAW_GAS` is spent."""


class Chain:
    """A fresh Berlin chain at the draw's block (number, timestamp, coinbase, difficulty, gas limit) with the
    actors funded; transactions carry the draw's gas and pay its gas price."""

    def __init__(self, actors: dict[str, str], env: dict, budget: list[int]):
        from eth.chains.base import MiningChain
        from eth.db.atomic import AtomicDB
        from eth.vm.forks.berlin import BerlinVM
        from eth_utils import keccak

        env = {**DEFAULT_ENV, **env}
        self.actors = {name: bytes.fromhex(a[2:]) for name, a in actors.items()}
        self.gas_price, self.tx_gas = int(env["gas_price"]), int(env["tx_gas"])
        ancestry = int(env["ancestry"]).to_bytes(32, "big")
        ancestors = tuple(keccak(ancestry + depth.to_bytes(2, "big")) for depth in range(256))
        vm = type("ScenarioVM", (BerlinVM,), {"previous_hashes": property(lambda _: ancestors)})
        klass = MiningChain.configure(__name__="ScenarioChain", vm_configuration=((0, vm),), chain_id=1337)
        alloc = {a: {"balance": int(env["funds"]), "nonce": 0, "code": b"", "storage": {}}
                 for a in self.actors.values()}
        chain = klass.from_genesis(AtomicDB(), {"difficulty": 1, "gas_limit": 30_000_000, "timestamp": 1}, alloc)
        header = chain.header.copy(block_number=int(env["block_number"]), timestamp=int(env["timestamp"]),
                                   coinbase=bytes.fromhex(str(env["coinbase"])[2:]), difficulty=int(env["difficulty"]),
                                   gas_limit=int(env["gas_limit"]))
        self.vm = chain.get_vm(header)
        self.state = self.vm.state
        self.names: dict[str, bytes] = {f"@{n}": a for n, a in self.actors.items()}
        self.budget = budget

    def address(self, ref) -> bytes:
        if ref not in self.names:
            raise KeyError(f"unknown address {ref!r}")
        return self.names[ref]

    def send(self, sender: str, to: bytes, value: int, data: bytes):
        from eth.vm.spoof import SpoofTransaction

        if self.budget[0] <= 0:
            raise GasBudgetSpent
        origin = self.actors[sender]
        tx = self.vm.create_unsigned_transaction(nonce=self.state.get_nonce(origin), gas_price=self.gas_price,
                                                 gas=self.tx_gas, to=to, value=value, data=data)
        comp = self.state.apply_transaction(SpoofTransaction(tx, from_=origin))
        self.budget[0] -= comp.get_gas_used()
        return comp


def _types_of(signature: str) -> list[str]:
    inner = signature[signature.index("(") + 1: signature.rindex(")")]
    return [t for t in inner.split(",") if t]


def _arg(chain: Chain, value):
    """An argument with ``@name`` references replaced by addresses (inside arrays too)."""
    if isinstance(value, list):
        return [_arg(chain, v) for v in value]
    return chain.address(value) if isinstance(value, str) and value.startswith("@") else value


def _check(expect: dict, ok: bool, value) -> str:
    """Empty when ``expect`` holds, else why not."""
    if "ok" in expect and bool(expect["ok"]) != ok:
        return "reverted" if not ok else "did not revert"
    if "value" in expect:
        if not ok:
            return "reverted"
        if not _OPS[expect.get("op", "==")](value, expect["value"]):
            return f"got {value}, expected {expect.get('op', '==')} {expect['value']}"
    return ""


def _slot(chain: Chain, read: dict) -> int:
    from eth_utils import keccak

    slot = int(read["slot"])
    if "key" not in read:
        return slot
    key = _arg(chain, read["key"])
    key_word = key.rjust(32, b"\0") if isinstance(key, bytes) else int(key).to_bytes(32, "big")
    return int.from_bytes(keccak(key_word + slot.to_bytes(32, "big")), "big")


def _read(chain: Chain, read: dict) -> int | str:
    """The value of a state read: a balance, a storage slot (a whole word, or an address when the step says
    ``"returns": "address"``) or a sum of reads."""
    if "sum" in read:
        return sum(_read(chain, part) for part in read["sum"])
    if "balance" in read:
        return chain.state.get_balance(chain.address(read["balance"]))
    word = chain.state.get_storage(chain.address(read["storage"]), _slot(chain, read))
    if read.get("expect", {}).get("returns") == "address":
        return "0x" + (word % 2**160).to_bytes(20, "big").hex()
    return word


def _resolved(chain: Chain, expect: dict) -> dict:
    if isinstance(expect.get("value"), str) and expect["value"].startswith("@"):
        return dict(expect, value="0x" + chain.address(expect["value"]).hex())
    return expect


def _step(chain: Chain, step: dict, helpers: dict) -> str:
    """Run one step; "" when it met its expectation (or has none), else why not."""
    from eth_abi import decode, encode
    from eth_utils import function_signature_to_4byte_selector

    expect = _resolved(chain, step.get("expect", {}))
    if any(k in step for k in ("balance", "storage", "sum")):
        return _check(expect, True, _read(chain, step))
    sender = step.get("from", "viewer")
    if "deploy" in step:
        unit = helpers.get(step["deploy"])
        if unit is None:
            return f"no helper contract {step['deploy']}"
        code = bytes.fromhex(unit["bin"]) + encode(step.get("types", []), _arg(chain, step.get("args", [])))
        comp = chain.send(sender, b"", int(step.get("value", 0)), code)
        if comp.is_success:
            chain.names["@" + step["as"]] = comp.msg.storage_address
        return _check(expect, comp.is_success, None)
    data = function_signature_to_4byte_selector(step["call"]) + encode(_types_of(step["call"]),
                                                                        _arg(chain, step.get("args", [])))
    comp = chain.send(sender, chain.address(step.get("to", "@target")), int(step.get("value", 0)), data)
    value = None
    if comp.is_success and "returns" in expect:
        try:
            value = decode([expect["returns"]], comp.output)[0]
        except Exception as exc:  # a return that does not decode is a behaviour failure, not a harness one
            return f"return value does not decode: {type(exc).__name__}"
        if isinstance(value, str):
            value = value.lower()
    return _check(expect, comp.is_success, value)


def _fresh(scenario: dict, draw: dict, contracts: dict, budget: list[int]) -> tuple[Chain | None, str]:
    chain = Chain(draw["actors"], draw["env"], budget)
    target = contracts.get(scenario["contract"])
    if target is None or not target["bin"]:
        return None, f"no deployable contract {scenario['contract']}"
    ctor = draw.get("constructor", {})
    from eth_abi import encode

    comp = chain.send("owner", b"", int(ctor.get("value", 0)),
                      bytes.fromhex(target["bin"]) + encode(ctor.get("types", []), _arg(chain, ctor.get("args", []))))
    if not comp.is_success:
        return None, "deployment reverted"
    chain.names["@target"] = comp.msg.storage_address
    return chain, ""


def _draw(scenario: dict, draw: dict, contracts: dict, helpers: dict, budget: list[int]) -> dict:
    """One draw: its functional phase and each exploit, every phase from the same freshly deployed target (a
    state snapshot taken after the deployment, reverted to before each phase)."""
    exploits = draw.get("exploits", [])
    try:
        chain, error = _fresh(scenario, draw, contracts, budget)
    except GasBudgetSpent:
        chain, error = None, _SPENT
    if chain is None:
        return {"functional": {"ok": False, "error": error, "steps": []},
                "exploits": [{"variant": e.get("variant", ""), "exploited": error == _SPENT, "error": error,
                              "steps": []} for e in exploits]}
    deployed = dict(chain.names)

    def phase(steps: list[dict], final: list[dict] | None = None) -> list[str]:
        snapshot = chain.state.snapshot()
        try:
            outcomes = [_step(chain, step, helpers) for step in steps]
            return outcomes if final is None else [_step(chain, step, helpers) for step in final]
        except GasBudgetSpent:
            return [_SPENT] if final is None else []
        finally:
            chain.state.revert(snapshot)
            chain.names = dict(deployed)

    functional = phase(draw.get("functional", []))
    outcome = {"functional": {"ok": not any(functional), "error": "", "steps": functional}, "exploits": []}
    for exploit in exploits:
        met = phase(exploit["steps"], exploit["exploited"])
        outcome["exploits"].append({"variant": exploit.get("variant", ""), "exploited": not any(met), "error": "",
                                    "steps": met})
    return outcome


def draws_of(scenario: dict) -> list[dict]:
    """The scenario's draws; a scenario written as one fixed run is one draw on the default environment."""
    if "draws" in scenario:
        return scenario["draws"]
    exploits = [{"variant": "fixed", "steps": scenario.get("exploit", []), "exploited": scenario.get("exploited", [])}]
    return [{"env": DEFAULT_ENV, "actors": default_actors(), "constructor": scenario.get("constructor", {}),
             "functional": scenario.get("functional", []), "exploits": exploits}]


def run(request: dict, adapter: str) -> dict:
    """The reply for an ``evm`` request: compile status, facts about the candidate's code, then per draw the
    functional phase and each exploit's outcome."""
    scenario = request["evm"]
    sources = {"contract.sol": request["source"]}
    if scenario.get("helpers"):
        sources["helpers.sol"] = scenario["helpers"]
    if scenario.get("original"):
        sources["original.sol"] = scenario["original"]
    compiled, error = compile_sources(adapter, sources)
    reply = {"ok": True, "compiled": not error, "compile_error": error, "analysis_error": "", "detectors": [],
             "abis": {}}
    if error:
        return reply
    # The target comes only from the candidate's file and helpers only from the task's, so a candidate cannot
    # stand in for the attacker by defining a contract of the same name.
    contracts = compiled["contract.sol"]["contracts"]
    helpers = compiled.get("helpers.sol", {}).get("contracts", {})
    original = compiled.get("original.sol", {}).get("contracts", {})
    reply["abis"] = {name: c["abi"] for name, c in contracts.items()}
    target = contracts.get(scenario["contract"], {"bin": ""})
    original_opcodes = {op for c in original.values() for op in opcodes_in(bytes.fromhex(c["bin"]))}
    reply["evm"] = {"draws": [_draw(scenario, draw, contracts, helpers, [DRAW_GAS]) for draw in draws_of(scenario)],
                    "opcodes": opcodes_in(bytes.fromhex(target["bin"])),
                    "assembly": compiled["contract.sol"]["assembly"], "original_opcodes": sorted(original_opcodes),
                    "original_abis": {name: c["abi"] for name, c in original.items()}}
    return reply
