"""Learning-rate schedules, applied once per epoch (epoch counts from 0)."""

from __future__ import annotations

from hpsearch.config.train import SCHEDULES
from hpsearch.errors import ConfigError


def lr_at(epoch: int, base_lr: float, schedule: str, decay: float, step_size: int) -> float:
    """Learning rate used during `epoch`.

    constant: base_lr
    step:     base_lr * decay ** (epoch // step_size)   (drop by `decay` every `step_size` epochs)
    exp:      base_lr * decay ** epoch                   (CS231n's per-epoch lr_decay)
    """
    if schedule == "constant":
        return base_lr
    if schedule == "step":
        return base_lr * decay ** (epoch // step_size)
    if schedule == "exp":
        return base_lr * decay**epoch
    raise ConfigError(f"unknown lr schedule {schedule!r}", f"use one of: {', '.join(SCHEDULES)}", key="schedule")
