"""The sanity checks that look at the model without training it: initial_loss, regularization_raises_loss,
gradient_check, softmax_stability, dropout_scaling (the last two: CS231n's numerical traps). Contract: `check(split, cfg, options, rng) -> CheckResult`, no printing, no change to `cfg`
or `split`."""

from __future__ import annotations

import math

import numpy as np

from hpsearch.config.train import KINKED, TrainConfig
from hpsearch.sanity.gradcheck import RESOLVE, compare_gradients
from hpsearch.trainer.fast.fused import TrainStep
from hpsearch.trainer.reference.layers import dropout_forward
from hpsearch.trainer.reference.losses import softmax_cross_entropy
from hpsearch.trainer.reference.model import MLP
from hpsearch.trainer.reference.optim import OptimHyper, SlotState, get_rule
from hpsearch.sanity.types import CheckResult, SanityOptions, build_model, sample_batch

SMALL_STD = 0.01  # CS231n's 0.01 * randn: the "small weights" of the initial-loss check
INIT_FAIL = 3.0  # loss at the configured init above this x ln C fails (correct inits measure at most 1.97 x over
# 810 configurations; 92 % of inits 10x too large read above 3: benchmarks/bench_sanity.py)
# Relative error: <= GRAD_PASS passes, above GRAD_FAIL fails, between warns; the same for every activation. Entries
# whose ReLU units flip between x-h and x+h are left out and any entry above 1e-7 is measured again at h/10, so
# correct code reads below 1e-7 on kinked nets too (max 8.8e-8 over 1,040 checks); a backward off by 0.1 % reads
# 5e-4 or more (benchmarks/bench_sanity.py).
GRAD_PASS, GRAD_FAIL = 1e-7, 1e-4
PATHS_AGREE = 1e-8  # the training step's and the reference's float64 gradients: max |a - b| / max |b| per array
LOW_PRECISION = 1e-3  # the float32 step's gradients against float64's, the same way
# Work cap of the gradient check, in (parameters x loss evaluations): each checked entry costs two full
# loss+backward passes, whose cost grows with the parameter count. Wide nets get fewer entries per array
# (~45 per array at 64-500-500-10, ~0.5 s per 100 entries there); never fewer than GRAD_MIN_ENTRIES.
GRAD_WORK, GRAD_MIN_ENTRIES = 2.5e8, 20


# --- 1. initial loss ------------------------------------------------------------------------------


def initial_loss(split, cfg: TrainConfig, opts: SanityOptions, rng: np.random.Generator) -> CheckResult:
    """Small weights and reg 0 make every class equally likely: loss = -ln(1/C) = ln C (a wrong loss or
    labels show here). Then the same samples at the configured init (reg 0), as training starts: far above
    ln C (INIT_FAIL times) means the init scale is too large and training starts by undoing it."""
    scale = cfg.init_scale if cfg.resolved_init == "small" else SMALL_STD
    c = cfg.with_(init="small", init_scale=scale, reg=0.0, dtype="float64")
    model = build_model(split, c, rng)
    X, y = sample_batch(split, opts.batch, rng)
    mask_rng_seed = int(rng.integers(2**63))
    loss = model.loss(X, y, np.random.default_rng(mask_rng_seed))[0]
    real = build_model(split, cfg.with_(reg=0.0, dtype="float64"), rng)
    at_init = real.loss(X, y, np.random.default_rng(mask_rng_seed))[0]
    want = math.log(split.num_classes)
    rel = abs(loss - want) / want
    ratio = at_init / want
    expected = (f"ln({split.num_classes}) = {want:.4g} +/- {opts.loss_tolerance:.0%} at small weights; at most "
                f"{INIT_FAIL:g} x ln C at the configured init ({cfg.resolved_init})")
    measured = {"loss": loss, "ln_C": want, "relative_error": rel, "loss_at_init": at_init, "init_ratio": ratio}
    seen = (f"loss {loss:.4g} at small weights (std {scale:g}, reg 0, {X.shape[0]} samples) vs ln C = {want:.4g}; "
            f"{at_init:.4g} at the configured init ({cfg.resolved_init})")
    if rel > opts.loss_tolerance:
        causes = ("init scale too large (scores not near 0)" if loss > want else "loss too low: labels leak into "
                  "the inputs or the loss is not a mean cross-entropy") + "; labels wrong or out of order; a bug in the loss"
        return CheckResult("initial_loss", "fail", measured, expected, f"{seen} ({rel:.1%} off). Likely: {causes}")
    if not ratio <= INIT_FAIL:
        return CheckResult("initial_loss", "fail", measured, expected,
                           f"{seen}: {ratio:.3g} x ln C at the configured init. Likely: the init scale is too "
                           f"large ({cfg.resolved_init} init for {cfg.activation}, hidden {list(cfg.hidden)}; "
                           "a std not divided by the fan-in?): the first steps only undo it")
    return CheckResult("initial_loss", "pass", measured, expected,
                       f"{seen} ({rel:.1%} off; {ratio:.2g} x ln C at init)")


