"""Verdicts on a stage from all its trials, not from its argmax: where each range's good region is, whether
better values likely lie past an edge, whether anything learned, whether most of the range diverged (and
because of what). narrow.py builds the next stage's space from the same verdict.

The model is results/surface.py's smoothed score surface (diverged trials at chance). For each range:
- the *profile* is the surface's slice along it through the surface's peak; the *good region* is where the
  profile is within Z standard errors (plus TOL) of its peak;
- a `boundary` warning needs the peak in the outer EDGE of the range *and* val_acc still rising toward that
  edge: a weighted straight line through the trials in the outer SLOPE_SPAN (those near the peak on the other
  axes; for lr, leaving out trials that diverged because of reg) must rise by more than Z standard errors plus
  TOL. A plateau that merely reaches an edge is not evidence of better values beyond it;
- or the curves vote for it: VOTE_SHARE of at least VOTE_MIN trials near that edge carry a diagnosis that says
  so (lr_too_low or still_learning at the top of lr, reg_too_strong at the bottom of reg, ...), unless the scores
  say otherwise; a trial whose diagnosis blames another parameter (reg_too_strong, for lr) does not vote, and
  only trials near the peak on the other axes vote `overfitting` for a stronger reg.
Stage-wide verdicts on lr move the range (fine --from follows): `nothing_learned` (the smoothed peak closes less
than LEARNED of the gap from chance), `mostly_slow` (VOTE_SHARE of the trials barely moved their loss),
`mostly_diverged` (MOSTLY of the trials diverged because of lr), `all_diverged`. A trial's divergence is lr's
unless lr x reg tells diverged from trained trials better than lr alone, or a trial at least as fast trained.

Every warning has `kind`, `param`, `edge` (the side beyond which better values likely lie: "low" | "high"; None
only when there is nowhere sane to go), `value`, `range`, `suggested` {low, high} inside SANE limits (or None with
no edge), `message` and one line of `evidence`. The constants were chosen on the TUNE scenarios of
benchmarks/bench_verdicts.py and checked on its held-out ones.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from hpsearch.config.plain import short
from hpsearch.config.space import Choice, Range, Space
from hpsearch.results import surface
from hpsearch.results.ranking import best, rank_key  # noqa: F401 - the stage's ranking, re-exported

EDGE = 0.10  # the profile's peak in the outer 10 % of a range can be "on the edge"
SLOPE_SPAN = 0.2  # ... if the smoothed val_acc still rises toward that edge over the outer 20 % of the range
Z = 1.0  # standard errors that make a difference "sure"
Z_EDGE = 1.5  # ... and a rise toward an edge: that test runs on both sides of every axis, so one standard error
# would warn falsely about one time in six per side (bench_verdicts: 1.4-2.0 all did better than 1.0)
TOL = 0.005  # scores closer than half a point are equally good
VOTE_SPAN, VOTE_MIN, VOTE_SHARE = 0.25, 3, 2 / 3  # diagnoses vote for an edge: 2/3 of >= 3 trials near it
SLOW = frozenset({"lr_too_low", "update_ratio_low"})  # a trial's loss barely moved: its lr was too low
VOTES = {  # (param, edge) -> the trial diagnoses that say better values lie past that edge
    # at the top of lr, a trial still learning or underfitting after the stage's epochs trains too slowly
    ("lr", "high"): SLOW | {"still_learning", "underfitting"},
    ("lr", "low"): frozenset({"lr_too_high", "lr_still_high", "update_ratio_high"}),
    ("reg", "low"): frozenset({"reg_too_strong"}),
    ("reg", "high"): frozenset({"overfitting"}),
}
NOT_ABOUT = {"lr": frozenset({"reg_too_strong"})}  # a trial whose diagnosis blames reg: no vote on lr, not in its trend
NEAR_PEAK = {("reg", "high")}  # whether a trial overfits depends on its lr: only trials near the peak's vote
LEARNED = 0.15  # a trial "learned" when it closes this share of the gap from chance to 100 %
MOSTLY = 0.5  # this share of trials diverging because of lr makes the lr range "mostly diverged"
MAX_REACH = 2.0  # an edge suggestion reaches at most this many decades past a log range's edge
MOVE = (2.0, 4.0)  # a range that moves (nothing learned, all diverged) moves by its width, in these decades
# hard limits of each numeric key (value, inclusive?) so suggestions stay valid configurations
LOWER = {"lr": (0.0, False), "init_scale": (0.0, False), "lr_decay": (0.0, False), "reg": (0.0, True),
         "dropout": (0.0, True), "batch_size": (1, True), "step_size": (1, True)}
UPPER = {"dropout": (1.0, False)}
SANE = {"lr": (1e-8, 10.0), "reg": (1e-8, 1e5), "init_scale": (1e-6, 10.0)}  # suggestions stay inside these


def to_axis(p: Range, v: float) -> float:
    """A value in the range's units: log10 for a log range."""
    return math.log10(v) if p.log else float(v)


