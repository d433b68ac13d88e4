"""Running a plan: :func:`run_pipeline` checks what can be checked before anything is written, then runs each
stage of the run's plan in order, skipping those already done with this config, and records each one."""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import time
from pathlib import Path
from typing import Any

from codealign.errors import UserError
from codealign.jsonl import read_jsonl, write_text_atomic
from codealign.pipeline.config import PipelineConfig, config_hash
from codealign.pipeline.plan import upstream
from codealign.pipeline.stages import STAGE_FUNCS, control_rows
from codealign.pipeline.state import Run
from codealign.types import Task


def manifest(run: Run) -> dict[str, Any]:
    from importlib import metadata

    from codealign.doctor import PY_PACKAGES
    from codealign.sandbox.backends import get_backend

    versions = {}
    for name in ("codealign", *PY_PACKAGES):
        try:
            versions[name] = metadata.version(name.replace("_", "-"))
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {"config": dataclasses.asdict(run.config), "config_hash": config_hash(run.config),
            "python": platform.python_version(), "platform": platform.platform(), "packages": versions,
            "toolchain": run.domain.toolchain_version(), "backend": run.backend, "executor": run.executor,
            "judge": run.domain.fingerprint(get_backend(run.backend).identity()),
            # The ready-made warm-up the run starts from (None: trained in the run, or no warm-up).
            "warmup": run.warmup_checkpoint() if run.config.sft_enabled else None}


def run_pipeline(config: PipelineConfig, run_dir: str | os.PathLike, *, stages: list[str] | None = None,
                 **options: Any) -> dict[str, Any]:
    """Run (or resume) the pipeline; returns the final report (or the stage summaries when ``report`` is not
    among ``stages``). Everything that can be checked is checked before anything is written."""
    path = Path(run_dir)
    run = Run(config, path, **options)
    selected = stages or list(run.plan)
    unknown = [s for s in selected if s not in run.plan]
    if unknown:
        raise UserError(f"unknown stage(s) {', '.join(unknown)}; this run's stages: {', '.join(run.plan)}")
    if "tasks" in selected and config.control == "sft" and config.tasks:
        control_rows(run, read_jsonl(config.tasks, Task.from_dict))
    problem = run.domain.check_toolchain()
    if problem:
        raise UserError(f"{config.domain} toolchain: {problem}")
    for stage in selected:
        for needed in upstream(run.plan, stage):
            if needed not in selected and run.current(needed) is None:
                raise UserError(f"stage {stage!r} needs stage {needed!r}, which has not run in {path} "
                                f"with this config")
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise UserError(f"run directory {path} is not writable: {exc.strerror}") from None
    write_text_atomic(path / "manifest.json", json.dumps(manifest(run), indent=2, default=str))
    for line in run.changes(selected):
        run.log(line)
    summaries = {}
    for stage in run.plan:
        if stage not in selected:
            continue
        info = run.current(stage)
        if info is not None:
            run.log(f"{stage}: done earlier, skipped")
            summaries[stage] = info
            continue
        run.begin(stage)
        run.log(f"{stage}: running")
        t0 = time.monotonic()
        info = STAGE_FUNCS[run.plan[stage].kind](run, run.plan[stage])
        info["seconds"] = round(time.monotonic() - t0, 2)
        run.finish(stage, info)
        summaries[stage] = info
        run.log(f"{stage}: done in {info['seconds']:.1f} s")
    return summaries.get("report", summaries)
