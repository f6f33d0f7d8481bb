"""One trial: train a planned configuration, diagnose it, and record the outcome as a TrialRecord.

A failing trial is a result (status `failed`), not a crash of the search.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field

import numpy as np

from hpsearch.config.plain import finite_or_none
from hpsearch.engine import study
from hpsearch.engine.plan import Plan, TrialPlan

METRICS = ("status", "val_acc", "val_last", "val_curve", "train_acc", "initial_loss", "final_loss", "epochs_run",
           "seconds", "diagnosis", "stopped_at", "error", "loss_curve", "train_curve")
LOSS_POINTS = 200  # a record's loss_curve keeps at most this many points (means over equal windows of iterations)


@dataclass(frozen=True)
class TrialRecord:
    number: int
    params: dict
    status: str  # complete | diverged | failed
    val_acc: float | None  # best validation accuracy over the epochs run
    val_last: float | None  # the last epoch's validation accuracy
    val_curve: list  # validation accuracy per epoch run
    train_acc: float | None
    initial_loss: float | None
    final_loss: float | None
    epochs_run: int
    seconds: float
    diagnosis: list = field(default_factory=list)  # [{"kind", "message"}] from trainer/diagnosis.py
    stopped_at: dict | None = None  # diverged: where the abort rule fired
    error: str | None = None  # failed: the exception, one line
    loss_curve: list = field(default_factory=list)  # minibatch loss, downsampled (loss_curve()); null: non-finite
    train_curve: list = field(default_factory=list)  # train accuracy per epoch run (the overfitting gap's other side)

    def to_dict(self) -> dict:
        """The results file's trial object."""
        return {"number": self.number, "params": self.params, **{k: getattr(self, k) for k in METRICS}}

    def attrs(self) -> dict:
        """What the study stores about the trial (user attr `result`); the status is its Optuna state."""
        return {k: getattr(self, k) for k in METRICS if k != "status"}


class LeaseLost(Exception):
    """The storage refused this worker's heartbeat: the trial was declared lost and runs elsewhere."""


def preload() -> None:
    """Import the trainer and the diagnosis, and scan the BLAS libraries once. Search set-up calls this, so
    that these one-time costs are not paid inside the first trial."""
    import hpsearch.trainer.diagnosis  # noqa: F401
    import hpsearch.trainer.fit  # noqa: F401
    from hpsearch.trainer.fast import lanes

    lanes.controller()


def loss_curve(losses, points: int = LOSS_POINTS) -> list:
    """The per-iteration minibatch losses as at most `points` means over equal windows (4 significant digits:
    a picture's precision); a window holding a non-finite loss is null, so a divergence shows where it began."""
    x = np.asarray(losses, dtype=np.float64)
    if x.size > points:
        x = np.array([w.mean() if np.isfinite(w).all() else np.nan for w in np.array_split(x, points)])
    return [float(f"{v:.4g}") if math.isfinite(v) else None for v in x.tolist()]


def train_one(tp: TrialPlan, seed: np.random.SeedSequence, split, lost: Callable[[], bool] | None = None,
              interruptible=nullcontext, threads: int | None = None) -> TrialRecord:
    """Train one planned trial; an exception becomes status `failed` (the search goes on).

    `lost()` is asked after each epoch; True abandons the trial (LeaseLost). `interruptible()` is entered
    around `fit` only (stop.Stopper.trial): a stop signal arriving once training is over (during the
    diagnosis) is noted, and the finished trial is still recorded. `threads`: lanes per fit (fast/lanes.py).
    """
    from hpsearch.trainer import diagnosis, fit  # looked up at call time: tests replace fit.fit

    def check(_stats) -> None:
        if lost():
            raise LeaseLost(tp.number)

    t0 = time.perf_counter()
    try:
        with interruptible():
            r = fit.fit(split, tp.config, seed, check if lost is not None else None, threads=threads)
    except LeaseLost:
        raise
    except Exception as e:  # noqa: BLE001 - a failing trial is a result, not a crash of the search
        return TrialRecord(tp.number, tp.params, "failed", None, None, [], None, None, None, 0,
                           round(time.perf_counter() - t0, 4), [], None, " ".join(f"{type(e).__name__}: {e}".split()))
    curve = [finite_or_none(v) for v in r.history.val_acc]
    return TrialRecord(tp.number, tp.params, r.status, finite_or_none(r.val_acc), curve[-1] if curve else None,
                       curve, finite_or_none(r.train_acc),
                       finite_or_none(r.initial_loss), finite_or_none(r.final_loss), r.epochs_run, round(r.seconds, 4),
                       diagnosis.diagnose(r, tp.config), r.stopped_at,
                       loss_curve=loss_curve(r.history.loss),
                       train_curve=[finite_or_none(v) for v in r.history.train_acc])


def collect(h, plan: Plan) -> list[TrialRecord]:
    """The finished trials of the plan, by number, rebuilt from the study (also for an export).

    The status follows the Optuna state (COMPLETE, PRUNED, FAIL) rather than the mutable `status` attr.
    """
    from optuna.trial import TrialState

    done = study.done_trials(h, range(len(plan.trials)))
    out = []
    for k in sorted(done):
        t = done[k]
        a = t.user_attrs.get(study.RESULT_ATTR) or t.user_attrs  # one dict; flat attrs before 0.2
        status = {TrialState.COMPLETE: "complete", TrialState.PRUNED: "diverged"}.get(t.state, "failed")
        out.append(TrialRecord(k, plan.trials[k].params, status, a.get("val_acc"), a.get("val_last"),
                               list(a.get("val_curve") or []), a.get("train_acc"), a.get("initial_loss"), a.get("final_loss"),
                               int(a.get("epochs_run") or 0), float(a.get("seconds") or 0.0),
                               list(a.get("diagnosis") or []), a.get("stopped_at"), a.get("error"),
                               loss_curve=list(a.get("loss_curve") or []), train_curve=list(a.get("train_curve") or [])))
    return out
