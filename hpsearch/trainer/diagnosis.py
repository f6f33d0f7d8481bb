"""Read a run's curves in plain words, after CS231n lecture 6 ("babysitting the learning process").

`diagnose(result, cfg)` -> list of {"kind", "message"}; kinds are stable identifiers for scripts:
lr_too_high, lr_too_low, lr_still_high, bad_init, overfitting, underfitting, update_ratio_low,
update_ratio_high, healthy.
"""

from __future__ import annotations

import math

import numpy as np

GAP_POINTS = 0.10  # a train/val gap above this (10 points) asks for more regularization
LOW_ACC = 0.90  # below this train accuracy with no gap, the model is likely too small
RATIO_LOW, RATIO_HIGH = 1e-4, 1e-2  # CS231n: update/weight around 1e-3


def _smooth(loss: list[float]) -> np.ndarray:
    x = np.asarray([v if v is not None and math.isfinite(v) else np.nan for v in loss], dtype=np.float64)
    w = max(1, len(x) // 20)
    if w == 1:
        return x
    kernel = np.ones(w) / w
    return np.convolve(x, kernel, mode="valid")


def diagnose(result, cfg) -> list[dict]:
    out: list[dict] = []

    def add(kind: str, message: str) -> None:
        out.append({"kind": kind, "message": message})

    if result.status == "diverged":
        where = result.stopped_at or {}
        add("lr_too_high", f"loss exploded ({where.get('reason', 'diverged')}) at epoch {where.get('epoch', '?')}: "
                           "learning rate too high")
        return out
    s = _smooth(result.history.loss)
    if s.size >= 4 and np.all(np.isfinite(s)):
        # the raw first-minibatch loss: smoothing the first window would average away a fast initial drop
        first = result.initial_loss if math.isfinite(result.initial_loss or math.nan) else s[0]
        last = s[-1]
        n = s.size
        early = s[max(1, n // 10)]
        third = s[max(1, n * 3 // 10)]
        total_drop = first - last
        if last > 0.9 * first:
            add("lr_too_low", f"loss barely moved ({first:.3g} -> {last:.3g}): learning rate probably too low")
        elif first - third < 0.05 * first and total_drop > 0.3 * first:
            add("bad_init", f"loss flat for the first 30% of training, then dropped ({first:.3g} -> {last:.3g}): "
                            "suspect the initialization")
        elif (first - early) > 0.5 * first and (early - last) < 0.1 * (first - early) and last > 0.2 * first:
            add("lr_still_high", f"fast drop then a plateau at {last:.3g}: learning rate still too high, "
                                 "try a smaller one or a decay")
    if result.train_acc is not None and result.val_acc is not None:
        gap = result.train_acc - result.val_acc
        if gap > GAP_POINTS:
            add("overfitting", f"train/val gap of {100 * gap:.0f} points: increase regularization (reg, dropout)")
        elif gap < 0.05 and result.train_acc < LOW_ACC and not any(d["kind"] == "lr_too_low" for d in out):
            add("underfitting", f"no train/val gap and train accuracy {result.train_acc:.2f}: "
                                "add capacity (wider or deeper layers)")
    if result.history.update_ratio:
        last = [v for v in result.history.update_ratio[-1].values() if v is not None and math.isfinite(v)]
        if last:
            med = float(np.median(last))
            if med < RATIO_LOW:
                add("update_ratio_low", f"update/weight ratio {med:.1e} < {RATIO_LOW:.0e}: learning rate probably too low")
            elif med > RATIO_HIGH:
                add("update_ratio_high", f"update/weight ratio {med:.1e} > {RATIO_HIGH:.0e}: learning rate probably too high")
    if not out:
        add("healthy", "no problem seen in the curves")
    return out
