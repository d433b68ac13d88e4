"""``codealign cache stats|prune``: the verdict cache."""

from __future__ import annotations

import argparse

from codealign.cli.common import output_flags, quiet


def register(sub) -> None:
    p = sub.add_parser("cache", help="the verdict cache")
    output_flags(p)
    p.add_argument("action", choices=["stats", "prune"])
    p.add_argument("--cache", default=None, help="cache file (default: ~/.cache/codealign/verdicts.sqlite)")
    p.add_argument("--older-than-days", type=float, default=None, help="prune: only entries older than this")
    p.add_argument("--domain", default=None, help="prune: only this domain")
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
    removed = cache.prune(older_than_days=args.older_than_days, domain=args.domain)
    if not quiet(args):
        print(f"removed {removed} verdicts from {cache.path}")
    return {"removed": removed, "path": str(cache.path)}
