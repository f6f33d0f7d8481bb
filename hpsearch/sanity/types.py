"""The sanity gate's records: CheckResult, SanityReport, SanityOptions, and the helpers every check uses.

Each check builds its own model from a derived config (`cfg.with_(...)`, the frozen original is never
replaced) and its own samples (fancy-indexed copies), so the caller's config and arrays are never touched.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from hpsearch.config.plain import strict
from hpsearch.config.train import TrainConfig
from hpsearch.errors import ConfigError
from hpsearch.trainer.reference.model import MLP

CHECK_NAMES = ("initial_loss", "regularization_raises_loss", "gradient_check", "overfit_small_subset",
               "activation_stats", "update_ratio", "softmax_stability", "dropout_scaling", "training_step")
STATUSES = ("pass", "warn", "fail")


@dataclass(frozen=True)
class CheckResult:
    name: str  # one of CHECK_NAMES: a stable identifier for scripts
    status: str  # pass | warn | fail
    measured: object  # a number or a small dict of numbers/strings (to_dict turns NaN/inf into None)
    expected: str  # the pass criterion in words, e.g. "ln(10) = 2.303 +/- 10%"
    message: str  # what was seen and, unless it passed, the likely causes and the fix

    def to_dict(self) -> dict:
        return {"name": self.name, "status": self.status, "measured": strict(self.measured),
                "expected": self.expected, "message": self.message}


@dataclass(frozen=True)
class SanityReport:
    checks: tuple[CheckResult, ...]  # in CHECK_NAMES order, only the selected ones

    @property
    def passed(self) -> bool:
        """The gate: no check failed (under `strict`, warnings were already turned into failures)."""
        return all(c.status != "fail" for c in self.checks)

    def to_dict(self) -> dict:
        """The JSON contract of DESIGN.md §3: {"passed", "checks": [{"name", "status", ...}]}."""
        return {"passed": self.passed, "checks": [c.to_dict() for c in self.checks]}


@dataclass(frozen=True)
class SanityOptions:
    loss_tolerance: float = 0.10  # initial_loss passes within this relative distance of ln C
    subset: int = 20  # samples the overfit check must learn perfectly (CS231n overfits ~20)
    overfit_epochs: int = 1000  # epoch budget of the overfit check; it stops as soon as it passes
    only: tuple[str, ...] = ()  # run just these checks (empty: all)
    skip: tuple[str, ...] = ()  # leave these out
    strict: bool = False  # CI mode: a warning counts as a failure
    seed: int = 0  # every check's weights, samples and masks derive from it
    batch: int = 500  # samples for the initial loss, the reg comparison and the activation statistics
    grad_samples: int = 8  # samples for the gradient check: few, so few ReLU kinks lie near the data
    grad_entries: int = 500  # most entries checked per array (all of a smaller one), seeded; fewer if wide
    big_reg: float = 1e3  # the "large reg" of regularization_raises_loss (CS231n cranks it to 1e3)
    update_steps: int = 10  # training steps before the update/weight ratio is read

    def __post_init__(self) -> None:
        object.__setattr__(self, "only", tuple(self.only))
        object.__setattr__(self, "skip", tuple(self.skip))
        for key in ("only", "skip"):
            for name in getattr(self, key):
                if name not in CHECK_NAMES:
                    raise ConfigError(f"{key} {name!r} is not a check", f"valid checks: {', '.join(CHECK_NAMES)}",
                                      key=key)
        if not (isinstance(self.loss_tolerance, (int, float)) and 0 < self.loss_tolerance < 1):
            raise ConfigError(f"loss_tolerance must be in (0, 1), got {self.loss_tolerance}",
                              "e.g. 0.1 for 10% around ln C", key="loss_tolerance")
        for key, low in (("subset", 2), ("overfit_epochs", 1), ("batch", 2), ("grad_samples", 2),
                         ("grad_entries", 1), ("update_steps", 1)):
            v = getattr(self, key)
            if not isinstance(v, int) or isinstance(v, bool) or v < low:
                raise ConfigError(f"{key} must be an integer >= {low}, got {v}", None, key=key)
        if not (math.isfinite(self.big_reg) and self.big_reg > 0):
            raise ConfigError(f"big_reg must be > 0, got {self.big_reg}", "CS231n uses 1e3", key="big_reg")
        if not self.selected():
            raise ConfigError("no check left to run after only/skip", f"valid checks: {', '.join(CHECK_NAMES)}",
                              key="skip")

    def selected(self) -> tuple[str, ...]:
        return tuple(n for n in CHECK_NAMES if (not self.only or n in self.only) and n not in self.skip)


def sample_batch(split, n: int, rng: np.random.Generator, dtype: str = "float64"):
    """A random batch of at most `n` training samples as fresh arrays: X (n, D) in `dtype`, y (n,)."""
    idx = np.sort(rng.choice(split.X_train.shape[0], min(n, split.X_train.shape[0]), replace=False))
    return split.X_train[idx].astype(dtype), split.y_train[idx].copy()


def build_model(split, cfg: TrainConfig, rng: np.random.Generator) -> MLP:
    return MLP(split.num_features, split.num_classes, cfg, rng)
