"""Terminal drawing for the report's pictures: axes with readable ticks (linear or log10), a braille canvas for
curves (2x4 dots per character), a character grid for scatter maps, and the frame with tick labels on both axes.
Pure: returns rich Text lines no wider than asked; never prints. Our own code rather than a plotting library:
see the CHANGELOG (issue 17) for the measurements behind that choice.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from rich.measure import Measurement
from rich.text import Text

LABEL_W = 8  # columns for the y tick labels, left of the axis line
MIN_WIDTH = 40  # narrower terminals get a picture drawn at this width, cropped


@dataclass(frozen=True)
class Axis:
    """A numeric axis over [low, high], on a log10 scale when `log` (then low > 0)."""

    low: float
    high: float
    log: bool = False

    def _t(self, v: float) -> float:
        return math.log10(v) if self.log else float(v)

    def frac(self, v: float) -> float:
        """Where v sits along the axis: 0 at low, 1 at high (outside: beyond)."""
        lo, hi = self._t(self.low), self._t(self.high)
        return 0.5 if hi <= lo else (self._t(v) - lo) / (hi - lo)

    def cell(self, v: float, n: int) -> int:
        """The one of n equal cells v falls in (clamped): for character grids."""
        return min(n - 1, max(0, int(self.frac(v) * n)))

    def dot(self, v: float, n: int) -> int:
        """The nearest of n evenly spaced dots, low at 0 and high at n - 1 (clamped): for braille curves."""
        return min(n - 1, max(0, round(self.frac(v) * (n - 1))))

    def dots(self, values, n: int):
        """Axis.dot of each of an array of finite values (> 0 on a log axis), as an int array."""
        import numpy as np

        t = np.log10(values) if self.log else np.asarray(values, dtype=np.float64)
        lo, hi = self._t(self.low), self._t(self.high)
        frac = (t - lo) / (hi - lo) if hi > lo else np.full(len(t), 0.5)
        return np.clip(np.rint(frac * (n - 1)), 0, n - 1).astype(int)

    def ticks(self, most: int) -> list[tuple[float, str]]:
        """At most `most` round values inside [low, high] with their labels: decades (and 2x, 5x when there are
        few) on a log axis, multiples of 1, 2, 2.5 or 5 x 10^k on a linear one."""
        most = max(2, most)
        if self.log and self.high / self.low >= 10:
            k0, k1 = math.ceil(math.log10(self.low) - 1e-9), math.floor(math.log10(self.high) + 1e-9)
            stride = max(1, math.ceil((k1 - k0 + 1) / most))
            vals = [10.0 ** k for k in range(k0, k1 + 1) if (k - k0) % stride == 0]
            if 3 * len(vals) <= most:  # few decades: 2 and 5 between them
                vals = sorted({m * 10.0 ** k for k in range(k0 - 1, k1 + 1) for m in (1, 2, 5)
                               if self.low * (1 - 1e-9) <= m * 10.0 ** k <= self.high * (1 + 1e-9)})
            return [(v, log_label(v)) for v in vals]
        step = nice_step((self.high - self.low) / most) if self.high > self.low else 1.0
        first, last = math.ceil(self.low / step - 1e-9), math.floor(self.high / step + 1e-9)
        vals = [k * step for k in range(first, last + 1)]
        return [(v, lin_label(v, step)) for v in vals if not self.log or v > 0]


def nice_step(raw: float) -> float:
    """The smallest of 1, 2, 2.5, 5, 10 x 10^k that is >= raw."""
    if not raw > 0 or not math.isfinite(raw):
        return 1.0
    e = math.floor(math.log10(raw))
    f = raw / 10 ** e
    return next(m for m in (1, 2, 2.5, 5, 10) if m >= f - 1e-9) * 10 ** e


def nice_axis(lo: float, hi: float, log: bool, ticks: int = 4) -> Axis:
    """An axis around the data range [lo, hi] whose ends are round values (so both ends carry a tick)."""
    if log:
        def down(v):
            e = math.floor(math.log10(v))
            return max(m * 10.0 ** e for m in (1, 2, 5) if m * 10.0 ** e <= v * (1 + 1e-9))

        def up(v):
            e = math.floor(math.log10(v))
            return min(m * 10.0 ** e for m in (1, 2, 5, 10) if m * 10.0 ** e >= v * (1 - 1e-9))

        return Axis(down(lo), up(hi) if hi > lo else up(hi * 1.01), True)
    if hi <= lo:
        pad = abs(lo) * 0.05 or 0.05
        lo, hi = lo - pad, hi + pad
    step = nice_step((hi - lo) / ticks)
    return Axis(math.floor(lo / step + 1e-9) * step, math.ceil(hi / step - 1e-9) * step, False)


def log_label(v: float) -> str:
    k = math.floor(math.log10(v) + 1e-9)
    m = round(v / 10 ** k, 6)
    if -3 <= k <= 3:
        return f"{v:.{max(0, -k)}f}" if m == 1 else f"{v:g}"
    return f"{m:g}e{k}" if m != 1 else f"1e{k}"


def lin_label(v: float, step: float) -> str:
    d = max(0, -math.floor(math.log10(step) + 1e-9)) + (1 if round(step / 10 ** math.floor(math.log10(step)), 6)
                                                         == 2.5 else 0)
    s = f"{v:.{d}f}"
    return "0" if float(s) == 0 else s


class Braille:
    """A canvas of cols x rows characters, 2 x 4 dots each. Dots are drawn on layers (later layers on top):
    a character takes the style of its topmost layer; without colour, a layer's `plain` glyph (if any) stands
    in for the braille pattern where only that layer has dots (so a raw band reads apart from its line)."""

    BITS = ((0x01, 0x08), (0x02, 0x10), (0x04, 0x20), (0x40, 0x80))  # [dot row][dot col]

    def __init__(self, cols: int, rows: int) -> None:
        self.cols, self.rows = cols, rows
        self.w, self.h = 2 * cols, 4 * rows  # dots
        self.layers: list[tuple[str, str | None, list[int]]] = []
        self.marks: dict[tuple[int, int], tuple[str, str]] = {}  # (row, col) -> (glyph, style): over the dots

    def layer(self, style: str, plain: str | None = None) -> int:
        self.layers.append((style, plain, [0] * (self.cols * self.rows)))
        return len(self.layers) - 1

    def dot(self, layer: int, x: int, y: int) -> None:
        if 0 <= x < self.w and 0 <= y < self.h:
            self.layers[layer][2][(y // 4) * self.cols + x // 2] |= self.BITS[y % 4][x % 2]

    def line(self, layer: int, x0: int, y0: int, x1: int, y1: int) -> None:
        n = max(abs(x1 - x0), abs(y1 - y0), 1)
        for i in range(n + 1):
            self.dot(layer, round(x0 + (x1 - x0) * i / n), round(y0 + (y1 - y0) * i / n))

    def render(self, colour: bool) -> list[Text]:
        out = []
        for r in range(self.rows):
            line = Text()
            for c in range(self.cols):
                if (r, c) in self.marks:
                    line.append(*self.marks[(r, c)])
                    continue
                i = r * self.cols + c
                bits = [lay[2][i] for lay in self.layers]
                if not any(bits):
                    line.append(" ")
                    continue
                top = max(j for j, b in enumerate(bits) if b)
                style, plain, _ = self.layers[top]
                if not colour:  # a layer with a plain glyph gives way to the lines drawn over it
                    lines = [b for b, lay in zip(bits, self.layers) if not lay[1]]
                    ch = chr(0x2800 | _or(lines)) if any(lines) else plain or chr(0x2800 | _or(bits))
                else:
                    ch = chr(0x2800 | _or(bits))
                line.append(ch, style)
            out.append(line)
        return out


def _or(bits: list[int]) -> int:
    v = 0
    for b in bits:
        v |= b
    return v


def grid(cells: dict[tuple[int, int], tuple[str, str]], cols: int, rows: int, cell_w: int = 1) -> list[Text]:
    """A character grid: `cells` maps (row, col) to (glyph, style); each cell is cell_w characters wide."""
    out = []
    for r in range(rows):
        line = Text()
        for c in range(cols):
            ch, style = cells.get((r, c), (" ", ""))
            line.append(ch, style)
            if cell_w > 1:
                line.append(" " * (cell_w - 1))
        out.append(line)
    return out


def frame(body: list[Text], y_ticks: dict[int, str], x_ticks: list[tuple[int, str]], x_name: str = "",
          label_w: int = LABEL_W, row_labels: dict[int, str] | None = None) -> list[Text]:
    """Axis lines and tick labels around `body` (rows of equal width): y tick labels at their rows (`┤`),
    x ticks (`┬`) at their columns with their labels centred below, where they do not overlap; x_name left of them.
    `row_labels` label rows without a tick (a strip of diverged trials)."""
    cols = max((b.cell_len for b in body), default=0)
    out = []
    for r, row in enumerate(body):
        if r in y_ticks:
            head = Text(f"{y_ticks[r][:label_w]:>{label_w}} ┤", style="dim")
        elif row_labels and r in row_labels:
            head = Text(f"{row_labels[r][:label_w]:>{label_w}} │", style="dim")
        else:
            head = Text(" " * label_w + " │", style="dim")
        out.append(head + row)
    axis = ["─"] * cols
    for c, _ in x_ticks:
        if 0 <= c < cols:
            axis[c] = "┬"
    out.append(Text(" " * label_w + " └" + "".join(axis), style="dim"))
    labels = [" "] * (label_w + 2 + cols)
    end = label_w - 1  # last column taken (the axis name's)
    for c, lab in x_ticks:
        want = label_w + 2 + c - (len(lab) - 1) // 2  # centred under its tick
        at = min(max(want, end + 2), len(labels) - len(lab))  # else nudged right (first) or left (last)
        if at >= end + 2 and abs(at - want) <= len(lab) // 2:
            labels[at:at + len(lab)] = lab
            end = at + len(lab) - 1
    if x_name:  # the axis name in the label column, left of the first tick label
        name = x_name[:label_w]
        labels[label_w - len(name):label_w] = name
    out.append(Text("".join(labels).rstrip(), style="dim"))
    return out


def y_tick_rows(axis: Axis, rows: int, most: int, cells: bool) -> dict[int, str]:
    """Tick labels by row (row 0 at the top) for a vertical axis of `rows` characters: as a grid (`cells`: the
    cell a value falls in) or as braille (the character holding the value's dot)."""
    out: dict[int, str] = {}
    for v, lab in axis.ticks(most):
        r = rows - 1 - axis.cell(v, rows) if cells else (4 * rows - 1 - axis.dot(v, 4 * rows)) // 4
        out.setdefault(r, lab)
    return out


def x_tick_cols(axis: Axis, cols: int, most: int, cells: bool, cell_w: int = 1) -> list[tuple[int, str]]:
    if cells:
        return [(axis.cell(v, cols) * cell_w, lab) for v, lab in axis.ticks(most)]
    return [(axis.dot(v, 2 * cols) // 2, lab) for v, lab in axis.ticks(most)]


def side_by_side(panels: list[Callable[[int], list[Text]]], width: int, min_panel: int = 56,
                 gap: int = 3) -> list[Text]:
    """Panels drawn at a given width: next to each other when each gets at least min_panel columns, else stacked
    at the full width."""
    n = len(panels)
    if n > 1 and (width - gap * (n - 1)) // n >= min_panel:
        w = (width - gap * (n - 1)) // n
        drawn = [p(w) for p in panels]
        out = []
        for i in range(max(len(d) for d in drawn)):
            line = Text()
            for j, d in enumerate(drawn):
                part = d[i].copy() if i < len(d) else Text()
                part.truncate(w, pad=j < n - 1)
                line += part
                if j < n - 1:
                    line.append(" " * gap)
            out.append(line)
        return out
    return [line for p in panels for line in p(width)]


class Sized:
    """A renderable drawn when printed, at the console's width (or a fixed `width`): `draw(width, colour)` gives
    its lines; without a colour system (a pipe, NO_COLOR) the pictures use their glyph-only fallbacks."""

    def __init__(self, draw: Callable[[int, bool], list[Text]], width: int | None = None) -> None:
        self.draw, self.width = draw, width

    def __rich_console__(self, console, options):
        width = self.width or options.max_width
        # drawn at MIN_WIDTH at least (a plot needs room for its axes), cropped to the width
        for line in self.draw(max(width, MIN_WIDTH), console.color_system is not None and not console.no_color):
            line.no_wrap, line.overflow = True, "crop"
            line.truncate(width)  # titles and legends too: nothing wider than asked
            yield line

    def __rich_measure__(self, console, options):
        return Measurement(min(40, options.max_width), self.width or options.max_width)
