"""Where training and sampling run, and the settings that follow from it, decided in one place.

SFT, DPO and the samplers all ask this module, so a CPU run is always fp32 on one thread without gradient
checkpointing (several times faster on a small shared machine) and a GPU run is bf16 where the card supports
it. Torch is imported only inside the functions.
"""

from __future__ import annotations

import os
from typing import Any

from codealign.errors import UserError

DEVICES = ("auto", "cpu", "cuda", "mps")


def resolve_device(device: str = "auto") -> str:
    """``cpu``, ``cuda`` or ``mps``: ``auto`` picks CUDA, then MPS, then CPU. Naming a device that is not
    present raises :class:`UserError`."""
    import torch

    if device not in DEVICES and not device.startswith("cuda:"):
        raise UserError(f"unknown device {device!r}; choose one of: {', '.join(DEVICES)}")
    if device == "auto":
        if torch.cuda.is_available():
            return "cuda"
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return "mps"
        return "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"device {device!r} requested but no CUDA GPU is visible")
    if device == "mps" and not torch.backends.mps.is_available():
        raise UserError("device 'mps' requested but MPS is not available")
    return device


def supports_bf16(device: str) -> bool:
    import torch

    return device.startswith("cuda") and torch.cuda.is_bf16_supported()


def default_dtype(device: str):
    """The dtype weights are loaded in: bf16 on a GPU that supports it, fp16 on other GPUs and MPS,
    fp32 on CPU."""
    import torch

    if device == "cpu":
        return torch.float32
    if supports_bf16(device):
        return torch.bfloat16
    return torch.float16


def configure_threads(device: str) -> int:
    """On CPU, sets torch's intra-op threads to ``OMP_NUM_THREADS`` (1 when unset: on a few shared cores
    one thread is 3-10x faster and steadier than torch's default). Returns the thread count in effect."""
    import torch

    if device == "cpu":
        threads = int(os.environ.get("OMP_NUM_THREADS", "1") or 1)
        torch.set_num_threads(max(1, threads))
    return torch.get_num_threads()


def training_args_for_device(device: str = "auto") -> dict[str, Any]:
    """Keyword arguments for TRL's ``SFTConfig`` / ``DPOConfig`` that suit ``device``.

    CPU: ``use_cpu=True``, fp32, no gradient checkpointing, no pinned memory. CUDA: bf16 when supported,
    else fp16. Callers may override any key afterwards (e.g. turn gradient checkpointing on for a big model).
    """
    device = resolve_device(device)
    configure_threads(device)
    if device == "cpu":
        return {
            "use_cpu": True,
            "bf16": False,
            "fp16": False,
            "gradient_checkpointing": False,
            "dataloader_pin_memory": False,
        }
    if device == "mps":
        return {"bf16": False, "fp16": False, "gradient_checkpointing": False}
    bf16 = supports_bf16(device)
    return {"bf16": bf16, "fp16": not bf16, "gradient_checkpointing": False}
