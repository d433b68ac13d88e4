"""The order in which SFT and DPO see their rows: curriculum stages strictly in turn, never interleaved.

transformers shuffles the whole dataset by default; both trainers replace that sampler with
:class:`StageOrderSampler`, a pure function of (seed, epoch), so a resumed run sees the same order.
"""

from __future__ import annotations

import random
from typing import Any, Iterator, Sequence


class StageOrderSampler:
    """Dataset indices in ascending ``stages`` order. Within a stage: dataset order, or (``shuffle``) a
    permutation seeded by (seed, epoch, stage position, pass); each stage is walked ``repeats`` times before the
    next one starts.

    With ``groups`` the unit that is ordered is a group of rows (e.g. one prompt's ranked pairs), kept
    contiguous in dataset order, so that a group shares batches."""

    def __init__(
        self,
        stages: Sequence[int],
        groups: Sequence[Any] | None = None,
        *,
        shuffle: bool = False,
        seed: int = 0,
        repeats: int = 1,
    ):
        if groups is not None and len(groups) != len(stages):
            raise ValueError(f"{len(groups)} groups for {len(stages)} rows")
        self.stages = list(stages)
        self.groups = list(groups) if groups is not None else None
        self.shuffle = shuffle
        self.seed = seed
        self.repeats = repeats
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    @property
    def stage_sizes(self) -> list[int]:
        """Rows per stage, in the order the stages are walked."""
        return [self.stages.count(stage) for stage in sorted(set(self.stages))]

    def __len__(self) -> int:
        return len(self.stages) * self.repeats

    def __iter__(self) -> Iterator[int]:
        for position, stage in enumerate(sorted(set(self.stages))):
            units: dict[Any, list[int]] = {}
            for i, s in enumerate(self.stages):
                if s == stage:
                    units.setdefault(self.groups[i] if self.groups is not None else i, []).append(i)
            for repeat in range(self.repeats):
                blocks = list(units.values())
                if self.shuffle:
                    random.Random(f"{self.seed}/{self.epoch}/{position}/{repeat}").shuffle(blocks)
                for block in blocks:
                    yield from block
