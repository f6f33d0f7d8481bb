"""Pictures of a search over its space: val_acc over each searched parameter (slice plots, like
optuna-dashboard's) and the lr x reg map of CS231n's slide. Glyphs read without colour: ● a trial, ★ the best,
x diverged, ! failed; the map's ▁..█ levels span the stage's own range of val_acc (a fine stage's narrow
spread still shows 8 levels). Pure: renderables drawn at the console's width when printed.
"""

from __future__ import annotations

from rich.text import Text

from hpsearch.config.plain import fmt
from hpsearch.report import canvas

MARK_TRIAL, MARK_BEST, MARK_DIVERGED, MARK_FAILED = "●", "★", "x", "!"
STYLE_TRIAL, STYLE_BEST, STYLE_DIVERGED, STYLE_FAILED = "cyan", "bold reverse green", "bold red", "bold magenta"
LEVELS = "▁▂▃▄▅▆▇█"  # the map's val_acc levels, low to high
LEVEL_STYLES = ("#d73027", "#f46d43", "#fdae61", "#fee08b", "#d9ef8b", "#a6d96a", "#66bd63", "#1a9850")
SLICE_ROWS = 8  # height of a slice plot's body, in character rows


def ranges(doc: dict) -> dict[str, canvas.Axis | list]:
    """The searched parameters: a range as its Axis (grid values: their min..max), a choice as its choices."""
    out: dict[str, canvas.Axis | list] = {}
    for name, p in doc["space"].get("params", {}).items():
        if not isinstance(p, dict):
            continue  # a fixed value
        if "choices" in p:
            out[name] = list(p["choices"])
        else:
            vals = p.get("values") or []
            lo, hi = p.get("low", min(vals, default=0)), p.get("high", max(vals, default=1))
            out[name] = canvas.Axis(float(lo), float(hi), bool(p.get("log", False)))
    return out


def val_range(doc: dict) -> tuple[float, float] | None:
    vals = [t["val_acc"] for t in doc["trials"] if t["status"] == "complete" and t["val_acc"] is not None]
    return (min(vals), max(vals)) if vals else None


def level(v: float, lo: float, hi: float) -> int:
    """Which of the LEVELS v falls in, the stage's [lo, hi] cut in equal parts."""
    return len(LEVELS) - 1 if hi <= lo else min(len(LEVELS) - 1, max(0, int((v - lo) / (hi - lo) * len(LEVELS))))


def _mark(t: dict, best: int | None, glyph: str, style: str) -> tuple[str, str, float]:
    """(glyph, style, priority) of a trial: the best wins its cell, then higher val_acc, diverged, failed."""
    if t["number"] == best:
        return MARK_BEST, STYLE_BEST, 2.0
    if t["status"] == "diverged":
        return MARK_DIVERGED, STYLE_DIVERGED, -1.0
    if t["status"] == "failed" or t["val_acc"] is None:
        return MARK_FAILED, STYLE_FAILED, -2.0
    return glyph, style, t["val_acc"]


def _x_cell(value, axis, cols: int) -> int:
    if isinstance(axis, list):  # a choice: the middle of its share of the width
        i = next((j for j, c in enumerate(axis) if c == value), 0)
        return min(cols - 1, int((i + 0.5) / len(axis) * cols))
    return axis.cell(value, cols)


