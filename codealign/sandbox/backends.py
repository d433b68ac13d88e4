"""Choosing an isolation backend: ``auto`` picks the strongest one that works here and says why."""

from __future__ import annotations

from dataclasses import dataclass

from codealign.errors import UserError, closest
from codealign.registry import Registry
from codealign.sandbox.process import Backend, ProcessBackend, process_problem

BACKENDS: Registry[type[Backend]] = Registry("backend", "codealign.backends")
"""Isolation backends by name (each a :class:`~codealign.sandbox.process.Backend` subclass whose ``problem()`` says why it cannot run
here); ``auto`` is not one of them but the choice among them that :func:`choose_backend` makes."""
BACKENDS.register("process", ProcessBackend)
BACKENDS.register("bwrap", "codealign.sandbox.bwrap:BwrapBackend")
BACKENDS.register("docker", "codealign.sandbox.docker:DockerBackend")


def backend_names() -> tuple[str, ...]:
    """What ``--backend`` accepts: ``auto``, then every registered backend."""
    return ("auto", *BACKENDS.names())


@dataclass
class BackendChoice:
    backend: Backend
    reason: str


def choose_backend(name: str = "auto", **options) -> BackendChoice:
    """The backend called ``name``; ``auto`` = bwrap where it can create namespaces, else process where its
    jobs can reach the interpreter, else docker where an engine and the image are there, else process."""
    from codealign.sandbox.bwrap import BwrapBackend, bwrap_problem

    if name != "auto":
        if name not in BACKENDS:
            raise UserError(f"unknown backend {name!r}{closest(name, backend_names())}")
        backend = BACKENDS.get(name)
        problem = backend.problem()
        if problem:
            raise UserError(f"backend {name} is not usable: {problem}")
        return BackendChoice(backend(**options), f"requested: {name}")
    problem = bwrap_problem()
    if problem is None:
        return BackendChoice(BwrapBackend(**options), "auto: bwrap works here (namespaces available)")
    unreachable = process_problem()
    if unreachable is None:
        return BackendChoice(ProcessBackend(**options), f"auto: fell back to process ({problem})")
    from codealign.sandbox.docker import DockerBackend, docker_problem

    no_docker = docker_problem()
    if no_docker is None:
        return BackendChoice(DockerBackend(**options), f"auto: docker (bwrap: {problem}; process: {unreachable})")
    return BackendChoice(ProcessBackend(**options),
                         f"auto: fell back to process, whose {unreachable.split('; ')[0]} "
                         f"(bwrap: {problem}; docker: {no_docker})")


def get_backend(name: str = "auto", **options) -> Backend:
    return choose_backend(name, **options).backend
