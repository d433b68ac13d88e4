"""Makes solc-js answer like the native ``solc`` command line, for crytic-compile and Slither.

Run through a generated wrapper (see ``codealign.domains.solidity.solc.write_adapter``) that fixes the compiler::

    python -S solc_adapter.py --node NODE --server solc_server.js --solc-version 0.4.24 \
        --module-dir DIR [--wrapper-dir DIR] [--socket PATH] -- <solc arguments>

Answers ``--version``, ``--standard-json`` (input on stdin) and ``FILE... --combined-json LIST`` the way
native solc does: JSON on stdout, diagnostics on stderr, exit status 1 when compilation fails. For solc < 0.8
the ``abi``, ``userdoc`` and ``devdoc`` fields of combined JSON are JSON strings, as native solc printed them.
With ``--socket`` it sends the compile to a warm ``solc_server.js`` listening there; without it, or when
nothing listens, it starts one node process for this compile.

Standard library only, so it starts fast (it runs once per compile).
"""

from __future__ import annotations

import json
import os
import shlex
import socket
import subprocess
import sys
import tempfile

_COMBINED_TO_SELECTION = {
    "abi": "abi",
    "bin": "evm.bytecode.object",
    "bin-runtime": "evm.deployedBytecode.object",
    "srcmap": "evm.bytecode.sourceMap",
    "srcmap-runtime": "evm.deployedBytecode.sourceMap",
    "userdoc": "userdoc",
    "devdoc": "devdoc",
    "hashes": "evm.methodIdentifiers",
    "opcodes": "evm.bytecode.opcodes",
    "asm": "evm.legacyAssembly",
    "metadata": "metadata",
}
_IGNORED_WITH_VALUE = ("--allow-paths", "--base-path", "--include-path", "--evm-version")
_IGNORED_FLAGS = ("--no-color", "--color", "--pretty-json")


def _version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in text.split("+")[0].split(".")[:3])


