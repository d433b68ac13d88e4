"""The flags every command group shares, spelled once: output (``--json``, ``--quiet``) and execution
(``--backend``, ``--executor``, ``--workers``, ``--cache``, ``--no-cache``), plus what they mean."""

from __future__ import annotations

import argparse


def output_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print exactly one JSON summary object on stdout")
    p.add_argument("--quiet", action="store_true", help="no progress bars or tables")


def backend_flag(p: argparse.ArgumentParser) -> None:
    """``--backend``: ``auto`` or a registered isolation backend (:data:`codealign.sandbox.backends.BACKENDS`)."""
    from codealign.sandbox.backends import backend_names

    p.add_argument("--backend", default="auto", choices=backend_names(),
                   help="sandbox isolation (auto: bwrap where it works, else process where its uids "
                        "reach the interpreter, else docker)")


def execution_flags(p: argparse.ArgumentParser, *, executor: bool = True, cache: bool = True) -> None:
    backend_flag(p)
    if executor:
        p.add_argument("--executor", default="local", choices=["local", "ray"], help="where jobs run")
    p.add_argument("--workers", type=int, default=None, help="parallel jobs (default: all cores)")
    if cache:
        p.add_argument("--cache", default=None,
                       help="verdict cache file (default: ~/.cache/codealign/verdicts.sqlite)")
        p.add_argument("--no-cache", action="store_true",
                       help="do not read or write the verdict cache (execute: nor reuse rows of --out)")


def quiet(args: argparse.Namespace) -> bool:
    """No tables and no progress: ``--json`` or ``--quiet``."""
    return bool(args.json or args.quiet)


def cache_path(args: argparse.Namespace) -> str | None:
    """The verdict cache the execution flags name: None with ``--no-cache``, else ``--cache`` or the default."""
    if args.no_cache:
        return None
    if args.cache:
        return args.cache
    from codealign.sandbox.cache import default_cache_path

    return str(default_cache_path())


def option_flags(p: argparse.ArgumentParser, options) -> None:
    """``--NAME`` for each :class:`~codealign.domains.base.DomainOption` (dest ``NAME``, default None: only
    flags that were given reach the call)."""
    for option in options:
        flag = "--" + option.name.replace("_", "-")
        if flag in p._option_string_actions:
            continue
        if option.type is bool:
            p.add_argument(flag, dest=option.name, action="store_true", default=None, help=option.help)
        elif option.repeatable:
            p.add_argument(flag, dest=option.name, action="append", default=None, type=option.type,
                           choices=option.choices or None, help=option.help)
        else:
            p.add_argument(flag, dest=option.name, default=None, type=option.type, choices=option.choices or None,
                           help=option.help + (f" (default: {option.default})" if option.default is not None else ""))


def option_values(args: argparse.Namespace, options) -> dict:
    """The values of the ``options`` flags that were given."""
    return {o.name: getattr(args, o.name) for o in options if getattr(args, o.name, None) is not None}


def domain_flags(p: argparse.ArgumentParser) -> None:
    """The constructor options of every registered domain (:attr:`Domain.options`) as flags."""
    from codealign.domains import domain_class, domain_names

    for name in domain_names():
        option_flags(p, domain_class(name).options)


def make_domain(name: str, args: argparse.Namespace):
    """Domain ``name`` built with the domain flags given; a flag of another domain is a UserError."""
    from codealign.domains import domain_class, domain_names
    from codealign.errors import UserError

    cls = domain_class(name)
    own = {o.name for o in cls.options}
    others = {o.name for n in domain_names() for o in domain_class(n).options} - own
    given = [o for o in others if getattr(args, o, None) is not None]
    if given:
        raise UserError(f"--{given[0].replace('_', '-')} is not an option of domain {name!r}"
                        + (f" (its options: {', '.join('--' + o.replace('_', '-') for o in sorted(own))})"
                           if own else ""))
    return cls(**option_values(args, cls.options))


def refuse_other_domains(path, tasks, domain: str) -> None:
    """A UserError when any of ``tasks`` (read from ``path``) belongs to another domain than ``domain``: its
    judge would only answer COMPILE_ERROR."""
    from codealign.errors import UserError

    wrong = sorted({t.domain for t in tasks} - {domain})
    if wrong:
        raise UserError(f"{path}: tasks are for domain(s) {', '.join(wrong)}, not {domain!r}")


def refuse_overwriting_inputs(out, **inputs) -> None:
    """A UserError when ``out`` names the same file as one of ``inputs`` (flag name → path): writing it would
    destroy what is being read."""
    import os

    from codealign.errors import UserError

    for flag, path in inputs.items():
        if path and os.path.exists(path) and os.path.exists(out) and os.path.samefile(out, path):
            raise UserError(f"--out {out} is the --{flag.replace('_', '-')} file; writing it would destroy it "
                            "(give another --out)")


def refuse_foreign_out(out, field: str, holds: str) -> None:
    """A UserError when ``out`` exists and its first row lacks ``field``: it holds something else than the
    ``holds`` this command writes there (e.g. candidates where verdicts go), which must not be overwritten."""
    from codealign.errors import UserError
    from codealign.jsonl import read_completed

    rows = read_completed(out)
    if rows and not (isinstance(rows[0], dict) and field in rows[0]):
        raise UserError(f"--out {out} exists and does not hold {holds} (its first row has no {field!r}); "
                        "give another --out")
