"""Multi-GPU training through ``accelerate launch`` with the configs shipped in ``accelerate_configs/``.

``codealign train dpo --config FILE --accelerate-config NAME`` re-runs itself as
``accelerate launch --config_file <NAME.yaml> -m codealign.cli train dpo --config FILE ...``; each process then
runs the ordinary training code, which TRL and accelerate make distributed. No home-made distribution.
"""

from __future__ import annotations

import sys
from importlib import resources
from pathlib import Path
from typing import Sequence

from codealign.errors import UserError

ACCELERATE_CONFIGS = {
    "single_gpu": "one process on one GPU",
    "multi_gpu": "DDP, one process per GPU",
    "zero2": "DeepSpeed ZeRO-2 (optimizer state and gradients sharded)",
    "zero3": "DeepSpeed ZeRO-3 (parameters sharded too)",
    "fsdp": "PyTorch FSDP2",
}
"""The shipped accelerate configs: name -> what it does."""


def accelerate_config_path(name: str) -> Path:
    """The packaged YAML of a shipped config; an unknown name raises :class:`UserError`."""
    if name not in ACCELERATE_CONFIGS:
        raise UserError(f"unknown accelerate config {name!r}; choose one of: {', '.join(ACCELERATE_CONFIGS)}")
    return Path(str(resources.files("codealign.train") / "accelerate_configs" / f"{name}.yaml"))


def accelerate_command(
    name: str,
    train_args: Sequence[str],
    *,
    num_processes: int | None = None,
    python: str = sys.executable,
) -> list[str]:
    """The argv that launches ``codealign train <train_args>`` under ``accelerate launch`` with config ``name``.

    ``train_args`` is everything after ``codealign train`` (e.g. ``["dpo", "--config", "dpo.yaml", "beta=0.2"]``)
    and must not itself ask for an accelerate config. ``num_processes`` overrides the config's process count.
    """
    if "--accelerate-config" in train_args:
        raise UserError("train_args must not contain --accelerate-config (it would launch itself again)")
    if num_processes is not None and num_processes < 1:
        raise UserError(f"num_processes must be >= 1, got {num_processes}")
    argv = [python, "-m", "accelerate.commands.launch", "--config_file", str(accelerate_config_path(name))]
    if num_processes is not None:
        argv += ["--num_processes", str(num_processes)]
    return argv + ["-m", "codealign.cli", "train", *train_args]
