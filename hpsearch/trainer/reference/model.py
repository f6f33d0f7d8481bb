"""A fully-connected network of any depth: {affine - [batchnorm] - activation - [dropout]} x L - affine - softmax.

Parameters live in `params` (W1, b1, ..., WL, bL; a batchnorm layer has gamma_i, beta_i instead of b_i, whose
bias would be redundant); batchnorm running statistics in `bn`.
"""

from __future__ import annotations

import contextlib
import math

import numpy as np

from hpsearch.config.train import TrainConfig
from hpsearch.trainer.reference import layers
from hpsearch.trainer.reference.losses import PENALTIES, softmax_cross_entropy


def init_std(init: str, fan_in: int, scale: float) -> float:
    """small: scale (0.01); xavier: 1/sqrt(fan_in); he: sqrt(2/fan_in)."""
    if init == "small":
        return scale
    if init == "xavier":
        return 1.0 / math.sqrt(fan_in)
    if init == "he":
        return math.sqrt(2.0 / fan_in)
    raise ValueError(f"unknown init {init!r}")


def param_layout(dims: list[int], batchnorm: bool) -> list[tuple[str, tuple[int, ...], int, int]]:
    """(name, shape, start, end) of each parameter in the flat buffer, in `params` order:
    W1, b1 (or gamma1, beta1 before a batchnorm layer), W2, ..., WL, bL."""
    out, end = [], 0
    n = len(dims) - 1
    for i in range(n):
        shapes = [(f"W{i + 1}", (dims[i], dims[i + 1]))]
        if batchnorm and i < n - 1:
            shapes += [(f"gamma{i + 1}", (dims[i + 1],)), (f"beta{i + 1}", (dims[i + 1],))]
        else:
            shapes += [(f"b{i + 1}", (dims[i + 1],))]
        for name, shape in shapes:
            out.append((name, shape, end, end + math.prod(shape)))
            end += math.prod(shape)
    return out


COPIES = 6  # parameter-sized arrays training keeps: the parameters, their gradients, two rule states, scratch


def check_memory(n_params: int, dtype: np.dtype, cfg: TrainConfig) -> None:
    """Refuse a network whose training would not fit in the available memory, before allocating it."""
    from hpsearch.config.runtime import available_memory
    from hpsearch.errors import ConfigError

    need = n_params * dtype.itemsize * COPIES
    avail = available_memory()
    if avail is not None and need > avail:
        raise ConfigError(f"hidden {','.join(map(str, cfg.hidden)) or 'none'}: the network has {n_params:,} parameters, "
                          f"which need about {need / 2**30:.1f} GiB to train; {avail / 2**30:.1f} GiB are available",
                          "use narrower layers", key="hidden")