def from_axis(p: Range, x: float) -> float:
    """Back from the range's units to a value."""
    return 10.0 ** x if p.log else x


def clip_to_domain(name: str, p: Range, low: float, high: float, old: tuple[float, float]) -> tuple[float, float]:
    """Clip a proposed [low, high] into what the key allows (an open bound is approached halfway) and into
    its SANE limits (never tighter than the old range)."""
    if name in SANE:
        s_lo, s_hi = SANE[name]
        low, high = max(low, min(s_lo, old[0])), min(high, max(s_hi, old[1]))
    if name in LOWER:
        b, inclusive = LOWER[name]
        if low < b or (low == b and not inclusive):
            low = b if inclusive else (b + old[0]) / 2
    if name in UPPER:
        b, inclusive = UPPER[name]
        if high > b or (high == b and not inclusive):
            high = b if inclusive else (b + old[1]) / 2
    if p.integer:
        low, high = math.floor(low), math.ceil(high)
        low = max(low, LOWER.get(name, (low, True))[0])
    return low, high


@dataclass(frozen=True)
class Axis:
    """The verdict on one range parameter."""
    name: str
    param: Range
    good: tuple[float, float]  # the good region, as values (inside the range)
    peak: float  # where the profile peaks
    peak_score: float
    edge: str | None  # "low" | "high" when better values likely lie past that edge
    evidence: str  # one line


@dataclass(frozen=True)
class Verdict:
    axes: dict[str, Axis]  # per range parameter with enough support
    warnings: list[dict]
    trials: int  # complete + diverged trials the verdict rests on
    scores: dict[int, float]  # complete trial number -> its configuration's smoothed val_acc (see score_of)


def chance_of(data: dict | None) -> tuple[float, int | None]:
    """Chance accuracy (1 / classes; 0 when unknown) and the validation size, from a results file's `data`."""
    data = data or {}
    c = data.get("classes")
    n = data.get("val_samples")
    return (1.0 / c if isinstance(c, int) and c > 0 else 0.0), (n if isinstance(n, int) and n > 0 else None)


