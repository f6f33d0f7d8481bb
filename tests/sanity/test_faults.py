"""The sanity gate's fault-injection table (issue 14, item 5): each bug is monkeypatched into the code that
trains, and the check the table names must catch it, with a message that names a likely cause.

A row is (fault, inject(monkeypatch), config, check, statuses that count as caught, message keywords).
`caught` is {"fail"} except where the gate documents a warning for that fault (the penalty without its 0.5:
regularization_raises_loss warns, the loss rising by twice the penalty). Injections go through monkeypatch, so
every one is undone after its test. A bug in a function that other modules import by name
(`from ... import dropout_forward`) is injected by swapping the function's code (`swap_body`), so every
binding of it runs the buggy body, as a bug in the source would; functions only ever reached through their
module (`layers.affine_backward`, `inplace.act_backward`) or a registry (`ACTIVATIONS`, `PENALTIES`, `RULES`)
are replaced there.

Then: correct code passes the whole gate (no "fail") on every built-in data set over 20 seeds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pytest

from hpsearch.config.data import BUILTIN
from hpsearch.config.train import TrainConfig
from hpsearch.data import dataset, split
from hpsearch.sanity.gate import run_checks
from hpsearch.sanity.types import CHECK_NAMES, SanityOptions
from hpsearch.trainer.fast import inplace
from hpsearch.trainer.fast.fused import TrainStep
from hpsearch.trainer.reference import layers, losses, optim
from hpsearch.trainer.reference import model as model_module

GOOD = dict(optimizer="adam", lr=1e-3)  # as in test_gate.py: lr in the update/weight band on both data sets


@pytest.fixture(scope="module")
def splits():
    return {name: split.split(dataset.load(name), 0.2, 0) for name in BUILTIN}


def swap_body(monkeypatch, func, buggy) -> None:
    """Make `func` run `buggy`'s code wherever it is bound (module attribute or a `from` import), in `func`'s
    own module globals. `buggy` must not close over anything."""
    assert not buggy.__code__.co_freevars, "a swapped body cannot carry a closure"
    monkeypatch.setattr(func, "__code__", buggy.__code__)
    monkeypatch.setattr(func, "__defaults__", buggy.__defaults__)


# --- buggy copies: the correct function with one thing wrong (marked BUG) ------------------------------


def softmax_unshifted(scores, y):
    n = scores.shape[0]
    shifted = scores  # BUG: no "- scores.max(axis=1, keepdims=True)"
    log_z = np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    log_probs = shifted - log_z
    rows = np.arange(n)
    loss = -log_probs[rows, y].mean()
    dscores = np.exp(log_probs)
    dscores[rows, y] -= 1
    dscores /= n
    return float(loss), dscores


def softmax_grad_not_over_n(scores, y):
    n = scores.shape[0]
    shifted = scores - scores.max(axis=1, keepdims=True)
    log_z = np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    log_probs = shifted - log_z
    rows = np.arange(n)
    loss = -log_probs[rows, y].mean()
    dscores = np.exp(log_probs)
    dscores[rows, y] -= 1
    # BUG: no "dscores /= n"
    return float(loss), dscores


def fused_softmax_unshifted(self, yb):
    s, p, col, B = self.scores, self.probs, self.col, self.B
    # BUG: no "np.maximum.reduce(s, axis=1, keepdims=True, out=col); np.subtract(s, col, out=s)"
    np.exp(s, out=p)
    np.add.reduce(p, axis=1, keepdims=True, out=col)
    np.log(col, out=self.logz)
    at_y = self.row_base + yb
    loss = (float(np.add.reduce(self.logz, axis=None)) - float(np.add.reduce(s.ravel().take(at_y)))) / B
    np.divide(p, col, out=p)
    p.ravel()[at_y] -= 1
    np.divide(p, B, out=p)
    return loss


def fused_softmax_grad_not_over_n(self, yb):
    s, p, col, B = self.scores, self.probs, self.col, self.B
    np.maximum.reduce(s, axis=1, keepdims=True, out=col)
    np.subtract(s, col, out=s)
    np.exp(s, out=p)
    np.add.reduce(p, axis=1, keepdims=True, out=col)
    np.log(col, out=self.logz)
    at_y = self.row_base + yb
    loss = (float(np.add.reduce(self.logz, axis=None)) - float(np.add.reduce(s.ravel().take(at_y)))) / B
    np.divide(p, col, out=p)
    p.ravel()[at_y] -= 1
    # BUG: no "np.divide(p, B, out=p)"
    return loss


def dropout_unscaled(x, p, train, rng):
    if not train or p == 0:
        return x, None
    if rng is None:
        raise ValueError("dropout in training mode needs an rng")
    mask = (rng.random(x.shape, dtype=np.float64) >= p).astype(x.dtype)
    # BUG: no "mask /= 1 - p"
    return x * mask, mask


def fused_dropout_unscaled(layer, p, rng):
    if rng is None:
        raise ValueError("dropout in training mode needs an rng")
    rng.random(out=layer.rand)
    np.greater_equal(layer.rand, p, out=layer.bool)
    np.copyto(layer.mask, layer.bool)
    # BUG: no "layer.mask /= 1 - p"
    np.multiply(layer.a, layer.mask, out=layer.out)


def batchnorm_backward_no_mean_term(dout, cache):
    xhat, gamma, inv_std = cache
    n = dout.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = (dout * xhat).sum(axis=0)
    dxhat = dout * gamma
    dx = (inv_std / n) * (n * dxhat - xhat * (dxhat * xhat).sum(axis=0))  # BUG: no "- dxhat.sum(axis=0)"
    return dx, dgamma, dbeta


def fused_bn_backward_no_mean_term(layer, dh):
    xhat, tmp, vec, n = layer.xhat, layer.tmp, layer.vec, dh.shape[0]
    np.add.reduce(dh, axis=0, out=layer.g_beta)
    np.multiply(dh, xhat, out=tmp)
    np.add.reduce(tmp, axis=0, out=layer.g_gamma)
    np.multiply(dh, layer.gamma, out=dh)
    np.add.reduce(dh, axis=0, out=layer.mu)
    np.multiply(dh, xhat, out=tmp)
    np.add.reduce(tmp, axis=0, out=vec)
    np.multiply(xhat, vec, out=tmp)
    dh *= n
    # BUG: no "dh -= layer.mu"
    dh -= tmp
    np.divide(layer.inv, n, out=vec)
    dh *= vec


# --- injections -----------------------------------------------------------------------------------------


def reference_dw_times(factor: float):
    def inject(mp):
        orig = layers.affine_backward

        def affine_backward(dout, cache):
            dx, dw, db = orig(dout, cache)
            return dx, dw * factor, db

        mp.setattr(layers, "affine_backward", affine_backward)
    return inject


def fused_w1_times(factor: float):
    """The fused step's first-layer dW (computed by each lane in _back_front) off by `factor`, before the update."""
    def inject(mp):
        orig = TrainStep._back_front

        def _back_front(self, r, dh1, lr, next_idx):
            orig(self, r, dh1, None, None)
            r.gW1 *= factor
            if lr is not None:
                self._update(r, lr)
            if next_idx is not None:
                self._front(r, next_idx)

        mp.setattr(TrainStep, "_back_front", _back_front)
    return inject


