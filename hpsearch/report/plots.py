"""The learning curves CS231n reads (lecture 6): the loss per iteration (a smoothed line over the raw band; log y
when the loss spans more than a factor of LOG_RATIO) and train/val accuracy per epoch (the overfitting gap),
for one `train` run (`train_figure`) or for the top trials of a results file (`curves`). Pure: renderables
drawn at the console's width when printed.
"""

from __future__ import annotations


import numpy as np
from rich.text import Text

from hpsearch.config.plain import cell, is_number
from hpsearch.report import canvas

LOG_RATIO = 20.0  # the loss axis turns log10 when max / min of the raw loss exceeds this (explosions, fast drops)
LOSS_ROWS, ACC_ROWS = 10, 8  # heights of the two panels, in character rows
STYLE_RAW, STYLE_LOSS = "bright_black", "bold yellow"
STYLE_TRAIN, STYLE_VAL = "cyan", "bold green"
MARK_TRAIN, MARK_VAL, MARK_NONFINITE = "○", "●", "✗"


def smooth(values: np.ndarray, k: int) -> np.ndarray:
    """Centred moving mean over k points of the finite values (nan where a point is not finite); O(n)."""
    ok = np.isfinite(values)
    cs = np.concatenate([[0.0], np.cumsum(np.where(ok, values, 0.0))])
    cn = np.concatenate([[0], np.cumsum(ok)])
    i = np.arange(len(values))
    a, b = np.clip(i - k // 2, 0, len(values)), np.clip(i + k // 2 + 1, 0, len(values))
    with np.errstate(all="ignore"):
        return np.where(ok, (cs[b] - cs[a]) / np.maximum(cn[b] - cn[a], 1), np.nan)


def loss_panel(loss: list, span: float, unit: str, width: int, colour: bool, rows: int = LOSS_ROWS,
               stopped: str | None = None) -> list[Text]:
    """The minibatch loss over [0, span] `unit`s (epochs or iterations): the raw values as light dots, or as a
    band (their min..max per dot column) when there are more than dot columns; their moving mean as the line;
    a non-finite tail is marked ✗ at the top where it began."""
    v = np.array([u if is_number(u) else np.nan for u in loss], dtype=np.float64)
    ok = np.isfinite(v)
    title = Text("loss per iteration", style="bold")
    if ok.sum() < 2:
        return [title, Text("  (no finite loss recorded)" if not ok.any() else f"  one loss: {v[ok][0]:.4g}",
                            style="dim")]
    lo, hi = float(v[ok].min()), float(v[ok].max())
    log = lo > 0 and hi / lo > LOG_RATIO
    y = canvas.nice_axis(lo, hi, log)
    x = canvas.Axis(0.0, float(span))
    cols = width - canvas.LABEL_W - 2
    c = canvas.Braille(cols, rows)
    raw, line = c.layer(STYLE_RAW, "·"), c.layer(STYLE_LOSS)
    n = len(v)
    dx = np.clip(np.rint((np.arange(n) + 0.5) / n * (c.w - 1)), 0, c.w - 1).astype(int)  # x.dot of each point

    def dy(vals: np.ndarray) -> np.ndarray:  # the dot row of finite values (row 0 at the top)
        return c.h - 1 - y.dots(vals, c.h)

    k = max(3, n // 25) | 1
    if n < 2 * k:  # too few points for a moving mean to say more than the points (a trial that diverged at once)
        k, sm = 1, v.copy()
    elif log:  # a mean on the axis the reader sees: a geometric one on a log axis
        with np.errstate(all="ignore"):
            sm = np.power(10.0, smooth(np.where(v > 0, np.log10(v), np.nan), k))
    else:
        sm = smooth(v, k)
    band = n > c.w
    if band:  # several points a dot column: per column, the band of their min..max and the mean of the line
        starts = np.flatnonzero(np.diff(dx, prepend=-1))
        with np.errstate(all="ignore"):
            top, bot = np.fmax.reduceat(v, starts), np.fmin.reduceat(v, starts)
            sums = np.add.reduceat(np.where(np.isfinite(sm), sm, 0.0), starts)
            cnt = np.add.reduceat(np.isfinite(sm).astype(int), starts)
            line_v = np.where(cnt > 0, sums / np.maximum(cnt, 1), np.nan)
        xs = dx[starts]
        has = np.isfinite(top)
        t_row, b_row = np.zeros(len(xs), int), np.zeros(len(xs), int)
        t_row[has], b_row[has] = dy(top[has]), dy(bot[has])
        prev = None
        for j in range(len(xs)):
            if not has[j]:
                prev = None
                continue
            c.line(raw, xs[j], t_row[j], xs[j], b_row[j])
            mid = (t_row[j] + b_row[j]) // 2
            if prev is not None and prev[0] == xs[j] - 1:
                c.line(raw, prev[0], prev[1], xs[j], mid)
            prev = (xs[j], mid)
    else:
        xs, line_v = dx, sm
        rows_raw = np.zeros(n, int)
        rows_raw[ok] = dy(v[ok])
        _polyline(c, raw, [(int(xs[i]), int(rows_raw[i])) if ok[i] else None for i in range(n)])
    fin = np.isfinite(line_v)
    rows_line = np.zeros(len(line_v), int)
    rows_line[fin] = dy(line_v[fin])
    _polyline(c, line, [(int(xs[i]), int(rows_line[i])) if fin[i] else None for i in range(len(line_v))])
    bad = int(np.argmin(ok)) if not ok.all() else None
    if bad is not None:
        c.marks[(0, min(cols - 1, int(dx[bad]) // 2))] = (MARK_NONFINITE, "bold red")
    title.append(f" ({'log y; ' if log else ''}mean of {k} over the raw {'band' if band else 'dots'})", style="dim")
    out = [title] + canvas.frame(c.render(colour), canvas.y_tick_rows(y, rows, rows // 2 + 1, cells=False),
                                 canvas.x_tick_cols(x, cols, max(2, cols // 8), cells=False), unit)
    if bad is not None or stopped:
        out.append(Text(f"{MARK_NONFINITE} {stopped or 'non-finite loss'}", style="red"))
    return out


def _polyline(c: canvas.Braille, layer: int, points: list) -> None:
    prev = None
    for p in points:
        if p is not None:
            if prev is not None:
                c.line(layer, *prev, *p)
            else:
                c.dot(layer, *p)
        prev = p


def acc_panel(train: list, val: list, epochs: float, width: int, colour: bool, rows: int = ACC_ROWS) -> list[Text]:
    """Train (○) and validation (●) accuracy after each epoch, on the loss panel's x axis (epochs from 0)."""
    title = Text("accuracy per epoch", style="bold")
    series = [(name, vals, style, mark) for name, vals, style, mark in
              (("train", train, STYLE_TRAIN, MARK_TRAIN), ("val", val, STYLE_VAL, MARK_VAL))
              if any(is_number(v) for v in vals)]
    if not series:
        return [title, Text("  (no epoch finished)", style="dim")]
    allv = [v for _, vals, _, _ in series for v in vals if is_number(v)]
    y = canvas.nice_axis(max(0.0, min(allv)), min(1.0, max(allv)), False)
    y = canvas.Axis(max(0.0, y.low), min(1.0, y.high)) if y.high > y.low else y
    x = canvas.Axis(0.0, float(max(epochs, 1)))
    cols = width - canvas.LABEL_W - 2
    c = canvas.Braille(cols, rows)
    for name, vals, style, mark in series:
        lay = c.layer(style)
        pts = [(x.dot(e + 1, c.w), c.h - 1 - y.dot(v, c.h)) if is_number(v) else None for e, v in enumerate(vals)]
        _polyline(c, lay, pts)
        if len(vals) <= cols // 3:  # room for a glyph per epoch: the series read apart without colour too
            for p in pts:
                if p is not None:
                    c.marks[(p[1] // 4, p[0] // 2)] = (mark, style)
    out = [title]
    out += canvas.frame(c.render(colour), canvas.y_tick_rows(y, rows, rows // 2 + 1, cells=False),
                        canvas.x_tick_cols(x, cols, max(2, min(cols // 8, int(x.high))), cells=False), "epoch")
    legend = Text()
    for name, vals, style, mark in series:
        legend.append(f"{mark} {name}  ", style)
    last = {name: next((v for v in reversed(vals) if is_number(v)), None) for name, vals, _, _ in series}
    if last.get("train") is not None and last.get("val") is not None:
        legend.append(f"last epoch: train {last['train']:.3f} val {last['val']:.3f} "
                      f"gap {last['train'] - last['val']:+.3f}", style="dim")
    out.append(legend)
    return out


def figure(loss: list, train: list, val: list, epochs: float, span: float, unit: str, width: int, colour: bool,
           stopped: str | None = None, rows: tuple[int, int] = (LOSS_ROWS, ACC_ROWS)) -> list[Text]:
    """Loss and accuracy panels, side by side when the width allows (two of at least 56 columns), else stacked."""
    return canvas.side_by_side([lambda w: loss_panel(loss, span, unit, w, colour, rows[0], stopped),
                                lambda w: acc_panel(train, val, epochs, w, colour, rows[1])], width)


def _stopped_text(stopped_at: dict | None) -> str | None:
    if not stopped_at:
        return None
    return f"diverged at iteration {stopped_at.get('iteration')} (epoch {stopped_at.get('epoch')}): " \
           f"{stopped_at.get('reason', 'stopped')}"


def train_figure(result, width: int | None = None) -> canvas.Sized:
    """The curves of one fit (trainer.fit.TrainResult): every iteration's loss, accuracy per epoch."""
    h = result.history
    diverged = result.stopped_at is not None
    # a diverged run stops inside an epoch: its loss is drawn over the iterations it ran
    span, unit = (result.iterations, "iteration") if diverged else (result.epochs_run, "epoch")
    val = [v if is_number(v) else None for v in h.val_acc]

    def draw(w: int, colour: bool) -> list[Text]:
        return figure(list(h.loss), list(h.train_acc), val, len(h.train_acc), span, unit, w, colour,
                      _stopped_text(result.stopped_at))

    return canvas.Sized(draw, width)


def trial_figure(t: dict, width: int, colour: bool) -> list[Text]:
    """One trial record's curves (loss_curve, train_curve, val_curve); an old file's trial has only val_curve."""
    loss, train, val = t.get("loss_curve") or [], t.get("train_curve") or [], t.get("val_curve") or []
    params = ", ".join(f"{k} {cell(v)}" for k, v in t["params"].items())
    head = Text(f"trial #{t['number']}", style="bold")
    if t.get("val_acc") is not None:
        head.append(f"  {params}  val_acc {t['val_acc']:.4f}" + (f" ({t['status']})" if t["status"] != "complete" else ""))
    else:
        head.append(f"  {params}  {t['status']}")
    stopped = t.get("stopped_at") if t["status"] == "diverged" else None
    if stopped and stopped.get("iteration"):
        span, unit = stopped["iteration"], "iteration"
    else:
        span, unit = max(t.get("epochs_run") or len(val), 1), "epoch"
    out = [head]
    if not (loss or train or val):
        return out + [Text("  (no curves in this file: written before hpsearch recorded them)" if t["status"] == "complete"
                           else "  (no curves recorded)", style="dim")]
    if not loss and (train or val):
        out.append(Text("  (no loss curve in this file: written before hpsearch recorded one)", style="dim"))
        return out + acc_panel(train, val, len(val), width, colour, 6)
    return out + figure(loss, train, val, max(len(val), len(train)), span, unit, width, colour,
                        _stopped_text(stopped), rows=(8, 6))


def curves(doc: dict, top: int = 3, width: int | None = None) -> canvas.Sized:
    """The curves of a stage's `top` best trials (its ranking), one figure each."""
    from hpsearch.results import ranking

    chosen = ranking.ranked(doc)[:top]  # as the top table ranks

    def draw(w: int, colour: bool) -> list[Text]:
        out: list[Text] = [Text(f"curves of the top {len(chosen)} trial{'s' * (len(chosen) != 1)}", style="bold underline")]
        for t in chosen:
            out += [Text("")] + trial_figure(t, w, colour)
        return out if chosen else out + [Text("(no trials)", style="dim")]

    return canvas.Sized(draw, width)

