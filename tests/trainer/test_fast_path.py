"""The trainer's fast paths against the plain reference: trainer/fast/fused.py's TrainStep against MLP.loss and the
optim rules applied array by array, the two-lane split against one lane, and the data never copied whole."""

import numpy as np
import pytest

from hpsearch.config.train import TrainConfig
from hpsearch.data.split import Split
from hpsearch.trainer.fast import fused, lanes
from hpsearch.trainer.fit import fit
from hpsearch.trainer.reference.model import MLP
from hpsearch.trainer.reference.optim import RULES, OptimHyper, SlotState
from hpsearch.trainer.reference.schedules import lr_at


def _data(n=16, d=6, c=4, seed=1):
    r = np.random.default_rng(seed)
    return r.standard_normal((n, d)), r.integers(0, c, n)


def _reference_grads(model, X, y, seed):
    return model.loss(X, y, np.random.default_rng(seed))


def _penalty_grad(model, name):
    w = model.params[name]
    return model.reg * (w if model.cfg.reg_kind == "l2" else np.sign(w))


CASES = [
    dict(activation=a, batchnorm=bn, dropout=p, reg_kind=k)
    for a in ["relu", "leaky_relu", "elu", "tanh", "sigmoid"]
    for bn, p, k in [(False, 0.0, "l2"), (True, 0.0, "l1"), (True, 0.3, "l2"), (False, 0.5, "l1")]
]


@pytest.mark.parametrize("kw", CASES, ids=lambda kw: "-".join(str(v) for v in kw.values()))
def test_fused_loss_and_gradients_match_the_reference(kw):
    cfg = TrainConfig(hidden=(7, 5), reg=0.3, dtype="float64", **kw)
    ref = MLP(6, 4, cfg, np.random.default_rng(0))
    fast = MLP(6, 4, cfg, np.random.default_rng(0))
    X, y = _data()
    step = fused.TrainStep(fast, X.shape[0], RULES["sgd"], OptimHyper())
    for seed in (3, 4):  # twice: buffers are reused, batchnorm running statistics move
        loss_ref, grads = _reference_grads(ref, X, y, seed)
        loss = step.loss(X, y, np.random.default_rng(seed))
        assert loss == pytest.approx(loss_ref, rel=1e-12)
        assert set(step.g) == set(grads)
        for name, g in grads.items():
            got = step.g[name] + (_penalty_grad(fast, name) if name.startswith("W") else 0)
            np.testing.assert_allclose(got, g, rtol=1e-10, atol=1e-12, err_msg=name)
        for a, b in zip(ref.bn, fast.bn):
            np.testing.assert_allclose(b.running_mean, a.running_mean, rtol=1e-12)
            np.testing.assert_allclose(b.running_var, a.running_var, rtol=1e-12)


def test_linear_model_without_hidden_layers():
    cfg = TrainConfig(hidden=(), reg=0.1, dtype="float64")
    ref, fast = (MLP(6, 3, cfg, np.random.default_rng(0)) for _ in range(2))
    X, y = _data(c=3)
    loss_ref, grads = ref.loss(X, y)
    step = fused.TrainStep(fast, X.shape[0], RULES["sgd"], OptimHyper())
    assert step.loss(X, y, None) == pytest.approx(loss_ref, rel=1e-12)
    np.testing.assert_allclose(step.g["W1"] + 0.1 * fast.params["W1"], grads["W1"], rtol=1e-10)