def judge(space: Space, trials: list[dict], data: dict | None = None) -> Verdict:
    """The stage's verdict from its trials (results-file trial dicts) and its `data` record."""
    chance, n_val = chance_of(data)
    counted = [t for t in trials if t["status"] in ("complete", "diverged")]
    done = [t for t in counted if t["status"] == "complete" and t.get("val_acc") is not None]
    if trials and not done:
        if all(t["status"] == "diverged" for t in trials):
            return Verdict({}, [all_diverged_warning(space, len(trials))], len(counted), {})
        return Verdict({}, [], len(counted), {})
    if not done:
        return Verdict({}, [], 0, {})
    surf = surface.build(space, trials, chance, n_val)
    axes = {}
    lr_div = _lr_diverged(space, counted)
    scores = {t["number"]: float(t["val_acc"]) for t in done}
    if surf is not None:
        rows = surface.rows_of(space, trials)
        fits = []
        for i, name in enumerate(surf.names):
            along = surf.along(i)
            fitted = along.fit(along.X, along.C)  # at every trial: the peak's search and the scores share it
            j = along.peak(fitted)
            at, at_c = along.X[j], along.choices_of(j)
            ax = _axis(along, along.profile(i, at, at_c), at, at_c, _limited(rows, surf.labels, name, lr_div))
            if ax is not None:
                axes[name] = ax
            fits.append(fitted[0])
        smoothed = np.clip(np.mean(fits, axis=0), 0.0, 1.0)
        scores = {t["number"]: float(v) for t, v in zip(rows, smoothed) if t["status"] == "complete"}
    out = []
    # how well the stage learned: the smoothed peak (one lucky trial on a noisy set is not learning)
    top = max((ax.peak_score for ax in axes.values()), default=max(t["val_acc"] for t in done))
    edges = {name: w for name, w in ((n, _boundary(ax)) for n, ax in axes.items() if ax.edge) if w is not None}
    explained = any(name != "lr" for name in edges)  # e.g. a reg far too strong
    slow = sum(bool(surface.kinds_of(t) & SLOW) for t in done)
    learned = (top - chance) >= LEARNED * (1 - chance)
    if lr_div and len(lr_div) >= MOSTLY * len(counted):  # before "nothing learned": the few trials that survived
        # a mostly diverging range score near chance because their lr is too high as well
        if learned and "lr" in axes:  # keep the region that trained
            out.append(_mostly_diverged(space, axes["lr"], len(lr_div), len(counted)))
        else:  # no region trained: move the range down by its width, as when every trial diverged
            k, n = len(lr_div), len(counted)
            out.append(_move(space, "mostly_diverged", False, f"{k} of {n} trials diverged",
                             f"{k} of {n} trials diverged because of lr and none of the others learned: the lr "
                             "range {rng} is likely too high", f"{k} of {n} diverged; {n - k} complete, best smoothed "
                             f"val_acc {top:.3f} against chance {chance:.3f}"))
    elif not learned and not explained:
        out.append(nothing_learned_warning(space, len(done), top, chance, lr_div))
    elif slow >= VOTE_SHARE * len(done) and not lr_div and not explained:
        out.append(_mostly_slow(space, slow, len(done)))
    moved = {w["param"] for w in out}
    out += [w for name, w in edges.items() if name not in moved]
    return Verdict(axes, out, len(counted), scores)


def _axis(surf: surface.Surface, prof: surface.Profile, at: np.ndarray, at_c: np.ndarray | None,
          exclude: np.ndarray) -> Axis | None:
    """The verdict on one axis from its profile through the peak `at`; `exclude`: the trials that say nothing
    about this axis's edges (see _limited)."""
    idx = np.flatnonzero(np.isfinite(prof.score))
    if idx.size < 2:
        return None
    f, xs = prof.score, prof.x
    k = int(idx[np.argmax(f[idx])])
    g_lo, g_hi = _good_region(prof, idx, k, _reach(surf, surf.names.index(prof.name), f[k]))
    p = prof.param
    edge, evidence = None, f"smoothed val_acc peaks at {f[k]:.3f} at {prof.name} {short(surface.from_unit(p, xs[k]))}"
    i = surf.names.index(prof.name)
    for side in ("high", "low"):
        e = int(idx[-1] if side == "high" else idx[0])  # the supported point nearest the edge
        trend = surf.edge_trend(i, at, side, SLOPE_SPAN, exclude, at_c)
        rise, se, n_eff = trend if trend is not None else (0.0, math.inf, 0.0)
        peak_there = abs(xs[k] - (1.0 if side == "high" else 0.0)) <= EDGE
        if peak_there and rise > Z_EDGE * se + TOL:
            edge = side
            evidence = (f"val_acc still rises toward the {side} edge: by {rise:.3f} (±{se:.3f}) over the outer "
                        f"{SLOPE_SPAN:.0%} of the range, to {f[e]:.3f} at {prof.name} "
                        f"{short(surface.from_unit(p, xs[e]))} ({n_eff:.0f} trials there)")
            break
        kinds = VOTES.get((prof.name, side))
        if kinds and rise > -Z * se:  # the curves' diagnosis, unless the scores clearly say otherwise
            k_votes, n = surf.votes(i, side, VOTE_SPAN, kinds, NOT_ABOUT.get(prof.name, frozenset()),
                                        at if (prof.name, side) in NEAR_PEAK else None)
            if n >= VOTE_MIN and k_votes >= VOTE_SHARE * n:
                edge = side
                evidence = (f"{k_votes} of the {n} trials in the {side}est {VOTE_SPAN:.0%} of the {prof.name} range "
                            f"are diagnosed {' or '.join(sorted(kinds))}")
                break
    return Axis(prof.name, p, (surface.from_unit(p, g_lo), surface.from_unit(p, g_hi)),
                surface.from_unit(p, float(xs[k])), float(f[k]), edge, evidence)