def fused_w_out_times(factor: float):
    """The fused step's output-layer dW (computed in _backward) off by `factor`."""
    def inject(mp):
        orig = TrainStep._backward

        def _backward(self):
            out = orig(self)
            self.gW_out *= factor
            return out

        mp.setattr(TrainStep, "_backward", _backward)
    return inject


def reference_relu_backward_x2(mp):
    fwd, bwd = layers.ACTIVATIONS["relu"]
    mp.setitem(layers.ACTIVATIONS, "relu", (fwd, lambda dout, cache: 2 * bwd(dout, cache)))


def fused_relu_backward_x2(mp):
    orig = inplace.act_backward

    def act_backward(name, layer, dh):
        orig(name, layer, dh)
        if name == "relu":
            dh *= 2

    mp.setattr(inplace, "act_backward", act_backward)


def init_times_10(mp):
    """He/Xavier std x 10 (the `small` init, which the initial-loss check uses for its reference, untouched)."""
    orig = model_module.init_std
    mp.setattr(model_module, "init_std", lambda init, fan_in, scale: orig(init, fan_in, scale) * (1 if init == "small" else 10))


def penalty(loss_factor: float, grad_factor: float):
    """The reference l2 penalty as `loss_factor` x 0.5 reg ||W||^2 with gradient `grad_factor` x reg W."""
    def inject(mp):
        mp.setitem(losses.PENALTIES, "l2", lambda w, reg: (loss_factor * 0.5 * reg * float(np.vdot(w, w)),
                                                           grad_factor * reg * w))
    return inject


