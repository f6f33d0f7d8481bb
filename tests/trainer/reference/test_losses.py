import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hpsearch.sanity.gradcheck import numeric_gradient, rel_error
from hpsearch.trainer.reference.losses import l1_penalty, l2_penalty, softmax_cross_entropy


def test_softmax_loss_gradient(rng):
    scores = rng.standard_normal((7, 5))
    y = rng.integers(0, 5, 7)
    loss, dscores = softmax_cross_entropy(scores, y)
    num = numeric_gradient(lambda: softmax_cross_entropy(scores, y)[0], scores)
    assert rel_error(dscores, num) < 1e-7


def test_softmax_loss_value_by_hand():
    scores = np.array([[1.0, 2.0, 3.0]])
    p = np.exp(scores) / np.exp(scores).sum()
    loss, _ = softmax_cross_entropy(scores, np.array([0]))
    assert loss == pytest.approx(-math.log(p[0, 0]))


def test_softmax_loss_stable_for_huge_scores():
    scores = np.array([[1000.0, 0.0], [0.0, -1000.0]])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        loss, d = softmax_cross_entropy(scores, np.array([0, 1]))
    assert math.isfinite(loss) and loss == pytest.approx(500.0)
    assert np.all(np.isfinite(d))


@settings(max_examples=50, deadline=None)
@given(st.floats(-1e3, 1e3), st.integers(0, 2 ** 31 - 1))
def test_softmax_invariant_to_a_constant_shift(shift, seed):
    r = np.random.default_rng(seed)
    scores = r.standard_normal((4, 3))
    y = r.integers(0, 3, 4)
    a, da = softmax_cross_entropy(scores, y)
    b, db = softmax_cross_entropy(scores + shift, y)
    assert a == pytest.approx(b, rel=1e-9, abs=1e-9)
    np.testing.assert_allclose(da, db, atol=1e-9)


@pytest.mark.parametrize("penalty", [l2_penalty, l1_penalty])
def test_penalty_gradient(penalty, rng):
    w = rng.standard_normal((4, 3))
    w[np.abs(w) < 1e-3] = 0.1
    _, dw = penalty(w, 0.7)
    assert rel_error(dw, numeric_gradient(lambda: penalty(w, 0.7)[0], w)) < 1e-7


def test_penalty_values():
    w = np.array([[1.0, -2.0]])
    assert l2_penalty(w, 0.5)[0] == pytest.approx(0.5 * 0.5 * 5)
    assert l1_penalty(w, 0.5)[0] == pytest.approx(0.5 * 3)
