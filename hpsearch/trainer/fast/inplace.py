"""In-place kernels of the fused training step (fused.py): each hidden layer's buffers, and the
activations, batchnorm and dropout of layers.py rewritten to work in those buffers, operation by
operation the same arithmetic (tests/test_speed_paths.py checks them against layers.py via MLP.loss).
"""

from __future__ import annotations

import numpy as np

from hpsearch.trainer.reference import layers


class Hidden:
    """Buffers of hidden layer i for a batch of B samples and M units, and views of its parameters."""

    def __init__(self, i: int, B: int, model, grads):
        M, dtype = model.dims[i], model.dtype
        self.i = i
        self.W, self.b = model.params[f"W{i}"], model.params.get(f"b{i}")
        self.gW, self.gb = grads[f"W{i}"], grads.get(f"b{i}")
        self.W_next = model.params[f"W{i + 1}"]  # the dh GEMM goes back through the next layer's weights
        self.a = np.empty((B, M), dtype)  # affine output; after batchnorm and the activation, in place: h
        self.dh = np.empty((B, M), dtype)  # gradient flowing back into this layer's output
        self.tmp = np.empty((B, M), dtype)
        self.bool = np.empty((B, M), bool)
        self.out = self.a  # what the next layer reads: a, or a * mask with dropout
        if model.batchnorm:
            self.gamma, self.beta = model.params[f"gamma{i}"], model.params[f"beta{i}"]
            self.g_gamma, self.g_beta = grads[f"gamma{i}"], grads[f"beta{i}"]
            self.state = model.bn[i - 1]
            self.xhat = np.empty((B, M), dtype)
            self.mu, self.var, self.inv, self.vec = (np.empty(M, dtype) for _ in range(4))
        if model.dropout:
            self.rand = np.empty((B, M), np.float64)  # the same draws as layers.dropout_forward
            self.mask = np.empty((B, M), dtype)
            self.out = np.empty((B, M), dtype)


# --- activations: a -> act(a) in place; dh -> dh * act'(a) in place ----------------------------------


def act_forward(name: str, layer: Hidden) -> None:
    """layer.a -> activation(layer.a), in place (relu, tanh, leaky_relu; the others through layers.py)."""
    a = layer.a
    if name == "relu":
        np.maximum(a, 0, out=a)
    elif name == "tanh":
        np.tanh(a, out=a)
    elif name == "leaky_relu":  # max(x, slope*x) == where(x > 0, x, slope*x) for 0 < slope < 1
        np.multiply(a, layers.LEAKY_SLOPE, out=layer.tmp)
        np.maximum(a, layer.tmp, out=a)
    else:
        out, layer.cache = layers.ACTIVATIONS[name][0](a.copy())  # its cache may keep the input
        np.copyto(a, out)


def act_backward(name: str, layer: Hidden, dh: np.ndarray) -> None:
    """dh -> dh * activation'(x), in place, from the activation's output kept in layer.a."""
    out, tmp = layer.a, layer.tmp
    if name == "relu":
        np.greater(out, 0, out=layer.bool)
        np.multiply(dh, layer.bool, out=dh)
    elif name == "tanh":
        np.multiply(out, out, out=tmp)
        np.subtract(1, tmp, out=tmp)
        np.multiply(dh, tmp, out=dh)
    elif name == "leaky_relu":  # out > 0 exactly where x > 0
        np.less_equal(out, 0, out=layer.bool)
        np.multiply(dh, layers.LEAKY_SLOPE, out=tmp)
        np.copyto(dh, tmp, where=layer.bool)
    else:
        np.copyto(dh, layers.ACTIVATIONS[name][1](dh, layer.cache))


# --- batchnorm and dropout ---------------------------------------------------------------------------


def bn_forward(layer: Hidden) -> None:
    """layers.batchnorm_forward in training mode, in place: layer.a -> gamma * xhat + beta."""
    a, st, tmp, mu, var, inv = layer.a, layer.state, layer.tmp, layer.mu, layer.var, layer.inv
    np.mean(a, axis=0, out=mu)
    np.subtract(a, mu, out=a)  # xc
    np.multiply(a, a, out=tmp)
    np.mean(tmp, axis=0, out=var)
    np.add(var, st.eps, out=inv)
    np.sqrt(inv, out=inv)
    np.divide(1.0, inv, out=inv)
    np.multiply(a, inv, out=layer.xhat)
    mom = st.momentum
    for run, batch in ((st.running_mean, mu), (st.running_var, var)):
        run *= mom
        np.multiply(batch, 1 - mom, out=layer.vec)
        run += layer.vec
    np.multiply(layer.xhat, layer.gamma, out=a)
    np.add(a, layer.beta, out=a)


def bn_backward(layer: Hidden, dh: np.ndarray) -> None:
    """layers.batchnorm_backward, in place: dh (at the output) -> dh at the input; dgamma, dbeta into grads."""
    xhat, tmp, vec, n = layer.xhat, layer.tmp, layer.vec, dh.shape[0]
    np.add.reduce(dh, axis=0, out=layer.g_beta)
    np.multiply(dh, xhat, out=tmp)
    np.add.reduce(tmp, axis=0, out=layer.g_gamma)
    np.multiply(dh, layer.gamma, out=dh)  # dxhat
    np.add.reduce(dh, axis=0, out=layer.mu)  # mu's buffer now holds the sum of dxhat
    np.multiply(dh, xhat, out=tmp)
    np.add.reduce(tmp, axis=0, out=vec)
    np.multiply(xhat, vec, out=tmp)
    dh *= n
    dh -= layer.mu
    dh -= tmp
    np.divide(layer.inv, n, out=vec)
    dh *= vec


def dropout_forward(layer: Hidden, p: float, rng) -> None:
    """layers.dropout_forward in training mode: the same draws from rng; layer.out = layer.a * mask."""
    if rng is None:
        raise ValueError("dropout in training mode needs an rng")
    rng.random(out=layer.rand)
    np.greater_equal(layer.rand, p, out=layer.bool)
    np.copyto(layer.mask, layer.bool)
    layer.mask /= 1 - p
    np.multiply(layer.a, layer.mask, out=layer.out)
