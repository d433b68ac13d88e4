"""Runs a contract's scenario on a fresh in-memory py-evm chain, inside the sandbox.

Imported by ``slither_server.py`` for a request with an ``evm`` field: the candidate (``contract.sol``) and the
task's helper contracts (``helpers.sol``, e.g. an attacker) are compiled together through the solc adapter
(standard JSON), then each phase of the scenario runs on its own fresh chain. Nothing the contracts do can
reach the reply except through the results computed here.

Scenario (``Task.assets["evm"]``)::

    {"contract": "Vault", "helpers": "<solidity source>", "constructor": {"types": [...], "args": [...]},
     "functional": [STEP, ...], "exploit": [STEP, ...], "exploited": [STEP, ...]}

A STEP is a transaction ``{"from": ACTOR, "to": "@target", "call": "withdraw(uint256)", "args": [...],
"value": wei, "expect": {...}}``, a deployment ``{"from": ACTOR, "deploy": "Attack", "as": "attack",
"types": [...], "args": [...], "value": wei}`` or a balance read ``{"balance": "@attack", "expect": {...}}``.
``expect`` is ``{"ok": bool}`` and/or ``{"returns": "uint256", "op": "==", "value": v}``. Actors are the
funded accounts :data:`ACTORS`; an argument or address written ``@name`` is an actor, ``@target`` or a
deployed helper. ``functional`` steps must all meet their expectations; ``exploit`` steps run without
expectations, then the exploit succeeded when every ``exploited`` step meets its expectation.
"""

from __future__ import annotations

import json
import operator
import subprocess

ACTORS = ("owner", "alice", "bob", "attacker", "viewer")
FUNDS = 10**21
GAS = 1_000_000
"""Gas of every transaction: ample for these contracts (deployments included), and it bounds how long a
looping contract runs in the interpreter."""
_OPS = {"==": operator.eq, "!=": operator.ne, ">": operator.gt, ">=": operator.ge, "<": operator.lt,
        "<=": operator.le}


def compile_sources(adapter: str, sources: dict[str, str]) -> tuple[dict, str]:
    """Standard-JSON compile; returns ({file: {contract: {"abi", "bin"}}}, error text or "")."""
    request = {"language": "Solidity", "sources": {name: {"content": text} for name, text in sources.items()},
               "settings": {"outputSelection": {"*": {"*": ["abi", "evm.bytecode.object"]}}}}
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
    contracts = {f: {n: {"abi": c.get("abi", []), "bin": c.get("evm", {}).get("bytecode", {}).get("object", "")}
                     for n, c in units.items()} for f, units in out.get("contracts", {}).items()}
    return contracts, ""


class Chain:
    """A fresh Berlin chain (gas price 0, so balances move only by value) with the actors funded."""

    def __init__(self):
        from eth.chains.base import MiningChain
        from eth.db.atomic import AtomicDB
        from eth.vm.forks.berlin import BerlinVM
        from eth_utils import keccak

        self.actors = {name: keccak(text=f"codealign-actor-{name}")[-20:] for name in ACTORS}
        klass = MiningChain.configure(__name__="ScenarioChain", vm_configuration=((0, BerlinVM),), chain_id=1337)
        alloc = {a: {"balance": FUNDS, "nonce": 0, "code": b"", "storage": {}} for a in self.actors.values()}
        chain = klass.from_genesis(AtomicDB(), {"difficulty": 1, "gas_limit": 30_000_000, "timestamp": 1}, alloc)
        self.vm = chain.get_vm()
        self.state = self.vm.state
        self.names: dict[str, bytes] = {f"@{n}": a for n, a in self.actors.items()}

    def address(self, ref) -> bytes:
        if ref not in self.names:
            raise KeyError(f"unknown address {ref!r}")
        return self.names[ref]

    def send(self, sender: str, to: bytes, value: int, data: bytes):
        from eth.vm.spoof import SpoofTransaction

        origin = self.actors[sender]
        tx = self.vm.create_unsigned_transaction(nonce=self.state.get_nonce(origin), gas_price=0, gas=GAS, to=to,
                                                 value=value, data=data)
        return self.state.apply_transaction(SpoofTransaction(tx, from_=origin))


def _types_of(signature: str) -> list[str]:
    inner = signature[signature.index("(") + 1: signature.rindex(")")]
    return [t for t in inner.split(",") if t]


