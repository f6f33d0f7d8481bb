"""The pre-flight gate (CS231n lecture 6, "babysitting the learning process", step 1).

`run_checks(split, cfg, options)` -> `SanityReport`, one `CheckResult` per selected check, in this order:

    initial_loss                small weights, reg 0: the loss over a batch is about ln C
    regularization_raises_loss  same weights: the loss with a large reg is above the loss with reg 0
    gradient_check              analytic vs numeric gradients in float64 on a few samples (numerics: sanity_grad.py)
    overfit_small_subset        ~20 samples, reg 0, no dropout: 100 % train accuracy, loss far below its start
    activation_stats            one forward pass at init: per hidden layer mean/std, dead or saturated units
    update_ratio                a few steps at the chosen lr: per layer ||dW|| / ||W|| near 1e-3

The first three live here, the last three (they train or run the model) in sanity_train.py. Each check
builds its own model from a derived config (`cfg.with_(...)`, the frozen original is never replaced) and
its own samples (fancy-indexed copies), so the caller's config and arrays are never touched. Each check
draws from its own seed, `SeedSequence([seed, index of the check])`, so `only`/`skip` never change another
check's numbers. Nothing prints; `on_check(name)` reports progress.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from hpsearch.config import TrainConfig
from hpsearch.data import Split
from hpsearch.errors import ConfigError
from hpsearch.nn.layers import KINKED
from hpsearch.nn.model import MLP
from hpsearch.sanity_grad import RESOLVE, compare_gradients

CHECK_NAMES = ("initial_loss", "regularization_raises_loss", "gradient_check", "overfit_small_subset",
               "activation_stats", "update_ratio")
STATUSES = ("pass", "warn", "fail")

SMALL_STD = 0.01  # CS231n's 0.01 * randn: the "small weights" of the initial-loss check
GRAD_PASS, GRAD_KINK, GRAD_FAIL = 1e-7, 1e-4, 1e-2  # CS231n's relative-error scale for gradient checks
# Work cap of the gradient check, in (parameters x loss evaluations): each checked entry costs two full
# loss+backward passes, whose cost grows with the parameter count. Wide nets get fewer entries per array
# (~45 per array at 64-500-500-10, ~0.5 s per 100 entries there); never fewer than GRAD_MIN_ENTRIES.
GRAD_WORK, GRAD_MIN_ENTRIES = 2.5e8, 20


@dataclass(frozen=True)
class CheckResult:
    name: str  # one of CHECK_NAMES: a stable identifier for scripts
    status: str  # pass | warn | fail
    measured: object  # a number or a small dict of numbers/strings (to_dict turns NaN/inf into None)
    expected: str  # the pass criterion in words, e.g. "ln(10) = 2.303 +/- 10%"
    message: str  # what was seen and, unless it passed, the likely causes and the fix

    def to_dict(self) -> dict:
        return {"name": self.name, "status": self.status, "measured": _json_safe(self.measured),
                "expected": self.expected, "message": self.message}


@dataclass(frozen=True)
class SanityReport:
    checks: tuple[CheckResult, ...]  # in CHECK_NAMES order, only the selected ones

    @property
    def passed(self) -> bool:
        """The gate: no check failed (under `strict`, warnings were already turned into failures)."""
        return all(c.status != "fail" for c in self.checks)

    def to_dict(self) -> dict:
        """The JSON contract of DESIGN.md §3: {"passed", "checks": [{"name", "status", ...}]}."""
        return {"passed": self.passed, "checks": [c.to_dict() for c in self.checks]}


@dataclass(frozen=True)
class SanityOptions:
    loss_tolerance: float = 0.10  # initial_loss passes within this relative distance of ln C
    subset: int = 20  # samples the overfit check must learn perfectly (CS231n overfits ~20)
    overfit_epochs: int = 1000  # epoch budget of the overfit check; it stops as soon as it passes
    only: tuple[str, ...] = ()  # run just these checks (empty: all)
    skip: tuple[str, ...] = ()  # leave these out
    strict: bool = False  # CI mode: a warning counts as a failure
    seed: int = 0  # every check's weights, samples and masks derive from it
    batch: int = 500  # samples for the initial loss, the reg comparison and the activation statistics
    grad_samples: int = 8  # samples for the gradient check: few, so few ReLU kinks lie near the data
    grad_entries: int = 500  # most entries checked per array (all of a smaller one), seeded; fewer if wide
    big_reg: float = 1e3  # the "large reg" of regularization_raises_loss (CS231n cranks it to 1e3)
    update_steps: int = 10  # training steps before the update/weight ratio is read

    def __post_init__(self) -> None:
        object.__setattr__(self, "only", tuple(self.only))
        object.__setattr__(self, "skip", tuple(self.skip))
        for key in ("only", "skip"):
            for name in getattr(self, key):
                if name not in CHECK_NAMES:
                    raise ConfigError(f"{key} {name!r} is not a check", f"valid checks: {', '.join(CHECK_NAMES)}",
                                      key=key)
        if not (isinstance(self.loss_tolerance, (int, float)) and 0 < self.loss_tolerance < 1):
            raise ConfigError(f"loss_tolerance must be in (0, 1), got {self.loss_tolerance}",
                              "e.g. 0.1 for 10% around ln C", key="loss_tolerance")
        for key, low in (("subset", 2), ("overfit_epochs", 1), ("batch", 2), ("grad_samples", 2),
                         ("grad_entries", 1), ("update_steps", 1)):
            v = getattr(self, key)
            if not isinstance(v, int) or isinstance(v, bool) or v < low:
                raise ConfigError(f"{key} must be an integer >= {low}, got {v}", None, key=key)
        if not (math.isfinite(self.big_reg) and self.big_reg > 0):
            raise ConfigError(f"big_reg must be > 0, got {self.big_reg}", "CS231n uses 1e3", key="big_reg")
        if not self.selected():
            raise ConfigError("no check left to run after only/skip", f"valid checks: {', '.join(CHECK_NAMES)}",
                              key="skip")

    def selected(self) -> tuple[str, ...]:
        return tuple(n for n in CHECK_NAMES if (not self.only or n in self.only) and n not in self.skip)


def run_checks(split: Split, cfg: TrainConfig, options: SanityOptions | None = None,
               on_check: Callable[[str], None] | None = None) -> SanityReport:
    """Run the selected checks on `split` (its training part only) for the model `cfg` describes."""
    from hpsearch import sanity_train as T  # imports this module: registry resolved at call time

    opts = options or SanityOptions()
    checks = {"initial_loss": initial_loss, "regularization_raises_loss": regularization_raises_loss,
              "gradient_check": gradient_check, "overfit_small_subset": T.overfit_small_subset,
              "activation_stats": T.activation_stats, "update_ratio": T.update_ratio}
    n_train = split.X_train.shape[0]
    if "overfit_small_subset" in opts.selected() and opts.subset > n_train:
        raise ConfigError(f"subset {opts.subset} is larger than the training split ({n_train} samples)",
                          f"use at most {n_train}", key="subset")
    results = []
    for name in opts.selected():
        if on_check is not None:
            on_check(name)
        rng = np.random.default_rng(np.random.SeedSequence([opts.seed, CHECK_NAMES.index(name)]))
        r = checks[name](split, cfg, opts, rng)
        if opts.strict and r.status == "warn":
            r = CheckResult(r.name, "fail", r.measured, r.expected, r.message + " [a warning, failed by --strict]")
        results.append(r)
    return SanityReport(tuple(results))


# --- helpers shared with sanity_train.py ----------------------------------------------------------


def sample_batch(split: Split, n: int, rng: np.random.Generator, dtype: str = "float64"):
    """A random batch of at most `n` training samples as fresh arrays: X (n, D) in `dtype`, y (n,)."""
    idx = np.sort(rng.choice(split.X_train.shape[0], min(n, split.X_train.shape[0]), replace=False))
    return split.X_train[idx].astype(dtype), split.y_train[idx].copy()


def build_model(split: Split, cfg: TrainConfig, rng: np.random.Generator) -> MLP:
    return MLP(split.num_features, split.num_classes, cfg, rng)


def _json_safe(v):
    if isinstance(v, dict):
        return {str(k): _json_safe(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_json_safe(x) for x in v]
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return float(v) if math.isfinite(v) else None
    return v


# --- 1. initial loss ------------------------------------------------------------------------------


def initial_loss(split: Split, cfg: TrainConfig, opts: SanityOptions, rng: np.random.Generator) -> CheckResult:
    """Small weights and reg 0 make every class equally likely: loss = -ln(1/C) = ln C."""
    scale = cfg.init_scale if cfg.resolved_init == "small" else SMALL_STD
    c = cfg.with_(init="small", init_scale=scale, reg=0.0, dtype="float64")
    model = build_model(split, c, rng)
    X, y = sample_batch(split, opts.batch, rng)
    loss = model.loss(X, y, np.random.default_rng(rng.integers(2**63)))[0]
    want = math.log(split.num_classes)
    rel = abs(loss - want) / want
    expected = f"ln({split.num_classes}) = {want:.4g} +/- {opts.loss_tolerance:.0%}"
    measured = {"loss": loss, "ln_C": want, "relative_error": rel}
    seen = f"loss {loss:.4g} at small weights (std {scale:g}, reg 0, {X.shape[0]} samples) vs ln C = {want:.4g}"
    if rel <= opts.loss_tolerance:
        return CheckResult("initial_loss", "pass", measured, expected, f"{seen} ({rel:.1%} off)")
    causes = ("init scale too large (scores not near 0)" if loss > want else "loss too low: labels leak into the"
              " inputs or the loss is not a mean cross-entropy") + "; labels wrong or out of order; a bug in the loss"
    return CheckResult("initial_loss", "fail", measured, expected, f"{seen} ({rel:.1%} off). Likely: {causes}")


# --- 2. regularization raises the loss ------------------------------------------------------------


def regularization_raises_loss(split: Split, cfg: TrainConfig, opts: SanityOptions,
                               rng: np.random.Generator) -> CheckResult:
    """Same weights, same dropout mask: the loss at reg = big_reg must exceed the loss at reg 0,
    and by the documented penalty (l2: 0.5 * reg * sum ||W||^2, l1: reg * sum |W|, weights only)."""
    model = build_model(split, cfg.with_(dtype="float64"), rng)
    X, y = sample_batch(split, opts.batch, rng)
    mask_seed = int(rng.integers(2**63))
    saved = [(s.running_mean.copy(), s.running_var.copy()) for s in model.bn]

    def loss_at(reg: float) -> float:
        out = model.loss(X, y, np.random.default_rng(mask_seed), reg=reg)[0]
        for s, (m, v) in zip(model.bn, saved):
            s.running_mean, s.running_var = m.copy(), v.copy()
        return out

    base, big = loss_at(0.0), loss_at(opts.big_reg)
    ws = [model.params[k] for k in model.weight_names]
    if cfg.reg_kind == "l2":
        penalty = 0.5 * opts.big_reg * sum(float(np.vdot(w, w)) for w in ws)
    else:
        penalty = opts.big_reg * sum(float(np.abs(w).sum()) for w in ws)
    rise = big - base
    measured = {"loss_reg0": base, "loss_big_reg": big, "rise": rise, "penalty": penalty}
    expected = f"rises by the {cfg.reg_kind} penalty ({penalty:.4g})"
    seen = f"loss {base:.4g} at reg 0, {big:.4g} at reg {opts.big_reg:g} ({cfg.reg_kind})"
    if not (math.isfinite(rise) and rise > 1e-9 * max(1.0, abs(base))):
        return CheckResult("regularization_raises_loss", "fail", measured, expected,
                           f"{seen}: the regularization term does not reach the loss. Likely: the penalty is not "
                           f"added to the data loss, or reg is not passed through ({cfg.reg_kind} penalty in "
                           "nn/losses.py, MLP.loss)")
    if abs(rise - penalty) > 1e-6 * max(penalty, 1e-12):
        return CheckResult("regularization_raises_loss", "warn", measured, expected,
                           f"{seen}: the loss rises by {rise:.6g} but the {cfg.reg_kind} penalty of these weights is "
                           f"{penalty:.6g}; the penalty differs from the documented formula (biases included, a "
                           "missing 0.5, or a different norm?)")
    return CheckResult("regularization_raises_loss", "pass", measured, expected,
                       f"{seen}: it rises by the {cfg.reg_kind} penalty")


# --- 3. gradient check ---------------------------------------------------------------------------


def gradient_check(split: Split, cfg: TrainConfig, opts: SanityOptions, rng: np.random.Generator) -> CheckResult:
    """The user's architecture (init, batchnorm, dropout with a fixed mask, reg) in float64 on
    `grad_samples` samples; every parameter array, up to `grad_entries` seeded entries each.
    <= 1e-7 pass; above 1e-2 fail; in between warn for kinked activations (ReLU family, where numeric
    gradients are legitimately off), warn up to 1e-4 and fail above it for smooth ones."""
    model = build_model(split, cfg.with_(dtype="float64"), rng)
    X, y = sample_batch(split, opts.grad_samples, rng)
    kinked = cfg.activation in KINKED
    n_params = sum(p.size for p in model.params.values())
    entries = min(opts.grad_entries, max(GRAD_MIN_ENTRIES, int(GRAD_WORK / (2 * n_params * len(model.params)))))
    with np.errstate(all="ignore"):
        g = compare_gradients(model, X, y, rng, entries, kinked)
    err = g.max_rel_error
    if err <= GRAD_PASS:
        status = "pass"
    elif err > GRAD_FAIL:
        status = "fail"
    else:
        status = "warn" if kinked or err <= GRAD_KINK else "fail"
    many_kinks = g.kink_entries > 0.1 * (g.entries + g.kink_entries)
    if status == "pass" and (many_kinks or g.unresolved):
        status = "warn"
    measured = {"max_rel_error": err, "worst": g.worst, "max_abs_diff": g.max_abs_diff,
                "roundoff_allowance": g.allowance, "per_array": g.per_array, "entries": g.entries, "of": g.total,
                "kink_entries": g.kink_entries, "unresolved": list(g.unresolved), "samples": X.shape[0]}
    expected = f"<= {GRAD_PASS:g}" + (f" (kinked {cfg.activation}: warn to {GRAD_FAIL:g})" if kinked else
                                      f" (smooth {cfg.activation}: warn to {GRAD_KINK:g})")
    extras = "".join([", batchnorm" if cfg.batchnorm else "", f", dropout {cfg.dropout:g}" if cfg.dropout else ""])
    scope = (f"{g.entries} of {g.total} entries in {len(g.per_array)} arrays, {X.shape[0]} samples, float64, "
             f"reg {cfg.reg:g}{extras}; largest |analytic - numeric| {g.max_abs_diff:.1e}, float64 roundoff "
             f"allowance {g.allowance:.1e}")
    if g.kink_entries:
        scope += f"; {g.kink_entries} entries straddling a {cfg.activation} kink left out"
    seen = f"largest relative error {err:.2e} at {g.worst} ({scope})"
    if status == "pass":
        return CheckResult("gradient_check", "pass", measured, expected, seen)
    if status == "fail":
        bad = ", ".join(k for k, v in g.per_array.items() if v > (GRAD_FAIL if kinked else GRAD_KINK))
        return CheckResult("gradient_check", "fail", measured, expected,
                           f"{seen}: the analytic gradient is wrong for {bad or g.worst.split('[')[0]}. Likely: a "
                           f"bug in a backward pass ({cfg.activation}{', batchnorm' if cfg.batchnorm else ''}, "
                           "affine, dropout) or in the penalty's gradient")
    if g.unresolved and err <= GRAD_PASS:
        why = (f"the gradients of {', '.join(g.unresolved)} are all below float64 resolution for this loss "
               f"(~{RESOLVE * g.allowance:.0e}), so the check cannot see them: they vanish at this init "
               "(see activation_stats; try --init xavier/he or --batchnorm)")
    elif many_kinks:
        why = f"many entries sit on {cfg.activation} kinks: pre-activations crowd around 0 (init too small?)"
    elif kinked:
        why = f"{cfg.activation} has kinks, where numeric gradients are legitimately off"
    else:
        why = "a smooth model should read below 1e-7 unless it is deep"
    return CheckResult("gradient_check", "warn", measured, expected, f"{seen}: {why}; look closer before trusting it")