class Adapter:
    def __init__(self, opts: dict[str, str]):
        self.node = opts["--node"]
        self.server = opts["--server"]
        self.version = opts["--solc-version"]
        self.module_dir = opts["--module-dir"]
        self.wrapper_dir = opts.get("--wrapper-dir")
        self.socket = opts.get("--socket")

    def compile(self, input_text: str) -> dict:
        """Standard-JSON output for a standard-JSON input, from the warm server when one listens."""
        if self.socket and os.path.exists(self.socket):
            try:
                return json.loads(self._ask_server(input_text))
            except OSError:
                pass
        return json.loads(self._compile_once(input_text))

    def _ask_server(self, input_text: str) -> str:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.connect(self.socket)
            conn.sendall(input_text.encode("utf-8"))
            conn.shutdown(socket.SHUT_WR)
            chunks = []
            while True:
                chunk = conn.recv(1 << 20)
                if not chunk:
                    break
                chunks.append(chunk)
        return b"".join(chunks).decode("utf-8")

    def _compile_once(self, input_text: str) -> str:
        with tempfile.TemporaryDirectory(prefix="solc-adapter-") as tmp:
            src, dst = os.path.join(tmp, "in.json"), os.path.join(tmp, "out.json")
            with open(src, "w", encoding="utf-8") as fh:
                fh.write(input_text)
            argv = [self.node, self.server, self.module_dir]
            if self.wrapper_dir:
                argv.append(self.wrapper_dir)
            proc = subprocess.run([*argv, "--once", src, dst], stdin=subprocess.DEVNULL,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            if proc.returncode != 0 or not os.path.exists(dst):
                sys.stderr.write(proc.stderr.decode("utf-8", "replace"))
                raise SystemExit(1)
            with open(dst, encoding="utf-8") as fh:
                return fh.read()

    # -- command lines ----------------------------------------------------------------------------------
    def version_text(self) -> str:
        return f"solc, the solidity compiler commandline interface\nVersion: {self.version}\n"

    def standard_json(self) -> int:
        output = self.compile(sys.stdin.read())
        sys.stdout.write(json.dumps(output))
        return 0

    def combined_json(self, files: list[str], wanted: list[str], optimize: bool, runs: int) -> int:
        old = _version_tuple(self.version) < (0, 8, 0)
        sources = {}
        for name in files:
            try:
                with open(name, encoding="utf-8", errors="surrogateescape") as fh:
                    sources[name] = {"content": fh.read()}
            except OSError as exc:
                sys.stderr.write(f"\"{name}\" is not found: {exc.strerror}\n")
                return 1
        contract_outputs = sorted({_COMBINED_TO_SELECTION[w] for w in wanted if w in _COMBINED_TO_SELECTION})
        file_outputs = ["ast", "legacyAST"] if old else ["ast"]
        request = {
            "language": "Solidity",
            "sources": sources,
            "settings": {
                "optimizer": {"enabled": optimize, "runs": runs},
                "outputSelection": {"*": {"*": contract_outputs, "": file_outputs}},
            },
        }
        output = self.compile(json.dumps(request))
        failed = False
        for err in output.get("errors", []):
            sys.stderr.write(err.get("formattedMessage") or err.get("message", "") + "\n")
            failed = failed or err.get("severity") == "error"
        if failed:
            return 1
        compact = "compact-format" in wanted or _version_tuple(self.version) >= (0, 8, 10)
        combined = {"contracts": {}, "sourceList": list(sources), "version": self.version}
        for fname, contracts in output.get("contracts", {}).items():
            for cname, info in contracts.items():
                combined["contracts"][f"{fname}:{cname}"] = _combined_contract(info, wanted, old)
        if "ast" in wanted:
            combined["sources"] = {}
            for fname, info in output.get("sources", {}).items():
                ast = info.get("ast") if compact else info.get("legacyAST", info.get("ast"))
                if ast is None:
                    ast = info.get("legacyAST") or info.get("AST")
                combined["sources"][fname] = {"AST": ast}
        sys.stdout.write(json.dumps(combined))
        return 0


def _combined_contract(info: dict, wanted: list[str], old: bool) -> dict:
    evm = info.get("evm", {})
    out: dict = {}
    for key in wanted:
        if key == "abi":
            out[key] = json.dumps(info.get("abi", [])) if old else info.get("abi", [])
        elif key in ("userdoc", "devdoc"):
            doc = info.get(key, {})
            out[key] = json.dumps(doc) if old else doc
        elif key == "bin":
            out[key] = evm.get("bytecode", {}).get("object", "")
        elif key == "bin-runtime":
            out[key] = evm.get("deployedBytecode", {}).get("object", "")
        elif key == "srcmap":
            out[key] = evm.get("bytecode", {}).get("sourceMap", "")
        elif key == "srcmap-runtime":
            out[key] = evm.get("deployedBytecode", {}).get("sourceMap", "")
        elif key == "hashes":
            out[key] = evm.get("methodIdentifiers", {})
        elif key == "opcodes":
            out[key] = evm.get("bytecode", {}).get("opcodes", "")
        elif key == "asm":
            out[key] = evm.get("legacyAssembly")
        elif key == "metadata":
            out[key] = info.get("metadata", "")
    return out


def wrapper_script(python: str, node: str, server: str, adapter: str, version: str, module_dir: str,
                   wrapper_dir: str | None = None, socket_path: str | None = None) -> str:
    """The text of an executable ``sh`` script that behaves like native ``solc`` of ``version``."""
    argv = [python, "-S", adapter, "--node", node, "--server", server, "--solc-version", version,
            "--module-dir", module_dir]
    if wrapper_dir:
        argv += ["--wrapper-dir", wrapper_dir]
    if socket_path:
        argv += ["--socket", socket_path]
    version_text = f"solc, the solidity compiler commandline interface\\nVersion: {version}\\n"
    return ("#!/bin/sh\n"
            f"if [ \"$*\" = --version ]; then printf '{version_text}'; exit 0; fi\n"
            "exec " + " ".join(shlex.quote(a) for a in argv) + ' -- "$@"\n')


def main(argv: list[str]) -> int:
    if "--" not in argv:
        sys.stderr.write("solc_adapter: expected adapter options, then '--', then solc arguments\n")
        return 2
    split = argv.index("--")
    head, args = argv[:split], argv[split + 1:]
    opts = dict(zip(head[::2], head[1::2]))
    adapter = Adapter(opts)
    files: list[str] = []
    wanted: list[str] | None = None
    optimize, runs = False, 200
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--version":
            sys.stdout.write(adapter.version_text())
            return 0
        if arg == "--standard-json":
            return adapter.standard_json()
        if arg == "--combined-json":
            if i + 1 >= len(args):
                sys.stderr.write("the option '--combined-json' requires an argument\n")
                return 1
            wanted = [w for w in args[i + 1].split(",") if w]
            i += 2
            continue
        if arg in _IGNORED_WITH_VALUE:
            i += 2
            continue
        if arg == "--optimize":
            optimize = True
        elif arg == "--optimize-runs":
            runs = int(args[i + 1])
            i += 1
        elif arg in _IGNORED_FLAGS:
            pass
        elif arg.startswith("-"):
            sys.stderr.write(f"unrecognised option '{arg}'\n")
            return 1
        elif "=" in arg:
            sys.stderr.write(f"solc_adapter: import remappings are not supported ({arg})\n")
            return 1
        else:
            files.append(arg)
        i += 1
    if wanted is None or not files:
        sys.stderr.write("solc_adapter: supports --version, --standard-json and FILE... --combined-json LIST\n")
        return 1
    return adapter.combined_json(files, wanted, optimize, runs)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