def _reach(surf: surface.Surface, i: int, peak: float) -> tuple[float, float]:
    """How far along axis i (in its units) some trial, at whatever values of the other parameters, scored not
    clearly worse than the peak (within Z of one trial's noise, plus TOL): the good region may widen through a
    stretch no trial supports only up to there. Without this cap a narrow profile (a slice at the peak's other
    values) saw most of a range as unsupported and kept it whole, though every trial there scored at chance."""
    ok = (~surf.diverged) & (surf.y >= peak - Z * surf.sigma - TOL)
    xs = surf.X[ok, i] if ok.any() else surf.X[:, i]
    return float(xs.min()), float(xs.max())


def _good_region(prof: surface.Profile, idx: np.ndarray, k: int,
                 reach: tuple[float, float] = (0.0, 1.0)) -> tuple[float, float]:
    """Where the profile is plausibly as good as at its peak k (within Z standard errors of the difference,
    plus TOL), widened through the neighbouring stretches no trial supports (not shown worse, so kept) but not
    past `reach` (_reach: beyond it every trial scored clearly worse): with more trials, fewer stretches are
    unsupported and the region narrows."""
    f = prof.score
    ok = np.zeros(len(f), dtype=bool)
    ok[idx] = [f[i] >= f[k] - Z * prof.se(k, i) - TOL for i in idx]
    unknown = ~np.isfinite(f)
    lo, hi = int(np.flatnonzero(ok).min()), int(np.flatnonzero(ok).max())
    while lo > 0 and unknown[lo - 1] and prof.x[lo - 1] >= reach[0]:
        lo -= 1
    while hi < len(f) - 1 and unknown[hi + 1] and prof.x[hi + 1] <= reach[1]:
        hi += 1
    return float(prof.x[lo]), float(prof.x[hi])


def _lr_diverged(space: Space, counted: list[dict]) -> list[dict]:
    """The diverged trials whose divergence is lr's. None of them when lr x reg tells the diverged trials from
    the others better than lr alone does (a decay step lr x reg that overshoots: reg's doing); else those with
    a higher lr (by a tenth of a decade) than every trial that completed."""
    div = [t for t in counted if t["status"] == "diverged"]
    lrs = [t["params"]["lr"] for t in counted if t["status"] == "complete" and "lr" in t["params"]]
    if not lrs or not div:
        return div
    if isinstance(space.param_dict.get("reg"), Range) and all(t["params"].get("reg", 0) > 0 for t in counted):
        lr = np.log10([t["params"]["lr"] for t in counted])
        both = lr + np.log10([t["params"]["reg"] for t in counted])
        bad = np.array([t["status"] == "diverged" for t in counted])
        if _split_errors(both, bad) < _split_errors(lr, bad):
            return []
    top = max(lrs)
    return [t for t in div if t["params"].get("lr", math.inf) * 10 ** -0.1 > top]


def _split_errors(x: np.ndarray, bad: np.ndarray) -> int:
    """The fewest trials misplaced by one threshold on x (diverged above it, the others below)."""
    order = np.argsort(x, kind="stable")
    b = bad[order].astype(int)
    # threshold after position i: good ones above it and bad ones below it are errors
    below_bad = np.concatenate([[0], np.cumsum(b)])
    above_good = np.concatenate([[0], np.cumsum((1 - b)[::-1])])[::-1]
    return int(np.min(below_bad + above_good))


def _limited(rows: list[dict], labels: tuple[frozenset, ...], name: str, lr_div: list[dict]) -> np.ndarray:
    """The trials that say nothing about `name`'s edges, left out of its edge trend: for lr, those that diverged
    because of something else (a huge reg) and those whose diagnosis blames something else (NOT_ABOUT: a
    reg_too_strong trial scores low whatever its lr). Leaving out the trials a diagnosis calls lr-limited as
    well was measured and lost more verdicts than it saved (benchmarks/bench_verdicts.py)."""
    if name != "lr":
        return np.zeros(len(rows), dtype=bool)
    ids = {id(t) for t in lr_div}
    blamed = NOT_ABOUT.get(name, frozenset())
    return np.array([(t["status"] == "diverged" and id(t) not in ids) or bool(kinds & blamed)
                     for t, kinds in zip(rows, labels)], dtype=bool)


