"""A trainer callback that watches DPO for the collapse seen on code pairs and stops the run early.

Two signals:

* the chosen completion's log-probability (TRL logs it as ``logps/chosen``): the mean of the last
  ``window`` logged values is compared with the mean of the first ``window``; a fall of more than
  ``max_chosen_drop`` nats per sequence is a collapse (the chosen sample is being pushed down with the
  rejected one);
* a probe the caller injects: ``probe(model, tokenizer) -> dict[str, float]`` of failure rates in [0, 1]
  (the pipeline passes one that samples a few tasks and reports truncation and compile-error rates). It runs
  at the start of training and every ``probe_every`` steps; a rate that rises more than
  ``max_rate_increase`` above its starting value is a collapse.

On a collapse the callback logs a warning, records the reason in :attr:`CollapseMonitor.events` and
:attr:`CollapseMonitor.stopped_reason`, and sets ``control.should_training_stop``. ``train/`` never imports
the sandbox: whatever executes code lives in the probe.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Any, Callable

from transformers import TrainerCallback

logger = logging.getLogger(__name__)

Probe = Callable[[Any, Any], dict[str, float]]


@dataclass
class MonitorConfig:
    """Thresholds of :class:`CollapseMonitor`."""

    window: int = 5
    """Logged steps averaged at the start and at the end of the chosen log-prob comparison."""
    max_chosen_drop: float = 5.0
    """Largest allowed fall (nats per sequence) of the chosen log-prob's recent mean below its starting mean."""
    probe_every: int = 0
    """Run the probe every this many optimizer steps (0: only at the start and the end of each stage)."""
    max_rate_increase: float = 0.25
    """Largest allowed rise of any probed failure rate above its value at the start of training."""

    def __post_init__(self) -> None:
        if self.window < 1:
            raise ValueError(f"monitor window must be >= 1, got {self.window}")
        if self.max_chosen_drop <= 0:
            raise ValueError(f"monitor max_chosen_drop must be > 0, got {self.max_chosen_drop}")
        if self.probe_every < 0:
            raise ValueError(f"monitor probe_every must be >= 0, got {self.probe_every}")
        if not 0 < self.max_rate_increase <= 1:
            raise ValueError(f"monitor max_rate_increase must be in (0, 1], got {self.max_rate_increase}")


@dataclass
class MonitorEvent:
    """One observation or decision of the monitor (written to the run's JSONL log by the caller)."""

    step: int
    kind: str
    values: dict[str, float] = field(default_factory=dict)
    message: str = ""


class CollapseMonitor(TrainerCallback):
    """Stops training when the chosen log-prob or a probed failure rate breaks down (see the module doc)."""

    def __init__(self, config: MonitorConfig | None = None, probe: Probe | None = None):
        self.config = config or MonitorConfig()
        self.probe = probe
        self.chosen: list[float] = []
        self.baseline: dict[str, float] | None = None
        self.events: list[MonitorEvent] = []
        self.stopped_reason: str | None = None

    def _stop(self, control, step: int, message: str, values: dict[str, float]) -> None:
        logger.warning("collapse monitor: %s (step %d); stopping early", message, step)
        self.stopped_reason = message
        self.events.append(MonitorEvent(step, "stop", values, message))
        control.should_training_stop = True

    def _run_probe(self, step: int, kwargs: dict[str, Any]) -> dict[str, float]:
        rates = {k: float(v) for k, v in self.probe(kwargs["model"], kwargs.get("processing_class")).items()}
        self.events.append(MonitorEvent(step, "probe", rates))
        return rates

    def on_train_begin(self, args, state, control, **kwargs):
        if self.probe is not None and self.baseline is None:
            self.baseline = self._run_probe(state.global_step, kwargs)
        return control

    def on_log(self, args, state, control, logs=None, **kwargs):
        value = (logs or {}).get("logps/chosen")
        if value is None or not math.isfinite(value):
            if value is not None:
                self._stop(control, state.global_step, "chosen log-prob is not finite", {"logps/chosen": value})
            return control
        self.chosen.append(float(value))
        w = self.config.window
        if len(self.chosen) >= 2 * w:
            start = sum(self.chosen[:w]) / w
            recent = sum(self.chosen[-w:]) / w
            if start - recent > self.config.max_chosen_drop:
                self._stop(
                    control,
                    state.global_step,
                    f"chosen log-prob fell {start - recent:.2f} nats (from {start:.2f} to {recent:.2f}; "
                    f"limit {self.config.max_chosen_drop})",
                    {"chosen_start": start, "chosen_recent": recent},
                )
        return control

    def on_step_end(self, args, state, control, **kwargs):
        every = self.config.probe_every
        if self.probe is None or not every or state.global_step % every:
            return control
        self._check_probe(state.global_step, control, kwargs)
        return control

    def on_train_end(self, args, state, control, **kwargs):
        if self.probe is not None and self.stopped_reason is None:
            self._check_probe(state.global_step, control, kwargs)
        return control

    def _check_probe(self, step: int, control, kwargs: dict[str, Any]) -> None:
        rates = self._run_probe(step, kwargs)
        base = self.baseline or {}
        for name, rate in rates.items():
            rise = rate - base.get(name, 0.0)
            if rise > self.config.max_rate_increase:
                self._stop(
                    control,
                    step,
                    f"{name} rose from {base.get(name, 0.0):.2f} to {rate:.2f} (limit +{self.config.max_rate_increase})",
                    rates,
                )
                return
