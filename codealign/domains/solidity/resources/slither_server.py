"""Slither through its Python API in one long-lived process, with warm solc-js compilers.

Runs inside the sandbox (a :mod:`codealign.sandbox.worker` worker, or once as a job)::

    python slither_server.py --serve CONFIG.json       # worker protocol: requests on stdin, replies on fd 3
    python slither_server.py --once CONFIG.json REQ.json...  # one reply per request on fd 3, cold compilers

CONFIG names the tools: ``python``, ``node``, ``adapter`` (solc_adapter.py), ``server`` (solc_server.js),
``max_compilers`` (warm node compilers kept at once). A request is
``{"source": str, "filename": "contract.sol", "solc": {"version", "module_dir", "wrapper_dir"}}``; the reply
is ``{"ok", "compiled", "compile_error", "analysis_error", "detectors": [...], "abis": {...}}`` where
``detectors`` are the very objects ``slither FILE --json`` lists under ``results.detectors``. A request
with an ``evm`` scenario is run on py-evm (``evm_runner.py``); its reply adds ``evm``, and when the scenario
says ``"slither": true`` also Slither's findings on the same contract (its failure in ``evm.slither_error``).

Slither is driven through the same functions its command line uses (``parse_args``, ``choose_detectors``,
``process_all``) with the argument list ``FILE --solc ADAPTER``, so the findings are the command line's.
Each request runs in a fresh sub-directory that is deleted afterwards.
"""

from __future__ import annotations

import collections
import json
import os
import shutil
import subprocess
import sys
import time
import traceback

import evm_runner
from solc_adapter import wrapper_script


class Compilers:
    """Warm ``solc_server.js`` processes, one per compiler version, least recently used evicted."""

    def __init__(self, config: dict, warm: bool):
        self.config = config
        self.warm = warm
        self.root = os.path.abspath("compilers")
        os.makedirs(self.root, exist_ok=True)
        self.servers: collections.OrderedDict[str, subprocess.Popen] = collections.OrderedDict()

    def adapter(self, solc: dict) -> str:
        """Path of an executable that behaves like native ``solc`` of this version."""
        version = solc["version"]
        sock = os.path.join(self.root, f"solc-{version}.sock")
        if self.warm:
            self._ensure_server(solc, sock)
        path = os.path.join(self.root, f"solc-{version}")
        if not os.path.exists(path):
            cfg = self.config
            with open(path, "w") as fh:
                fh.write(wrapper_script(cfg["python"], cfg["node"], cfg["server"], cfg["adapter"], version,
                                        solc["module_dir"], solc.get("wrapper_dir"), sock if self.warm else None))
            os.chmod(path, 0o755)
        return path

    def _ensure_server(self, solc: dict, sock: str) -> None:
        version = solc["version"]
        proc = self.servers.get(version)
        if proc is not None and proc.poll() is None:
            self.servers.move_to_end(version)
            return
        while len(self.servers) >= int(self.config.get("max_compilers", 3)):
            _, old = self.servers.popitem(last=False)
            old.kill()
            old.wait()
        for stale in (sock, sock + ".ready"):
            if os.path.exists(stale):
                os.unlink(stale)
        argv = [self.config["node"], self.config["server"], solc["module_dir"]]
        if solc.get("wrapper_dir"):
            argv.append(solc["wrapper_dir"])
        proc = subprocess.Popen([*argv, "--socket", sock], stdin=subprocess.PIPE, stdout=sys.stderr.fileno())
        self.servers[version] = proc
        deadline = time.monotonic() + 120
        while not os.path.exists(sock + ".ready") and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)


def analyse(request: dict, compilers: Compilers) -> dict:
    from crytic_compile.platform.exceptions import InvalidCompilation
    from slither.__main__ import choose_detectors, get_detectors_and_printers, parse_args, process_all

    workdir = os.path.abspath(f"req-{os.getpid()}-{time.monotonic_ns()}")
    os.makedirs(workdir)
    here = os.getcwd()
    reply = {"ok": True, "compiled": False, "compile_error": "", "analysis_error": "", "detectors": [], "abis": {}}
    try:
        os.chdir(workdir)
        filename = request.get("filename") or "contract.sol"
        with open(filename, "w", encoding="utf-8", errors="surrogateescape") as fh:
            fh.write(request["source"])
        adapter = compilers.adapter(request["solc"])
        detectors, printers = get_detectors_and_printers()
        saved_argv = sys.argv
        sys.argv = ["slither", filename, "--solc", adapter]
        try:
            args = parse_args(detectors, printers)
        finally:
            sys.argv = saved_argv
        chosen = choose_detectors(args, detectors)
        try:
            instances, results, _, _ = process_all(filename, args, chosen, [])
        except InvalidCompilation as exc:
            reply["compile_error"] = str(exc)[-8000:]
            return reply
        reply["compiled"] = True
        reply["detectors"] = results
        for instance in instances:
            for unit in instance.crytic_compile.compilation_units.values():
                for source_unit in unit.source_units.values():
                    reply["abis"].update(source_unit.abis)
    except Exception as exc:  # Slither's own failures are reported as data, the worker stays up
        reply["analysis_error"] = f"{type(exc).__name__}: {exc}"[:4000]
        reply["traceback"] = traceback.format_exc()[-4000:]
    finally:
        os.chdir(here)
        shutil.rmtree(workdir, ignore_errors=True)
    return reply


def handle(request: dict, compilers: Compilers) -> dict:
    """A request with an ``evm`` scenario is compiled and run on py-evm (:mod:`evm_runner`), others analysed."""
    if "evm" not in request:
        return analyse(request, compilers)
    try:
        reply = evm_runner.run(request, compilers.adapter(request["solc"]))
        if reply["compiled"] and request["evm"].get("slither"):
            analysed = analyse(request, compilers)
            reply["detectors"] = analysed["detectors"]
            reply["evm"]["slither_error"] = analysed["analysis_error"] or analysed["compile_error"]
        return reply
    except Exception as exc:  # a harness fault on this request is reported as data, the worker stays up
        return {"ok": True, "compiled": False, "compile_error": "", "detectors": [], "abis": {},
                "analysis_error": f"{type(exc).__name__}: {exc}"[:4000], "traceback": traceback.format_exc()[-4000:]}


def main(argv: list[str]) -> int:
    mode, config_path = argv[0], argv[1]
    with open(config_path) as fh:
        config = json.load(fh)
    out = os.fdopen(3, "w")

    def send(obj: dict) -> None:
        out.write(json.dumps(obj, default=str) + "\n")
        out.flush()

    import logging

    logging.basicConfig(stream=sys.stderr, level=logging.ERROR)
    if mode == "--once":
        compilers = Compilers(config, warm=False)
        for path in argv[2:]:
            with open(path) as fh:
                send(handle(json.load(fh), compilers))
        return 0
    compilers = Compilers(config, warm=True)
    import slither.__main__  # noqa: F401  (the import is the expensive part of start-up)

    send({"ready": True})
    for line in sys.stdin:
        if line.strip():
            send(handle(json.loads(line), compilers))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
