"""A model of how a stage's score varies over its searched parameters, built from all its trials.

Each range becomes an axis on [0, 1] (log10 units for a log range). The score surface is a local-linear kernel
smoother over the trials (Gaussian weights, ridge on the slope), with diverged trials counted at chance. A
searched choice (activation, optimizer, ...) enters the kernel as a weight LAMBDA per differing choice: 0 keeps
each choice's trials apart, 1 pools them; leave-one-out error picks it, as it picks the bandwidths. A
parameter's *profile* is the surface's slice along its axis through the surface's peak (the other parameters
held at their best), with the smoother's weights kept so the standard error of any difference along it is
exact, and where too few trials support it marked unknown.
"""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import dataclass, replace

import numpy as np

from hpsearch.config.plain import plain
from hpsearch.config.space import Choice, Range, Space

GRID = 41  # profile points per axis
BANDWIDTHS = (0.04, 0.06, 0.08, 0.11, 0.15, 0.2, 0.3)  # along a profile's axis, chosen by leave-one-out error
H_OTHER = (0.1, 0.15, 0.25, 0.4)  # across the other axes (a profile pools over them), chosen the same way
RIDGE = 0.5  # ridge on the local slope, in units of the weight sum: tames slopes fitted to two points
MIN_EFF = 4  # an edge trend needs this many effective trials in its band
TREND_OTHER = 0.25  # an edge trend pools the trials within about this much of the peak on the other axes
LAMBDAS = (0.0, 0.25, 1.0)  # candidate kernel weights per differing choice
LOO_POINTS = 200  # bandwidth and noise are judged at this many trials at most (the cost grows with its square)
CHUNK = 512  # surface points per block (memory: CHUNK x trials x dimensions floats)
SUPPORT = 1.5  # a surface value needs this much kernel weight (1 = one trial at distance 0)


@dataclass(frozen=True)
class Profile:
    """The smoothed score along one axis through the surface's peak: x in [0, 1], the fit, and the smoother's
    weights (so the standard error of any difference along the slice is exact), nan where unsupported."""
    name: str
    param: Range
    x: np.ndarray  # (GRID,) axis units on [0, 1]
    score: np.ndarray  # (GRID,) nan where unsupported
    L: np.ndarray  # (GRID, N): score = L @ y
    y: np.ndarray  # (N,) the trials' scores
    sigma: float

    def se(self, i: int, j: int | None = None) -> float:
        """Standard error of score[i] (or of score[i] - score[j])."""
        row = self.L[i] if j is None else self.L[i] - self.L[j]
        return self.sigma * float(np.sqrt(row @ row))


