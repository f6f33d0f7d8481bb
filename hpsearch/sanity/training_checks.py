"""The sanity checks that train or run the model: overfit_small_subset, activation_stats, update_ratio.

Same contract as model_checks.py: `check(split, cfg, options, rng) -> CheckResult`, no printing, no change
to `cfg` or `split`.
"""

from __future__ import annotations

import math

import numpy as np

from hpsearch.config.train import TrainConfig, default_init
from hpsearch.sanity.types import CheckResult, SanityOptions, build_model, sample_batch
from hpsearch.trainer.reference.optim import OptimHyper, SlotState, get_rule

OVERFIT_LOSS_FRACTION = 0.1  # "far below its start": the overfit loss must reach 10 % of its first value
STILL_FALLING = 0.9  # out of epochs but the loss still fell by 10 % over the last tenth of them: a warning
DEAD_LIMIT = 0.5  # more than this fraction of dead or saturated units in a layer is a warning
SHRINK_WARN, SHRINK_FAIL = 1e-1, 1e-3  # last/first hidden-layer std when the std shrinks layer after layer
TINY_STD = 1e-3  # a hidden layer whose activation std is below this is (nearly) switched off
RATIO_LOW, RATIO_HIGH = 1e-4, 1e-2  # update/weight band (CS231n aims at ~1e-3)


# --- 4. overfit a small subset --------------------------------------------------------------------


