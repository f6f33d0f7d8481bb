"""Every layer's backward against centered-difference numeric gradients in float64 (rel error < 1e-7)."""

import numpy as np
import pytest

from hpsearch.sanity.gradcheck import numeric_gradient_array, rel_error
from hpsearch.trainer.reference import layers

TOL = 1e-7


def test_affine_backward(rng):
    x = rng.standard_normal((5, 4))
    w = rng.standard_normal((4, 3))
    b = rng.standard_normal(3)
    dout = rng.standard_normal((5, 3))
    _, cache = layers.affine_forward(x, w, b)
    dx, dw, db = layers.affine_backward(dout, cache)
    assert rel_error(dx, numeric_gradient_array(lambda: layers.affine_forward(x, w, b)[0], x, dout)) < TOL
    assert rel_error(dw, numeric_gradient_array(lambda: layers.affine_forward(x, w, b)[0], w, dout)) < TOL
    assert rel_error(db, numeric_gradient_array(lambda: layers.affine_forward(x, w, b)[0], b, dout)) < TOL


def test_affine_forward_values():
    x = np.arange(6, dtype=np.float64).reshape(2, 3)
    w = np.ones((3, 2))
    b = np.array([1.0, -1.0])
    out, _ = layers.affine_forward(x, w, b)
    np.testing.assert_allclose(out, [[4, 2], [13, 11]])


@pytest.mark.parametrize("name", sorted(layers.ACTIVATIONS))
def test_activation_backward(name, rng):
    fwd, bwd = layers.ACTIVATIONS[name]
    x = rng.standard_normal((6, 5))
    x[np.abs(x) < 1e-3] = 0.5  # keep away from the kink, where centered differences are not defined
    dout = rng.standard_normal(x.shape)
    _, cache = fwd(x)
    dx = bwd(dout, cache)
    assert rel_error(dx, numeric_gradient_array(lambda: fwd(x)[0], x, dout)) < TOL


def test_activation_values():
    x = np.array([-2.0, 0.0, 3.0])
    np.testing.assert_allclose(layers.relu_forward(x)[0], [0, 0, 3])
    np.testing.assert_allclose(layers.leaky_relu_forward(x)[0], [-0.02, 0, 3])
    np.testing.assert_allclose(layers.elu_forward(x)[0], [np.exp(-2) - 1, 0, 3])
    np.testing.assert_allclose(layers.tanh_forward(x)[0], np.tanh(x))
    np.testing.assert_allclose(layers.sigmoid_forward(x)[0], 1 / (1 + np.exp(-x)))


def test_sigmoid_is_stable_for_large_inputs():
    with np.errstate(over="raise"):
        out, _ = layers.sigmoid_forward(np.array([-1000.0, 1000.0]))
    np.testing.assert_allclose(out, [0.0, 1.0])


def _bn_state(d):
    return layers.BatchNormState(np.zeros(d), np.ones(d))


def test_batchnorm_backward(rng):
    x = 3 * rng.standard_normal((8, 4)) + 5
    gamma = rng.standard_normal(4)
    beta = rng.standard_normal(4)
    dout = rng.standard_normal((8, 4))

    def f():
        return layers.batchnorm_forward(x, gamma, beta, _bn_state(4), train=True)[0]

    _, cache = layers.batchnorm_forward(x, gamma, beta, _bn_state(4), train=True)
    dx, dgamma, dbeta = layers.batchnorm_backward(dout, cache)
    assert rel_error(dx, numeric_gradient_array(f, x, dout)) < TOL
    assert rel_error(dgamma, numeric_gradient_array(f, gamma, dout)) < TOL
    assert rel_error(dbeta, numeric_gradient_array(f, beta, dout)) < TOL


def test_batchnorm_train_normalizes_each_feature(rng):
    x = rng.standard_normal((200, 3)) * np.array([1.0, 10.0, 0.1]) + np.array([5.0, -3.0, 100.0])
    out, _ = layers.batchnorm_forward(x, np.ones(3), np.zeros(3), _bn_state(3), train=True)
    np.testing.assert_allclose(out.mean(axis=0), 0, atol=1e-7)
    np.testing.assert_allclose(out.std(axis=0), 1, atol=1e-3)
    # gamma and beta then scale and shift
    out2, _ = layers.batchnorm_forward(x, np.full(3, 2.0), np.full(3, 7.0), _bn_state(3), train=True)
    np.testing.assert_allclose(out2.mean(axis=0), 7, atol=1e-6)
    np.testing.assert_allclose(out2.std(axis=0), 2, atol=1e-3)


def test_batchnorm_test_mode_uses_running_statistics(rng):
    state = _bn_state(2)
    for _ in range(300):
        xb = rng.standard_normal((50, 2)) * np.array([2.0, 0.5]) + np.array([3.0, -1.0])
        layers.batchnorm_forward(xb, np.ones(2), np.zeros(2), state, train=True)
    np.testing.assert_allclose(state.running_mean, [3.0, -1.0], atol=0.15)
    np.testing.assert_allclose(state.running_var, [4.0, 0.25], rtol=0.15)
    # test mode: a single sample is normalized with the running statistics, not its own
    x = np.array([[3.0, -1.0]])
    out, cache = layers.batchnorm_forward(x, np.ones(2), np.zeros(2), state, train=False)
    assert cache is None
    expected = (x - state.running_mean) / np.sqrt(state.running_var + state.eps)
    np.testing.assert_allclose(out, expected)
    before = state.running_mean.copy()
    layers.batchnorm_forward(x + 100, np.ones(2), np.zeros(2), state, train=False)
    np.testing.assert_array_equal(state.running_mean, before)


def test_dropout_preserves_expectation_in_training():
    x = np.ones((500, 400))
    out, _ = layers.dropout_forward(x, 0.3, True, np.random.default_rng(0))
    assert abs(out.mean() - 1.0) < 0.01
    assert abs((out == 0).mean() - 0.3) < 0.01
    np.testing.assert_allclose(out[out != 0], 1 / 0.7)


def test_dropout_is_identity_at_test_time():
    x = np.random.default_rng(0).standard_normal((10, 5))
    out, cache = layers.dropout_forward(x, 0.5, False, None)
    np.testing.assert_array_equal(out, x)
    np.testing.assert_array_equal(layers.dropout_backward(np.ones_like(x), cache), np.ones_like(x))


def test_dropout_backward_with_fixed_mask(rng):
    x = rng.standard_normal((6, 7))
    dout = rng.standard_normal(x.shape)

    def f():
        return layers.dropout_forward(x, 0.4, True, np.random.default_rng(7))[0]

    _, cache = layers.dropout_forward(x, 0.4, True, np.random.default_rng(7))
    dx = layers.dropout_backward(dout, cache)
    assert rel_error(dx, numeric_gradient_array(f, x, dout)) < TOL