def _args(chain: Chain, values: list) -> list:
    """Arguments with ``@name`` references replaced by addresses (inside arrays too)."""
    return [_args(chain, v) if isinstance(v, list) else chain.address(v) if isinstance(v, str) and v.startswith("@")
            else v for v in values]


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


def _step(chain: Chain, step: dict, helpers: dict) -> str:
    """Run one step; "" when it met its expectation (or has none), else why not."""
    from eth_abi import decode, encode
    from eth_utils import function_signature_to_4byte_selector

    expect = step.get("expect", {})
    if "balance" in step:
        return _check(expect, True, chain.state.get_balance(chain.address(step["balance"])))
    sender = step.get("from", "viewer")
    if "deploy" in step:
        unit = helpers.get(step["deploy"])
        if unit is None:
            return f"no helper contract {step['deploy']}"
        code = bytes.fromhex(unit["bin"]) + encode(step.get("types", []), _args(chain, step.get("args", [])))
        comp = chain.send(sender, b"", int(step.get("value", 0)), code)
        if comp.is_success:
            chain.names["@" + step["as"]] = comp.msg.storage_address
        return _check(expect, comp.is_success, None)
    data = function_signature_to_4byte_selector(step["call"]) + encode(_types_of(step["call"]),
                                                                        _args(chain, step.get("args", [])))
    comp = chain.send(sender, chain.address(step.get("to", "@target")), int(step.get("value", 0)), data)
    value = None
    if comp.is_success and "returns" in expect:
        try:
            value = decode([expect["returns"]], comp.output)[0]
        except Exception as exc:  # a return that does not decode is a behaviour failure, not a harness one
            return f"return value does not decode: {type(exc).__name__}"
        if isinstance(value, str):
            value = value.lower()
    if isinstance(expect.get("value"), str) and expect["value"].startswith("@"):
        expect = dict(expect, value="0x" + chain.address(expect["value"]).hex())
    return _check(expect, comp.is_success, value)


def _fresh(scenario: dict, contracts: dict) -> tuple[Chain | None, str]:
    chain = Chain()
    target = contracts.get(scenario["contract"])
    if target is None or not target["bin"]:
        return None, f"no deployable contract {scenario['contract']}"
    ctor = scenario.get("constructor", {})
    comp = chain.send("owner", b"", int(ctor.get("value", 0)),
                      bytes.fromhex(target["bin"]) + _encode_ctor(chain, ctor))
    if not comp.is_success:
        return None, "deployment reverted"
    chain.names["@target"] = comp.msg.storage_address
    return chain, ""


def _encode_ctor(chain: Chain, ctor: dict) -> bytes:
    from eth_abi import encode

    return encode(ctor.get("types", []), _args(chain, ctor.get("args", [])))


def _phase(scenario: dict, contracts: dict, helpers: dict, steps: list[dict], final: list[dict] | None = None) -> dict:
    """Steps on a fresh chain with the target deployed; ``ok`` when every step of ``final`` (or of ``steps``
    when there is no ``final``) met its expectation, ``steps`` the reasons (empty strings where met)."""
    chain, error = _fresh(scenario, contracts)
    if chain is None:
        return {"ok": False, "error": error, "steps": []}
    outcomes = [_step(chain, step, helpers) for step in steps]
    if final is not None:
        outcomes = [_step(chain, step, helpers) for step in final]
    return {"ok": not any(outcomes), "error": "", "steps": outcomes}


def run(request: dict, adapter: str) -> dict:
    """The reply for an ``evm`` request: compile status, then the functional and exploit phases."""
    scenario = request["evm"]
    sources = {"contract.sol": request["source"]}
    if scenario.get("helpers"):
        sources["helpers.sol"] = scenario["helpers"]
    compiled, error = compile_sources(adapter, sources)
    reply = {"ok": True, "compiled": not error, "compile_error": error, "analysis_error": "", "detectors": [],
             "abis": {}}
    if error:
        return reply
    # The target comes only from the candidate's file and helpers only from the task's, so a candidate cannot
    # stand in for the attacker by defining a contract of the same name.
    contracts, helpers = compiled.get("contract.sol", {}), compiled.get("helpers.sol", {})
    reply["abis"] = {name: c["abi"] for name, c in contracts.items()}
    functional = _phase(scenario, contracts, helpers, scenario.get("functional", []))
    exploit = _phase(scenario, contracts, helpers, scenario.get("exploit", []), scenario.get("exploited", []))
    reply["evm"] = {"functional": functional, "exploited": exploit["ok"], "exploit": exploit}
    return reply
