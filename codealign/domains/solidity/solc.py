"""solc-js compilers: where they are installed, which one a contract's pragma picks, and the adapter that
lets crytic-compile and Slither drive them as if they were native ``solc``.

Compilers are npm ``solc`` packages installed side by side under ``$CODEALIGN_HOME/solc/<version>``
(``CODEALIGN_HOME`` defaults to ``~/.cache/codealign``) by :func:`install_solc` — the step behind
``codealign doctor --install solidity:X``. Nothing is ever downloaded while judging: a contract whose pragma no
installed compiler satisfies is a SANDBOX_ERROR naming that command. A global ``solcjs`` (``npm install -g
solc``) counts as installed.

Old compilers: solc-js 0.4.11 and later answer standard JSON through ``require('solc')``; 0.4.1-0.4.10 ship
a wrapper without it, so their ``soljson.js`` is wrapped by the ``wrapper.js`` of solc 0.4.26
(:data:`LEGACY_WRAPPER`), which :func:`install_solc` installs alongside. npm's ``solc@0.4.0`` is broken (its
soljson.js is an HTML page): 0.4.1 satisfies ``^0.4.0``.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from codealign.errors import UserError

RESOURCES = Path(__file__).resolve().parent / "resources"
ADAPTER = RESOURCES / "solc_adapter.py"
SERVER = RESOURCES / "solc_server.js"
SLITHER_SERVER = RESOURCES / "slither_server.py"
LEGACY_WRAPPER = "0.4.26"
BROKEN_ON_NPM = {"0.4.0": "0.4.1"}
DEFAULT_VERSIONS = ("0.4.1", "0.4.9", "0.4.10", "0.4.11", "0.4.15", "0.4.16", "0.4.18", "0.4.19", "0.4.21",
                    "0.4.22", "0.4.23", "0.4.24", "0.4.25", "0.4.26")
"""What the tests and the SmartBugs benchmark need: the versions SmartBugs-curated compiled its
source-available contracts with (0.4.1 standing in for npm's broken 0.4.0) and 0.4.26, the newest 0.4 and
the wrapper for 0.4.1-0.4.10. 0.8.x comes from the global ``npm install -g solc``."""
_VERSION = re.compile(r"^\d+\.\d+\.\d+$")


def codealign_home() -> Path:
    """``$CODEALIGN_HOME`` or ``~/.cache/codealign``."""
    return Path(os.environ.get("CODEALIGN_HOME") or Path.home() / ".cache" / "codealign")


def solc_root() -> Path:
    return codealign_home() / "solc"


def vtuple(version: str) -> tuple[int, int, int]:
    parts = [int(x) for x in version.split("+")[0].split(".")[:3]]
    return tuple(parts + [0] * (3 - len(parts)))  # type: ignore[return-value]


@dataclass(frozen=True)
class SolcInstall:
    """One installed solc-js: ``module_dir`` is the npm package folder, ``wrapper_dir`` the package whose
    wrapper.js must wrap its soljson.js (0.4.1-0.4.10 only)."""

    version: str
    module_dir: str
    wrapper_dir: str | None = None

    def to_request(self) -> dict:
        return {"version": self.version, "module_dir": self.module_dir, "wrapper_dir": self.wrapper_dir}


def _package_version(module_dir: Path) -> str | None:
    try:
        return json.loads((module_dir / "package.json").read_text())["version"]
    except (OSError, ValueError, KeyError):
        return None


def _global_solcjs() -> Path | None:
    exe = shutil.which("solcjs")
    if exe is None:
        return None
    module_dir = Path(os.path.realpath(exe)).parent
    return module_dir if (module_dir / "package.json").is_file() else None


def installed_solcs(root: Path | None = None) -> dict[str, SolcInstall]:
    """Installed compilers by version: those under ``solc_root()`` and the global ``solcjs``."""
    root = root or solc_root()
    found: dict[str, Path] = {}
    glob_dir = _global_solcjs()
    if glob_dir is not None and _package_version(glob_dir):
        found[_package_version(glob_dir)] = glob_dir
    if root.is_dir():
        for entry in sorted(root.iterdir()):
            module_dir = entry / "node_modules" / "solc"
            version = _package_version(module_dir)
            if version and version == entry.name and (module_dir / "soljson.js").is_file():
                found[version] = module_dir
    wrapper = found.get(LEGACY_WRAPPER)
    result = {}
    for version, module_dir in found.items():
        needs_wrapper = (0, 4, 0) < vtuple(version) < (0, 4, 11)
        if needs_wrapper and wrapper is None:
            continue
        result[version] = SolcInstall(version, str(module_dir), str(wrapper) if needs_wrapper else None)
    return result


def install_solc(version: str, root: Path | None = None, npm: str | None = None) -> Path:
    """Install solc-js ``version`` with npm under ``solc_root()`` (plus the legacy wrapper for 0.4.1-0.4.10)
    unless it is there already; returns the installed npm package folder. Raises :class:`UserError` when the
    version is malformed, known broken, or npm fails. Needs the npm registry: an install step, never called
    while judging."""
    if not _VERSION.match(version or ""):
        raise UserError(f"solc version must look like 0.4.24, got {version!r}")
    if version in BROKEN_ON_NPM:
        raise UserError(f"npm solc@{version} is broken (its soljson.js is not a compiler); "
                        f"install {BROKEN_ON_NPM[version]} instead, which satisfies the same pragma")
    npm = npm or shutil.which("npm")
    if npm is None:
        raise UserError("npm not found on PATH; install Node.js 18+ with npm to add solc-js compilers")
    root = root or solc_root()
    wanted = [version]
    if (0, 4, 0) < vtuple(version) < (0, 4, 11):
        wanted.append(LEGACY_WRAPPER)
    for v in wanted:
        target = root / v
        if _package_version(target / "node_modules" / "solc") == v:
            continue
        target.mkdir(parents=True, exist_ok=True)
        proc = subprocess.run([npm, "install", "--no-audit", "--no-fund", "--prefix", str(target), f"solc@{v}"],
                              capture_output=True, text=True)
        if proc.returncode != 0 or _package_version(target / "node_modules" / "solc") != v:
            shutil.rmtree(target, ignore_errors=True)
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
            raise UserError(f"npm install solc@{v} failed: {tail[0]}")
        subprocess.run(["chmod", "-R", "a+rX", str(target)], check=False)
    return root / version / "node_modules" / "solc"


def installed_versions(root: Path | None = None) -> list[str]:
    """Versions of the installed compilers, oldest first."""
    return sorted(installed_solcs(root), key=vtuple)


# -- pragmas ---------------------------------------------------------------------------------------------
_PRAGMA = re.compile(r"pragma\s+solidity\s+([^;]+);")
_COMPARATOR = re.compile(r"(\^|~|>=|<=|>|<|=)?\s*v?(\d+)(?:\.(\d+|x|\*))?(?:\.(\d+|x|\*))?")


def _strip_comments(source: str) -> str:
    return re.sub(r"//[^\n]*|/\*.*?\*/", " ", source, flags=re.S)


def pragma_ranges(source: str) -> list[str]:
    """The version expressions of every ``pragma solidity`` in the source (comments ignored)."""
    return [m.group(1).strip() for m in _PRAGMA.finditer(_strip_comments(source))]


def _comparator_ok(version: tuple[int, int, int], op: str, parts: list[str | None]) -> bool:
    nums = [int(p) for p in parts if p is not None and p not in ("x", "*")]
    base = tuple(nums + [0] * (3 - len(nums)))
    if op == "^":
        if nums[0] > 0 or len(nums) == 1:
            upper = (nums[0] + 1, 0, 0)
        elif nums[1] > 0 or len(nums) == 2:
            upper = (0, nums[1] + 1, 0)
        else:
            upper = (0, 0, nums[2] + 1)
        return base <= version < upper
    if op == "~":
        upper = (nums[0] + 1, 0, 0) if len(nums) == 1 else (nums[0], nums[1] + 1, 0)
        return base <= version < upper
    if op in ("", "="):
        return version[:len(nums)] == tuple(nums)
    return {">=": version >= base, "<=": version <= base, ">": version > base, "<": version < base}[op]


def satisfies(version: str, expression: str) -> bool:
    """Whether ``version`` satisfies a pragma expression (npm semver subset: ``^ ~ >= <= > < =``, spaces
    for AND, ``||`` for OR, partial versions). A malformed expression satisfies nothing."""
    v = vtuple(version)
    for alternative in expression.split("||"):
        comparators = list(_COMPARATOR.finditer(alternative))
        if comparators and "".join(m.group(0) for m in comparators).replace(" ", "") == alternative.replace(" ", ""):
            if all(_comparator_ok(v, m.group(1) or "", [m.group(2), m.group(3), m.group(4)]) for m in comparators):
                return True
    return False


def lowest_satisfying(expression: str) -> str | None:
    """The lowest version an expression's lower bound names (the one to suggest installing), or None."""
    best = None
    for alternative in expression.split("||"):
        for m in _COMPARATOR.finditer(alternative):
            op = m.group(1) or ""
            if op in ("<", "<="):
                continue
            nums = [int(p) for p in (m.group(2), m.group(3), m.group(4)) if p is not None and p not in ("x", "*")]
            candidate = tuple(nums + [0] * (3 - len(nums)))
            if op == ">":
                candidate = (candidate[0], candidate[1], candidate[2] + 1)
            text = ".".join(map(str, candidate))
            text = BROKEN_ON_NPM.get(text, text)
            if satisfies(text, expression) and (best is None or vtuple(text) < vtuple(best)):
                best = text
    return best


class MissingCompiler(Exception):
    """No installed compiler fits the contract; the message names the command that installs one."""


def choose_solc(source: str, installs: dict[str, SolcInstall], exact: str | None = None) -> SolcInstall:
    """The compiler for a contract: ``exact`` when given (a task may pin the version its labels were made
    with), else the highest installed version that satisfies every ``pragma solidity`` of the source
    (the highest installed overall when there is none). Raises :class:`MissingCompiler`."""
    if exact:
        exact = BROKEN_ON_NPM.get(exact, exact)
        if exact in installs:
            return installs[exact]
        raise MissingCompiler(f"solc {exact} is not installed; run: codealign doctor --install solidity:{exact}")
    ranges = pragma_ranges(source)
    fitting = [v for v in installs if all(satisfies(v, r) for r in ranges)]
    if fitting:
        return installs[max(fitting, key=vtuple)]
    if not ranges:
        raise MissingCompiler("no solc-js compiler is installed; run: codealign doctor --install solidity:0.8.37")
    wanted = " ".join(ranges)
    suggestion = lowest_satisfying(ranges[0]) if len(ranges) == 1 else None
    command = (f"codealign doctor --install solidity:{suggestion}" if suggestion
               else "codealign doctor --install solidity:<version>")
    raise MissingCompiler(f"no installed solc satisfies 'pragma solidity {wanted}' "
                          f"(installed: {', '.join(sorted(installs, key=vtuple)) or 'none'}); run: {command}")


# -- the adapter -----------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def _adapter_module():
    spec = importlib.util.spec_from_file_location("codealign_solc_adapter", ADAPTER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def node_path() -> str | None:
    return shutil.which("node")


def write_adapter(path: str | os.PathLike, install: SolcInstall, socket_path: str | None = None,
                  python: str | None = None) -> Path:
    """Write an executable that answers ``--version``, ``--combined-json`` and ``--standard-json`` like
    native solc of ``install.version``; pass it to Slither or crytic-compile as ``--solc PATH``. Without
    ``socket_path`` every call starts node and loads the compiler anew; with it, calls go to a warm
    ``solc_server.js`` listening there."""
    node = node_path()
    if node is None:
        raise UserError("node not found on PATH; solc-js needs Node.js 18+")
    text = _adapter_module().wrapper_script(python or sys.executable, node, str(SERVER), str(ADAPTER),
                                            install.version, install.module_dir, install.wrapper_dir, socket_path)
    p = Path(path)
    p.write_text(text)
    p.chmod(0o755)
    return p


def server_config(max_compilers: int = 3) -> dict:
    """The tool paths ``slither_server.py`` needs."""
    return {"python": sys.executable, "node": node_path() or "node", "adapter": str(ADAPTER),
            "server": str(SERVER), "max_compilers": max_compilers}
