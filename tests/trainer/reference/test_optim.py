"""Each update rule: two steps on a small array against its formula written out here by hand."""

import numpy as np
import pytest

from hpsearch.errors import ConfigError
from hpsearch.trainer.reference.optim import RULES, OptimHyper, SlotState, get_rule

W0 = np.array([[0.5, -1.0], [2.0, 0.25]])
G1 = np.array([[0.1, -0.2], [0.3, 0.05]])
G2 = np.array([[-0.4, 0.1], [0.2, -0.3]])
LR = 0.1
HP = OptimHyper()


def run(name):
    w = W0.copy()
    s = SlotState()
    rule = RULES[name]
    rule(w, G1, s, LR, HP)
    w1 = w.copy()
    rule(w, G2, s, LR, HP)
    return w1, w


def test_defaults_are_cs231n():
    assert (HP.momentum, HP.decay_rate, HP.beta1, HP.beta2, HP.eps) == (0.9, 0.99, 0.9, 0.999, 1e-8)


def test_sgd():
    w1, w2 = run("sgd")
    np.testing.assert_allclose(w1, W0 - LR * G1)
    np.testing.assert_allclose(w2, W0 - LR * G1 - LR * G2)


def test_sgd_momentum():
    w1, w2 = run("sgd_momentum")
    v1 = -LR * G1
    v2 = 0.9 * v1 - LR * G2
    np.testing.assert_allclose(w1, W0 + v1)
    np.testing.assert_allclose(w2, W0 + v1 + v2)


def test_nesterov():
    w1, w2 = run("nesterov")
    mu = 0.9
    v0 = np.zeros_like(W0)
    v1 = mu * v0 - LR * G1
    x1 = W0 - mu * v0 + (1 + mu) * v1
    v2 = mu * v1 - LR * G2
    x2 = x1 - mu * v1 + (1 + mu) * v2
    np.testing.assert_allclose(w1, x1)
    np.testing.assert_allclose(w2, x2)


def test_adagrad():
    w1, w2 = run("adagrad")
    c1 = G1 ** 2
    x1 = W0 - LR * G1 / (np.sqrt(c1) + 1e-8)
    c2 = c1 + G2 ** 2
    x2 = x1 - LR * G2 / (np.sqrt(c2) + 1e-8)
    np.testing.assert_allclose(w1, x1)
    np.testing.assert_allclose(w2, x2)


def test_rmsprop():
    w1, w2 = run("rmsprop")
    c1 = 0.01 * G1 ** 2
    x1 = W0 - LR * G1 / (np.sqrt(c1) + 1e-8)
    c2 = 0.99 * c1 + 0.01 * G2 ** 2
    x2 = x1 - LR * G2 / (np.sqrt(c2) + 1e-8)
    np.testing.assert_allclose(w1, x1)
    np.testing.assert_allclose(w2, x2)


def test_adam_bias_corrected():
    w1, w2 = run("adam")
    b1, b2, eps = 0.9, 0.999, 1e-8
    m1 = (1 - b1) * G1
    v1 = (1 - b2) * G1 ** 2
    x1 = W0 - LR * (m1 / (1 - b1)) / (np.sqrt(v1 / (1 - b2)) + eps)
    m2 = b1 * m1 + (1 - b1) * G2
    v2 = b2 * v1 + (1 - b2) * G2 ** 2
    x2 = x1 - LR * (m2 / (1 - b1 ** 2)) / (np.sqrt(v2 / (1 - b2 ** 2)) + eps)
    np.testing.assert_allclose(w1, x1)
    np.testing.assert_allclose(w2, x2)
    # bias correction makes the first step ~lr * sign(g)
    np.testing.assert_allclose(np.abs(w1 - W0), LR, rtol=1e-5)


@pytest.mark.parametrize("name", sorted(RULES))
def test_rules_update_in_place_and_keep_dtype(name):
    w = W0.astype(np.float32)
    ref = w
    RULES[name](w, G1.astype(np.float32), SlotState(), LR, HP)
    assert w is ref and w.dtype == np.float32
    assert not np.allclose(w, W0)


def test_unknown_rule_lists_valid_names():
    with pytest.raises(ConfigError) as e:
        get_rule("adamw")
    assert "adam" in str(e.value) and "sgd_momentum" in str(e.value)
