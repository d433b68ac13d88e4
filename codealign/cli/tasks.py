"""``codealign tasks generate [--domain D] --family F --n N --seed S --out T``: procedural tasks from a domain's
task families (:meth:`Domain.generate_tasks`), found through the registry.

``codealign tasks import --domain D FILE... --out T``: one task per program file another tool exported, whose
reference is that program (:meth:`Domain.import_task`); the spec of ``prog.xml`` is the text of ``prog.md``
beside it. Every file is read and converted before ``T`` is written, so an error leaves nothing behind.

``codealign tasks export --domain D --candidates C --out-dir DIR [--verdict V]``: the programs of a candidates
or verdicts file as files another tool reads (:meth:`Domain.export_program`), one per row,
``DIR/TASK.CANDIDATE.SUFFIX``; rows whose program the domain cannot write are counted and skipped."""

from __future__ import annotations

import argparse

from codealign.cli.common import output_flags, quiet
from codealign.errors import UserError


def _families() -> dict[str, str]:
    """Every domain's procedural task families: family → domain."""
    from codealign.domains import domain_names, get_domain

    return {family: name for name in domain_names() for family in get_domain(name).task_families}


def _overriding(hook: str) -> str:
    """The registered domains that implement the :class:`Domain` method ``hook``."""
    from codealign.domains import Domain, domain_class, domain_names

    return ", ".join(n for n in domain_names() if getattr(domain_class(n), hook) is not getattr(Domain, hook))


def register(sub) -> None:
    from codealign.domains import domain_names

    families = _families()
    p = sub.add_parser("tasks", help="procedural tasks")
    tsub = p.add_subparsers(dest="tasks_command", required=True)
    g = tsub.add_parser("generate", help="write procedural tasks as JSONL")
    output_flags(g)
    g.add_argument("--domain", default=None,
                   help=f"the domain whose families to draw from (default: the one of the families given, or the "
                        f"only domain with families: {', '.join(sorted(set(families.values())))})")
    g.add_argument("--family", action="append", default=None, metavar="F",
                   help=f"task family, repeatable or comma-separated (default: all of the domain's: "
                        f"{', '.join(families)})")
    g.add_argument("--n", type=int, default=100, help="number of tasks (default: 100)")
    g.add_argument("--seed", type=int, default=0, help="sampling seed (default: 0)")
    g.add_argument("--split", default="train",
                   help="train, heldout or feedback (held-out tasks no evaluation draw shares a novelty key with; "
                        "default: train)")
    g.add_argument("--out", required=True, help="output tasks JSONL (written atomically)")
    g.set_defaults(func=run)

    i = tsub.add_parser("import", help="tasks whose references are program files exported by other tools")
    output_flags(i)
    i.add_argument("--domain", required=True, choices=domain_names(),
                   help=f"the domain that reads the files (domains that read any: {_overriding('import_task')})")
    i.add_argument("files", nargs="+", metavar="FILE",
                   help="program files; each one's spec is the file beside it with the suffix .md "
                        "(prog.xml -> prog.md), its task id the file name without suffix")
    i.add_argument("--out", required=True, help="output tasks JSONL (written atomically)")
    i.set_defaults(func=run_import)

    e = tsub.add_parser("export", help="the programs of candidates or verdicts as files other tools read")
    output_flags(e)
    e.add_argument("--domain", required=True, choices=domain_names(),
                   help=f"the domain that writes the files (domains that write any: {_overriding('export_program')})")
    e.add_argument("--candidates", required=True, help="candidates or verdicts JSONL")
    e.add_argument("--verdict", default=None, metavar="V",
                   help="export only the rows of a verdicts file with this verdict (e.g. PASS)")
    e.add_argument("--out-dir", required=True, help="folder to create (written atomically; must not exist)")
    e.set_defaults(func=run_export)