@pytest.mark.parametrize("rule", sorted(RULES))
@pytest.mark.parametrize("reg_kind", ["l2", "l1"])
@pytest.mark.parametrize("scalar_reg", [False, True])
def test_fused_update_matches_the_rule_applied_per_array(rule, reg_kind, scalar_reg, monkeypatch):
    """Several steps: penalty gradient + rule over blocks of the flat buffer == the rule on each array."""
    monkeypatch.setattr(fused, "BLOCK_BYTES", 64)  # many blocks, cut through arrays
    if scalar_reg:  # every weight span scaled by the scalar reg, as a big first layer's is
        monkeypatch.setattr(fused, "BIG_WEIGHTS", 1)
    cfg = TrainConfig(hidden=(7, 5), batchnorm=True, reg=0.05, reg_kind=reg_kind, dtype="float64", optimizer=rule)
    ref = MLP(6, 4, cfg, np.random.default_rng(0))
    fast = MLP(6, 4, cfg, np.random.default_rng(0))
    X, y = _data()
    step = fused.TrainStep(fast, X.shape[0], RULES[rule], OptimHyper())
    assert sum(len(r.blocks) for r in step.regions) > 4
    slots = {k: SlotState() for k in ref.params}
    for t in range(4):
        lr = 0.01 * (t + 1)
        _, grads = ref.loss(X, y)
        for k, p in ref.params.items():
            RULES[rule](p, grads[k], slots[k], lr, OptimHyper())
        step.loss(X, y, None)
        step.update(lr)
        for k in ref.params:
            np.testing.assert_allclose(fast.params[k], ref.params[k], rtol=1e-10, atol=1e-13, err_msg=f"{k} step {t}")