def overfit_small_subset(split, cfg: TrainConfig, opts: SanityOptions, rng: np.random.Generator) -> CheckResult:
    """`subset` samples, reg 0, no dropout, the user's optimizer and (constant) lr, minibatches of
    min(batch_size, subset); up to `overfit_epochs` epochs. Stops once accuracy is 100 % and the loss is
    below OVERFIT_LOSS_FRACTION of its first value."""
    c = cfg.with_(reg=0.0, dropout=0.0)
    model = build_model(split, c, rng)
    X, y = sample_batch(split, opts.subset, rng, c.dtype)
    n = X.shape[0]
    bs = min(c.batch_size, n)
    rule, hyper = get_rule(c.optimizer), OptimHyper()
    slots = {k: SlotState() for k in model.params}
    first, loss, acc, epochs, status = math.nan, math.nan, 0.0, 0, "budget"
    history = []  # mean loss per epoch
    with np.errstate(all="ignore"):
        for epoch in range(1, opts.overfit_epochs + 1):
            epochs = epoch
            perm = rng.permutation(n)
            losses = []
            for b in range(n // bs):
                idx = perm[b * bs:(b + 1) * bs]
                step_loss, grads = model.loss(X[idx], y[idx])
                if math.isnan(first):
                    first = step_loss
                losses.append(step_loss)
                if not math.isfinite(step_loss) or step_loss > c.abort_factor * first:
                    status = "diverged"
                    break
                for k, p in model.params.items():
                    rule(p, grads[k], slots[k], c.lr, hyper)
            loss = float(np.mean(losses))
            history.append(loss)
            if status == "diverged":
                break
            acc = model.accuracy(X, y)
            if acc == 1.0 and loss <= OVERFIT_LOSS_FRACTION * first:
                status = "done"
                break
    measured = {"epochs": epochs, "train_acc": acc, "initial_loss": first, "final_loss": loss, "samples": n}
    expected = f"100% accuracy, loss < {OVERFIT_LOSS_FRACTION:.0%} of start, <= {opts.overfit_epochs} epochs"
    setup = f"{n} samples, reg 0, no dropout, {c.optimizer} lr {c.lr:g}, batch {bs}"
    if status == "done":
        return CheckResult("overfit_small_subset", "pass", measured, expected,
                           f"100% train accuracy after {epochs} epochs, loss {first:.3g} -> {loss:.3g} ({setup})")
    if status == "diverged":
        return CheckResult("overfit_small_subset", "fail", measured, expected,
                           f"loss exploded at epoch {epochs} ({first:.3g} -> {loss:.3g}; {setup}). Likely: lr too "
                           "high for this optimizer (lower --lr), or an update that ascends the loss")
    trend = f"loss {first:.3g} -> {loss:.3g}, train accuracy {acc:.0%} after {epochs} epochs ({setup})"
    if acc == 1.0:
        return CheckResult("overfit_small_subset", "warn", measured, expected,
                           f"{trend}: every sample is right but the loss is still high. Likely: lr on the low side "
                           "or too few --overfit-epochs")
    back = history[-max(2, len(history) // 10)] if history else math.nan
    if loss < 0.5 * first and loss < STILL_FALLING * back:
        return CheckResult("overfit_small_subset", "warn", measured, expected,
                           f"{trend}: still learning when the budget ran out (the loss fell {1 - loss / back:.0%} over "
                           f"the last tenth of the epochs). Likely: lr {c.lr:g} on the low side for this set; raise "
                           "--overfit-epochs to see it finish")
    if loss > 1.05 * first:
        why = "the loss rose: the update ascends (a sign error in the rule?) or lr is far too high"
    elif loss > 0.9 * first:
        why = f"the loss barely moved: lr {c.lr:g} too low, or the gradients do not reach the weights"
    else:
        why = (f"the loss fell but not to zero: too little capacity (hidden {list(c.hidden) or 'none'}) or lr too "
               "low; more --overfit-epochs if it was still falling")
    return CheckResult("overfit_small_subset", "fail", measured, expected,
                       f"{trend}. A correct model memorizes {n} samples; {why}")


# --- 5. activation statistics ---------------------------------------------------------------------


def activation_stats(split, cfg: TrainConfig, opts: SanityOptions, rng: np.random.Generator) -> CheckResult:
    """Per hidden layer at init: mean, std and the fraction of dead (ReLU family: never > 0 on the batch)
    or saturated (tanh: |a| > 0.99; sigmoid: a < 0.01 or a > 0.99; fraction of all values) units."""
    expected = f"no std vanishing with depth, <= {DEAD_LIMIT:.0%} dead/saturated units"
    if not cfg.hidden:
        return CheckResult("activation_stats", "pass", {}, expected, "no hidden layer: nothing to look at")
    model = build_model(split, cfg.with_(dtype="float64"), rng)
    X, _ = sample_batch(split, opts.batch, rng)
    with np.errstate(all="ignore"):
        acts = model.hidden_activations(X, train=True)
    kind = _dead_kind(cfg.activation)
    layers = {}
    for i, a in enumerate(acts, start=1):
        row = {"mean": float(a.mean()), "std": float(a.std())}
        if kind == "dead":
            row["dead"] = float((a <= 0).all(axis=0).mean())
        elif kind == "saturated":
            lim = 0.99 if cfg.activation == "tanh" else 0.49
            off = 0.0 if cfg.activation == "tanh" else 0.5
            row["saturated"] = float((np.abs(a - off) > lim).mean())
        layers[f"h{i}"] = row
    stds = [r["std"] for r in layers.values()]
    problems, fatal = [], []
    ratio = stds[-1] / stds[0] if stds[0] > 0 else 0.0
    shrinking = len(stds) >= 2 and all(b < a for a, b in zip(stds, stds[1:]))
    if shrinking and ratio < SHRINK_WARN:
        (fatal if ratio < SHRINK_FAIL else problems).append(
            f"the std shrinks layer after layer ({' -> '.join(f'{s:.2g}' for s in stds)}): activations vanish")
    elif min(stds) < TINY_STD:
        problems.append(f"activations near 0 (std {min(stds):.2g} in {_argmin(layers)})")
    for name, r in layers.items():
        frac = r.get(kind or "", 0.0)
        if frac >= 1.0 and kind == "dead":
            fatal.append(f"every unit of {name} is dead")
        elif frac > DEAD_LIMIT:
            problems.append(f"{frac:.0%} of {name}'s units are {kind}")
    summary = "; ".join(f"{k} mean {r['mean']:.2g} std {r['std']:.2g}" + (f" {kind} {r[kind]:.0%}" if kind else "")
                        for k, r in layers.items())
    if not problems and not fatal:
        return CheckResult("activation_stats", "pass", layers, expected, summary)
    init = cfg.resolved_init
    good = default_init(cfg.activation)
    hint = (f"The init ({init}{f', std {cfg.init_scale:g}' if init == 'small' else ''}) does not suit {len(stds)} "
            f"{cfg.activation} layer(s): keep each layer's variance with --init {good} (std "
            f"{'sqrt(2/fan_in)' if good == 'he' else '1/sqrt(fan_in)'}, the Xavier/He lesson) or add --batchnorm")
    return CheckResult("activation_stats", "fail" if fatal else "warn", layers, expected,
                       f"{'; '.join(fatal + problems)}. {hint}. ({summary})")


def _dead_kind(activation: str) -> str | None:
    if activation in ("relu", "leaky_relu"):
        return "dead"
    if activation in ("tanh", "sigmoid"):
        return "saturated"
    return None  # elu: negative inputs still pass a gradient, nothing is dead or saturated


def _argmin(layers: dict) -> str:
    return min(layers, key=lambda k: layers[k]["std"])


# --- 6. update / weight ratio ---------------------------------------------------------------------


def update_ratio(split, cfg: TrainConfig, opts: SanityOptions, rng: np.random.Generator) -> CheckResult:
    """`update_steps` steps of the user's optimizer at the base lr (user's reg, dropout, dtype) on random
    training minibatches; per weight matrix, ||W_after - W_before|| / ||W_before|| of the last step (the
    actual step, momentum included, as train.py records it). The gate reads the median over layers, as
    diagnosis.py does: the output layer routinely moves several times faster than the hidden ones."""
    model = build_model(split, cfg, rng)
    bs = min(cfg.batch_size, split.X_train.shape[0])
    rule, hyper = get_rule(cfg.optimizer), OptimHyper()
    slots = {k: SlotState() for k in model.params}
    ratios: dict[str, float] = {}
    finite = True
    with np.errstate(all="ignore"):
        for _ in range(opts.update_steps):
            X, y = sample_batch(split, bs, rng, cfg.dtype)
            loss, grads = model.loss(X, y, rng)
            before = {k: model.params[k].copy() for k in model.weight_names}
            for k, p in model.params.items():
                rule(p, grads[k], slots[k], cfg.lr, hyper)
            finite = math.isfinite(loss) and all(np.isfinite(model.params[k]).all() for k in model.weight_names)
            if not finite:
                break
            for k in model.weight_names:
                w = float(np.linalg.norm(before[k]))
                ratios[k] = float(np.linalg.norm(model.params[k] - before[k])) / w if w > 0 else math.inf
    med = float(np.median(list(ratios.values()))) if ratios else math.nan
    measured = {"median": med, "per_layer": ratios}
    expected = f"median in {RATIO_LOW:.0e} .. {RATIO_HIGH:.0e} (CS231n: ~1e-3)"
    setup = f"{cfg.optimizer} lr {cfg.lr:g}, {opts.update_steps} steps of batch {bs}"
    if not finite:
        return CheckResult("update_ratio", "fail", measured, expected,
                           f"weights or loss turned non-finite within {opts.update_steps} steps ({setup}): lr far "
                           "too high; lower --lr by orders of magnitude")
    shown = f"median {med:.1e} (" + ", ".join(f"{k} {v:.1e}" for k, v in ratios.items()) + f"; {setup})"
    # at the start of training the ratio scales about linearly with lr: the lrs that put the median in the band
    advice = f"--lr {cfg.lr * RATIO_LOW / med:.1g} .. {cfg.lr * RATIO_HIGH / med:.1g} would land in the band"
    if med >= 1.0:
        return CheckResult("update_ratio", "fail", measured, expected,
                           f"{shown}: each step moves the weights by more than their own size; lr far too high; "
                           f"{advice}")
    if med > RATIO_HIGH or med < RATIO_LOW:
        side = "high" if med > RATIO_HIGH else "low"
        tiny = " (or the weights are tiny: see activation_stats)" if side == "high" and cfg.resolved_init == "small" \
            else ""
        return CheckResult("update_ratio", "warn", measured, expected,
                           f"{shown}: updates too {side} for the weights; lr probably too {side}{tiny}; {advice}")
    out = [k for k, v in ratios.items() if not RATIO_LOW <= v <= RATIO_HIGH]
    note = f"; outside the band alone: {', '.join(out)}" if out else ""
    return CheckResult("update_ratio", "pass", measured, expected, f"{shown}{note}")
