"""Gradient checks: numeric gradients by centered differences (CS231n's gradient_check.py, for the tests), and
the sanity gate's comparison of analytic and numeric gradients, entry by entry.

`compare_gradients(model, X, y, rng, entries)` -> `GradComparison`. It follows the CS231n notes on
gradient checks and guards against their three known traps, so a correct model reads below 1e-7 (mostly 0:
within roundoff) where the bare formula reads up to 1e-3 on the tiniest entries:

- Roundoff. (f(x+h) - f(x-h)) / 2h carries an absolute error of about eps * |f| / h (~1e-11 for a loss
  near 2 in float64), which swamps the relative error of entries whose gradient is itself ~1e-9. That
  much disagreement is allowed before the relative error is taken: NOISE * eps * |f| / h.
- Truncation. Curvature (batchnorm on a few samples, saturating units) adds an O(h^2) error. An entry
  that does not pass at h is measured again at h / 10 (same allowance) and keeps the smaller error:
  truncation falls 100-fold, a wrong backward does not move.
- Kinks. For ReLU-family nets, an entry that still looks wrong is re-evaluated for kink crossings: if any
  hidden unit changes side of 0 between x+h and x-h, the numeric gradient is not exact there; the entry is
  counted in `kink_entries` and left out of the maximum (CS231n: track the "winners" of each max).

Every array is checked; arrays larger than `entries` are checked on a seeded random subset of entries.
The model's parameters are restored bit for bit; batchnorm running statistics too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

NOISE = 100.0  # roundoff allowance, in units of eps * |f| / h (correct models measure below 5)
H = 1e-5  # CS231n's step for float64 checks
PASS_REL = 1e-7  # below this an entry needs no second look
RESOLVE = 10.0  # an array whose largest gradient is under RESOLVE x the allowance cannot be checked at all


def rel_error(a: np.ndarray, b: np.ndarray) -> float:
    """max |a - b| / max(1e-8, |a| + |b|): CS231n's relative error."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b))))


def numeric_gradient(f: Callable[[], float], x: np.ndarray, h: float = 1e-5) -> np.ndarray:
    """d f / d x for a scalar f() that reads x; x is perturbed in place and restored."""
    return numeric_gradient_array(f, x, np.float64(1.0), h)


def numeric_gradient_array(f: Callable[[], np.ndarray], x: np.ndarray, dout: np.ndarray, h: float = 1e-5) -> np.ndarray:
    """Gradient of sum(f() * dout) with respect to x, for an array-valued f() that reads x."""
    grad = np.zeros_like(x, dtype=np.float64)
    it = np.nditer(x, flags=["multi_index"], op_flags=["readwrite"])
    while not it.finished:
        i = it.multi_index
        old = x[i]
        x[i] = old + h
        pos = np.array(f(), dtype=np.float64)
        x[i] = old - h
        neg = np.array(f(), dtype=np.float64)
        x[i] = old
        grad[i] = np.sum((pos - neg) * dout) / (2 * h)
        it.iternext()
    return grad


def check_model(model, X: np.ndarray, y: np.ndarray, seed: int = 0, reg: float | None = None, h: float = 1e-5) -> dict[str, float]:
    """Relative error of every parameter array's analytic gradient against the numeric one.

    The dropout mask is fixed by drawing it from a fresh generator with the same seed on every call.
    Batchnorm running statistics are restored afterwards, so the check leaves the model as it found it.
    """
    def f() -> float:
        return model.loss(X, y, np.random.default_rng(seed), reg=reg)[0]

    with model.bn_stats_kept():
        _, grads = model.loss(X, y, np.random.default_rng(seed), reg=reg)
        return {k: rel_error(grads[k], numeric_gradient(f, model.params[k], h)) for k in model.params}


@dataclass(frozen=True)
class GradComparison:
    max_rel_error: float  # largest relative error over the compared entries (kink crossings left out)
    worst: str  # where it occurred, e.g. "W1[3, 17]"
    per_array: dict[str, float]  # largest relative error per parameter array
    entries: int  # entries compared over all arrays
    total: int  # entries the model has (entries < total when arrays were subsampled)
    kink_entries: int  # entries left out because a ReLU kink lay within h of the data
    max_abs_diff: float  # largest |analytic - numeric| over the compared entries, before any allowance
    allowance: float  # the roundoff allowed at step h for this loss (NOISE * eps * |f| / h)
    unresolved: tuple[str, ...]  # arrays whose every gradient entry is below RESOLVE * allowance: the check is blind