@dataclass(frozen=True)
class Surface:
    names: tuple[str, ...]  # the range parameters, in space order
    params: tuple[Range, ...]
    X: np.ndarray  # (N, d) trials on the axes
    y: np.ndarray  # (N,) score; diverged trials at chance
    diverged: np.ndarray  # (N,) bool
    h: np.ndarray  # (d,) bandwidth per axis
    sigma: float  # noise of one trial's score
    chance: float
    val_samples: int | None  # for the binomial floor of the noise
    labels: tuple[frozenset, ...] = ()  # (N,) each trial's diagnosis kinds
    C: np.ndarray | None = None  # (N, c) each trial's choice of each searched choice parameter, as an index
    lam: float = 1.0  # kernel weight per differing choice

    def binomial(self) -> float:
        """The binomial standard error of a val score near the stage's best (0.02 without the val size)."""
        top = float(np.max(self.y))
        n = self.val_samples
        return math.sqrt(max(top * (1 - top), 0.01) / n) if n else 0.02

    def votes(self, i: int, side: str, width: float, kinds: frozenset,
              abstain: frozenset = frozenset(), near: np.ndarray | None = None) -> tuple[int, int]:
        """Of the trials that trained in the outer `width` of axis i toward `side`, leaving out those with a
        diagnosis in `abstain` (and, with `near`, those farther than TREND_OTHER from that point on another
        axis), how many carry a diagnosis in `kinds` (e.g. lr_too_low at the top of the lr range):
        (votes, trials)."""
        x = self.X[:, i]
        band = (x >= 1 - width) if side == "high" else (x <= width)
        if near is not None:
            others = np.delete(np.arange(self.X.shape[1]), i)
            band &= np.all(np.abs(self.X[:, others] - near[others]) <= TREND_OTHER, axis=1)
        rows = [j for j in np.flatnonzero(band & ~self.diverged) if not self.labels[j] & abstain]
        return sum(bool(self.labels[j] & kinds) for j in rows), len(rows)

    def along(self, i: int) -> "Surface":
        """The surface for axis i's profile: a narrow kernel along i (chosen by leave-one-out error), a wide
        one (H_OTHER) across the others, and the noise that goes with it."""
        base = self
        if self.C is not None and self.C.shape[1]:  # how much trials of other choices say: by leave-one-out
            mid = np.full(self.X.shape[1], H_OTHER[2])
            mid[i] = BANDWIDTHS[3]
            errs = []
            for lam in LAMBDAS:
                r, ok = _loo(replace(self, h=mid, lam=lam))
                errs.append(float(np.mean(r[ok] ** 2)) if ok.sum() >= 3 else math.inf)
            base = replace(self, lam=LAMBDAS[int(np.argmin(errs))] if np.isfinite(min(errs)) else 1.0)
        best, best_err = None, math.inf
        for h, other in itertools.product(BANDWIDTHS, H_OTHER):
            if other < h:
                continue
            H = np.full(self.X.shape[1], other)
            H[i] = h
            cand = replace(base, h=H)
            r, ok = _loo(cand)
            if ok.sum() < max(3, 0.5 * len(ok)):
                continue
            err = float(np.mean(r[ok] ** 2))
            if err < best_err:
                best, best_err = cand, err
        if best is None:  # too few trials near each other (a coarse grid): the widest kernel
            H = np.full(self.X.shape[1], BANDWIDTHS[-1])
            best = replace(base, h=H)
        return _with_noise(best)

    def fit(self, P: np.ndarray, Cp: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Smoothed score, its standard error and the kernel weight at points P (M, d) with choices Cp (M, c)."""
        parts = [self.hat(P[i:i + CHUNK], Cp=None if Cp is None else Cp[i:i + CHUNK])
                 for i in range(0, P.shape[0], CHUNK)]
        L = np.concatenate([p[0] for p in parts])
        s = np.concatenate([p[1] for p in parts])
        return L @ self.y, self.sigma * np.sqrt(np.sum(L * L, axis=1)), s

    def hat(self, P: np.ndarray, Cp: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The smoother's weights L (M, N), so that the fit at P (with choices Cp) is L @ y, and the kernel
        weight sums."""
        X, d = self.X, self.X.shape[1]
        Ph, Xh = P / self.h, X / self.h
        sq = (Ph * Ph).sum(axis=1)[:, None] + (Xh * Xh).sum(axis=1)[None, :] - 2.0 * Ph @ Xh.T
        W = np.exp(-0.5 * np.maximum(sq, 0.0))  # (M, N) Gaussian weights
        W *= self.choice_weights(Cp)
        # local-linear fit at each point p: minimise sum w (y - a - b.(x - p))^2 + RIDGE * s * sum_k (h_k b_k)^2.
        # Its moments in one matrix product: W @ [1, x_k, x_k x_l] (no (M, N, d) array)
        pairs = [(k, j) for k in range(d) for j in range(d)]
        feats = np.concatenate([np.ones((len(X), 1)), X] + [X[:, k:k + 1] * X[:, j:j + 1] for k, j in pairs], axis=1)
        mom = W @ feats  # (M, 1 + d + d*d)
        s, sx = mom[:, 0], mom[:, 1:1 + d]
        sxx = mom[:, 1 + d:].reshape(-1, d, d)
        A = np.empty((P.shape[0], d + 1, d + 1))
        A[:, 0, 0] = s + 1e-9
        A[:, 0, 1:] = A[:, 1:, 0] = sx - P * s[:, None]  # sum w (x - p)
        A[:, 1:, 1:] = (sxx - P[:, :, None] * sx[:, None, :] - sx[:, :, None] * P[:, None, :]
                        + P[:, :, None] * P[:, None, :] * s[:, None, None]
                        + RIDGE * s[:, None, None] * np.diag(self.h ** 2))
        e = np.zeros(d + 1)
        e[0] = 1.0
        row = np.linalg.solve(A, np.broadcast_to(e, (P.shape[0], d + 1))[..., None])[..., 0]  # (M, d+1)
        # weight of trial n: w_n (row_0 + row_k . (x_n - p))
        return W * ((row[:, :1] - (row[:, 1:] * P).sum(axis=1, keepdims=True)) + row[:, 1:] @ X.T), s

    def choice_weights(self, Cp: np.ndarray | None) -> np.ndarray | float:
        """(M, N) kernel factor lam ** (number of differing choices) between points with choices Cp and the
        trials; 1 without searched choices."""
        if Cp is None or self.C is None or not self.C.shape[1] or self.lam == 1.0:
            return 1.0
        differ = (Cp[:, None, :] != self.C[None, :, :]).sum(axis=2)
        return np.where(differ == 0, 1.0, self.lam ** differ)

    def edge_trend(self, i: int, at: np.ndarray, side: str, width: float,
                   exclude: np.ndarray | None = None, at_c: np.ndarray | None = None) -> tuple[float, float, float] | None:
        """How much the score rises toward one edge of axis i over the outer `width` of the range: a weighted
        straight-line fit to the trials in that band (weighted by closeness to `at` on the other axes; `exclude`
        leaves some out). Returns (rise over the band, its standard error, effective trials), or None without
        the evidence (no trial near the edge itself, or fewer than 4 effective trials)."""
        x = self.X[:, i]
        band = x >= 1 - width if side == "high" else x <= width
        if exclude is not None:
            band &= ~exclude
        if not band.any() or (x[band].max() < 1 - width / 3 if side == "high" else x[band].min() > width / 3):
            return None
        others = np.delete(np.arange(self.X.shape[1]), i)
        D = (self.X[band][:, others] - at[others]) / np.maximum(self.h[others], TREND_OTHER)
        w = np.exp(-0.5 * np.sum(D * D, axis=1))
        if at_c is not None:
            w = w * np.broadcast_to(self.choice_weights(at_c[None, :]), (1, len(x)))[0][band]
        if not w.sum() > 0:
            return None
        n_eff = float(w.sum() ** 2 / np.sum(w * w))
        if n_eff < MIN_EFF:
            return None
        xb, yb = x[band], self.y[band]
        xm = float(np.sum(w * xb) / w.sum())
        sxx = float(np.sum(w * (xb - xm) ** 2))
        if sxx < 1e-12 * w.sum():
            return None
        ym = float(np.sum(w * yb) / w.sum())
        b = float(np.sum(w * (xb - xm) * (yb - ym)) / sxx)
        resid = yb - (ym + b * (xb - xm))
        s2 = max(float(np.sum(w * resid ** 2) / max(w.sum() * (1 - 2 / n_eff), 1e-12)), self.binomial() ** 2)
        se = math.sqrt(s2 * np.sum(w * w * (xb - xm) ** 2)) / sxx
        sign = 1.0 if side == "high" else -1.0
        return sign * b * width, se * width, n_eff

    def peak(self, fitted: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None) -> int:
        """The trial where the surface is highest (among supported ones): its axes and choices are the peak.
        `fitted`: fit(X, C) when the caller has it already."""
        f, _, w = fitted if fitted is not None else self.fit(self.X, self.C)
        f = np.where(w >= SUPPORT, f, -np.inf)
        return int(np.argmax(f)) if np.isfinite(f).any() else int(np.argmax(self.y))

    def choices_of(self, j: int) -> np.ndarray | None:
        return None if self.C is None else self.C[j]

    def profile(self, i: int, at: np.ndarray, at_c: np.ndarray | None = None) -> Profile:
        """Axis i's slice through the point `at` with choices `at_c` (the peak): the others held at their best."""
        x = np.linspace(0.0, 1.0, GRID)
        P = np.repeat(at[None, :], GRID, axis=0)
        P[:, i] = x
        Cp = None if at_c is None else np.repeat(at_c[None, :], GRID, axis=0)
        L, w = self.hat(P, Cp=Cp)
        f = np.where(w >= SUPPORT, L @ self.y, np.nan)
        return Profile(self.names[i], self.params[i], x, f, L, self.y, self.sigma)


def to_unit(p: Range, v: float) -> float:
    lo, hi = (math.log10(p.low), math.log10(p.high)) if p.log else (p.low, p.high)
    x = math.log10(v) if p.log else float(v)
    return (x - lo) / (hi - lo) if hi > lo else 0.5


def from_unit(p: Range, u: float) -> float:
    lo, hi = (math.log10(p.low), math.log10(p.high)) if p.log else (p.low, p.high)
    x = lo + u * (hi - lo)
    return 10.0 ** x if p.log else x


def _ranges(space: Space) -> list[tuple[str, Range]]:
    return [(n, p) for n, p in space.params if isinstance(p, Range) and p.high > p.low]


def kinds_of(trial: dict) -> frozenset:
    """A results-file trial's diagnosis kinds."""
    return frozenset(d.get("kind") for d in (trial.get("diagnosis") or []) if isinstance(d, dict))


def rows_of(space: Space, trials: list[dict]) -> list[dict]:
    """The trials a surface is built from, in its row order: complete (with a score) and diverged ones."""
    ranges = _ranges(space)
    return [t for t in trials if t["status"] in ("complete", "diverged")
            and (t["status"] == "diverged" or t.get("val_acc") is not None)
            and all(n in t["params"] for n, _ in ranges)]


def build(space: Space, trials: list[dict], chance: float, val_samples: int | None) -> Surface | None:
    """The surface of a stage's complete and diverged trials (failed ones say nothing about the ranges);
    None when no parameter is a range or fewer than two trials count."""
    ranges = _ranges(space)
    rows = rows_of(space, trials)
    if not ranges or len(rows) < 2:
        return None
    X = np.array([[to_unit(p, t["params"][n]) for n, p in ranges] for t in rows], dtype=np.float64)
    y = np.array([chance if t["status"] == "diverged" else t["val_acc"] for t in rows], dtype=np.float64)
    div = np.array([t["status"] == "diverged" for t in rows])
    labels = tuple(kinds_of(t) for t in rows)
    choices = [(n, [json.dumps(plain(c), sort_keys=True) for c in p.choices]) for n, p in space.params
               if isinstance(p, Choice) and len(p.choices) > 1]
    C = np.array([[_index(opts, t["params"].get(n)) for n, opts in choices] for t in rows],
                 dtype=np.int64).reshape(len(rows), len(choices))
    return Surface(tuple(n for n, _ in ranges), tuple(p for _, p in ranges), X, y, div,
                   np.full(X.shape[1], BANDWIDTHS[-1]), 0.0, chance, val_samples, labels, C)


def _index(options: list[str], value) -> int:
    key = json.dumps(plain(value), sort_keys=True)
    return options.index(key) if key in options else -1


def _loo(surf: Surface) -> tuple[np.ndarray, np.ndarray]:
    """Leave-one-out residuals (closed form for a linear smoother) and which of them are defined, at up to
    LOO_POINTS trials spread evenly over the trial numbers (all of them in a stage of that size or less)."""
    rows = _loo_rows(len(surf.y))
    L, s = surf.hat(surf.X[rows], Cp=None if surf.C is None else surf.C[rows])
    lev = L[np.arange(len(rows)), rows]
    ok = (s - 1.0 >= SUPPORT) & (lev < 0.95)
    return (surf.y[rows] - L @ surf.y) / np.where(ok, 1 - lev, 1.0), ok


def _loo_rows(n: int) -> np.ndarray:
    return np.arange(n) if n <= LOO_POINTS else np.unique(np.linspace(0, n - 1, LOO_POINTS).round().astype(int))


def _with_noise(surf: Surface) -> Surface:
    """A trial's noise: the binomial error of a val score near the top, or the spread of the leave-one-out
    residuals of the trials that trained, whichever is larger."""
    binom = surf.binomial()
    r, ok = _loo(surf)
    resid = r[ok & ~surf.diverged[_loo_rows(len(surf.y))]]
    loo = 1.4826 * float(np.median(np.abs(resid))) if resid.size >= 5 else 0.0
    return replace(surf, sigma=max(binom, loo))