# --- 2. regularization raises the loss ------------------------------------------------------------


def regularization_raises_loss(split, cfg: TrainConfig, opts: SanityOptions,
                               rng: np.random.Generator) -> CheckResult:
    """Same weights, same dropout mask: the loss at reg = big_reg must exceed the loss at reg 0,
    and by the documented penalty (l2: 0.5 * reg * sum ||W||^2, l1: reg * sum |W|, weights only)."""
    model = build_model(split, cfg.with_(dtype="float64"), rng)
    X, y = sample_batch(split, opts.batch, rng)
    mask_seed = int(rng.integers(2**63))

    def loss_at(reg: float) -> float:
        with model.bn_stats_kept():
            return model.loss(X, y, np.random.default_rng(mask_seed), reg=reg)[0]

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
    `grad_samples` samples; every parameter array, up to `grad_entries` seeded entries each; on both paths:
    the reference model (MLP.loss) and the fused step that trains (fast/fused.py TrainStep.gradients), each
    against numeric gradients, and the two against each other. With float32 training, the float32 step's
    gradients against the float64 reference too. <= GRAD_PASS pass; above GRAD_FAIL fail; in between warn."""
    model = build_model(split, cfg.with_(dtype="float64"), rng)
    X, y = sample_batch(split, opts.grad_samples, rng)
    kinked = cfg.activation in KINKED
    n_params = sum(p.size for p in model.params.values())
    entries = min(opts.grad_entries, max(GRAD_MIN_ENTRIES, int(GRAD_WORK / (2 * n_params * len(model.params)))))
    seed = int(rng.integers(2**63))
    step = TrainStep(model, X.shape[0], get_rule(cfg.optimizer), OptimHyper())
    with np.errstate(all="ignore"):
        ref = compare_gradients(model, X, y, np.random.default_rng(seed), entries, kinked)
        g = compare_gradients(model, X, y, np.random.default_rng(seed), entries, kinked, path=step.gradients)
        agree = _paths_agree(model.loss, step.gradients, X, y, seed)
        low = _low_precision(split, cfg, model, X, y, seed) if cfg.dtype != "float64" else None
    fast = g
    if ref.max_rel_error > g.max_rel_error:  # report the worse path's details
        g = ref
    err = g.max_rel_error
    if err <= GRAD_PASS:
        status = "pass"
    elif err > GRAD_FAIL:
        status = "fail"
    else:
        status = "warn"
    many_kinks = g.kink_entries > 0.1 * (g.entries + g.kink_entries)
    if status == "pass" and (many_kinks or g.unresolved):
        status = "warn"
    path_err = max(agree.values(), default=0.0)
    low_err = max(low.values(), default=0.0) if low is not None else None
    if path_err > PATHS_AGREE or (low_err is not None and not low_err <= LOW_PRECISION):
        status = "fail"
    measured = {"max_rel_error": err, "worst": g.worst, "max_abs_diff": g.max_abs_diff,
                "roundoff_allowance": g.allowance, "per_array": g.per_array, "entries": g.entries, "of": g.total,
                "kink_entries": g.kink_entries, "unresolved": list(g.unresolved), "samples": X.shape[0],
                "reference_max_rel_error": ref.max_rel_error, "training_path_vs_reference": path_err}
    if low is not None:
        measured[f"{cfg.dtype}_vs_float64"] = low_err
    expected = (f"<= {GRAD_PASS:g} (warn to {GRAD_FAIL:g})" +
                f"; training path = reference within {PATHS_AGREE:g}" +
                (f"; {cfg.dtype} within {LOW_PRECISION:g}" if low is not None else ""))
    extras = "".join([", batchnorm" if cfg.batchnorm else "", f", dropout {cfg.dropout:g}" if cfg.dropout else ""])
    scope = (f"{g.entries} of {g.total} entries in {len(g.per_array)} arrays, {X.shape[0]} samples, float64, "
             f"reg {cfg.reg:g}{extras}; largest |analytic - numeric| {g.max_abs_diff:.1e}, float64 roundoff "
             f"allowance {g.allowance:.1e}")
    if g.kink_entries:
        scope += f"; {g.kink_entries} entries straddling a {cfg.activation} kink left out"
    seen = f"largest relative error {err:.2e} at {g.worst} ({scope})"
    if status == "pass":
        return CheckResult("gradient_check", "pass", measured, expected, seen)
    limit = GRAD_FAIL
    if status == "fail" and max(ref.max_rel_error, fast.max_rel_error) > limit:
        bad = ", ".join(k for k, v in g.per_array.items() if v > limit)
        wrong = [name for name, c in (("the training step's", fast), ("the reference model's", ref))
                 if c.max_rel_error > limit]
        where = " and ".join(wrong) or "the"
        return CheckResult("gradient_check", "fail", measured, expected,
                           f"{seen}: {where} analytic gradient is wrong for {bad or g.worst.split('[')[0]}. Likely: "
                           f"a bug in a backward pass ({cfg.activation}{', batchnorm' if cfg.batchnorm else ''}, "
                           "affine, dropout) or in the penalty's gradient")
    if status == "fail" and path_err > PATHS_AGREE:
        bad = ", ".join(k for k, v in agree.items() if v > PATHS_AGREE)
        return CheckResult("gradient_check", "fail", measured, expected,
                           f"{seen}; the training step's gradients differ from the reference model's by "
                           f"{path_err:.1e} (of their size) for {bad}. Likely: a bug in the fused step "
                           "(trainer/fast/fused.py, inplace.py) that the reference does not share")
    if status == "fail" and low_err is not None and not low_err <= LOW_PRECISION:
        bad = ", ".join(k for k, v in low.items() if not v <= LOW_PRECISION)
        return CheckResult("gradient_check", "fail", measured, expected,
                           f"{seen}; the {cfg.dtype} training step's gradients differ from float64's by "
                           f"{low_err:.1e} (of their size) for {bad}: more than {cfg.dtype} rounding explains. "
                           "Likely: an overflow or a cast in the fused step")
    if g.unresolved and err <= GRAD_PASS:
        why = (f"the gradients of {', '.join(g.unresolved)} are all below float64 resolution for this loss "
               f"(~{RESOLVE * g.allowance:.0e}), so the check cannot see them: they vanish at this init "
               "(see activation_stats; try --init xavier/he or --batchnorm)")
    elif many_kinks:
        why = f"many entries sit on {cfg.activation} kinks: pre-activations crowd around 0 (init too small?)"
    else:
        why = (f"correct code reads below {GRAD_PASS:g} (entries straddling a kink are left out); an error this "
               "small can be a tiny backward bug or curvature in a deep net")
    return CheckResult("gradient_check", "warn", measured, expected, f"{seen}: {why}; look closer before trusting it")


def _paths_agree(reference, training, X, y, seed: int) -> dict[str, float]:
    """Per parameter array, max |training - reference| / max |reference| of the two paths' analytic gradients
    on the same batch and dropout mask."""
    _, a = reference(X, y, np.random.default_rng(seed))
    _, b = training(X, y, np.random.default_rng(seed))
    return {k: _scaled_diff(b[k], a[k]) for k in a}


def _low_precision(split, cfg: TrainConfig, model: MLP, X, y, seed: int) -> dict[str, float]:
    """The training step in cfg.dtype, on the float64 model's weights (rounded), against float64's gradients."""
    low = MLP(split.num_features, split.num_classes, cfg, np.random.default_rng(0))
    low.flat[...] = model.flat
    for s_low, s in zip(low.bn, model.bn):
        s_low.running_mean[...], s_low.running_var[...] = s.running_mean, s.running_var
    step = TrainStep(low, X.shape[0], get_rule(cfg.optimizer), OptimHyper())
    with model.bn_stats_kept():
        return _paths_agree(model.loss, lambda X_, y_, r: step.gradients(X_.astype(low.dtype), y_, r), X, y, seed)


def _scaled_diff(a: np.ndarray, b: np.ndarray) -> float:
    scale = float(np.max(np.abs(b))) if b.size else 0.0
    diff = float(np.max(np.abs(np.asarray(a, np.float64) - b))) if b.size else 0.0
    if not np.isfinite(diff):
        return float("inf")
    return diff / scale if scale > 0 else diff


# --- 7. softmax stability --------------------------------------------------------------------------

HUGE_SCORES = 1e3  # exp(1000) overflows float64: an unshifted softmax turns these into inf / nan


def softmax_stability(split, cfg: TrainConfig, opts: SanityOptions, rng: np.random.Generator) -> CheckResult:
    """Scores of size ~1e3, where an unshifted softmax overflows, must give a finite loss equal to the exact
    one and finite gradients, in the reference loss and in the training step's (in the training dtype)."""
    C = split.num_classes
    n = 16
    scores = rng.standard_normal((n, C)) * HUGE_SCORES
    y = rng.integers(0, C, n)
    top = scores.max(axis=1, keepdims=True)
    exact = float(np.mean(top[:, 0] + np.log(np.exp(scores - top).sum(axis=1)) - scores[np.arange(n), y]))
    model = build_model(split, cfg, rng)
    step = TrainStep(model, n, get_rule(cfg.optimizer), OptimHyper())
    with np.errstate(all="ignore"):  # an unshifted softmax overflows here: the check reports it, numpy need not
        ref_loss, ref_d = softmax_cross_entropy(scores, y)
        fast_loss, fast_d = step.score_loss(scores.astype(model.dtype), y)
    tol = 1e-9 if model.dtype == np.float64 else 1e-5
    out = {"reference": (ref_loss, ref_d), "training step": (fast_loss, fast_d)}
    bad = [name for name, (loss, d) in out.items()
           if not (math.isfinite(loss) and np.isfinite(d).all() and abs(loss - exact) <= tol * max(1.0, exact))]
    measured = {"exact_loss": exact, "reference_loss": ref_loss, "training_loss": fast_loss,
                "score_scale": HUGE_SCORES}
    expected = f"finite loss = the exact {exact:.6g} (relative {tol:g}) and finite gradients at scores ~{HUGE_SCORES:g}"
    if bad:
        return CheckResult("softmax_stability", "fail", measured, expected,
                           f"scores ~{HUGE_SCORES:g}: {', '.join(bad)} gave loss "
                           f"{', '.join(f'{out[b][0]:.6g}' for b in bad)} (exact {exact:.6g}) or non-finite "
                           "gradients. Likely: the softmax does not subtract each row's max before exp "
                           "(trainer/reference/losses.py, fast/fused.py _softmax_loss)")
    return CheckResult("softmax_stability", "pass", measured, expected,
                       f"loss {fast_loss:.6g} (exact {exact:.6g}) and finite gradients at scores ~{HUGE_SCORES:g}, "
                       "in both losses")


