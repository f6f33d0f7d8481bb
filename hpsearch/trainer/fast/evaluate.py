"""Test-mode accuracy in preallocated buffers: MLP.predict's maths (running batchnorm statistics, no dropout)
without its per-call allocations, for the trainer's per-epoch train/validation accuracy.

    counter = HitCounter(model)
    hits = counter.hits(X, y)   # number of rows of X whose argmax score equals y
"""

from __future__ import annotations

import numpy as np

from hpsearch.trainer.reference import layers

CHUNK = 4096  # rows scored at once, as MLP.scores does


class HitCounter:
    def __init__(self, model, rows: int = CHUNK):
        self.model = model
        self.rows = rows
        self.bufs = [np.empty((rows, d), model.dtype) for d in model.dims[1:]]
        self.pred = np.empty(rows, np.intp)
        self.eq = np.empty(rows, bool)
        self.denom = [np.empty(d, model.dtype) for d in model.dims[1:-1]] if model.batchnorm else []

    def hits(self, X: np.ndarray, y: np.ndarray) -> int:
        """How many rows of X (N, D) the model classifies as y (N,); X is cast chunk by chunk if needed."""
        m, p = self.model, self.model.params
        for s, st in zip(self.denom, m.bn):
            np.add(st.running_var, st.eps, out=s)
            np.sqrt(s, out=s)
        total = 0
        for lo in range(0, X.shape[0], self.rows):
            x = X[lo:lo + self.rows].astype(m.dtype, copy=False)
            n = x.shape[0]
            h = x
            for i in range(1, m.num_layers + 1):
                a = self.bufs[i - 1][:n]
                np.matmul(h, p[f"W{i}"], out=a)
                if i == m.num_layers:
                    np.add(a, p[f"b{i}"], out=a)
                elif m.batchnorm:  # layers.batchnorm_forward, test mode
                    st = m.bn[i - 1]
                    np.subtract(a, st.running_mean, out=a)
                    np.divide(a, self.denom[i - 1], out=a)
                    np.multiply(a, p[f"gamma{i}"], out=a)
                    np.add(a, p[f"beta{i}"], out=a)
                else:
                    np.add(a, p[f"b{i}"], out=a)
                if i < m.num_layers:
                    _activate(m.activation, a)
                h = a
            np.argmax(h, axis=1, out=self.pred[:n])
            np.equal(self.pred[:n], y[lo:lo + n], out=self.eq[:n])
            total += int(np.count_nonzero(self.eq[:n]))
        return total


def _activate(name: str, a: np.ndarray) -> None:
    if name == "relu":
        np.maximum(a, 0, out=a)
    elif name == "tanh":
        np.tanh(a, out=a)
    else:
        np.copyto(a, layers.ACTIVATIONS[name][0](a)[0])
