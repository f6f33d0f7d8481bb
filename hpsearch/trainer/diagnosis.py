"""Read a run's curves in plain words, after CS231n lecture 6 ("babysitting the learning process").

`diagnose(result, cfg)` -> list of {"kind", "message"}; kinds are stable identifiers for scripts:
lr_too_high, lr_too_low, lr_still_high, bad_init, overfitting, underfitting, reg_too_strong, update_ratio_low,
update_ratio_high, still_learning, healthy. `healthy` needs the evidence for it: a loss still falling at a train
accuracy below LOW_ACC is `still_learning` (judge it after a longer run), not healthy.

The loss curve is read smoothed (windows of about a twentieth of the run), so minibatch noise does not decide:
a loss that ends above where it started, or climbs back well above its low, is `lr_too_high` (never
`lr_too_low`); a loss that barely moved is `lr_too_low`, unless the weights moved fast (update/weight ratio
high), which makes it `lr_too_high`. The update/weight ratio is the epoch-level one (fit.py: the median over
steps spread over the epoch) of the last epoch, and only seconds a verdict the loss curve allows: a high ratio
on a run whose loss fell well is no problem. A too-strong reg (the model fits the training set poorly while the penalty
holds a large share of the final loss, or the loss fell to chance level with weights so small that each step
moves them by more than RATIO_HIGH) is `reg_too_strong`, not `underfitting`. A rise while the weights moved
< 1% in all (ratio x steps) is noise. A loss pinned at ln C while the weights race is `bad_init` (the signal does
not get through), as is a flat start (medians, noise-aware) then a sudden drop (SHARP of the fall within
a fifth of the run: a fall cut short declines at a steady pace). A fall that has converged (flat over the
last 30%) is `lr_still_high` when the weights still move by > RATIO_HIGH per step, else `underfitting` at a low
train accuracy; a loss still falling at the end is neither. Contradicting labels are never given together. Thresholds: benchmarks/bench_diagnosis.py.
"""

from __future__ import annotations

import functools
import math

import numpy as np

GAP_POINTS = 0.10  # a train/val gap above this (10 points) asks for more regularization
LOW_ACC = 0.90  # below this train accuracy with no gap, the model is likely too small (or too regularized)
RATIO_LOW, RATIO_HIGH = 1e-4, 1e-2  # CS231n: update/weight around 1e-3
FLAT = 0.90  # smoothed end above this x the smoothed start: the loss barely moved
RISE = 1.10  # smoothed end above this x the smoothed start: the loss rose
CLIMB = 0.30  # smoothed end above its low by this x the start: the loss climbed back up
DECEL = 0.33  # the second half of the run fell by less than this x the first half's fall: the loss has converged
PINNED = 0.02  # a smoothed loss within this x ln C of ln C all along is pinned at chance (uniform predictions)
MOVED = 1e-2  # update ratio x steps below this: the weights moved < 1% in all, so a rise is noise, not the lr
REG_SHARE = 0.25  # the penalty's share of the final loss above which reg dominates the objective
SQUASHED = 0.5  # a settled data loss above this x ln C at a good train accuracy: reg keeps the softmax near uniform
SHARP = 0.5  # a bad init's drop: this share of the whole fall within a fifth of the run (_sharp_drop)
COLLAPSE = 0.85  # a final loss above this x ln C is chance level (weights decayed away under a strong reg)
ACTED = 1.0  # the weights moved by less than their own size over the run (_moved) ...
FELL_FAR = 3.0  # ... and the loss fell by less than this factor: the penalty has not shaped them, its share says nothing
TAIL_BLOCKS = 20  # _tail_trend fits its curve to the medians of this many blocks of the run
TAIL_Z = 2.0  # ... and calls a second-half fall below this many standard errors noise
_TAUS = np.geomspace(0.003, 30.0, 64)  # the time constants (in run lengths) _tail_trend tries


def _median(values) -> float:
    """np.median of a few finite values, exactly (the middle value, or the mean of the two middle ones), without
    numpy's per-call cost: a trial's diagnosis takes about a dozen medians of short curves."""
    v = sorted(values.tolist() if isinstance(values, np.ndarray) else values)
    m = len(v) // 2
    return float(v[m]) if len(v) % 2 else (v[m - 1] + v[m]) / 2