def compare_gradients(model, X: np.ndarray, y: np.ndarray, rng: np.random.Generator, entries: int,
                      kinked: bool, h: float = H, path: Callable | None = None) -> GradComparison:
    """X: (N, D) float64, y: (N,); `model` in float64. Dropout masks are fixed by re-seeding on every call.
    `path(X, y, rng) -> (loss, grads)` computes the loss and gradients over the model's parameters (default
    model.loss, the reference; the sanity gate also passes the fused training step's `gradients`)."""
    mask_seed = int(rng.integers(2**63))
    eps = np.finfo(np.float64).eps
    path = path or model.loss

    def f() -> float:
        return path(X, y, np.random.default_rng(mask_seed))[0]

    def numeric(p: np.ndarray, i: tuple, step: float) -> tuple[float, float]:
        old = p[i]
        p[i] = old + step
        fp = f()
        p[i] = old - step
        fm = f()
        p[i] = old
        return (fp - fm) / (2 * step), NOISE * eps * max(abs(fp), abs(fm), 1.0) / step

    def measure(p: np.ndarray, i: tuple, a: float) -> tuple[float, float, float, float]:
        """(relative error, |a - n| at h, allowance at h, max(|a|, |n|)); a second look at h / 10 if it
        does not pass."""
        n, allow = numeric(p, i, h)
        err = _rel(a, n, allow)
        if err > PASS_REL:  # same allowance: the smaller step must earn its lower error, not get more slack
            err = min(err, _rel(a, numeric(p, i, h / 10)[0], allow))
        return err, abs(a - n), allow, max(abs(a), abs(n))

    def crosses_kink(p: np.ndarray, i: tuple, step: float) -> bool:
        old = p[i]
        p[i] = old + step
        up = [a > 0 for a in model.hidden_activations(X)]
        p[i] = old - step
        down = [a > 0 for a in model.hidden_activations(X)]
        p[i] = old
        return any((u != d).any() for u, d in zip(up, down))

    with model.bn_stats_kept():
        _, grads = path(X, y, np.random.default_rng(mask_seed))
        per_array: dict[str, float] = {}
        worst, worst_key, n_checked, n_kinks, total, max_diff, allowance = "", (-1.0, -1.0), 0, 0, 0, 0.0, 0.0
        unresolved = []
        for name, p in model.params.items():
            total += p.size
            flat = np.arange(p.size) if p.size <= entries else np.sort(rng.choice(p.size, entries, replace=False))
            arr_err, arr_size, arr_allow = 0.0, 0.0, 0.0
            for j in flat:
                i = np.unravel_index(j, p.shape)
                a = float(grads[name][i])
                err, diff, allow, size = measure(p, i, a)
                arr_size, arr_allow = max(arr_size, size), max(arr_allow, allow)
                if err > PASS_REL and kinked and crosses_kink(p, i, h):
                    n_kinks += 1
                    continue
                n_checked += 1
                arr_err = max(arr_err, err)
                max_diff, allowance = max(max_diff, diff), max(allowance, allow)
                if (err, diff) > worst_key:  # ties at 0 go to the largest raw difference
                    worst_key, worst = (err, diff), f"{name}[{', '.join(str(int(k)) for k in i)}]"
            per_array[name] = arr_err
            if not arr_size > RESOLVE * arr_allow:
                unresolved.append(name)
        return GradComparison(max(worst_key[0], 0.0), worst, per_array, n_checked, total, n_kinks, max_diff,
                              allowance, tuple(unresolved))


def _rel(a: float, n: float, allowance: float) -> float:
    """CS231n's |a - n| / max(1e-8, |a| + |n|), after forgiving `allowance` of absolute roundoff."""
    if not (np.isfinite(a) and np.isfinite(n)):
        return float("inf")
    excess = max(0.0, abs(a - n) - allowance)
    return excess / max(1e-8, abs(a) + abs(n))