def run(args: argparse.Namespace) -> dict:
    from collections import Counter

    from codealign.domains import get_domain
    from codealign.jsonl import write_jsonl

    families = None
    if args.family:
        families = [name.strip() for item in args.family for name in item.split(",") if name.strip()]
    domain = get_domain(args.domain or _domain_of(families))
    tasks = domain.generate_tasks(families, args.n, args.seed, args.split)
    write_jsonl(args.out, tasks)
    per_family = dict(Counter(t.metadata["family"] for t in tasks))
    summary = {"out": str(args.out), "n": len(tasks), "split": args.split, "seed": args.seed,
               "families": per_family}
    if not quiet(args):
        print(f"wrote {len(tasks)} {args.split} tasks to {args.out} (seed {args.seed})")
        for name, count in per_family.items():
            print(f"  {name:<10} {count}")
    return summary


def _domain_of(families: list[str] | None) -> str:
    """The domain the families belong to; without families, the only domain that has any."""
    owners = _families()
    unknown = [f for f in families or () if f not in owners]
    if unknown:
        raise UserError(f"unknown task family {unknown[0]!r}; choose from: {', '.join(sorted(owners))}")
    domains = {owners[f] for f in families or ()} or set(owners.values())
    if len(domains) != 1:
        raise UserError(f"give --domain: task families come from {', '.join(sorted(domains)) or 'no domain'}")
    return domains.pop()


def run_import(args: argparse.Namespace) -> dict:
    from pathlib import Path

    from codealign.cli.common import refuse_overwriting_inputs
    from codealign.domains import get_domain
    from codealign.jsonl import write_jsonl

    domain = get_domain(args.domain)
    tasks, files = [], {}
    for name in args.files:
        path = Path(name)
        spec = path.with_suffix(".md")
        if spec == path:
            raise UserError(f"{path}: a program file cannot end in .md, the suffix of its spec file")
        if path.stem in files:
            raise UserError(f"{files[path.stem]} and {path} would both be task {path.stem!r}; rename one")
        refuse_overwriting_inputs(args.out, FILE=str(path))
        files[path.stem] = path
        source, text = _read(path, "program file"), _read(spec, f"spec of {path}")
        try:
            tasks.append(domain.import_task(path.stem, source, text))
        except UserError as exc:
            raise UserError(f"{path}: {exc}") from None
    write_jsonl(args.out, tasks)
    if not quiet(args):
        print(f"wrote {len(tasks)} {args.domain} tasks to {args.out}")
    return {"out": str(args.out), "n": len(tasks), "domain": args.domain}


def _read(path, what: str) -> str:
    """The UTF-8 text of ``path``; a UserError naming ``what`` is missing or unreadable."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"{path}: no such file ({what})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: cannot read the {what}: {exc}") from None


def run_export(args: argparse.Namespace) -> dict:
    import os
    import re

    from codealign.domains import get_domain
    from codealign.jsonl import atomic_dir, read_jsonl

    domain = get_domain(args.domain)
    rows = read_jsonl(args.candidates)
    if os.path.exists(args.out_dir):
        raise UserError(f"--out-dir {args.out_dir} exists; give a folder to create")
    files, skipped = {}, 0
    for n, row in enumerate(rows, 1):
        if not isinstance(row, dict) or not all(isinstance(row.get(k), str) for k in ("task_id", "candidate_id",
                                                                                        "completion")):
            raise UserError(f"{args.candidates}: row {n} lacks task_id, candidate_id or completion")
        if args.verdict is not None:
            if "verdict" not in row:
                raise UserError(f"{args.candidates}: row {n} has no verdict; --verdict needs a verdicts file")
            if row["verdict"] != args.verdict:
                continue
        stem = f"{row['task_id']}.{row['candidate_id']}"
        if not re.fullmatch(r"[A-Za-z0-9_-][A-Za-z0-9_.-]*", stem):
            raise UserError(f"{args.candidates}: row {n}: {stem!r} cannot be a file name")
        try:
            suffix, text = domain.export_program(row["completion"])
        except UserError:
            skipped += 1
            continue
        files[stem + suffix] = text
    with atomic_dir(args.out_dir) as folder:
        for name, text in files.items():
            (folder / name).write_text(text, encoding="utf-8")
    if not quiet(args):
        print(f"wrote {len(files)} {args.domain} program files to {args.out_dir}"
              + (f"; skipped {skipped} the domain cannot write" if skipped else ""))
    return {"out_dir": str(args.out_dir), "n": len(files), "skipped": skipped}
