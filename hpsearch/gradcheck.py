"""Numeric gradients by centered differences (CS231n's gradient_check.py), for tests and `hpsearch sanity`."""

from __future__ import annotations

from typing import Callable

import numpy as np


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
    saved = [(s.running_mean.copy(), s.running_var.copy()) for s in model.bn]

    def f() -> float:
        return model.loss(X, y, np.random.default_rng(seed), reg=reg)[0]

    try:
        _, grads = model.loss(X, y, np.random.default_rng(seed), reg=reg)
        return {k: rel_error(grads[k], numeric_gradient(f, model.params[k], h)) for k in model.params}
    finally:
        for s, (m, v) in zip(model.bn, saved):
            s.running_mean, s.running_var = m, v
