"""Ladder tasks from the files of PLC tools: a PLCopen TC6 XML export or an ASCII drawing
(``codealign tasks import --domain ladder``).

An imported file becomes a task whose reference is the program, converted to rung text: the judge then checks a
candidate's equivalence with it (exhaustive search plus drawn traces, :mod:`.scoring`), as for the procedural
tasks. The task declares the reference's interface — outputs are the variables its coils write, inputs those it
reads and never writes — and the prompt shows the spec and that interface, never the program. A file whose
program does not pass the structural checks against that interface is refused, like any malformed task.
"""

from __future__ import annotations

from codealign.domains.ladder.ascii import import_ascii
from codealign.domains.ladder.assets import DEFAULT_SCAN_MS, LadderTask, task_prompt
from codealign.domains.ladder.checks import infer_types
from codealign.domains.ladder.model import Coil, Program
from codealign.domains.ladder.plcopen import import_ld
from codealign.errors import UserError
from codealign.types import Task


def read_program(source: str) -> tuple[Program, str]:
    """The program in ``source`` and its format: ``plcopen`` when the text starts with ``<`` (an ``<LD>`` body
    or a whole project), else ``ascii`` (an IEC-style drawing). Raises UserError on what neither importer reads."""
    if source.lstrip("\ufeff \t\r\n").startswith("<"):
        return import_ld(source), "plcopen"
    return import_ascii(source), "ascii"


def import_task(task_id: str, source: str, spec: str) -> Task:
    """The ladder task ``task_id`` asking for ``spec``, whose reference is the program in ``source``."""
    if not spec.strip():
        raise UserError("the spec is empty")
    program, fmt = read_program(source)
    outputs = sorted({e.var for _, e in program.elements() if isinstance(e, Coil)})
    if not outputs:
        raise UserError("the program writes no variable (no coil)")
    read, written = program.variables()
    inputs = sorted(read - written)
    types = infer_types(program)[0]
    reference = program.text()
    task = Task(task_id=task_id, domain="ladder",
                prompt=task_prompt(spec, inputs, outputs, types, DEFAULT_SCAN_MS),
                assets={"spec": spec.strip(), "inputs": inputs, "outputs": outputs, "reference": reference},
                metadata={"format": fmt})
    LadderTask.from_task(task)
    return task

