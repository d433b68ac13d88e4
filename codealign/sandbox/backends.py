"""Choosing an isolation backend: ``auto`` picks the strongest one that works here and says why."""

from __future__ import annotations

from dataclasses import dataclass

from codealign.errors import UserError
from codealign.sandbox.process import ProcessBackend, process_problem

BACKENDS = ("auto", "process", "bwrap", "docker")


@dataclass
class BackendChoice:
    backend: ProcessBackend
    reason: str


def choose_backend(name: str = "auto", **options) -> BackendChoice:
    """The backend called ``name``; ``auto`` = bwrap where it can create namespaces, else process where its
    jobs can reach the interpreter, else docker where an engine and the image are there, else process."""
    from codealign.sandbox.bwrap import BwrapBackend, bwrap_problem

    if name not in BACKENDS:
        raise UserError(f"unknown backend {name!r}; choose one of: {', '.join(BACKENDS)}")
    if name == "process":
        return BackendChoice(ProcessBackend(**options), "requested: process")
    if name == "bwrap":
        problem = bwrap_problem()
        if problem:
            raise UserError(f"backend bwrap is not usable: {problem}")
        return BackendChoice(BwrapBackend(**options), "requested: bwrap")
    if name == "docker":
        from codealign.sandbox.docker import DockerBackend, docker_problem

        problem = docker_problem()
        if problem:
            raise UserError(f"backend docker is not usable: {problem}")
        return BackendChoice(DockerBackend(**options), "requested: docker")
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


def get_backend(name: str = "auto", **options) -> ProcessBackend:
    return choose_backend(name, **options).backend