def fused_penalty_loss_times(factor: float):
    """The fused step's penalty (added to its loss in _front) x `factor`; its gradient untouched."""
    def inject(mp):
        orig = TrainStep._front

        def _front(self, r, idx):
            orig(self, r, idx)
            r.penalty *= factor

        mp.setattr(TrainStep, "_front", _front)
    return inject


def fused_penalty_gradient_missing(mp):
    mp.setattr(TrainStep, "_penalty_gradient", lambda self, pen: None)


def ascending(rule_name: str):
    """The rule steps along +gradient: the same registry entry serves MLP training and the fused step (get_rule)."""
    def inject(mp):
        orig = optim.RULES[rule_name]
        mp.setitem(optim.RULES, rule_name, lambda w, dw, s, lr, hp: orig(w, -dw, s, lr, hp))
    return inject


def nothing(mp):
    pass


def swap(func, buggy):
    return lambda mp: swap_body(mp, func, buggy)


def setattr_(obj, name, value):
    return lambda mp: mp.setattr(obj, name, value)


@dataclass(frozen=True)
class Fault:
    name: str
    inject: Callable
    cfg: TrainConfig
    check: str
    keywords: tuple[str, ...]  # each must appear in the message: the likely cause (and the path, where two)
    caught: frozenset = frozenset({"fail"})
    data: str = "digits"
    opts: dict = field(default_factory=dict)


REF, FAST = "the reference model's", "the training step's"  # how gradient_check names the wrong path
BACKWARD = "a bug in a backward pass"