def _reference_fit_losses(split, cfg, seed):
    """The trainer's loop written plainly: MLP.loss, then the rule on each array (the pre-fused trainer)."""
    ss = np.random.SeedSequence(seed)
    init_ss, shuffle_ss, drop_ss, _ = ss.spawn(4)
    model = MLP(split.num_features, split.num_classes, cfg, np.random.default_rng(init_ss))
    shuffle, drop = np.random.default_rng(shuffle_ss), np.random.default_rng(drop_ss)
    slots = {k: SlotState() for k in model.params}
    X, y, B, losses = split.X_train.astype(cfg.dtype), split.y_train, cfg.batch_size, []
    for epoch in range(cfg.epochs):
        lr = lr_at(epoch, cfg.lr, cfg.schedule, cfg.lr_decay, cfg.step_size)
        perm = shuffle.permutation(X.shape[0])
        for b in range(X.shape[0] // B):
            idx = perm[b * B:(b + 1) * B]
            loss, grads = model.loss(X[idx], y[idx], drop)
            losses.append(loss)
            for k, p in model.params.items():
                RULES[cfg.optimizer](p, grads[k], slots[k], lr, OptimHyper())
    return losses


@pytest.mark.parametrize("cut", [False, True])
@pytest.mark.parametrize("cfg", [
    TrainConfig(hidden=(30,), epochs=2, lr=0.02, batch_size=50, dtype="float64"),
    TrainConfig(hidden=(30, 20), epochs=2, lr=1e-3, batch_size=50, optimizer="adam", batchnorm=True, dropout=0.2,
                reg_kind="l1", activation="tanh", dtype="float64"),
    TrainConfig(hidden=(), epochs=1, lr=0.05, batch_size=50, optimizer="nesterov", dtype="float64"),
    # rules linear in the gradient get it scaled by lr at the scores: the penalty must follow lr's changes
    TrainConfig(hidden=(30,), epochs=3, lr=0.05, batch_size=50, reg=0.05, schedule="step", lr_decay=0.3,
                step_size=1, dtype="float64"),
    TrainConfig(hidden=(30, 20), epochs=3, lr=0.05, batch_size=50, reg=0.02, reg_kind="l1", optimizer="sgd",
                batchnorm=True, dropout=0.2, schedule="exp", lr_decay=0.5, dtype="float64"),
    TrainConfig(hidden=(), epochs=2, lr=1.0, batch_size=50, reg=0.03, optimizer="nesterov", schedule="step",
                lr_decay=0.3, step_size=1, dtype="float64"),  # lr exactly 1, then not
])
def test_fit_follows_the_plain_reference_loop(cfg, cut, monkeypatch):
    if cut:  # the two-region pipeline a big first layer takes, on a small one
        monkeypatch.setattr(fused, "SPLIT_MIN", 1)
    sp = _split(dtype=np.float64)
    got = fit(sp, cfg, 11).history.loss
    want = _reference_fit_losses(sp, cfg, 11)
    np.testing.assert_allclose(got, want, rtol=1e-9)


def test_parameters_are_views_of_the_flat_buffer():
    model = MLP(6, 4, TrainConfig(hidden=(5,), batchnorm=True), np.random.default_rng(0))
    assert all(np.shares_memory(p, model.flat) for p in model.params.values())
    assert sum(p.size for p in model.params.values()) == model.flat.size
    model.flat[:] = 0
    assert all((p == 0).all() for p in model.params.values())


def test_two_lanes_run_both_halves_and_surface_errors():
    seen = []
    with lanes.Lanes(2) as two:
        two.run(lambda: seen.append("other"), lambda: seen.append("here"))
        assert sorted(seen) == ["here", "other"]

        def boom():
            raise RuntimeError("in the helper")

        with pytest.raises(RuntimeError, match="in the helper"):
            two.run(boom, lambda: None)
        two.run(lambda: seen.append("again"), lambda: None)  # still usable afterwards
        thread = two._thread
    assert "again" in seen and not thread.is_alive()
    one = lanes.Lanes(1)
    order = []
    one.run(lambda: order.append(2), lambda: order.append(1))
    assert order == [1, 2]


def _split(n=600, d=40, c=3, seed=0, dtype=np.float32):
    r = np.random.default_rng(seed)
    y = r.integers(0, c, n)
    X = (r.standard_normal((n, d)) + r.standard_normal((c, d))[y]).astype(dtype)
    return Split(X[:500], y[:500], X[500:], y[500:], c, "synthetic", "none")


@pytest.mark.parametrize("cfg", [
    TrainConfig(hidden=(30,), epochs=2, lr=0.02, batch_size=50),
    TrainConfig(hidden=(30, 20), epochs=2, lr=1e-3, batch_size=50, optimizer="adam", batchnorm=True, dropout=0.2,
                reg_kind="l1"),
])
def test_split_first_layer_gives_the_same_results_on_one_lane_or_two(cfg, monkeypatch):
    monkeypatch.setattr(fused, "SPLIT_MIN", 1)  # cut the (small) first layer as a big one would be
    monkeypatch.setattr(fused, "BLOCK_BYTES", 1024)
    sp = _split()
    runs = []
    for n in (1, 2):
        runs.append(fit(sp, cfg, 5, threads=n))
    a, b = runs
    assert a.status == b.status == "complete"
    assert a.history.loss == b.history.loss
    assert a.history.val_acc == b.history.val_acc
    assert a.history.update_ratio == b.history.update_ratio


@pytest.mark.parametrize("cut", [False, True])
@pytest.mark.parametrize("reg_kind", ["l2", "l1"])
def test_scalar_reg_and_decay_array_give_identical_results(cut, reg_kind, monkeypatch):
    """The penalty gradient of a big weight matrix (scalar reg) and of small ones (array of reg and 0): the
    same products, so a fit is bit-identical whichever way each span goes."""
    if cut:
        monkeypatch.setattr(fused, "SPLIT_MIN", 1)
    cfg = TrainConfig(hidden=(30, 20), epochs=2, lr=0.02, batch_size=50, reg=0.05, reg_kind=reg_kind)
    sp = _split()
    runs = []
    for big in (1, 1 << 30):  # every span scalar; every span through the decay array
        monkeypatch.setattr(fused, "BIG_WEIGHTS", big)
        runs.append(fit(sp, cfg, 2))
    assert runs[0].history.loss == runs[1].history.loss
    assert runs[0].history.update_ratio == runs[1].history.update_ratio


def test_split_first_layer_matches_the_unsplit_trainer(monkeypatch):
    cfg = TrainConfig(hidden=(30,), epochs=2, lr=0.02, batch_size=50, dtype="float64")
    sp = _split(dtype=np.float64)
    plain = fit(sp, cfg, 3)
    monkeypatch.setattr(fused, "SPLIT_MIN", 1)
    cut = fit(sp, cfg, 3)
    np.testing.assert_allclose(cut.history.loss, plain.history.loss, rtol=1e-10)
    assert cut.history.val_acc == plain.history.val_acc


def test_float64_training_on_float32_data_casts_each_batch():
    sp32 = _split()
    sp64 = Split(*(a.astype(np.float64) if a.dtype == np.float32 else a for a in
                   (sp32.X_train, sp32.y_train, sp32.X_val, sp32.y_val)), sp32.num_classes, sp32.name, sp32.fingerprint)
    cfg = TrainConfig(hidden=(20,), epochs=2, batch_size=50, dtype="float64")
    assert fit(sp32, cfg, 1).history.loss == fit(sp64, cfg, 1).history.loss


@pytest.mark.parametrize("cut", [False, True])
def test_fit_never_copies_the_training_data(tmp_path, cut, monkeypatch):
    """Peak traced allocation during a fit stays far below the training array (a memory map here)."""
    import tracemalloc

    if cut:  # the two-region gather (X seen as half-rows) on a memory map
        monkeypatch.setattr(fused, "SPLIT_MIN", 1)

    n, d = 20_000, 256  # 20 MB of float32
    path = tmp_path / "X.npy"
    r = np.random.default_rng(0)
    X = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n, d))
    X[:] = r.standard_normal((n, d), dtype=np.float32)
    X.flush()
    X = np.load(path, mmap_mode="r")
    y = r.integers(0, 2, n)
    sp = Split(X[:19_000], y[:19_000], X[19_000:], y[19_000:], 2, "memmap", "none")
    cfg = TrainConfig(hidden=(8,), epochs=1, batch_size=100)
    fit(sp, cfg, 0)  # warm caches (threadpoolctl, ...)
    tracemalloc.start()
    try:
        fit(sp, cfg, 0)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    data_bytes = sp.X_train.nbytes
    assert peak < 0.1 * data_bytes, (peak, data_bytes)  # the 1,000-row train-accuracy subset is ~1 MB


