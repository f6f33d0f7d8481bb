"""The trainer's minibatch step: gather, forward, softmax loss, backward and update in preallocated buffers.

`MLP.loss` + an `optim` rule per array is the reference (readable, checked against numeric gradients and
hand-written formulas); this is the same maths arranged for speed, checked against it in
tests/test_speed_paths.py:
- every activation, gradient and scratch array is allocated once for the batch size and reused in place;
- gradients land in one flat buffer mirroring `model.flat`: the penalty's gradient and the update rule run
  over a few cache-sized blocks of it rather than array by array;
- the input layer's dX, which nothing needs, is never computed;
- with a rule linear in the gradient (sgd, sgd_momentum, nesterov), backward_update scales the scores'
  gradient (B x C) by lr and runs the rule with lr = 1: every parameter's gradient arrives already scaled,
  which saves the rule's pass over the whole buffer (`grad` then holds lr x the gradients);
- a big first layer (D*M >= SPLIT_MIN) is cut in two regions by input feature: each lane gathers its half
  of the batch's columns, computes its half-K forward product, its rows of dW, and updates its part of the
  parameters, so one step needs a single hand-off between the two threads (lanes.py). The cut is the
  same with one lane or two, so results never depend on the number of threads.

    step = TrainStep(model, batch, get_rule("adam"), OptimHyper(), X)
    step.begin(idx)                     # gather rows idx of X, first-layer product
    loss = step.forward(yb, rng)        # the rest of the forward pass: loss incl. penalty (training mode)
    step.backward_update(lr, next_idx)  # gradients, update; also begins the next batch if given
"""

from __future__ import annotations

import numpy as np

from hpsearch.trainer.fast import inplace
from hpsearch.trainer.fast.lanes import SPLIT_MIN, Lanes
from hpsearch.trainer.reference.optim import LINEAR_IN_GRADIENT, OptimHyper, SlotState

BLOCK_BYTES = 256 * 1024  # flat-buffer block for the penalty gradient and the rule: a few fit in L2
BIG_WEIGHTS = 1 << 14  # weight entries from which a matrix's penalty gradient is scaled by the scalar reg