FAULTS = [
    # --- the misses ---
    Fault("fused relu backward x2", fused_relu_backward_x2, TrainConfig(), "gradient_check", (FAST, BACKWARD)),
    Fault("reference affine dW x1.01", reference_dw_times(1.01), TrainConfig(), "gradient_check", (REF, BACKWARD)),
    Fault("fused W1 dW x1.01", fused_w1_times(1.01), TrainConfig(), "gradient_check", (FAST, BACKWARD)),
    Fault("fused W_out dW x1.01", fused_w_out_times(1.01), TrainConfig(), "gradient_check", (FAST, BACKWARD)),
    Fault("fused W1 dW x1.01, float64", fused_w1_times(1.01), TrainConfig(dtype="float64"), "gradient_check",
          (FAST, BACKWARD)),
    Fault("he init x10", init_times_10, TrainConfig(), "initial_loss", ("init scale is too large",)),
    Fault("xavier init x10 (tanh)", init_times_10, TrainConfig(activation="tanh"), "initial_loss",
          ("init scale is too large",)),
    Fault("reference softmax unshifted", swap(losses.softmax_cross_entropy, softmax_unshifted), TrainConfig(),
          "softmax_stability", ("reference", "subtract each row's max")),
    Fault("fused softmax unshifted", setattr_(TrainStep, "_softmax_loss", fused_softmax_unshifted), TrainConfig(),
          "softmax_stability", ("training step", "subtract each row's max")),
    Fault("fused softmax unshifted, float64", setattr_(TrainStep, "_softmax_loss", fused_softmax_unshifted),
          TrainConfig(dtype="float64"), "softmax_stability", ("training step", "subtract each row's max")),
    Fault("reference dropout unscaled", swap(layers.dropout_forward, dropout_unscaled), TrainConfig(),
          "dropout_scaling", ("reference", "1/(1-p)")),
    Fault("fused dropout unscaled", swap(inplace.dropout_forward, fused_dropout_unscaled), TrainConfig(),
          "dropout_scaling", ("training step", "1/(1-p)")),
    Fault("fused dropout unscaled, p 0.2", swap(inplace.dropout_forward, fused_dropout_unscaled),
          TrainConfig(dropout=0.2), "dropout_scaling", ("training step", "1/(1-p)")),
    # a 1 % backward error fails on every activation, on both paths
    *[Fault(f"reference affine dW x1.01, {act}", reference_dw_times(1.01), TrainConfig(activation=act),
            "gradient_check", (REF, BACKWARD)) for act in ("leaky_relu", "elu", "tanh", "sigmoid")],
    *[Fault(f"fused W1 dW x1.01, {act}", fused_w1_times(1.01), TrainConfig(activation=act),
            "gradient_check", (FAST, BACKWARD)) for act in ("leaky_relu", "elu", "tanh", "sigmoid")],
    Fault("fused W1 dW x1.01, batchnorm + dropout", fused_w1_times(1.01),
          TrainConfig(batchnorm=True, dropout=0.3), "gradient_check", (FAST, BACKWARD)),
    # --- the ones the gate already caught ---
    Fault("reference affine dW x2", reference_dw_times(2.0), TrainConfig(), "gradient_check", (REF, BACKWARD)),
    Fault("reference relu backward x2", reference_relu_backward_x2, TrainConfig(), "gradient_check",
          (REF, BACKWARD)),
    Fault("reference softmax grad not /N", swap(losses.softmax_cross_entropy, softmax_grad_not_over_n),
          TrainConfig(), "gradient_check", (REF, BACKWARD)),
    Fault("fused softmax grad not /N", setattr_(TrainStep, "_softmax_loss", fused_softmax_grad_not_over_n),
          TrainConfig(), "gradient_check", (FAST, BACKWARD)),
    Fault("reference reg missing from loss", penalty(0.0, 1.0), TrainConfig(), "regularization_raises_loss",
          ("penalty is not added",)),
    Fault("reference reg missing from gradient", penalty(1.0, 0.0), TrainConfig(), "gradient_check",
          (REF, "penalty's gradient")),
    Fault("reference reg missing from gradient, reg 1e-2", penalty(1.0, 0.0), TrainConfig(reg=1e-2),
          "gradient_check", (REF, "penalty's gradient")),
    Fault("reference reg without the 0.5", penalty(2.0, 1.0), TrainConfig(), "regularization_raises_loss",
          ("missing 0.5",), caught=frozenset({"warn", "fail"})),
    Fault("fused reg missing from loss", fused_penalty_loss_times(0.0), TrainConfig(), "gradient_check",
          (FAST, "penalty's gradient")),
    Fault("fused reg missing from gradient", fused_penalty_gradient_missing, TrainConfig(), "gradient_check",
          (FAST, "penalty's gradient")),
    Fault("fused reg without the 0.5", fused_penalty_loss_times(2.0), TrainConfig(), "gradient_check",
          (FAST, "penalty's gradient")),
    Fault("optimizer ascending (sgd_momentum)", ascending("sgd_momentum"), TrainConfig(), "overfit_small_subset",
          ("loss exploded",)),
    Fault("optimizer ascending (adam)", ascending("adam"), TrainConfig(**GOOD), "overfit_small_subset",
          ("loss exploded",)),
    # one hidden layer: activations near 0 but nothing vanishes with depth, so a warning (the gate passes;
    # gradient_check passes too, digits still overfits); two layers: the std shrinks 1000-fold, a failure
    Fault("init std 1e-4", nothing, TrainConfig(init="small", init_scale=1e-4), "activation_stats",
          ("activations near 0", "--init he"), caught=frozenset({"warn"})),
    Fault("init std 1e-4, two layers", nothing, TrainConfig(init="small", init_scale=1e-4, hidden=(100, 100)),
          "activation_stats", ("activations vanish", "--init he")),
    Fault("reference batchnorm backward without the mean term",
          swap(layers.batchnorm_backward, batchnorm_backward_no_mean_term), TrainConfig(batchnorm=True),
          "gradient_check", (REF, BACKWARD)),
    Fault("fused batchnorm backward without the mean term",
          swap(inplace.bn_backward, fused_bn_backward_no_mean_term), TrainConfig(batchnorm=True),
          "gradient_check", (FAST, BACKWARD)),
]


