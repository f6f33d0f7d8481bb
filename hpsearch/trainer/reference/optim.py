"""First-order update rules (CS231n lecture 7 notation).

Every rule has one signature:

    rule(w, dw, state, lr, hp) -> None

    w      parameter array, updated in place
    dw     its gradient (same shape)
    state  that parameter's `SlotState` (velocity / caches / step count), updated in place
    lr     the learning rate for this step (schedules live in schedules.py)
    hp     `OptimHyper`: the rule's hyperparameters, shared by every parameter

Rules are looked up by name in `RULES`; `get_rule` lists the valid names when one is unknown.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from hpsearch.errors import ConfigError


@dataclass(frozen=True)
class OptimHyper:
    momentum: float = 0.9  # mu of sgd_momentum and nesterov: how much velocity survives a step
    decay_rate: float = 0.99  # rmsprop: leak of the squared-gradient cache
    beta1: float = 0.9  # adam: decay of the first-moment estimate
    beta2: float = 0.999  # adam: decay of the second-moment estimate
    eps: float = 1e-8  # keeps the adaptive denominators away from zero


class SlotState:
    """Per-parameter optimizer state; slots are created lazily, shaped like the parameter.

    `tmp` and `tmp2` are scratch buffers: the rules evaluate their formulas in place through them, so a step
    allocates nothing (operation by operation the arithmetic of the docstring formulas; Adam in the paper's
    equivalent order, see `adam`).
    """

    __slots__ = ("v", "m", "cache", "t", "tmp", "tmp2")

    def __init__(self) -> None:
        self.v: np.ndarray | None = None
        self.m: np.ndarray | None = None
        self.cache: np.ndarray | None = None
        self.t = 0
        self.tmp: np.ndarray | None = None
        self.tmp2: np.ndarray | None = None


def _zeros(w: np.ndarray) -> np.ndarray:
    return np.zeros_like(w)


def _scratch(s: SlotState, w: np.ndarray) -> np.ndarray:
    if s.tmp is None or s.tmp.shape != w.shape or s.tmp.dtype != w.dtype:
        s.tmp = np.empty_like(w)
    return s.tmp


def _times_lr(dw, s: SlotState, w, lr: float) -> np.ndarray:
    """lr * dw through the scratch buffer; dw itself when lr is 1 (x * 1 == x exactly: one pass less)."""
    if lr == 1:
        return dw
    tmp = _scratch(s, w)
    np.multiply(dw, lr, out=tmp)
    return tmp


def sgd(w, dw, s: SlotState, lr: float, hp: OptimHyper) -> None:
    """w -= lr * dw"""
    w -= _times_lr(dw, s, w, lr)


def sgd_momentum(w, dw, s: SlotState, lr: float, hp: OptimHyper) -> None:
    """v = mu * v - lr * dw;  w += v"""
    if s.v is None:
        s.v = _zeros(w)
    s.v *= hp.momentum
    s.v -= _times_lr(dw, s, w, lr)
    w += s.v


def nesterov(w, dw, s: SlotState, lr: float, hp: OptimHyper) -> None:
    """v_prev = v;  v = mu * v - lr * dw;  w += -mu * v_prev + (1 + mu) * v"""
    if s.v is None:
        s.v = _zeros(w)
    mu = hp.momentum
    tmp = _scratch(s, w)
    np.multiply(s.v, mu, out=tmp)  # mu * v_prev
    w -= tmp
    s.v *= mu
    s.v -= _times_lr(dw, s, w, lr)
    np.multiply(s.v, 1 + mu, out=tmp)
    w += tmp


def adagrad(w, dw, s: SlotState, lr: float, hp: OptimHyper) -> None:
    """cache += dw^2;  w -= lr * dw / (sqrt(cache) + eps)"""
    if s.cache is None:
        s.cache = _zeros(w)
    tmp = _scratch(s, w)
    np.multiply(dw, dw, out=tmp)
    s.cache += tmp
    _scaled_step(w, dw, s.cache, tmp, s, lr, hp.eps)


def rmsprop(w, dw, s: SlotState, lr: float, hp: OptimHyper) -> None:
    """cache = decay * cache + (1 - decay) * dw^2;  w -= lr * dw / (sqrt(cache) + eps)"""
    if s.cache is None:
        s.cache = _zeros(w)
    tmp = _scratch(s, w)
    s.cache *= hp.decay_rate
    np.multiply(dw, dw, out=tmp)
    tmp *= 1 - hp.decay_rate
    s.cache += tmp
    _scaled_step(w, dw, s.cache, tmp, s, lr, hp.eps)


def _scaled_step(w, dw, cache, tmp, s: SlotState, lr: float, eps: float) -> None:
    """w -= lr * dw / (sqrt(cache) + eps), through two scratch buffers."""
    np.sqrt(cache, out=tmp)
    tmp += eps
    if s.tmp2 is None or s.tmp2.shape != w.shape or s.tmp2.dtype != w.dtype:
        s.tmp2 = np.empty_like(w)
    np.multiply(dw, lr, out=s.tmp2)
    s.tmp2 /= tmp
    w -= s.tmp2


def adam(w, dw, s: SlotState, lr: float, hp: OptimHyper) -> None:
    """t += 1;  m = b1 m + (1-b1) dw;  v = b2 v + (1-b2) dw^2;
    m_hat = m / (1 - b1^t);  v_hat = v / (1 - b2^t);  w -= lr * m_hat / (sqrt(v_hat) + eps)

    Evaluated as Kingma & Ba's "more efficient order" (Adam paper, sec. 2), exactly equal in real numbers:
    w -= [lr * sqrt(1 - b2^t) / (1 - b1^t)] * m / (sqrt(v) + eps * sqrt(1 - b2^t)): 12 passes over the
    arrays instead of 14, no m_hat / v_hat arrays.
    """
    if s.m is None:
        s.m = _zeros(w)
        s.v = _zeros(w)
    tmp = _scratch(s, w)
    s.t += 1
    s.m *= hp.beta1
    np.multiply(dw, 1 - hp.beta1, out=tmp)
    s.m += tmp
    s.v *= hp.beta2
    np.multiply(dw, dw, out=tmp)
    tmp *= 1 - hp.beta2
    s.v += tmp
    c1, c2 = 1 - hp.beta1**s.t, math.sqrt(1 - hp.beta2**s.t)
    np.sqrt(s.v, out=tmp)
    tmp += hp.eps * c2
    np.divide(s.m, tmp, out=tmp)
    tmp *= lr * c2 / c1
    w -= tmp


RULES = {
    "sgd": sgd,
    "sgd_momentum": sgd_momentum,
    "nesterov": nesterov,
    "adagrad": adagrad,
    "rmsprop": rmsprop,
    "adam": adam,
}


# Rules linear in the gradient: rule(w, lr * dw, s, 1, hp) is rule(w, dw, s, lr, hp) in real numbers, so the
# fused trainer may scale the loss gradient by lr at its source (the (B, C) scores' gradient) instead of
# scaling every parameter's gradient (trainer/fast/fused.py).
LINEAR_IN_GRADIENT = frozenset({sgd, sgd_momentum, nesterov})


def get_rule(name: str):
    try:
        return RULES[name]
    except KeyError:
        raise ConfigError(
            f"unknown optimizer {name!r}", f"use one of: {', '.join(RULES)}", key="optimizer"
        ) from None
