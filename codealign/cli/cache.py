"""``codealign cache stats|prune``: the verdict cache."""

from __future__ import annotations

import argparse

import sys

from codealign.cli.common import output_flags, quiet
from codealign.errors import UserError


def register(sub) -> None:
    p = sub.add_parser("cache", help="the verdict cache")
    output_flags(p)
    p.add_argument("action", choices=["stats", "prune"])
    p.add_argument("--cache", default=None, help="cache file (default: ~/.cache/codealign/verdicts.sqlite)")
    p.add_argument("--older-than-days", type=float, default=None, help="prune: only entries older than this")
    p.add_argument("--domain", default=None, help="prune: only this domain")
    p.add_argument("--all", action="store_true",
                   help="prune: every entry (needed without --older-than-days or --domain, unless you answer "
                        "yes at the prompt)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> dict:
    from codealign.sandbox.cache import VerdictCache

    cache = VerdictCache(args.cache, create=False)
    if args.action == "stats":
        stats = cache.stats()
        if not quiet(args):
            print(f"{stats['path']}: {stats['entries']} verdicts, {stats['bytes'] / 1e6:.1f} MB")
            for dom, n in sorted(stats["by_domain"].items()):
                print(f"  {dom:<10} {n}")
        return stats
    if args.all and (args.older_than_days is not None or args.domain):
        raise UserError("--all contradicts --older-than-days/--domain; give one or the other")
    if args.older_than_days is None and not args.domain and not args.all and not _confirmed(cache):
        raise UserError("cache prune with no filter removes every verdict: give --all, or --older-than-days N "
                        "or --domain D")
    removed = cache.prune(older_than_days=args.older_than_days, domain=args.domain)
    if not quiet(args):
        print(f"removed {removed} verdicts from {cache.path}")
    return {"removed": removed, "path": str(cache.path)}


def _confirmed(cache) -> bool:
    """Whether a person at a terminal said yes to removing every verdict; never without a terminal."""
    if not sys.stdin.isatty():
        return False
    answer = input(f"remove all {cache.stats()['entries']} verdicts from {cache.path}? [y/N] ")
    return answer.strip().lower() in ("y", "yes")