def _range_text(p: Range) -> str:
    return f"[{short(p.low)}, {short(p.high)}]{' (log10 scale)' if p.log else ''}"


def _warning(kind: str, name: str, edge: str | None, value, p: Range | None, s_lo, s_hi, message: str,
             evidence: str) -> dict:
    return {"kind": kind, "param": name, "edge": edge, "value": value,
            "range": {"low": p.low, "high": p.high} if p is not None else None,
            "message": message, "suggested": {"low": s_lo, "high": s_hi} if s_lo is not None else None,
            "evidence": evidence}


def _boundary(ax: Axis) -> dict | None:
    """Better values likely lie past `ax.edge`: suggest a range reaching past it, keeping the good region.
    None when the edge is already as far as the key may go (dropout 0, batch_size 1, lr 10): nothing to try."""
    p, name, edge = ax.param, ax.name, ax.edge
    lo, hi = to_axis(p, p.low), to_axis(p, p.high)
    half = (hi - lo) / 2
    reach = min(half, MAX_REACH) if p.log else half
    g_lo, g_hi = to_axis(p, ax.good[0]), to_axis(p, ax.good[1])
    if edge == "high":
        lo_s, hi_s = max(g_lo, hi - half), hi + reach
    else:
        lo_s, hi_s = lo - reach, min(g_hi, lo + half)
    s_lo, s_hi = clip_to_domain(name, p, from_axis(p, lo_s), from_axis(p, hi_s), (p.low, p.high))
    if not s_lo < s_hi or (s_hi <= p.high if edge == "high" else s_lo >= p.low):
        return None
    where = "top" if edge == "high" else "bottom"
    msg = (f"the best {name} ({short(ax.peak)}) lies in the {where} {EDGE:.0%} of its range {_range_text(p)} and "
           f"val_acc still improves toward that edge: better values likely lie "
           f"{'above' if edge == 'high' else 'below'} it; try {name} in [{short(s_lo)}, {short(s_hi)}] "
           f"(fine --from extends past this edge)")
    return _warning("boundary", name, edge, ax.peak, p, s_lo, s_hi, msg, ax.evidence)


def _moved(space: Space, up: bool) -> tuple[float, float, str, Range | None] | None:
    """lr's range moved by its width (MOVE decades at least/most) up or down, inside SANE; for a fixed lr,
    x/÷ 10..1000. None when that leaves no room (the range already reaches the sane limit)."""
    p = space.param_dict.get("lr")
    if isinstance(p, Choice):  # lr searched as a list of values: move the span they cover, on a log scale
        lrs = [float(c) for c in p.choices]
        p = Range(low=min(lrs), high=max(lrs) if max(lrs) > min(lrs) else min(lrs) * 10, log=True)
    if isinstance(p, Range):
        lo, hi = to_axis(p, p.low), to_axis(p, p.high)
        by = min(max(hi - lo, MOVE[0]), MOVE[1]) if p.log else hi - lo
        new = (hi, hi + by) if up else (lo - by, lo)
        s_lo, s_hi = clip_to_domain("lr", p, from_axis(p, new[0]), from_axis(p, new[1]), (p.low, p.high))
        rng = _range_text(p)
    else:
        lr = float(space.base_config().lr)
        s_lo, s_hi = (lr * 10, lr * 1000) if up else (lr / 1000, lr / 10)
        s_lo, s_hi = max(s_lo, SANE["lr"][0]), min(s_hi, SANE["lr"][1])
        rng = f"(fixed at {short(lr)})"
    return (s_lo, s_hi, rng, p if isinstance(p, Range) else None) if s_lo < s_hi else None


def _stuck(kind: str, what: str, evidence: str) -> dict:
    """A verdict on lr with nowhere sane to move it: no edge, no suggestion."""
    return _warning(kind, "lr", None, None, None, None, None,
                    f"{what}, and the lr range already reaches the sane limit {short(SANE['lr'][1])} / "
                    f"{short(SANE['lr'][0])}: check the model and data with `hpsearch sanity`", evidence)