# --- 8. dropout scaling ----------------------------------------------------------------------------


def dropout_scaling(split, cfg: TrainConfig, opts: SanityOptions, rng: np.random.Generator) -> CheckResult:
    """Inverted dropout keeps the expected activation equal between train and test: over a batch, the first
    hidden layer's summed |output| with dropout (train) over the same without (test) must be 1 within a few
    standard errors; checked in the reference layer and in the training step, at the configured p (0.5
    when the configuration has no dropout: the code is checked all the same)."""
    p = cfg.dropout or 0.5
    if not cfg.hidden:
        return CheckResult("dropout_scaling", "pass", {"p": p}, "no hidden layer", "no hidden layer: no dropout")
    c = cfg.with_(dropout=p, batchnorm=False, dtype="float64")
    model = build_model(split, c, rng)
    X, y = sample_batch(split, opts.batch, rng)
    seed = int(rng.integers(2**63))
    h = model.hidden_activations(X, train=True)[0]  # the first layer's output, no dropout
    ref, _ = dropout_forward(h, p, True, np.random.default_rng(seed))
    step = TrainStep(model, X.shape[0], get_rule(c.optimizer), OptimHyper())
    step.loss(X, y, np.random.default_rng(seed))
    layer = step.hidden[0]
    ratios = {"reference": float(np.abs(ref).sum() / np.abs(h).sum()),
              "training step": float(np.abs(layer.out).sum() / np.abs(layer.a).sum())}
    # the standard error of the ratio: sqrt(p / (1 - p)) x the |activation| spread, over h.size draws
    w = np.abs(h).ravel()
    se = float(math.sqrt(p / (1 - p)) * np.sqrt(np.sum(w * w)) / w.sum()) if w.sum() > 0 else 0.0
    tol = max(5 * se, 0.25 * p)
    bad = [name for name, r in ratios.items() if not abs(r - 1) <= tol]
    measured = {"p": p, **{f"{k.replace(' ', '_')}_ratio": v for k, v in ratios.items()}, "tolerance": tol}
    expected = f"train/test activation ratio 1 +/- {tol:.2g} (p {p:g})"
    if bad:
        return CheckResult("dropout_scaling", "fail", measured, expected,
                           f"with dropout p {p:g}, the {', '.join(bad)} keep{'s' if len(bad) == 1 else ''} "
                           f"{', '.join(f'{ratios[b]:.3f}' for b in bad)} of the test-time activation (want 1; "
                           f"{1 - p:g} means survivors are not scaled by 1/(1-p)). Likely: inverted dropout "
                           "without its scaling (trainer/reference/layers.py, fast/inplace.py dropout_forward)")
    return CheckResult("dropout_scaling", "pass", measured, expected,
                       f"with dropout p {p:g}, train/test activation ratio {ratios['training step']:.4f} "
                       f"(training step), {ratios['reference']:.4f} (reference)")


