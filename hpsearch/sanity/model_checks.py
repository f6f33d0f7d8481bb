"""The sanity checks that look at the model without training it: initial_loss, regularization_raises_loss,
gradient_check. Contract: `check(split, cfg, options, rng) -> CheckResult`, no printing, no change to `cfg`
or `split`."""

from __future__ import annotations

import math

import numpy as np

from hpsearch.config.train import KINKED, TrainConfig
from hpsearch.sanity.gradcheck import RESOLVE, compare_gradients
from hpsearch.sanity.types import CheckResult, SanityOptions, build_model, sample_batch

SMALL_STD = 0.01  # CS231n's 0.01 * randn: the "small weights" of the initial-loss check
GRAD_PASS, GRAD_KINK, GRAD_FAIL = 1e-7, 1e-4, 1e-2  # CS231n's relative-error scale for gradient checks
# Work cap of the gradient check, in (parameters x loss evaluations): each checked entry costs two full
# loss+backward passes, whose cost grows with the parameter count. Wide nets get fewer entries per array
# (~45 per array at 64-500-500-10, ~0.5 s per 100 entries there); never fewer than GRAD_MIN_ENTRIES.
GRAD_WORK, GRAD_MIN_ENTRIES = 2.5e8, 20


# --- 1. initial loss ------------------------------------------------------------------------------


def initial_loss(split, cfg: TrainConfig, opts: SanityOptions, rng: np.random.Generator) -> CheckResult:
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


def regularization_raises_loss(split, cfg: TrainConfig, opts: SanityOptions,
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
                           "trainer/reference/losses.py, MLP.loss)")
    if abs(rise - penalty) > 1e-6 * max(penalty, 1e-12):
        return CheckResult("regularization_raises_loss", "warn", measured, expected,
                           f"{seen}: the loss rises by {rise:.6g} but the {cfg.reg_kind} penalty of these weights is "
                           f"{penalty:.6g}; the penalty differs from the documented formula (biases included, a "
                           "missing 0.5, or a different norm?)")
    return CheckResult("regularization_raises_loss", "pass", measured, expected,
                       f"{seen}: it rises by the {cfg.reg_kind} penalty")


# --- 3. gradient check ---------------------------------------------------------------------------


def gradient_check(split, cfg: TrainConfig, opts: SanityOptions, rng: np.random.Generator) -> CheckResult:
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
