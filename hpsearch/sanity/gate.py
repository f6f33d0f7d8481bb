"""The pre-flight gate (CS231n lecture 6, "babysitting the learning process", step 1): run the selected checks.

`run_checks(split, cfg, options)` -> `SanityReport`, one `CheckResult` per selected check, in this order:

    initial_loss                small weights, reg 0: the loss over a batch is about ln C
    regularization_raises_loss  same weights: the loss with a large reg is above the loss with reg 0
    gradient_check              analytic vs numeric gradients in float64 on a few samples (gradcheck.py)
    overfit_small_subset        ~20 samples, reg 0, no dropout: 100 % train accuracy, loss far below its start
    activation_stats            one forward pass at init: per hidden layer mean/std, dead or saturated units
    update_ratio                a few steps at the chosen lr: per layer ||dW|| / ||W|| near 1e-3
    softmax_stability           scores ~1e3 (an unshifted softmax overflows): a finite, exact loss, both paths
    dropout_scaling             inverted dropout keeps train and test activations equal in expectation
    training_step               two steps of the fused trainer = the reference gradients + optimizer rule

initial_loss, regularization_raises_loss, gradient_check and the last two live in model_checks.py;
overfit_small_subset, activation_stats and update_ratio (they train or run the model) in training_checks.py.
Each check draws from its own seed, `SeedSequence([seed, index of the check])`, so `only`/`skip` never
change another check's numbers. Nothing prints; `on_check(name)` reports progress.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from hpsearch.config.train import TrainConfig
from hpsearch.errors import ConfigError
from hpsearch.sanity import model_checks, training_checks
from hpsearch.sanity.types import CHECK_NAMES, CheckResult, SanityOptions, SanityReport
from hpsearch.trainer.fast import lanes

CHECKS = {"initial_loss": model_checks.initial_loss,
          "regularization_raises_loss": model_checks.regularization_raises_loss,
          "gradient_check": model_checks.gradient_check,
          "overfit_small_subset": training_checks.overfit_small_subset,
          "activation_stats": training_checks.activation_stats,
          "update_ratio": training_checks.update_ratio,
          "softmax_stability": model_checks.softmax_stability,
          "dropout_scaling": model_checks.dropout_scaling,
          "training_step": model_checks.training_step}


def run_checks(split, cfg: TrainConfig, options: SanityOptions | None = None,
               on_check: Callable[[str], None] | None = None) -> SanityReport:
    """Run the selected checks on `split` (its training part only) for the model `cfg` describes."""
    opts = options or SanityOptions()
    n_train = split.X_train.shape[0]
    if "overfit_small_subset" in opts.selected() and opts.subset > n_train:
        raise ConfigError(f"subset {opts.subset} is larger than the training split ({n_train} samples)",
                          f"use at most {n_train}", key="subset")
    results = []
    for name in opts.selected():
        if on_check is not None:
            on_check(name)
        rng = np.random.default_rng(np.random.SeedSequence([opts.seed, CHECK_NAMES.index(name)]))
        with lanes.single_threaded_blas():  # small matrices: BLAS threads only contend (as in fit)
            r = CHECKS[name](split, cfg, opts, rng)
        if opts.strict and r.status == "warn":
            r = CheckResult(r.name, "fail", r.measured, r.expected, r.message + " [a warning, failed by --strict]")
        results.append(r)
    return SanityReport(tuple(results))