# --- 9. the training step ---------------------------------------------------------------------------

STEP_AGREE = 1e-6  # parameters after the steps: max |fused - reference| / max |reference update| per array


def training_step(split, cfg: TrainConfig, opts: SanityOptions, rng: np.random.Generator) -> CheckResult:
    """Two steps of the fused trainer (TrainStep.backward_update: your optimizer, lr, reg, dropout with fixed
    masks, batchnorm) against the same two steps written out with the reference: MLP.loss's gradients, penalty
    included, and the optimizer rule array by array. The parameters after them must agree within STEP_AGREE of
    the size of the reference's update (float64): a sign, a scale or a penalty gone wrong in the fused update
    shows here, where the gradient check (no update) cannot see it."""
    c = cfg.with_(dtype="float64")
    ref = build_model(split, c, rng)
    fast = build_model(split, c, np.random.default_rng(0))
    fast.flat[...] = ref.flat
    B = max(2, min(c.batch_size, split.X_train.shape[0] // 2, 64))
    X, y = sample_batch(split, 2 * B, rng)
    B = X.shape[0] // 2
    X = np.ascontiguousarray(X)
    seeds = [int(rng.integers(2**63)) for _ in range(2)]
    rule, hyper = get_rule(c.optimizer), OptimHyper()
    slots = {k: SlotState() for k in ref.params}
    step = TrainStep(fast, B, rule, hyper, X)
    start = ref.flat.copy()
    with np.errstate(all="ignore"):
        for k in range(2):
            rows = np.arange(k * B, (k + 1) * B)
            _, grads = ref.loss(X[rows], y[rows], np.random.default_rng(seeds[k]))
            for name, p in ref.params.items():
                rule(p, grads[name], slots[name], c.lr, hyper)
            step.begin(rows)
            step.forward(y[rows], np.random.default_rng(seeds[k]))
            step.backward_update(c.lr)
    diffs = {}
    for name, _, a, b in ref.layout:
        moved = float(np.max(np.abs(ref.flat[a:b] - start[a:b])))
        gap = float(np.max(np.abs(fast.flat[a:b] - ref.flat[a:b])))
        diffs[name] = gap / moved if moved > 0 else (0.0 if gap == 0 else math.inf)
        if not math.isfinite(gap):
            diffs[name] = math.inf
    worst = max(diffs, key=diffs.get)
    measured = {"max_rel_diff": diffs[worst], "worst": worst, "per_array": diffs, "steps": 2, "batch": B}
    expected = f"fused step = reference rule within {STEP_AGREE:g} of the update's size"
    setup = f"2 steps of {c.optimizer}, lr {c.lr:g}, reg {c.reg:g} ({c.reg_kind}), batch {B}"
    if not diffs[worst] <= STEP_AGREE:
        return CheckResult("training_step", "fail", measured, expected,
                           f"after {setup}, the fused trainer's {worst} differs from the reference update by "
                           f"{diffs[worst]:.2g} x the update's size. Likely: a bug in the fused update "
                           "(trainer/fast/fused.py backward_update: the lr's sign or scale, the penalty's gradient, "
                           "the rule's state)")
    return CheckResult("training_step", "pass", measured, expected,
                       f"after {setup}, the fused trainer matches the reference update to {diffs[worst]:.1e} of its "
                       "size")
