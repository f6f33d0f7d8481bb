"""`hpsearch sanity`: every check passes on correct models, fails on the fault it exists to catch,
and the CLI keeps its contract (JSON keys, exit codes 0/1/2, --strict, --only/--skip)."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from hpsearch.cli import app
from hpsearch.config.train import TrainConfig
from hpsearch.data import dataset, split
from hpsearch.errors import ConfigError
from hpsearch.sanity.gate import run_checks
from hpsearch.sanity.types import CHECK_NAMES, SanityOptions
from hpsearch.trainer.reference import layers, losses
from hpsearch.trainer.reference.model import MLP
from clihelp import assert_one_line_error

runner = CliRunner()
KEYS = {"name", "status", "measured", "expected", "message"}
# a correct model whose lr also sits in the update/weight band on both data sets
GOOD = dict(optimizer="adam", lr=1e-3)


@pytest.fixture(scope="module")
def digits():
    return split.split(dataset.load("digits"), 0.2, 0)


@pytest.fixture(scope="module")
def spiral():
    return split.split(dataset.load("spiral"), 0.2, 0)


def check(split, cfg, name, **opts):
    """Run one check; return its CheckResult."""
    (result,) = run_checks(split, cfg, SanityOptions(only=(name,), **opts)).checks
    assert result.name == name
    return result


# --- correct models pass --------------------------------------------------------------------------


@pytest.mark.parametrize("dataset", ["digits", "spiral"])
@pytest.mark.parametrize("activation", ["relu", "tanh"])
@pytest.mark.parametrize("batchnorm", [False, True])
def test_every_check_passes_on_a_correct_model(dataset, activation, batchnorm, digits, spiral):
    split = digits if dataset == "digits" else spiral
    report = run_checks(split, TrainConfig(activation=activation, batchnorm=batchnorm, **GOOD))
    assert [c.name for c in report.checks] == list(CHECK_NAMES)
    assert all(c.status == "pass" for c in report.checks), [(c.name, c.message) for c in report.checks
                                                             if c.status != "pass"]
    assert report.passed
    grad = report.checks[2].measured
    assert grad["max_rel_error"] <= 1e-7 and grad["entries"] > 0
    assert report.checks[3].measured["train_acc"] == 1.0


def test_gradient_check_covers_dropout_and_deeper_nets(digits):
    cfg = TrainConfig(hidden=(30, 20), activation="tanh", dropout=0.3, batchnorm=True, reg=1e-2)
    r = check(digits, cfg, "gradient_check")
    assert r.status == "pass", r.message
    # every parameter array is looked at (W, b, gamma, beta of every layer)
    model = MLP(digits.num_features, digits.num_classes, cfg, np.random.default_rng(0))
    assert set(r.measured["per_array"]) == set(model.params) and {"gamma2", "beta2", "W3"} <= set(model.params)
    assert r.measured["entries"] < r.measured["of"]  # W1 (64 x 30) is subsampled


def test_relu_kinks_are_detected_not_reported_as_errors(spiral):
    # small init crowds pre-activations around 0: some perturbations flip a ReLU, whose numeric gradient is off
    cfg = TrainConfig(hidden=(50, 50, 50), init="small", dtype="float64")
    r = check(spiral, cfg, "gradient_check")
    assert r.status == "pass" and r.measured["kink_entries"] > 0, r.message
    assert "kink" in r.message
    # the same entries without kink detection: the crossings show up as large errors
    from hpsearch.sanity.gradcheck import compare_gradients
    from hpsearch.sanity.types import build_model, sample_batch

    rng = np.random.default_rng(np.random.SeedSequence([0, CHECK_NAMES.index("gradient_check")]))
    model = build_model(spiral, cfg, rng)
    X, y = sample_batch(spiral, 8, rng)
    blind = compare_gradients(model, X, y, rng, 500, kinked=False)
    assert blind.kink_entries == 0 and blind.max_rel_error > 1e-4


def test_vanishing_gradients_make_the_check_warn_not_pass(digits):
    cfg = TrainConfig(hidden=(100,) * 5, activation="tanh", init="small", init_scale=1e-3)
    r = check(digits, cfg, "gradient_check")
    assert r.status == "warn" and "b1" in r.measured["unresolved"] and "cannot see" in r.message


# --- each check fails for the fault it exists to catch ---------------------------------------------


def test_wrong_relu_backward_fails_gradient_check(digits, monkeypatch):
    fwd, _ = layers.ACTIVATIONS["relu"]
    # passes the gradient through every unit: out >= 0 always holds for a ReLU output
    monkeypatch.setitem(layers.ACTIVATIONS, "relu", (fwd, lambda dout, out: dout * (out >= 0)))
    r = check(digits, TrainConfig(), "gradient_check")
    assert r.status == "fail"
    assert r.measured["max_rel_error"] > 1e-2
    assert "backward" in r.message


def test_subtly_wrong_tanh_backward_fails_gradient_check(spiral, monkeypatch):
    fwd, _ = layers.ACTIVATIONS["tanh"]
    monkeypatch.setitem(layers.ACTIVATIONS, "tanh", (fwd, lambda dout, out: dout * (1 - out * out) * 1.01))  # 1 % off
    r = check(spiral, TrainConfig(activation="tanh"), "gradient_check")
    assert r.status == "fail", r.message  # smooth activation: 1e-4 < error <= 1e-2 is a failure


def test_wrong_batchnorm_backward_fails_gradient_check(digits, monkeypatch):
    def naive(dout, cache):  # forgets that the batch mean and variance depend on x
        xhat, gamma, inv_std = cache
        return dout * gamma * inv_std, (dout * xhat).sum(axis=0), dout.sum(axis=0)

    monkeypatch.setattr(layers, "batchnorm_backward", naive)
    r = check(digits, TrainConfig(batchnorm=True, activation="tanh"), "gradient_check")
    assert r.status == "fail"
    assert r.measured["per_array"]["W1"] > 1e-2 and r.measured["per_array"]["gamma1"] <= 1e-7


def test_huge_init_scale_fails_initial_loss(digits):
    r = check(digits, TrainConfig(init="small", init_scale=10.0), "initial_loss")
    assert r.status == "fail"
    assert r.measured["loss"] > 2 * np.log(10)
    assert "init scale" in r.message and "2.303" in r.message


def test_initial_loss_tolerance_is_respected(digits):
    # init_scale 0.3 gives a loss some tens of percent above ln 10: fails at 10 %, passes at 99 %
    cfg = TrainConfig(init="small", init_scale=0.3, hidden=(20,))
    off = check(digits, cfg, "initial_loss").measured["relative_error"]
    assert 0.1 < off < 0.99
    assert check(digits, cfg, "initial_loss").status == "fail"
    assert check(digits, cfg, "initial_loss", loss_tolerance=0.99).status == "pass"


def test_penalty_left_out_of_the_loss_fails_regularization_check(digits, monkeypatch):
    monkeypatch.setitem(losses.PENALTIES, "l2", lambda w, reg: (0.0, reg * w))
    r = check(digits, TrainConfig(), "regularization_raises_loss")
    assert r.status == "fail"
    assert r.measured["rise"] == 0.0
    assert "penalty" in r.message


def test_penalty_off_by_a_factor_warns(digits, monkeypatch):
    monkeypatch.setitem(losses.PENALTIES, "l2", lambda w, reg: (reg * float(np.vdot(w, w)), reg * w))  # no 0.5
    r = check(digits, TrainConfig(), "regularization_raises_loss")
    assert r.status == "warn"
    assert r.measured["rise"] == pytest.approx(2 * r.measured["penalty"])


def test_l1_regularization_passes(digits):
    assert check(digits, TrainConfig(reg_kind="l1"), "regularization_raises_loss").status == "pass"


def test_lr_near_zero_fails_overfit(digits):
    r = check(digits, TrainConfig(lr=1e-12), "overfit_small_subset", overfit_epochs=50)
    assert r.status == "fail"
    assert r.measured["epochs"] == 50 and r.measured["train_acc"] < 1.0
    assert "lr" in r.message and "barely moved" in r.message


def test_no_capacity_fails_overfit(spiral):
    # a linear classifier cannot separate 100 points of the interleaved spiral arms
    r = check(spiral, TrainConfig(hidden=(), **GOOD), "overfit_small_subset", subset=100, overfit_epochs=300)
    assert r.status == "fail"
    assert r.measured["train_acc"] < 1.0
    assert "capacity" in r.message


def test_exploding_lr_fails_overfit(digits):
    r = check(digits, TrainConfig(lr=5.0), "overfit_small_subset")
    assert r.status == "fail" and "exploded" in r.message


def test_deep_tanh_with_tiny_init_fails_activation_stats(digits):
    cfg = TrainConfig(hidden=(100,) * 5, activation="tanh", init="small", init_scale=0.01)
    r = check(digits, cfg, "activation_stats")
    assert r.status == "fail"
    stds = [r.measured[f"h{i}"]["std"] for i in range(1, 6)]
    assert all(b < a for a, b in zip(stds, stds[1:])) and stds[-1] < 1e-3 * stds[0]
    assert "xavier" in r.message  # the Xavier/He lesson


def test_two_shrinking_layers_warn(digits):
    r = check(digits, TrainConfig(hidden=(100, 100), activation="tanh", init="small", init_scale=0.01),
              "activation_stats")
    assert r.status == "warn", r.message


def test_saturated_tanh_warns(digits):
    r = check(digits, TrainConfig(hidden=(100, 100), activation="tanh", init="small", init_scale=1.0),
              "activation_stats")
    assert r.status == "warn"
    assert r.measured["h2"]["saturated"] > 0.5 and "saturated" in r.message


def test_all_dead_relu_layer_fails(digits, monkeypatch):
    cfg = TrainConfig(hidden=(50, 50))
    fwd, bwd = layers.ACTIVATIONS["relu"]
    monkeypatch.setitem(layers.ACTIVATIONS, "relu", (lambda x: fwd(x - 1e3), bwd))  # every unit pushed below 0
    r = check(digits, cfg, "activation_stats")
    assert r.status == "fail" and r.measured["h1"]["dead"] == 1.0


def test_lr_far_too_high_warns_update_ratio(digits):
    r = check(digits, TrainConfig(lr=0.5, optimizer="sgd"), "update_ratio")
    assert r.status == "warn", r.message
    assert r.measured["median"] > 1e-2 and "too high" in r.message


def test_exploding_lr_fails_update_ratio(digits):
    r = check(digits, TrainConfig(lr=1e3), "update_ratio")
    assert r.status == "fail"


def test_lr_too_low_warns_update_ratio(digits):
    r = check(digits, TrainConfig(lr=1e-6), "update_ratio")
    assert r.status == "warn" and r.measured["median"] < 1e-4 and "too low" in r.message


# --- the library keeps its promises -------------------------------------------------------------


def test_no_check_changes_the_users_config_or_data(digits):
    cfg = TrainConfig(hidden=(20, 10), batchnorm=True, dropout=0.2, dtype="float32", **GOOD)
    sp = split.split(dataset.load("digits"), 0.2, 0)
    before = {k: getattr(sp, k).copy() for k in ("X_train", "y_train", "X_val", "y_val", "mean", "std")}
    cfg_before = cfg.to_dict()
    run_checks(sp, cfg)
    assert cfg.to_dict() == cfg_before and cfg == TrainConfig(**{**cfg_before, "hidden": (20, 10)})
    for k, arr in before.items():
        now = getattr(sp, k)
        assert now.dtype == arr.dtype and np.array_equal(now, arr), k


def test_same_seed_same_report_and_selection_does_not_change_numbers(digits):
    cfg = TrainConfig(hidden=(20,), **GOOD)
    a = run_checks(digits, cfg, SanityOptions(seed=3)).to_dict()
    b = run_checks(digits, cfg, SanityOptions(seed=3)).to_dict()
    assert a == b
    only = run_checks(digits, cfg, SanityOptions(seed=3, only=("overfit_small_subset",))).to_dict()
    assert only["checks"][0] == a["checks"][3]
    other = run_checks(digits, cfg, SanityOptions(seed=4, only=("overfit_small_subset",))).to_dict()
    assert other["checks"][0]["measured"] != a["checks"][3]["measured"]


def test_strict_turns_warnings_into_failures(digits):
    cfg = TrainConfig(lr=0.5, optimizer="sgd")
    loose = run_checks(digits, cfg, SanityOptions(only=("update_ratio",)))
    strict = run_checks(digits, cfg, SanityOptions(only=("update_ratio",), strict=True))
    assert loose.passed and loose.checks[0].status == "warn"
    assert not strict.passed and strict.checks[0].status == "fail" and "--strict" in strict.checks[0].message


def test_options_are_validated():
    with pytest.raises(ConfigError, match="valid checks: initial_loss"):
        SanityOptions(only=("gradient",))
    with pytest.raises(ConfigError, match="no check left"):
        SanityOptions(only=("initial_loss",), skip=("initial_loss",))
    with pytest.raises(ConfigError, match="subset"):
        SanityOptions(subset=1)
    with pytest.raises(ConfigError, match="loss_tolerance"):
        SanityOptions(loss_tolerance=0)
    assert SanityOptions(skip=("gradient_check", "update_ratio")).selected() == (
        "initial_loss", "regularization_raises_loss", "overfit_small_subset", "activation_stats",
        "softmax_stability", "dropout_scaling", "training_step")


def test_subset_larger_than_the_training_split_is_bad_input(spiral):
    with pytest.raises(ConfigError, match="at most 240"):
        run_checks(spiral, TrainConfig(), SanityOptions(subset=1000))


def test_table_renders(digits):
    from rich.console import Console

    from hpsearch.report.sanity import sanity_table

    report = run_checks(digits, TrainConfig(hidden=(20,), lr=0.5, optimizer="sgd"))
    console = Console(width=120, record=True, file=open("/dev/null", "w"))
    console.print(sanity_table(report))
    text = console.export_text()
    assert all(name in text for name in CHECK_NAMES) and "update_ratio" in text and "PASSED" in text


# --- the command ----------------------------------------------------------------------------------


def invoke(*args):
    return runner.invoke(app, ["sanity", *args])


def test_cli_json_contract_and_exit_0():
    r = invoke("--optimizer", "adam", "--lr", "1e-3", "--json")
    assert r.exit_code == 0, r.stderr
    payload = json.loads(r.stdout)  # exactly one object on stdout
    assert set(payload) == {"passed", "checks"} and payload["passed"] is True
    assert [c["name"] for c in payload["checks"]] == list(CHECK_NAMES)
    for c in payload["checks"]:
        assert set(c) == KEYS and c["status"] == "pass"
    assert "hpsearch sanity" in r.stderr  # the table goes to stderr under --json


def test_cli_failing_check_exits_1():
    r = invoke("--data", "spiral", "--hidden", "none", "--subset", "100", "--overfit-epochs", "200",
               "--only", "overfit_small_subset", "--json", "--quiet")
    assert r.exit_code == 1, r.stderr
    payload = json.loads(r.stdout)
    assert payload["passed"] is False and payload["checks"][0]["status"] == "fail"
    assert r.stderr == ""  # --quiet: no table


def test_cli_strict_flips_a_warning_to_exit_1():
    args = ("--lr", "0.5", "--optimizer", "sgd", "--only", "update_ratio", "--json", "--quiet")
    loose = invoke(*args)
    assert loose.exit_code == 0 and json.loads(loose.stdout)["checks"][0]["status"] == "warn"
    strict = invoke(*args, "--strict")
    assert strict.exit_code == 1
    assert json.loads(strict.stdout) == {"passed": False, "checks": [
        {**json.loads(loose.stdout)["checks"][0], "status": "fail",
         "message": json.loads(loose.stdout)["checks"][0]["message"] + " [a warning, failed by --strict]"}]}


def test_cli_only_and_skip_select_checks():
    r = invoke("--only", "initial_loss,activation_stats", "--only", "update_ratio", "--skip", "update_ratio",
               "--json", "--quiet")
    assert r.exit_code == 0, r.stderr
    assert [c["name"] for c in json.loads(r.stdout)["checks"]] == ["initial_loss", "activation_stats"]


def test_cli_table_on_stdout_without_json():
    r = invoke("--only", "initial_loss")
    assert r.exit_code == 0
    assert "initial_loss" in r.stdout and "PASSED" in r.stdout


@pytest.mark.parametrize("args, needles", [
    (("--only", "gradients"), ("--only 'gradients' is not a check", "valid checks: initial_loss,", "update_ratio")),
    (("--skip", "nope"), ("--skip 'nope'", "gradient_check")),
    (("--subset", "1"), ("--subset must be",)),
    (("--loss-tolerance", "2"), ("--loss-tolerance must be in (0, 1)",)),
    (("--data", "spiral", "--subset", "500"), ("--subset 500 is larger than the training split",)),
    (("--lr", "0"), ("--lr must be > 0",)),
    (("--activation", "swish"), ("--activation must be one of",)),
    (("--data", "no/such/file.npz"), ("no/such/file.npz",)),
])
def test_cli_bad_input_exits_2_with_one_line(args, needles):
    assert_one_line_error(invoke(*args, "--json"), 2, *needles)


def test_cli_help_ends_with_an_example():
    r = runner.invoke(app, ["sanity", "--help"])
    assert r.exit_code == 0 and "Example: hpsearch sanity" in r.stdout