class MLP:
    def __init__(self, input_dim: int, num_classes: int, cfg: TrainConfig, rng: np.random.Generator):
        self.cfg = cfg
        self.dtype = np.dtype(cfg.dtype)
        self.activation = cfg.activation
        self._act_fwd, self._act_bwd = layers.ACTIVATIONS[cfg.activation]
        self._penalty = PENALTIES[cfg.reg_kind]
        self.reg = cfg.reg
        self.dropout = cfg.dropout
        self.batchnorm = cfg.batchnorm
        self.dims = [input_dim, *cfg.hidden, num_classes]
        self.num_layers = len(self.dims) - 1
        # Every parameter is a view into one flat buffer, in `params` order, so an update rule runs once per
        # step over all of them (trainer/fast/fused.py) instead of once per array. Write through the views
        # (`params[k][...] = v`); rebinding a key would take that array out of the buffer.
        self.layout = param_layout(self.dims, cfg.batchnorm)
        check_memory(self.layout[-1][3], self.dtype, cfg)
        self.flat = np.empty(self.layout[-1][3], dtype=self.dtype)
        self.params: dict[str, np.ndarray] = {
            name: self.flat[start:end].reshape(shape) for name, shape, start, end in self.layout}
        self.bn: list[layers.BatchNormState] = []
        init = cfg.resolved_init
        for i in range(self.num_layers):
            fan_in, fan_out = self.dims[i], self.dims[i + 1]
            std = init_std(init, fan_in, cfg.init_scale)
            self.params[f"W{i + 1}"][...] = rng.standard_normal((fan_in, fan_out)) * std
            if not (cfg.batchnorm and i < self.num_layers - 1):  # batchnorm's beta replaces the bias
                self.params[f"b{i + 1}"][...] = 0
            else:
                self.params[f"gamma{i + 1}"][...] = 1
                self.params[f"beta{i + 1}"][...] = 0
                self.bn.append(layers.BatchNormState(np.zeros(fan_out, self.dtype), np.ones(fan_out, self.dtype)))

    @property
    def weight_names(self) -> list[str]:
        return [f"W{i + 1}" for i in range(self.num_layers)]

    # --- forward/backward -------------------------------------------------------------------------

    def _forward(self, X: np.ndarray, train: bool, rng: np.random.Generator | None, keep: list | None):
        """Scores (N, C). With `keep` a list, appends each hidden layer's post-activation output."""
        h = X
        caches = []
        p = self.params
        for i in range(1, self.num_layers):
            h, c_aff = layers.affine_forward(h, p[f"W{i}"], p.get(f"b{i}"))
            c_bn = None
            if self.batchnorm:
                h, c_bn = layers.batchnorm_forward(h, p[f"gamma{i}"], p[f"beta{i}"], self.bn[i - 1], train)
            h, c_act = self._act_fwd(h)
            if keep is not None:
                keep.append(h)
            h, c_drop = layers.dropout_forward(h, self.dropout, train, rng)
            caches.append((c_aff, c_bn, c_act, c_drop))
        n = self.num_layers
        scores, c_last = layers.affine_forward(h, p[f"W{n}"], p[f"b{n}"])
        return scores, caches, c_last

    def loss(self, X: np.ndarray, y: np.ndarray, rng: np.random.Generator | None = None, reg: float | None = None):
        """Training-mode loss and gradients.

        X: (N, D), y: (N,) -> (loss, grads) with grads shaped like params. Batchnorm uses batch statistics
        (and updates its running averages); dropout masks are drawn from `rng`. `reg` overrides the
        configured strength (the sanity check compares reg 0 with a large reg on the same weights).
        """
        reg = self.reg if reg is None else reg
        scores, caches, c_last = self._forward(X, True, rng, None)
        loss, dscores = softmax_cross_entropy(scores, y)
        grads: dict[str, np.ndarray] = {}
        n = self.num_layers
        dh, grads[f"W{n}"], grads[f"b{n}"] = layers.affine_backward(dscores, c_last)
        for i in range(n - 1, 0, -1):
            c_aff, c_bn, c_act, c_drop = caches[i - 1]
            dh = layers.dropout_backward(dh, c_drop)
            dh = self._act_bwd(dh, c_act)
            if self.batchnorm:
                dh, grads[f"gamma{i}"], grads[f"beta{i}"] = layers.batchnorm_backward(dh, c_bn)
            dh, grads[f"W{i}"], db = layers.affine_backward(dh, c_aff)
            if db is not None:
                grads[f"b{i}"] = db
        if reg > 0:
            for name in self.weight_names:
                pen, dpen = self._penalty(self.params[name], reg)
                loss += pen
                grads[name] += dpen
        return float(loss), grads

    def scores(self, X: np.ndarray, batch: int = 4096) -> np.ndarray:
        """Test-mode scores (N, C): running batchnorm statistics, no dropout. Evaluated in chunks."""
        out = [self._forward(X[i:i + batch].astype(self.dtype, copy=False), False, None, None)[0]
               for i in range(0, X.shape[0], batch)]
        return np.concatenate(out) if out else np.zeros((0, self.params[f"b{self.num_layers}"].shape[0]))

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.scores(X).argmax(axis=1)

    def accuracy(self, X: np.ndarray, y: np.ndarray) -> float:
        return float((self.predict(X) == y).mean())

    def hidden_activations(self, X: np.ndarray, train: bool = True) -> list[np.ndarray]:
        """Post-activation output of each hidden layer on X (no dropout), for activation statistics."""
        keep: list[np.ndarray] = []
        with self.bn_stats_kept():  # a look must not move the running statistics
            self._forward_nodrop(X, train, keep)
        return keep

    @contextlib.contextmanager
    def bn_stats_kept(self):
        """Training-mode passes inside move the batchnorm running statistics; they are put back on the way out
        (checks and looks leave the model as they found it)."""
        saved = [(s.running_mean.copy(), s.running_var.copy()) for s in self.bn]
        try:
            yield
        finally:
            for s, (m, v) in zip(self.bn, saved):
                s.running_mean, s.running_var = m, v

    def _forward_nodrop(self, X, train, keep):
        saved, self.dropout = self.dropout, 0.0
        try:
            return self._forward(X, train, None, keep)
        finally:
            self.dropout = saved

    # --- state ------------------------------------------------------------------------------------

    def state_dict(self) -> dict[str, np.ndarray]:
        """Copies of every parameter and batchnorm running statistic (what --save writes)."""
        out = {k: v.copy() for k, v in self.params.items()}
        for i, s in enumerate(self.bn, start=1):
            out[f"running_mean{i}"] = s.running_mean.copy()
            out[f"running_var{i}"] = s.running_var.copy()
        return out

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        for k in self.params:
            self.params[k][...] = state[k]
        for i, s in enumerate(self.bn, start=1):
            s.running_mean = state[f"running_mean{i}"].copy()
            s.running_var = state[f"running_var{i}"].copy()