def _finite(loss) -> np.ndarray:
    x = np.asarray([v if v is not None and math.isfinite(v) else np.nan for v in loss], dtype=np.float64)
    return x[np.isfinite(x)]


def _smooth(x: np.ndarray) -> np.ndarray:
    w = max(1, x.size // 20, min(5, x.size // 4))
    if w == 1:
        return x
    c = np.cumsum(np.r_[0.0, x])
    return (c[w:] - c[:-w]) / w


def _flat_start(x: np.ndarray, fall: float, sigma: float) -> bool:
    """The loss neither fell nor rose over the first 30% of the run: the medians of its two halves agree within
    a tolerance that grows with the minibatch noise `sigma` (_noise), and differ by less than a tenth of the
    run's whole `fall` (an even decline falls 0.15 of it there: a steady decline is no flat start)."""
    m = max(1, x.size * 3 // 20)
    a, b = _median(x[:m]), _median(x[m:2 * m])
    tol = min(0.3, max(0.10, 2 * sigma * math.sqrt(2 / m)))
    k = min(5, m)
    head = _median(x[:k])  # the very start: a fast first drop is no flat start; one-sided, since a start
    # below the plateau is noise, and 3 sigma of a median of k samples, so noise alone rarely breaks a flat start
    return abs(b - a) <= min(tol * a, 0.1 * fall) and head - a <= min(0.3, max(0.10, 3 * sigma * math.sqrt(1 / k))) * head


def _sharp_drop(x: np.ndarray, fall: float) -> bool:
    """Most of the loss's fall (SHARP of it) happens within a fifth of the run: between the medians of two tenths
    one apart. A bad init's drop is sudden once the signal gets through; a fall cut short declines at a steady
    pace (a fifth of its fall per fifth of the run). Medians, so minibatch noise does not make a drop."""
    k = x.size // 10
    if k < 1:
        return True  # too short to tell: the flat start decides
    med = [_median(x[i * k:(i + 1) * k]) for i in range(10)]
    return max(med[i] - med[i + 2] for i in range(8)) > SHARP * fall


def _noise(x: np.ndarray) -> float:
    """Per-sample minibatch noise on a log scale, from consecutive differences (a trend does not count)."""
    steps = np.abs(np.diff(np.log(np.maximum(x, 1e-12))))
    return 1.4826 * _median(steps) / math.sqrt(2) if steps.size else 0.0


@functools.lru_cache(maxsize=None)
def _basis(nb: int) -> tuple[np.ndarray, np.ndarray]:
    """_tail_trend's centred exp(-t / tau) at the centres of nb blocks, one row per tau, and each row's g.g."""
    t = (np.arange(nb) + 0.5) / nb
    g = np.exp(-t[None, :] / _TAUS[:, None])
    g -= g.mean(axis=1, keepdims=True)
    return g, np.maximum(np.einsum("ij,ij->i", g, g), 1e-300)


def _tail_trend(x: np.ndarray, sigma: float) -> str:
    """"falling" or "converged": does the second half of the run still fall by more than DECEL x what the first
    half fell? A fall that has converged decelerates (an exponential approach to its plateau does most of its fall
    early); a run cut short still falls at a steady pace. Both falls are read from an exponential approach
    p + A exp(-t / tau) fitted to the medians of TAIL_BLOCKS blocks of the whole run (least squares, tau on a log
    grid), so every sample counts and minibatch noise averages out; the second half's fall must also exceed
    TAIL_Z standard errors of its fitted value (from the per-sample noise `sigma`), else it is noise: converged."""
    if x.size < 6:
        return "falling"
    nb = min(TAIL_BLOCKS, x.size // 3)
    m = x.size // nb
    blocks = np.sort(x[: nb * m].reshape(nb, m), axis=1)  # each block's median, without np.median's overhead
    y = blocks[:, m // 2] if m % 2 else 0.5 * (blocks[:, m // 2 - 1] + blocks[:, m // 2])
    g, sxx = _basis(nb)
    gy = g @ (y - y.mean())
    best = int(np.argmax(gy * gy / sxx))  # least squares: the residual is sum(yc^2) - (g.yc)^2 / g.g
    amp = gy / sxx
    tau, a = float(_TAUS[best]), float(amp[best])
    half, end = math.exp(-0.5 / tau), math.exp(-1.0 / tau)
    first, second = a * (1.0 - half), a * (half - end)
    block_sd = 1.2533 * sigma * _median(y) / math.sqrt(m)  # a median of m samples with log-scale noise sigma
    se = (half - end) * block_sd / math.sqrt(float(sxx[best]))
    return "falling" if second > max(DECEL * first, TAIL_Z * se) else "converged"


def _ratio(result) -> float | None:
    """Median over weight matrices of the last epoch's update/weight ratio."""
    if not result.history.update_ratio:
        return None
    vals = [v for v in result.history.update_ratio[-1].values() if v is not None and math.isfinite(v)]
    return _median(vals) if vals else None


def _moved(result, steps: int) -> float | None:
    """How far the weights moved over the run, relative to their size: the sum over epochs of the epoch's median
    update/weight ratio x its steps (the ratio of one epoch alone misleads when it decays as the loss converges)."""
    per_epoch = [[v for v in d.values() if v is not None and math.isfinite(v)] for d in result.history.update_ratio]
    per_epoch = [_median(v) for v in per_epoch if v]
    if not per_epoch:
        return None
    steps = max(result.iterations or 0, steps)
    return sum(per_epoch) * steps / len(per_epoch)


def _reg_share(result) -> float | None:
    """The penalty's share of the last epoch's loss (None when fit() did not record it)."""
    reg = getattr(result.history, "reg_loss", None)
    if not reg or reg[-1] is None or not result.final_loss or not math.isfinite(result.final_loss):
        return None
    return float(reg[-1]) / float(result.final_loss)


def diagnose(result, cfg) -> list[dict]:
    out: list[dict] = []

    def add(kind: str, message: str) -> None:
        out.append({"kind": kind, "message": message})

    if result.status == "diverged":
        where = result.stopped_at or {}
        add("lr_too_high", f"loss exploded ({where.get('reason', 'diverged')}) at epoch {where.get('epoch', '?')}: "
                           "learning rate too high")
        return out
    ratio = _ratio(result)
    shape = None  # rising | flat | fell
    x = _finite(result.history.loss)
    s = _smooth(x)
    if s.size >= 4:
        first, last, low = float(s[0]), float(s[-1]), float(np.min(s))
        moved = _moved(result, x.size)
        still = moved is not None and moved < MOVED  # the weights did not move
        chance = getattr(result.history, "chance_loss", None)
        pinned = chance is not None and bool(np.all(np.abs(s - chance) < PINNED * chance))
        if not still and (last > RISE * first or (last - low > CLIMB * first and last > 1.5 * low)):
            shape = "rising"
            add("lr_too_high", f"loss rose ({first:.3g} -> low {low:.3g} -> {last:.3g}): learning rate too high")
        elif last > FLAT * first or (still and last > 0.5 * first):  # weights that moved < 1% in all cannot
            # have made the loss fall by a little: that is noise (a fall by half is real, whatever the ratio says)
            shape = "flat"
            if pinned and ratio is not None and ratio > RATIO_HIGH:
                add("bad_init", f"loss pinned at chance level ({last:.3g}, ln C {chance:.3g}) while the weights move by "
                                f"{ratio:.1e} of their size per step: the signal does not get through the net, "
                                "suspect the initialization (too small for its depth)")
            elif ratio is not None and ratio > RATIO_HIGH:
                add("lr_too_high", f"loss did not fall ({first:.3g} -> {last:.3g}) while the weights moved by "
                                   f"{ratio:.1e} of their size per step: learning rate too high")
            else:
                add("lr_too_low", f"loss barely moved ({first:.3g} -> {last:.3g}): learning rate probably too low")
        else:
            shape = "fell"
            head = max(first, _median(x[:5]))  # a fast first drop is averaged away by the smoothing
            reg_share = _reg_share(result) or 0.0
            # weights still near their init (moved < ACTED, the loss fell < FELL_FAR x): the penalty is large
            # because they are, not because reg shaped them (a too-low lr at a reg the right lr would bear)
            acted = moved is None or moved >= ACTED or first >= FELL_FAR * last
            data_last = last * (1 - reg_share)  # the plateau's data part: a penalty plateau is expected
            weak_fit = result.train_acc is not None and result.train_acc < LOW_ACC
            collapsed = (chance is not None and last > COLLAPSE * chance and ratio is not None and ratio > RATIO_HIGH
                         and first > last / COLLAPSE)  # weights decayed to ~0: chance-level loss, huge relative steps
            sigma = _noise(x)  # once: both shape tests below read it
            trend = _tail_trend(x, sigma)
            squashed = (not weak_fit and result.train_acc is not None and chance is not None
                        and data_last > SQUASHED * chance and trend == "converged")
            if (weak_fit and ((reg_share > REG_SHARE and acted) or collapsed)) or squashed:
                why = (f"the data loss settled at {data_last:.3g}, near chance level (ln C {chance:.3g}), although "
                       f"train accuracy is {result.train_acc:.2f}: the predictions are nearly uniform" if squashed
                       else f"the penalty is {100 * reg_share:.0f}% of the final loss {last:.3g}" if reg_share > REG_SHARE
                       else f"the loss fell from {first:.3g} to chance level ({last:.3g}, ln C {chance:.3g}) with "
                            f"weights so small that each step moves them by {ratio:.1e}")
                add("reg_too_strong", f"{why} and train accuracy is {result.train_acc:.2f}: regularization too "
                                      "strong, lower reg")
            elif _flat_start(x, first - last, sigma) and first - last > 0.3 * first and _sharp_drop(x, first - last):
                add("bad_init", f"loss flat for the first 30% of training, then dropped ({first:.3g} -> {last:.3g}): "
                                "suspect the initialization")
            else:
                top = min(head, chance) if chance else head  # a first step that blew the loss up (itself a
                # too-high lr's doing) must not make a plateau look low: at most the loss of uniform predictions
                if trend != "falling" and ratio is not None and ratio > RATIO_HIGH and data_last > 0.2 * top:
                    add("lr_still_high", f"the loss fell from {head:.3g} and stays at {last:.3g} while the weights "
                                         f"move by {ratio:.1e} of their size per step: learning rate still too high, "
                                         "try a smaller one or a decay")
                elif trend != "converged":
                    shape = "falling"  # still learning at the end, or cannot tell: not a capacity limit
    said = {d["kind"] for d in out}
    if result.train_acc is not None and result.val_acc is not None and shape in (None, "fell", "falling"):
        gap = result.train_acc - result.val_acc
        if gap > GAP_POINTS:
            add("overfitting", f"train/val gap of {100 * gap:.0f} points: increase regularization (reg, dropout)")
        elif (gap < 0.05 and result.train_acc < LOW_ACC and shape != "falling"
              and not said & {"reg_too_strong", "lr_still_high", "bad_init"}):
            add("underfitting", f"no train/val gap and train accuracy {result.train_acc:.2f}: "
                                "add capacity (wider or deeper layers)")
    if ratio is not None:
        if ratio < RATIO_LOW and shape != "rising" and "lr_too_high" not in said and (shape == "flat" or not out):
            add("update_ratio_low", f"update/weight ratio {ratio:.1e} < {RATIO_LOW:.0e} per step: learning rate "
                                    "probably too low")
        elif ratio > RATIO_HIGH and "lr_too_low" not in said and said & {"lr_too_high", "lr_still_high"}:
            add("update_ratio_high", f"update/weight ratio {ratio:.1e} > {RATIO_HIGH:.0e} per step: learning rate "
                                     "probably too high")
    if not out and shape == "falling" and result.train_acc is not None and result.train_acc < LOW_ACC:
        add("still_learning", f"the loss is still falling at the end ({first:.3g} -> {last:.3g}) and train accuracy is "
                              f"only {result.train_acc:.2f}: train longer (or with a larger lr) before judging it")
    if not out:
        add("healthy", "no problem seen in the curves")
    return out