def run_one(splits, fault: Fault, monkeypatch, **opts):
    fault.inject(monkeypatch)
    return run_checks(splits[fault.data], fault.cfg, SanityOptions(**{**fault.opts, **opts}))


@pytest.mark.parametrize("fault", FAULTS, ids=[f.name for f in FAULTS])
def test_the_named_check_catches_the_fault(fault, splits, monkeypatch):
    (r,) = run_one(splits, fault, monkeypatch, only=(fault.check,)).checks
    assert r.name == fault.check
    assert r.status in fault.caught, f"{fault.name}: {r.status}, measured {r.measured}: {r.message}"
    for word in fault.keywords:
        assert word in r.message, f"{fault.name}: {word!r} not in {r.message!r}"


FULL_GATE = ["fused relu backward x2", "he init x10", "fused softmax unshifted", "reference dropout unscaled",
             "fused batchnorm backward without the mean term", "optimizer ascending (sgd_momentum)"]


@pytest.mark.parametrize("name", FULL_GATE)
def test_the_whole_gate_runs_with_the_fault_in(name, splits, monkeypatch):
    fault = next(f for f in FAULTS if f.name == name)
    report = run_one(splits, fault, monkeypatch)
    assert [c.name for c in report.checks] == list(CHECK_NAMES)  # no check crashed or went missing
    by_name = {c.name: c for c in report.checks}
    assert by_name[fault.check].status in fault.caught
    assert not report.passed


# Bugs in the fused step's update (backward_update with an lr: what `train` runs), which gradient_check (no
# update) cannot see and overfit_small_subset / update_ratio (they train through MLP.loss and the rule) do not
# run: training_step compares two fused steps with the reference rule.
def fused_ascent(mp):
    """backward_update steps with -lr: for sgd/momentum/nesterov (prescaled) the scores' gradient is scaled by
    -lr, so `train` climbs the loss; TrainStep.gradients is untouched."""
    orig = TrainStep.backward_update
    mp.setattr(TrainStep, "backward_update",
               lambda self, lr, next_idx=None: orig(self, None if lr is None else -lr, next_idx))


def fused_penalty_not_prescaled(mp):
    """With a prescaled rule the gradients arrive as lr x the loss's; the penalty's gradient stays reg x W
    instead of lr x reg x W (weight decay 1/lr = 200x too strong at the default lr)."""
    def _set_units(self, units):
        if units == self.units:
            return
        self.units = units
        if self.penalized:
            self.reg[...] = self.model.reg  # BUG: not x units
            for a, b in self.weight_ranges:
                self.decay[a:b] = self.model.reg

    mp.setattr(TrainStep, "_set_units", _set_units)


GAPS = [("fused step ascending (backward_update with -lr)", fused_ascent),
        ("fused penalty gradient not scaled by lr (prescaled rules)", fused_penalty_not_prescaled)]


@pytest.mark.parametrize("inject", [g[1] for g in GAPS], ids=[g[0] for g in GAPS])
def test_fused_update_bugs_fail_training_step(inject, splits, monkeypatch):
    inject(monkeypatch)
    report = run_checks(splits["digits"], TrainConfig(reg=1e-2), SanityOptions(only=("training_step",)))
    [c] = report.checks
    assert c.status == "fail" and "fused update" in c.message, c.message
    assert not report.passed


def test_the_injections_are_undone(splits):
    """Run after the table (file order): correct code again, so no injection leaked."""
    assert layers.ACTIVATIONS["relu"][1] is layers.relu_backward
    assert losses.softmax_cross_entropy.__code__.co_name == "softmax_cross_entropy"
    assert layers.dropout_forward.__code__.co_name == "dropout_forward"
    assert run_checks(splits["digits"], TrainConfig()).passed


@pytest.mark.parametrize("data", BUILTIN)
def test_correct_code_passes_the_gate_over_20_seeds(data, splits):
    failures = []
    for seed in range(20):
        for c in run_checks(splits[data], TrainConfig(), SanityOptions(seed=seed)).checks:
            if c.status == "fail":
                failures.append((seed, c.name, c.message))
    assert not failures, failures