class _Region:
    """One lane's share: columns [c0, c1) of the batch, those rows of W1, a range of the flat buffer."""

    def __init__(self, step: "TrainStep", c0: int, c1: int, lo: int, hi: int, first_out: np.ndarray):
        m, B = step.model, step.B
        self.cols = slice(c0, c1)
        self.x = np.empty((B, c1 - c0), m.dtype)  # this region's columns of the minibatch
        self.raw = self.x if step.X is None or step.X.dtype == m.dtype else np.empty((B, c1 - c0), step.X.dtype)
        self.W1, self.gW1 = step.W1[c0:c1], step.gW1[c0:c1]
        self.out = first_out  # x @ W1[c0:c1], (B, M1)
        self.penalty = 0.0
        # Blocks of flat[lo:hi] (parameters, gradients, rule state, penalty views). On one lane,
        # cache-sized blocks; on two, one block per region: fewer calls, less contention between the lanes
        # (faster on the cifar-like shape of benchmarks/bench_trainer.py). Rules are element-wise, so the
        # partition never changes a result.
        nblocks = 1 if step.lanes.parallel else max(1, -(-(hi - lo) * m.dtype.itemsize // BLOCK_BYTES))
        edges = [lo + (hi - lo) * j // nblocks for j in range(nblocks + 1)]
        self.blocks = []
        for a, b in zip(edges[:-1], edges[1:]):
            pen = [(m.flat[u:v], step.grad[u:v], step.reg_tmp[u:v], scale) for u, v, scale in step.penalty_spans(a, b)]
            slot = SlotState()
            if step.penalized:  # the rule's scratch is the penalty's: one array less to keep in cache
                slot.tmp = step.reg_tmp[a:b]
            self.blocks.append((m.flat[a:b], step.grad[a:b], slot, pen))
        self.weights = [m.flat[max(a, lo):min(b, hi)] for a, b in step.weight_ranges if max(a, lo) < min(b, hi)]


class TrainStep:
    def __init__(self, model, batch: int, rule, hyper: OptimHyper, X: np.ndarray | None = None,
                 lanes: Lanes | None = None):
        self.model, self.B, self.rule, self.hyper, self.X = model, batch, rule, hyper, X
        self.lanes = lanes if lanes is not None else Lanes(1)
        dt, nl, B = model.dtype, model.num_layers, batch
        self.grad = np.zeros_like(model.flat)  # data-loss gradients, laid out like model.flat
        self.g = {name: self.grad[a:b].reshape(shape) for name, shape, a, b in model.layout}
        self.hidden = [inplace.Hidden(i, B, model, self.g) for i in range(1, nl)]
        self.W_out, self.b_out = model.params[f"W{nl}"], model.params[f"b{nl}"]
        self.gW_out, self.gb_out = self.g[f"W{nl}"], self.g[f"b{nl}"]
        self.W1, self.gW1 = model.params["W1"], self.g["W1"]
        C = model.dims[-1]
        self.scores = np.empty((B, C), dt)
        self.probs = np.empty((B, C), dt)
        self.col = np.empty((B, 1), dt)
        self.logz = np.empty((B, 1), dt)
        self.row_base = np.arange(B) * C  # flat index of each row's first score
        self.weight_ranges = [(a, b) for name, _, a, b in model.layout if name.startswith("W")]
        self.l1 = model.cfg.reg_kind == "l1"
        self.penalized = model.reg > 0  # reg on every weight entry; biases, gamma and beta are not penalized
        self.prescale = rule in LINEAR_IN_GRADIENT
        if self.penalized:
            # the penalty gradient's scale, units x reg, in the parameters' dtype: a 0-d array and an array
            # (units x reg on weights, 0 elsewhere), both written by _set_units when the units change
            self.reg = np.empty((), model.dtype)
            self.decay = np.zeros_like(model.flat)
            self.reg_tmp = np.empty_like(model.flat)
        self.units = None  # the gradients in `grad` are this many times the loss's (lr when prescaled)
        self._set_units(1.0)
        first = self.hidden[0].a if self.hidden else self.scores  # the first layer's affine output
        D, M1 = model.dims[0], model.dims[1]
        self.split = splits(model)
        self.halves = None  # X as (2N, D/2): row 2i is X[i, :D/2], row 2i+1 is X[i, D/2:]
        if self.split and X is not None and D % 2 == 0 and X.flags.c_contiguous:
            self.halves = X.reshape(2 * X.shape[0], D // 2)
        if self.split:
            k = D // 2
            self.regions = [_Region(self, 0, k, 0, k * M1, first),
                            _Region(self, k, D, k * M1, model.flat.size, np.empty((B, M1), dt))]
        else:
            self.regions = [_Region(self, 0, D, 0, model.flat.size, first)]

    def penalty_spans(self, a: int, b: int) -> list[tuple[int, int, object]]:
        """Where flat[a:b] gets the penalty's gradient, as (lo, hi, scale): scale is the scalar reg over a big
        weight matrix (one array less to stream than `decay`, which shows at cifar-like shapes), else
        `decay`'s view over a span of small weights and the biases between them (one call for all of them).
        The same products either way: reg * w in the parameters' dtype, or w * 0 on the biases."""
        if not self.penalized:
            return []
        spans, small = [], []
        for wa, wb in self.weight_ranges:
            u, v = max(a, wa), min(b, wb)
            if u < v:
                (spans if v - u >= BIG_WEIGHTS else small).append((u, v))
        spans = [(u, v, self.reg) for u, v in spans]
        if small:
            u, v = small[0][0], small[-1][1]
            spans.append((u, v, self.decay[u:v]))
        return spans

    # --- the pipeline: begin -> forward -> backward_update(next) -> forward -> ... ---------------------

    def begin(self, idx: np.ndarray) -> None:
        """Gather rows `idx` of X (each region its columns) and compute the first layer's product."""
        self._both(lambda r: self._front(r, idx))

    def forward(self, yb: np.ndarray, rng: np.random.Generator | None) -> float:
        """The rest of the forward pass for the begun batch: loss (data + penalty), like MLP.loss."""
        m = self.model
        if self.split:
            first = self.regions[0].out
            np.add(first, self.regions[1].out, out=first)
        h = None
        for layer in self.hidden:
            a = layer.a
            if h is not None:
                np.matmul(h, layer.W, out=a)
            if m.batchnorm:
                inplace.bn_forward(layer)
            else:
                np.add(a, layer.b, out=a)
            inplace.act_forward(m.activation, layer)
            if m.dropout:
                inplace.dropout_forward(layer, m.dropout, rng)
            h = layer.out
        if h is not None:
            np.matmul(h, self.W_out, out=self.scores)
        np.add(self.scores, self.b_out, out=self.scores)
        loss = self._softmax_loss(yb)
        return loss + self.regions[0].penalty + self.regions[1].penalty if self.split else loss + self.regions[0].penalty

    def backward_update(self, lr: float | None, next_idx: np.ndarray | None = None) -> None:
        """Gradients of the forwarded batch into `grad`, then (lr given) the penalty gradient and one step of
        the rule, in place; with `next_idx`, each lane then begins the next batch. One hand-off per call.
        With lr given and a rule linear in the gradient, `grad` holds lr x the gradients (see the top)."""
        if lr is not None and self.prescale:
            self._set_units(lr)
            if lr != 1:
                np.multiply(self.probs, lr, out=self.probs)
            lr = 1.0
        else:
            self._set_units(1.0)
        dh1 = self._backward()
        if not self.split:
            self._back_front(self.regions[0], dh1, lr, next_idx)
        else:
            r0, r1 = self.regions
            self.lanes.run(lambda: self._back_front(r1, dh1, lr, next_idx), lambda: self._back_front(r0, dh1, lr, next_idx))

    def _set_units(self, units: float) -> None:
        """Record that the coming gradients are `units` x the loss's; the penalty's gradient follows."""
        if units == self.units:
            return
        self.units = units
        if self.penalized:
            self.reg[...] = self.model.reg * units
            for a, b in self.weight_ranges:
                self.decay[a:b] = self.model.reg * units

    def loss(self, xb: np.ndarray, yb: np.ndarray, rng: np.random.Generator | None) -> float:
        """MLP.loss's contract on one given batch: the loss, and the data loss's gradients in `g` / `grad`
        (the penalty's gradient is added inside the update, so it is not in `grad`)."""
        for r in self.regions:
            r.x[...] = xb[:, r.cols]
        self._both(lambda r: self._front(r, None))
        loss = self.forward(yb, rng)
        self.backward_update(None)
        return loss

    def gradients(self, xb: np.ndarray, yb: np.ndarray, rng: np.random.Generator | None) -> tuple[float, dict]:
        """The total loss and its gradients (data + penalty) on one batch, through the code that trains: the
        fused forward and backward, then the penalty's gradient by the update's own code, without a step.
        What the sanity gate checks against numeric gradients and the reference model. Copies, float64."""
        loss = self.loss(xb, yb, rng)
        self._set_units(1.0)
        self._both(self._add_penalty_gradient)
        return loss, {name: g.astype(np.float64) for name, g in self.g.items()}

    def score_loss(self, scores: np.ndarray, yb: np.ndarray) -> tuple[float, np.ndarray]:
        """The step's softmax cross-entropy on given scores (B, C): the loss and a copy of d loss / d scores."""
        self.scores[...] = scores
        loss = self._softmax_loss(yb)
        return loss, self.probs.copy()

    def update(self, lr: float) -> None:
        """Penalty gradient + the rule over every block, after loss() (the pipeline does it in backward_update)."""
        self._set_units(1.0)
        self._both(lambda r: self._update(r, lr))

    # --- lane work --------------------------------------------------------------------------------

    def _both(self, fn) -> None:
        if len(self.regions) == 1:
            fn(self.regions[0])
        else:
            r0, r1 = self.regions
            self.lanes.run(lambda: fn(r1), lambda: fn(r0))

    def _front(self, r: _Region, idx) -> None:
        if idx is not None:
            if not self.split:
                # mode="clip": with out=, the default mode="raise" gathers into a temporary first (2-4x slower)
                self.X.take(idx, axis=0, out=r.raw, mode="clip")
                if r.raw is not r.x:
                    np.copyto(r.x, r.raw)
            elif self.halves is not None:  # rows of X seen as two half-rows: a contiguous take
                self.halves.take(2 * idx + (r is self.regions[1]), axis=0, out=r.raw, mode="clip")
                if r.raw is not r.x:
                    np.copyto(r.x, r.raw)
            else:  # X[idx, cols]: take() on a column slice copies element by element (200x slower)
                r.x = self.X[idx, r.cols].astype(self.model.dtype, copy=False)
        np.matmul(r.x, r.W1, out=r.out)
        if self.penalized:
            total = 0.0
            if self.l1:
                for w in r.weights:
                    total += float(np.add.reduce(np.abs(w), axis=None))
                r.penalty = self.model.reg * total
            else:
                for w in r.weights:
                    total += float(np.vdot(w, w))
                r.penalty = 0.5 * self.model.reg * total

    def _back_front(self, r: _Region, dh1, lr, next_idx) -> None:
        np.matmul(r.x.T, dh1, out=r.gW1)
        if lr is not None:
            self._update(r, lr)
        if next_idx is not None:
            self._front(r, next_idx)

    def _update(self, r: _Region, lr: float) -> None:
        rule, hyper = self.rule, self.hyper
        for w, g, slot, pen in r.blocks:
            self._penalty_gradient(pen)
            rule(w, g, slot, lr, hyper)

    def _add_penalty_gradient(self, r: _Region) -> None:
        for _, _, _, pen in r.blocks:
            self._penalty_gradient(pen)

    def _penalty_gradient(self, pen) -> None:
        """grad += the penalty's gradient over one block's spans (reg * w, or reg * sign(w) for l1)."""
        for pw, pg, tmp, scale in pen:
            if self.l1:
                np.sign(pw, out=tmp)
                np.multiply(tmp, scale, out=tmp)  # reg * sign(w)
            else:
                np.multiply(pw, scale, out=tmp)  # reg * w
            np.add(pg, tmp, out=pg)

    # --- backward (main thread), softmax -----------------------------------------------------------

    def _backward(self) -> np.ndarray:
        """Every gradient except W1's; returns the gradient at the first layer's affine output."""
        m = self.model
        p = self.probs
        if not self.hidden:
            np.add.reduce(p, axis=0, out=self.gb_out)
            return p
        np.matmul(self.hidden[-1].out.T, p, out=self.gW_out)
        np.add.reduce(p, axis=0, out=self.gb_out)
        dout = p
        for layer in reversed(self.hidden):
            dh = layer.dh
            np.matmul(dout, layer.W_next.T, out=dh)
            if m.dropout:
                np.multiply(dh, layer.mask, out=dh)
            inplace.act_backward(m.activation, layer, dh)
            if m.batchnorm:
                inplace.bn_backward(layer, dh)
            else:
                np.add.reduce(dh, axis=0, out=layer.gb)
            if layer.i > 1:
                np.matmul(self.hidden[layer.i - 2].out.T, dh, out=layer.gW)
            dout = dh
        return dout

    def _softmax_loss(self, yb) -> float:
        """Mean cross-entropy of self.scores; dscores into self.probs (losses.softmax_cross_entropy)."""
        s, p, col, B = self.scores, self.probs, self.col, self.B
        np.maximum.reduce(s, axis=1, keepdims=True, out=col)
        np.subtract(s, col, out=s)  # shifted: exp never overflows
        np.exp(s, out=p)
        np.add.reduce(p, axis=1, keepdims=True, out=col)
        np.log(col, out=self.logz)
        at_y = self.row_base + yb  # flat index of each row's true-class score
        loss = (float(np.add.reduce(self.logz, axis=None)) - float(np.add.reduce(s.ravel().take(at_y)))) / B
        np.divide(p, col, out=p)
        p.ravel()[at_y] -= 1
        np.divide(p, B, out=p)
        return loss

def splits(model) -> bool:
    """Whether the first layer is big enough to be cut in two regions (and run on two lanes)."""
    D = model.dims[0]
    return D * model.dims[1] >= SPLIT_MIN and D >= 2
