"""Trainer callbacks shared by SFT and DPO: a JSONL training log and a TensorBoard writer in the run folder."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from transformers import TrainerCallback


class JsonlLogCallback(TrainerCallback):
    """Appends every log event (loss, learning rate, grad norm, final summary) as one JSON line to ``path``,
    flushed at once, with ``step``, ``epoch`` and wall-clock ``time``. Only the main process writes. A resumed
    run appends to the same file, so the log covers the whole run."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not state.is_world_process_zero or not logs:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        row = {"step": state.global_step, "epoch": state.epoch, "time": time.time(), **logs}
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(row, default=float) + "\n")


def tensorboard_callback(log_dir: str | os.PathLike):
    """TRL/transformers' TensorBoard callback writing to ``log_dir`` (instead of a dated folder under
    ``output_dir/runs``)."""
    from torch.utils.tensorboard import SummaryWriter
    from transformers.integrations import TensorBoardCallback

    return TensorBoardCallback(tb_writer=SummaryWriter(log_dir=str(log_dir)))