def test_fit_restores_the_blas_thread_count():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    before = [i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]
    fit(_split(), TrainConfig(hidden=(10,), epochs=1, batch_size=50), 0)
    after = [i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]
    assert before == after


@pytest.mark.parametrize("kw", [dict(activation="relu"), dict(activation="tanh", batchnorm=True),
                                dict(activation="elu", batchnorm=True, dropout=0.3), dict(activation="leaky_relu")])
def test_hit_counter_agrees_with_predict(kw):
    from hpsearch.trainer.fast.evaluate import HitCounter

    cfg = TrainConfig(hidden=(9, 7), **kw)
    model = MLP(6, 4, cfg, np.random.default_rng(0))
    for st in model.bn:  # non-trivial running statistics
        st.running_mean[:] = 0.3
        st.running_var[:] = 2.0
    X, y = _data(n=50)
    X = X.astype(np.float32)
    want = int((model.predict(X) == y).sum())
    assert HitCounter(model, rows=16).hits(X, y) == want  # several chunks, the last one partial
    assert HitCounter(model).hits(X.astype(np.float64), y) == want  # cast chunk by chunk


def test_lanes_wait_for_the_helper_even_when_a_signal_interrupts_the_wait():
    import signal
    import threading
    import time

    from hpsearch.trainer.fast.lanes import Lanes

    lanes = Lanes(2)
    done = []
    main = threading.main_thread().ident

    def other():  # still writing shared buffers when Ctrl-C arrives
        time.sleep(0.3)
        done.append("other")

    def here():
        threading.Timer(0.05, lambda: signal.pthread_kill(main, signal.SIGINT)).start()

    # SIGINT may be ignored where the suite runs (a background job of a non-interactive shell): install
    # Python's own handler for the test
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            lanes.run(other, here)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert done == ["other"]  # run() did not return before the helper finished
    lanes.close()  # the helper is idle: closing cannot release an unlocked lock
    assert not lanes._thread.is_alive()
