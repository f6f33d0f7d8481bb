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
    """Per-parameter optimizer state; slots are created lazily, shaped like the parameter."""

    __slots__ = ("v", "m", "cache", "t")

    def __init__(self) -> None:
        self.v: np.ndarray | None = None
        self.m: np.ndarray | None = None
        self.cache: np.ndarray | None = None
        self.t = 0


def _zeros(w: np.ndarray) -> np.ndarray:
    return np.zeros_like(w)


def sgd(w, dw, s: SlotState, lr: float, hp: OptimHyper) -> None:
    """w -= lr * dw"""
    w -= lr * dw


def sgd_momentum(w, dw, s: SlotState, lr: float, hp: OptimHyper) -> None:
    """v = mu * v - lr * dw;  w += v"""
    if s.v is None:
        s.v = _zeros(w)
    s.v *= hp.momentum
    s.v -= lr * dw
    w += s.v


def nesterov(w, dw, s: SlotState, lr: float, hp: OptimHyper) -> None:
    """v_prev = v;  v = mu * v - lr * dw;  w += -mu * v_prev + (1 + mu) * v"""
    if s.v is None:
        s.v = _zeros(w)
    mu = hp.momentum
    v_prev = s.v.copy()
    s.v *= mu
    s.v -= lr * dw
    w -= mu * v_prev
    w += (1 + mu) * s.v


def adagrad(w, dw, s: SlotState, lr: float, hp: OptimHyper) -> None:
    """cache += dw^2;  w -= lr * dw / (sqrt(cache) + eps)"""
    if s.cache is None:
        s.cache = _zeros(w)
    s.cache += dw * dw
    w -= lr * dw / (np.sqrt(s.cache) + hp.eps)


def rmsprop(w, dw, s: SlotState, lr: float, hp: OptimHyper) -> None:
    """cache = decay * cache + (1 - decay) * dw^2;  w -= lr * dw / (sqrt(cache) + eps)"""
    if s.cache is None:
        s.cache = _zeros(w)
    s.cache *= hp.decay_rate
    s.cache += (1 - hp.decay_rate) * (dw * dw)
    w -= lr * dw / (np.sqrt(s.cache) + hp.eps)


def adam(w, dw, s: SlotState, lr: float, hp: OptimHyper) -> None:
    """t += 1;  m = b1 m + (1-b1) dw;  v = b2 v + (1-b2) dw^2;
    m_hat = m / (1 - b1^t);  v_hat = v / (1 - b2^t);  w -= lr * m_hat / (sqrt(v_hat) + eps)"""
    if s.m is None:
        s.m = _zeros(w)
        s.v = _zeros(w)
    s.t += 1
    s.m *= hp.beta1
    s.m += (1 - hp.beta1) * dw
    s.v *= hp.beta2
    s.v += (1 - hp.beta2) * (dw * dw)
    m_hat = s.m / (1 - hp.beta1**s.t)
    v_hat = s.v / (1 - hp.beta2**s.t)
    w -= lr * m_hat / (np.sqrt(v_hat) + hp.eps)


RULES = {
    "sgd": sgd,
    "sgd_momentum": sgd_momentum,
    "nesterov": nesterov,
    "adagrad": adagrad,
    "rmsprop": rmsprop,
    "adam": adam,
}


def get_rule(name: str):
    try:
        return RULES[name]
    except KeyError:
        raise ConfigError(
            f"unknown optimizer {name!r}", f"use one of: {', '.join(RULES)}", key="optimizer"
        ) from None