def _move(space: Space, kind: str, up: bool, stuck: str, why: str, evidence: str) -> dict:
    """A verdict that moves lr's range (up or down, _moved), or, with nowhere sane to go, says so (_stuck).
    `why` starts the message: "no trial learned: the lr range [..] is likely too low ..."."""
    moved = _moved(space, up=up)
    if moved is None:
        return _stuck(kind, stuck, evidence)
    s_lo, s_hi, rng, p = moved
    return _warning(kind, "lr", "high" if up else "low", None, p, s_lo, s_hi,
                    f"{why.format(rng=rng)}; try lr in [{short(s_lo)}, {short(s_hi)}] (fine --from moves there)",
                    evidence)


def all_diverged_warning(space: Space, n: int = 0) -> dict:
    """Every trial diverged: the learning rate range is likely too high; suggest one lower."""
    evidence = f"{n} of {n} trials diverged" if n else "every trial diverged"
    return _move(space, "all_diverged", False, "every trial diverged",
                 "every trial diverged: the lr range {rng} is likely too high", evidence)


def nothing_learned_warning(space: Space, n: int, top: float, chance: float, lr_div: list[dict]) -> dict:
    """No trial meaningfully beat chance. If nothing diverged because of lr, lr is likely too low: move up."""
    evidence = (f"over {n} complete trials val_acc peaks at {top:.3f} (smoothed) against chance {chance:.3f} "
                f"(learning means at least {chance + LEARNED * (1 - chance):.3f})")
    if lr_div:
        return _warning("nothing_learned", "lr", None, None, None, None, None,
                        "no trial learned, and higher learning rates diverged: the range is not the problem; "
                        "check the model and data with `hpsearch sanity`", evidence)
    return _move(space, "nothing_learned", True, "no trial learned",
                 "no trial learned: the lr range {rng} is likely too low for this many epochs", evidence)


def _mostly_slow(space: Space, k: int, n: int) -> dict:
    """Most trials' loss barely moved (diagnosed lr_too_low or update_ratio_low) and none diverged because of
    lr: the range is too low for this many epochs; move it up (the mirror of mostly_diverged)."""
    evidence = (f"{k} of {n} complete trials are diagnosed lr_too_low or update_ratio_low, none diverged "
                "because of lr")
    return _move(space, "mostly_slow", True, f"{k} of {n} trials learned too slowly",
                 f"{k} of {n} trials learned too slowly: the lr range {{rng}} is likely too low for this many "
                 "epochs", evidence)


def _mostly_diverged(space: Space, ax: Axis, k: int, n: int) -> dict:
    """Most trials diverged because of lr: move the range down, keeping the region that trained."""
    p = ax.param
    lo, hi = to_axis(p, p.low), to_axis(p, p.high)
    by = min(max((hi - lo) / 2, 1.0), MAX_REACH) if p.log else (hi - lo) / 2
    s_lo, s_hi = clip_to_domain("lr", p, from_axis(p, lo - by), ax.good[1], (p.low, p.high))
    if s_lo >= s_hi:
        return _stuck("mostly_diverged", f"{k} of {n} trials diverged because of lr", f"{k} of {n} diverged")
    return _warning("mostly_diverged", "lr", "low", ax.peak, p, s_lo, s_hi,
                    f"{k} of {n} trials diverged because of lr: the range {_range_text(p)} is mostly too high; "
                    f"try lr in [{short(s_lo)}, {short(s_hi)}] (fine --from moves there)",
                    f"{k} of {n} diverged; trials trained only up to lr {short(ax.good[1])}; {ax.evidence}")


def warnings(space: Space, trials: list[dict], data: dict | None = None) -> list[dict]:
    """The warnings of a stage (see judge)."""
    return judge(space, trials, data).warnings


def gate_failure(doc: dict, out: str) -> str | None:
    """Why a stage's gate fails (exit 1), when its results hold trials but none completed: every one
    diverged, or failed; else None."""
    for w in doc["warnings"]:
        if w["kind"] == "all_diverged":
            return w["message"]
    if doc["best"] is None and doc["trials"]:
        return "no trial completed (see the trials' errors in " + out + ")"
    return None
