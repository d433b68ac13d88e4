"""``codealign doctor [--install DOMAIN:ITEM]``: toolchains, versions, live checks, isolation in effect."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from codealign.cli.common import backend_flag, output_flags, quiet


def register(sub) -> None:
    p = sub.add_parser("doctor", help="toolchains, versions, live checks, isolation in effect")
    output_flags(p)
    backend_flag(p)
    p.add_argument("--install", metavar="DOMAIN:ITEM", action="append", default=[],
                   help="install an optional toolchain part, e.g. solidity:0.4.24 (a solc-js version)")
    p.add_argument("--install-defaults", action="store_true",
                   help="install every domain's optional parts that the tests and benchmarks need")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> dict[str, Any]:
    from codealign.doctor import diagnose, format_report, install

    if args.install_defaults or args.install:
        installed = install(args.install, defaults=args.install_defaults)
        if not args.quiet:
            for name, items in installed.items():
                for item, path in items.items():
                    print(f"{name} {item}: installed at {path}", file=sys.stderr)
        if args.install_defaults and not args.install and args.quiet:
            return {"installed": installed}
    report = diagnose(args.backend)
    if not quiet(args):
        print(format_report(report))
    return {**report, "exit_code": 0 if report["ok"] else 1}
