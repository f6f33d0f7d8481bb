"""SVG building blocks for the HTML report: scales with readable ticks (log10 or linear), a plot frame with
axes, grid and labels, marks, and colour maps. Pure string building; every text passes through `esc`.

Drawn in Python rather than by a JS plotting library: the page stays one small file that renders with
scripts off (benchmarks/bench_html_report.py measured the alternatives).
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass

from hpsearch.report import canvas

W, H = 560, 300  # a plot's viewBox; the page scales it to its column
PAD = {"left": 62, "right": 16, "top": 30, "bottom": 46}  # room for tick labels, axis titles and the title
LANE = 16  # the strip under a slice plot where diverged and failed trials (no val_acc) are marked

VIRIDIS = ["#440154", "#482878", "#3e4989", "#31688e", "#26828e", "#1f9e89", "#35b779", "#6ece58", "#b5de2b",
           "#fde725"]
PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
           "#17becf"]  # Tableau 10: one colour per curve


def esc(s: object) -> str:
    """Text or attribute value safe inside HTML and inline SVG."""
    return html.escape(str(s), quote=True)


def num(v: float) -> str:
    """A value as people read it: 3 significant digits, e-notation for very small or large."""
    if v == 0:
        return "0"
    a = abs(v)
    if 1e-3 <= a < 1e5:
        s = f"{v:.3g}"
        return s if "e" not in s else f"{v:.0f}"
    m, e = f"{v:.2e}".split("e")
    m = m.rstrip("0").rstrip(".")
    return f"{m}e{int(e)}"


def px(v: float) -> str:
    """A coordinate with one decimal (smaller pages, no visible difference)."""
    return f"{v:.1f}".rstrip("0").rstrip(".")


@dataclass(frozen=True)
class Scale:
    lo: float  # domain, in values (both > 0 on a log scale)
    hi: float
    a: float  # pixel of lo
    b: float  # pixel of hi
    log: bool = False  # position by log10(value)
    integer: bool = False  # ticks on whole numbers only (epochs)

    def __call__(self, v: float) -> float:
        return self.a + canvas.Axis(self.lo, self.hi, self.log).frac(v) * (self.b - self.a)

    def ticks(self, most: int = 7) -> list[tuple[float, str]]:
        """(value, label) pairs inside the domain: decades (or 1-2-5 steps) on a log scale, 1-2-5 steps on
        a linear one."""
        if self.log:
            return _log_ticks(self.lo, self.hi, most)
        ticks = _linear_ticks(self.lo, self.hi, most)
        if self.integer:
            ticks = [v for v in ticks if v == int(v)] or [float(round(self.lo))]
        return [(v, num(v)) for v in ticks]


def _linear_ticks(lo: float, hi: float, most: int) -> list[float]:
    if not hi > lo:
        return [lo]
    step = canvas.nice_step((hi - lo) / max(1, most - 1))
    first = math.ceil(lo / step - 1e-9) * step
    out, v = [], first
    while v <= hi + step * 1e-9:
        out.append(round(v, 12))
        v += step
    return out


def _log_ticks(lo: float, hi: float, most: int) -> list[tuple[float, str]]:
    a, b = math.log10(lo), math.log10(hi)
    decades = [k for k in range(math.ceil(a - 1e-9), math.floor(b + 1e-9) + 1)]
    if len(decades) >= 3:
        step = math.ceil(len(decades) / most)
        return [(10.0 ** k, num(10.0 ** k)) for k in decades if k % step == 0]
    for mults in ((1, 2, 5), (1, 2, 3, 5, 7), (1, 1.5, 2, 3, 4, 5, 6, 7, 8, 9)):
        vals = [m * 10.0 ** k for k in range(math.floor(a) - 1, math.ceil(b) + 1) for m in mults]
        vals = [v for v in vals if lo * (1 - 1e-9) <= v <= hi * (1 + 1e-9)]
        if len(vals) >= 3:
            step = math.ceil(len(vals) / most)
            return [(v, num(v)) for v in vals[::step]]
    return [(v, num(v)) for v in _linear_ticks(lo, hi, most) if v > 0]


def nice_domain(lo: float, hi: float, log: bool) -> tuple[float, float]:
    """A domain with a little room around the data (a whole tick's worth on a linear scale)."""
    if log:
        lo, hi = max(lo, 1e-300), max(hi, 1e-300)
        if hi <= lo:
            return lo / 3, hi * 3
        pad = (math.log10(hi) - math.log10(lo)) * 0.03
        return lo / 10 ** pad, hi * 10 ** pad
    if hi <= lo:
        return lo - 0.5 if lo else -1.0, hi + 0.5 if hi else 1.0
    pad = (hi - lo) * 0.04
    return lo - pad, hi + pad


def colour(f: float, ramp: list[str] = VIRIDIS) -> str:
    """The ramp's colour at f in [0, 1] (interpolated between its stops)."""
    f = min(1.0, max(0.0, f)) * (len(ramp) - 1)
    i = min(int(f), len(ramp) - 2)
    t = f - i
    c0, c1 = ramp[i], ramp[i + 1]
    mix = [round(int(c0[j:j + 2], 16) * (1 - t) + int(c1[j:j + 2], 16) * t) for j in (1, 3, 5)]
    return "#" + "".join(f"{c:02x}" for c in mix)


def bottom(lane: bool = False) -> float:
    """The pixel row of a plot area's bottom (higher with a lane: the lane sits between it and the x axis)."""
    return H - PAD["bottom"] - (LANE + 4 if lane else 0)


def frame(title: str, x: Scale, y: Scale, xlabel: str, ylabel: str, *, lane: bool = False,
          xcats: list[str] | None = None) -> list[str]:
    """Grid lines, both axes with ticks and labels, axis titles and the plot title. With `lane`, a labelled
    strip under the plot area holds the trials that have no value (diverged, failed)."""
    top, bot = PAD["top"], bottom(lane)
    left, right = PAD["left"], W - PAD["right"]
    out = [f'<text class="title" x="{left}" y="18">{esc(title)}</text>']
    for v, label in y.ticks(6):
        yy = px(y(v))
        out.append(f'<line class="grid" x1="{left}" x2="{right}" y1="{yy}" y2="{yy}"/>'
                   f'<text class="tick" x="{left - 6}" y="{yy}" dy="0.32em" text-anchor="end">{esc(label)}</text>')
    if xcats is not None:
        xticks = [(i, c) for i, c in enumerate(xcats)]
    else:
        xticks = x.ticks(7)
    axis_y = H - PAD["bottom"]
    for v, label in xticks:
        xx = px(x(v))
        out.append(f'<line class="grid" x1="{xx}" x2="{xx}" y1="{top}" y2="{bot}"/>'
                   f'<line class="axis" x1="{xx}" x2="{xx}" y1="{axis_y}" y2="{axis_y + 4}"/>'
                   f'<text class="tick" x="{xx}" y="{axis_y + 16}" text-anchor="middle">{esc(label)}</text>')
    out.append(f'<line class="axis" x1="{left}" x2="{right}" y1="{axis_y}" y2="{axis_y}"/>'
               f'<line class="axis" x1="{left}" x2="{left}" y1="{top}" y2="{bot}"/>')
    if lane:
        out.append(f'<rect class="lane" x="{left}" y="{bot + 2}" width="{right - left}" height="{LANE}"/>'
                   f'<text class="tick" x="{left - 6}" y="{bot + 2 + LANE / 2}" dy="0.32em" '
                   f'text-anchor="end">no acc</text>')
    out.append(f'<text class="label" x="{(left + right) / 2}" y="{H - 6}" text-anchor="middle">{esc(xlabel)}</text>'
               f'<text class="label" transform="translate(14 {(top + bot) / 2}) rotate(-90)" '
               f'text-anchor="middle">{esc(ylabel)}</text>')
    return out


def cross(cx: float, cy: float, r: float, t: int, cls: str = "div") -> str:
    """A diverged trial: an x (data-t indexes the stage's trials for the hover)."""
    return (f'<path class="{cls}" data-t="{t}" d="M{px(cx - r)},{px(cy - r)}l{px(2 * r)},{px(2 * r)}'
            f'm0,{px(-2 * r)}l{px(-2 * r)},{px(2 * r)}"/>')


def triangle(cx: float, cy: float, r: float, t: int) -> str:
    """A failed trial: a hollow triangle."""
    return (f'<path class="fail" data-t="{t}" d="M{px(cx)},{px(cy - r)}L{px(cx + r)},{px(cy + r * 0.8)}'
            f'H{px(cx - r)}Z"/>')


def dot(cx: float, cy: float, t: int, fill: str | None = None, r: float = 3.5, cls: str = "pt") -> str:
    f = f' fill="{fill}"' if fill else ""
    return f'<circle class="{cls}" data-t="{t}" cx="{px(cx)}" cy="{px(cy)}" r="{r}"{f}/>'


def svg(body: list[str], label: str, height: int = H) -> str:
    """One plot: a scalable SVG (role img, its label for screen readers)."""
    return (f'<svg class="plot" viewBox="0 0 {W} {height}" role="img" aria-label="{esc(label)}" '
            f'xmlns="http://www.w3.org/2000/svg">{"".join(body)}</svg>')