def _x_ticks(axis, cols: int, cell_w: int = 1) -> list[tuple[int, str]]:
    if isinstance(axis, list):
        return [(_x_cell(c, axis, cols) * cell_w, ",".join(map(str, c)) if isinstance(c, list) else str(c))
                for c in axis]
    return canvas.x_tick_cols(axis, cols, max(2, cols * cell_w // 7), cells=True, cell_w=cell_w)


def slice_panel(doc: dict, name: str, axis, width: int, rows: int = SLICE_ROWS) -> list[Text]:
    """val_acc (y) over one searched parameter (x) for every trial; diverged and failed trials, which have no
    val_acc, on a strip below at their x."""
    vr = val_range(doc)
    log = not isinstance(axis, list) and axis.log
    title = Text(f"val_acc over {name}", style="bold") + Text(" (log x)" if log else "", style="dim")
    if vr is None:
        return [title, Text("  (no complete trial)", style="dim")]
    y = canvas.nice_axis(*vr, log=False)
    y = canvas.Axis(max(0.0, y.low), min(1.0, y.high)) if y.high > y.low else y
    cols = width - canvas.LABEL_W - 2
    best = doc["best"]["number"] if doc["best"] else None
    failing = [t for t in doc["trials"] if t["status"] != "complete"]
    strip = rows if failing else None
    cells: dict[tuple[int, int], tuple[str, str, float]] = {}
    for t in doc["trials"]:
        c = _x_cell(t["params"][name], axis, cols)
        r = strip if t["status"] != "complete" else rows - 1 - y.cell(t["val_acc"], rows)
        m = _mark(t, best, MARK_TRIAL, STYLE_TRIAL)
        if (r, c) not in cells or m[2] > cells[(r, c)][2]:
            cells[(r, c)] = m
    body = canvas.grid({k: v[:2] for k, v in cells.items()}, cols, rows + (strip is not None))
    labels = {strip: "diverged" if all(t["status"] == "diverged" for t in failing) else "div/fail"} if failing else None
    return [title] + canvas.frame(body, canvas.y_tick_rows(y, rows, rows // 2 + 1, cells=True),
                                  _x_ticks(axis, cols), name, row_labels=labels)


def slices(doc: dict, width: int | None = None) -> canvas.Sized:
    """A slice plot per searched parameter, two abreast when each gets 56 columns."""
    axes = ranges(doc)

    def draw(w: int, colour: bool) -> list[Text]:
        if not axes or not doc["trials"]:
            return []
        best = f" (#{doc['best']['number']}, {fmt(doc['best']['val_acc'], '.4f')})" if doc["best"] else ""
        legend = Text()
        for glyph, style, what in ((MARK_TRIAL, STYLE_TRIAL, "trial"), (MARK_BEST, STYLE_BEST, f"best{best}"),
                                   (MARK_DIVERGED, STYLE_DIVERGED, "diverged"), (MARK_FAILED, STYLE_FAILED, "failed")):
            legend.append(glyph, style)
            legend.append(f" {what}   ", "dim")
        out = [legend]
        names = list(axes)
        for i in range(0, len(names), 2):
            pair = names[i:i + 2]
            out += canvas.side_by_side([lambda pw, n=n: slice_panel(doc, n, axes[n], pw) for n in pair], w)
        return out

    return canvas.Sized(draw, width)


def lr_reg_map(doc: dict, width: int | None = None, height: int | None = None) -> canvas.Sized | Text:
    """Every trial at its (lr, reg) (or the first two ranges), its cell showing the level of its val_acc on the
    stage's own scale; a cell holding several trials shows the best of them. Cells are two characters wide:
    neighbours never merge, and a cell is about as wide as it is tall."""
    axes = [(n, a) for n, a in ranges(doc).items() if isinstance(a, canvas.Axis)]
    pick = [a for a in axes if a[0] in ("lr", "reg")] or axes
    pick += [a for a in axes if a not in pick]
    if not pick or not doc["trials"]:
        return Text("(no range parameter to plot)" if not pick else "(no trials to plot)", style="dim")
    (xn, xa), (yn, ya) = pick[0], (pick[1] if len(pick) > 1 else (None, None))

    def draw(w: int, colour: bool) -> list[Text]:
        cols = (w - canvas.LABEL_W - 2) // 2
        rows = (height or (12 if w < 120 else 16)) if yn else 1
        vr = val_range(doc) or (0.0, 1.0)
        best = doc["best"]["number"] if doc["best"] else None
        cells: dict[tuple[int, int], tuple[str, str, float]] = {}
        for t in doc["trials"]:
            c = xa.cell(t["params"][xn], cols)
            r = rows - 1 - ya.cell(t["params"][yn], rows) if yn else 0
            lv = level(t["val_acc"], *vr) if t["val_acc"] is not None else 0
            m = _mark(t, best, LEVELS[lv], LEVEL_STYLES[lv])
            if (r, c) not in cells or m[2] > cells[(r, c)][2]:
                cells[(r, c)] = m
        title = Text(f"val_acc over {xn} (x{', log' if xa.log else ''})", style="bold")
        if yn:
            title.append(f" and {yn} (y{', log' if ya.log else ''})", style="bold")
        out = [title, *_scale(vr, best, doc)]
        body = canvas.grid({k: v[:2] for k, v in cells.items()}, cols, rows, cell_w=2)
        y_ticks = canvas.y_tick_rows(ya, rows, rows // 2 + 1, cells=True) if yn else {}
        out += canvas.frame(body, y_ticks, _x_ticks(xa, cols, cell_w=2), xn)
        if yn:
            out[3:3] = [Text(f"{yn:>{canvas.LABEL_W}} ↑", style="dim")]
        return out

    return canvas.Sized(draw, width)


def _scale(vr: tuple[float, float], best: int | None, doc: dict) -> list[Text]:
    """The legend: each level's lower bound of val_acc (decimals enough to tell them apart), then the marks."""
    lo, hi = vr
    step = (hi - lo) / len(LEVELS)
    digits = 2
    while digits < 5 and step > 0 and len({f"{lo + i * step:.{digits}f}" for i in range(len(LEVELS))}) < len(LEVELS):
        digits += 1
    text = Text("val_acc ", style="dim")  # the levels span this stage's own range
    for i, (g, s) in enumerate(zip(LEVELS, LEVEL_STYLES)):
        text.append(g, s)
        text.append(f"{lo + i * step:.{digits}f} ", "dim")
    marks = Text("        ")
    if best is not None:
        marks.append(MARK_BEST, STYLE_BEST)
        marks.append(f" best #{best} ({fmt(doc['best']['val_acc'], f'.{digits}f')})  ", "dim")
    marks.append(MARK_DIVERGED, STYLE_DIVERGED)
    marks.append(" diverged  ", "dim")
    marks.append(MARK_FAILED, STYLE_FAILED)
    marks.append(" failed  (a cell: its best trial)", "dim")
    return [text, marks]
