"""FIM prompt layouts for corpus rows: PSM, SPM, or a seeded mix, over the per-family sentinels that
:mod:`codealign.fim` defines once (StarCoder, Qwen2.5-Coder, DeepSeek-Coder, CodeLlama)."""

from __future__ import annotations

import random

from codealign.errors import UserError
from codealign.fim import FIM_PRESETS, FimFormat, fim_format

LAYOUTS = ("psm", "spm", "mixed")
FAMILIES = tuple(FIM_PRESETS)


def resolve_format(family: str, layout: str) -> FimFormat:
    """The family's format, checked against the layout (SPM needs a family that documents one)."""
    if layout not in LAYOUTS:
        raise UserError(f"unknown FIM layout {layout!r}; choose one of: {', '.join(LAYOUTS)}")
    fmt = fim_format(family)
    if layout == "spm" and not fmt.spm_template:
        raise UserError(f"FIM family {fmt.family!r} has no SPM layout; use --layout psm or mixed")
    return fmt


def render(fmt: FimFormat, prefix: str, suffix: str, *, layout: str, context: str = "",
           rng: random.Random | None = None, spm_rate: float = 0.5) -> tuple[str, str]:
    """(prompt, layout used). ``mixed`` draws SPM with probability ``spm_rate`` from ``rng`` where the family
    has an SPM layout, PSM otherwise."""
    mode = layout
    if layout == "mixed":
        if rng is None:
            raise ValueError("layout 'mixed' needs an rng")
        mode = "spm" if fmt.spm_template and rng.random() < spm_rate else "psm"
    return fmt.render(prefix, suffix, mode=mode, context=context), mode
