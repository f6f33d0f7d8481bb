"""Layers as CS231n writes them: `*_forward(...) -> (out, cache)`, `*_backward(dout, cache) -> grads`.

Each forward sits next to its backward. Shapes: N samples, D input features, M output features.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


# --- affine ---------------------------------------------------------------------------------------


def affine_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray | None):
    """x: (N, D), w: (D, M), b: (M,) or None -> out: (N, M).

    b is None before a batchnorm layer, whose beta makes a bias redundant (its true gradient is 0).
    """
    out = x @ w
    if b is not None:
        out += b
    return out, (x, w, b is not None)


def affine_backward(dout: np.ndarray, cache):
    """dout: (N, M) -> dx: (N, D), dw: (D, M), db: (M,) (None when the forward had no bias)."""
    x, w, has_b = cache
    dx = dout @ w.T
    dw = x.T @ dout
    db = dout.sum(axis=0) if has_b else None
    return dx, dw, db


# --- activations: forward(x) -> (out, cache); backward(dout, cache) -> dx -------------------------


def relu_forward(x: np.ndarray):
    """Elementwise max(0, x); x: any shape."""
    out = np.maximum(x, 0)
    return out, out


def relu_backward(dout: np.ndarray, cache):
    out = cache
    return dout * (out > 0)


LEAKY_SLOPE = 0.01  # slope for x < 0 (Maas et al. 2013)


def leaky_relu_forward(x: np.ndarray):
    out = np.where(x > 0, x, x * LEAKY_SLOPE)
    return out, x


def leaky_relu_backward(dout: np.ndarray, cache):
    x = cache
    return np.where(x > 0, dout, dout * LEAKY_SLOPE)


def tanh_forward(x: np.ndarray):
    out = np.tanh(x)
    return out, out


def tanh_backward(dout: np.ndarray, cache):
    out = cache
    return dout * (1 - out * out)


def sigmoid_forward(x: np.ndarray):
    """Numerically stable logistic: never exponentiates a large positive number."""
    z = np.exp(-np.abs(x))
    out = np.where(x >= 0, 1 / (1 + z), z / (1 + z))
    return out, out


def sigmoid_backward(dout: np.ndarray, cache):
    out = cache
    return dout * out * (1 - out)


ELU_ALPHA = 1.0  # saturation value -alpha for x -> -inf (Clevert et al. 2015)


def elu_forward(x: np.ndarray):
    out = np.where(x > 0, x, ELU_ALPHA * np.expm1(np.minimum(x, 0)))
    return out, (x, out)


def elu_backward(dout: np.ndarray, cache):
    x, out = cache
    return np.where(x > 0, dout, dout * (out + ELU_ALPHA))


# name -> (forward, backward); the registry every model and CLI flag uses
ACTIVATIONS = {
    "relu": (relu_forward, relu_backward),
    "leaky_relu": (leaky_relu_forward, leaky_relu_backward),
    "elu": (elu_forward, elu_backward),
    "tanh": (tanh_forward, tanh_backward),
    "sigmoid": (sigmoid_forward, sigmoid_backward),
}


# --- batch normalization --------------------------------------------------------------------------


@dataclass
class BatchNormState:
    """Running statistics of one batchnorm layer (not learned; updated in training mode)."""

    running_mean: np.ndarray  # (D,)
    running_var: np.ndarray  # (D,)
    momentum: float = 0.9  # running = momentum * running + (1 - momentum) * batch
    eps: float = 1e-5  # added to the variance before the square root


def batchnorm_forward(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, state: BatchNormState, train: bool):
    """x: (N, D), gamma/beta: (D,) -> out: (N, D).

    Training: normalize with the batch statistics and update the running averages.
    Test: normalize with the running averages; the batch is not looked at.
    """
    if train:
        mu = x.mean(axis=0)
        xc = x - mu
        var = (xc * xc).mean(axis=0)
        inv_std = 1.0 / np.sqrt(var + state.eps)
        xhat = xc * inv_std
        m = state.momentum
        state.running_mean = m * state.running_mean + (1 - m) * mu
        state.running_var = m * state.running_var + (1 - m) * var
        out = xhat * gamma + beta
        return out, (xhat, gamma, inv_std)
    xhat = (x - state.running_mean) / np.sqrt(state.running_var + state.eps)
    out = xhat * gamma + beta
    return out, None


def batchnorm_backward(dout: np.ndarray, cache):
    """dout: (N, D) -> dx: (N, D), dgamma: (D,), dbeta: (D,). The simplified closed form (training mode)."""
    if cache is None:
        raise ValueError("batchnorm_backward needs a cache from a training-mode forward")
    xhat, gamma, inv_std = cache
    n = dout.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = (dout * xhat).sum(axis=0)
    dxhat = dout * gamma
    dx = (inv_std / n) * (n * dxhat - dxhat.sum(axis=0) - xhat * (dxhat * xhat).sum(axis=0))
    return dx, dgamma, dbeta


# --- inverted dropout -----------------------------------------------------------------------------


def dropout_forward(x: np.ndarray, p: float, train: bool, rng: np.random.Generator | None):
    """Drop each unit with probability p and scale survivors by 1/(1-p) at train time; identity at test.

    x: any shape. The mask comes from `rng`, so a seeded generator fixes it (gradient checks rely on it).
    """
    if not train or p == 0:
        return x, None
    if rng is None:
        raise ValueError("dropout in training mode needs an rng")
    mask = (rng.random(x.shape, dtype=np.float64) >= p).astype(x.dtype)
    mask /= 1 - p
    return x * mask, mask


def dropout_backward(dout: np.ndarray, cache):
    mask = cache
    if mask is None:
        return dout
    return dout * mask
