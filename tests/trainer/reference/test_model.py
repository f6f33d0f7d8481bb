"""The whole MLP: gradients of every parameter array (float64, < 1e-6), init, loss at init."""

import math

import numpy as np
import pytest

from hpsearch.config.train import TrainConfig
from hpsearch.sanity.gradcheck import check_model
from hpsearch.trainer.reference.model import MLP, init_std


def make(cfg, d=6, c=4, seed=0):
    return MLP(d, c, cfg, np.random.default_rng(seed))


def randomized(model, seed=5):
    """Move every parameter off its special init value (zero biases sit exactly on ReLU kinks)."""
    r = np.random.default_rng(seed)
    for k, p in model.params.items():
        p[...] = p + 0.3 * r.standard_normal(p.shape)
    return model


def data(n=8, d=6, c=4, seed=1):
    r = np.random.default_rng(seed)
    return r.standard_normal((n, d)), r.integers(0, c, n)


@pytest.mark.parametrize("activation", ["relu", "leaky_relu", "elu", "tanh", "sigmoid"])
@pytest.mark.parametrize("batchnorm,dropout", [(False, 0.0), (True, 0.0), (True, 0.3), (False, 0.25)])
def test_whole_model_gradients(activation, batchnorm, dropout):
    # Note: CS231n's elementwise relative error has a 1e-8 floor, so an entry whose true gradient is ~1e-5
    # (a unit dropped for nearly every sample) meets float64 round-off of the loss (~1e-16 * |loss| / h) at
    # ~1e-6. Moderate dropout keeps such entries rare; layer-level dropout is checked at p=0.4 to 1e-7.
    cfg = TrainConfig(hidden=(7, 5), activation=activation, batchnorm=batchnorm, dropout=dropout, reg=0.3,
                      dtype="float64")
    model = randomized(make(cfg))
    X, y = data()
    errors = check_model(model, X, y, seed=3)
    expected = {"W1", "W2", "W3", "b3"} | ({"gamma1", "beta1", "gamma2", "beta2"} if batchnorm else {"b1", "b2"})
    assert set(errors) == expected
    worst = max(errors.values())
    assert worst < 1e-6, errors


def test_l1_regularized_model_gradients():
    cfg = TrainConfig(hidden=(5,), activation="tanh", reg=0.1, reg_kind="l1", dtype="float64")
    errors = check_model(randomized(make(cfg)), *data())
    assert max(errors.values()) < 1e-6, errors


def test_gradient_check_detects_a_wrong_backward(monkeypatch):
    from hpsearch.trainer.reference import layers

    cfg = TrainConfig(hidden=(5,), activation="tanh", dtype="float64")
    model = make(cfg)
    model._act_bwd = lambda dout, cache: dout * (1 - cache)  # wrong: should be 1 - tanh^2
    assert max(check_model(model, *data()).values()) > 1e-3
    assert layers.ACTIVATIONS["tanh"][1] is layers.tanh_backward  # the fault stayed in this model


def test_gradient_check_restores_batchnorm_statistics():
    cfg = TrainConfig(hidden=(5,), batchnorm=True, dtype="float64")
    model = make(cfg)
    before = model.bn[0].running_mean.copy()
    check_model(model, *data())
    np.testing.assert_array_equal(model.bn[0].running_mean, before)


@pytest.mark.parametrize("c", [2, 3, 10])
def test_initial_loss_is_log_c_with_small_weights(c):
    cfg = TrainConfig(hidden=(50,), init="small", reg=0.0)
    X, y = data(n=500, d=20, c=c, seed=c)
    model = make(cfg, d=20, c=c)
    loss, _ = model.loss(X.astype(np.float32), y)
    assert abs(loss - math.log(c)) < 0.05


def test_regularization_raises_the_loss():
    cfg = TrainConfig(hidden=(10,), dtype="float64")
    model = make(cfg)
    X, y = data()
    assert model.loss(X, y, reg=10.0)[0] > model.loss(X, y, reg=0.0)[0]


def test_biases_are_not_regularized():
    cfg = TrainConfig(hidden=(4,), dtype="float64", reg=5.0)
    model = make(cfg)
    model.params["b1"][:] = 100.0
    X, y = data()
    l_big_b = model.loss(X, y, reg=5.0)[0] - model.loss(X, y, reg=0.0)[0]
    expected = 0.5 * 5.0 * sum(float((model.params[k] ** 2).sum()) for k in model.weight_names)
    assert l_big_b == pytest.approx(expected)


@pytest.mark.parametrize("init,fan_in,expected", [("small", 100, 0.01), ("xavier", 100, 0.1), ("he", 50, 0.2)])
def test_init_std(init, fan_in, expected):
    assert init_std(init, fan_in, 0.01) == pytest.approx(expected)
    cfg = TrainConfig(hidden=(2000,), init=init)
    w = make(cfg, d=fan_in).params["W1"]
    assert w.std() == pytest.approx(expected, rel=0.03)


def test_default_init_follows_activation():
    assert TrainConfig(activation="relu").resolved_init == "he"
    assert TrainConfig(activation="elu").resolved_init == "he"
    assert TrainConfig(activation="tanh").resolved_init == "xavier"
    assert TrainConfig(activation="sigmoid").resolved_init == "xavier"


def test_float32_by_default_and_float64_on_request():
    X, y = data()
    m32 = make(TrainConfig())
    assert all(p.dtype == np.float32 for p in m32.params.values())
    _, g = m32.loss(X.astype(np.float32), y)
    assert all(v.dtype == np.float32 for v in g.values())
    m64 = make(TrainConfig(dtype="float64"))
    assert all(p.dtype == np.float64 for p in m64.params.values())


def test_any_depth_and_linear_model():
    X, y = data()
    for hidden in [(), (3,), (8, 6, 4, 3)]:
        model = randomized(make(TrainConfig(hidden=hidden, dtype="float64", reg=0.1)))
        assert model.num_layers == len(hidden) + 1
        assert model.scores(X).shape == (8, 4)
        assert max(check_model(model, X, y).values()) < 1e-6


def test_state_dict_roundtrip():
    cfg = TrainConfig(hidden=(5,), batchnorm=True)
    a = make(cfg, seed=0)
    b = make(cfg, seed=1)
    b.load_state_dict(a.state_dict())
    X, _ = data()
    np.testing.assert_array_equal(a.scores(X.astype(np.float32)), b.scores(X.astype(np.float32)))
