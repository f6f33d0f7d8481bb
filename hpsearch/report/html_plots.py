"""The report's pictures for one stage, as inline SVG: val_acc over each searched parameter (slice plots), the
lr x reg map coloured by val_acc, and the learning curves of the top trials (val/train accuracy per epoch,
loss per iteration when the trial records carry them). Every mark carries data-t (the trial's index) for
the page's hover script.
"""

from __future__ import annotations

import zlib

from hpsearch.config.plain import is_number
from hpsearch.report import html_svg
from hpsearch.report.html_stage import Param, Stage, complete, label, top

MIN_SPAN = 0.02  # a val_acc axis spans at least two points (a fine stage's trials are close together)


def has_lane(st: Stage) -> bool:
    """Does any trial lack a val_acc (diverged, failed)? Then the slice plots get a strip for them."""
    return any(t["status"] != "complete" or not is_number(t.get("val_acc")) for t in st.doc["trials"])


def acc_scale(st: Stage) -> html_svg.Scale:
    """The stage's val_acc axis, shared by its slice plots."""
    vals = [st.doc["trials"][i]["val_acc"] for i in complete(st)] or [0.0, 1.0]
    lo, hi = min(vals), max(vals)
    if hi - lo < MIN_SPAN:
        mid = (hi + lo) / 2
        lo, hi = mid - MIN_SPAN / 2, mid + MIN_SPAN / 2
    lo, hi = html_svg.nice_domain(lo, hi, False)
    hi = min(1.0, hi) if hi > 1 and max(vals) <= 1 else hi
    return html_svg.Scale(max(0.0, lo), hi, html_svg.bottom(has_lane(st)), html_svg.PAD["top"])


def _x(p: Param, lanes: int = 0) -> html_svg.Scale:
    if p.kind == "choice":
        return html_svg.Scale(-0.5, len(p.choices) - 0.5, html_svg.PAD["left"], html_svg.W - html_svg.PAD["right"])
    lo, hi = html_svg.nice_domain(p.low, p.high, p.log)
    return html_svg.Scale(lo, hi, html_svg.PAD["left"], html_svg.W - html_svg.PAD["right"], p.log)


def _jitter(n: int, width: float) -> float:
    """A stable offset in [-width/2, width/2] for a trial on a categorical axis."""
    return ((zlib.crc32(str(n).encode()) % 1000) / 999 - 0.5) * width


def _xpos(p: Param, x: html_svg.Scale, t: dict) -> float | None:
    v = t["params"].get(p.name)
    if p.kind == "choice":
        return x(p.choices.index(label(v)) + _jitter(t["number"], 0.5)) if label(v) in p.choices else None
    if not is_number(v) or (p.log and v <= 0):
        return None
    return x(v)


def _no_acc_marks(st: Stage, p: Param, x: html_svg.Scale, y: float) -> list[str]:
    out = []
    for i, t in enumerate(st.doc["trials"]):
        if t["status"] == "complete" and is_number(t.get("val_acc")):
            continue
        cx = _xpos(p, x, t)
        if cx is None:
            continue
        out.append(html_svg.triangle(cx, y, 4, i) if t["status"] == "failed" else html_svg.cross(cx, y, 3.5, i))
    return out


def _edge_note(st: Stage, p: Param) -> list[str]:
    """A verdict that says better values lie past an edge of this parameter, written at that edge."""
    out = []
    for w in st.doc.get("warnings") or []:
        if not isinstance(w, dict) or w.get("param") != p.name or w.get("edge") not in ("low", "high"):
            continue
        sug = w.get("suggested") if isinstance(w.get("suggested"), dict) else {}
        rng = (f" {label(sug['low'])}..{label(sug['high'])}" if is_number(sug.get("low")) and is_number(sug.get("high"))
               else "")
        if w["edge"] == "high":
            out.append(f'<text class="edge" x="{html_svg.W - html_svg.PAD["right"]}" y="18" text-anchor="end">'
                       f'better past this edge \u2192{html_svg.esc(rng)}</text>')
        else:
            out.append(f'<text class="edge" x="{html_svg.W - html_svg.PAD["right"]}" y="18" text-anchor="end">'
                       f'\u2190 better past the low edge{html_svg.esc(rng)}</text>')
        break
    return out


def slice_plot(st: Stage, p: Param, later: list[tuple[str, Param]]) -> str:
    """val_acc of every trial over one parameter; trials without a val_acc in a strip under the plot. `later`:
    the same parameter in later stages, drawn as a shaded band (where the next search looked)."""
    x, y = _x(p), acc_scale(st)
    lane = has_lane(st)
    body = html_svg.frame(f"val_acc over {p.name}", x, y, _axis_label(p), "val_acc", lane=lane,
                   xcats=list(p.choices) if p.kind == "choice" else None)
    body += _edge_note(st, p)
    for name, q in later:
        if p.kind == q.kind == "range":
            a, b = max(x(q.low), x.a), min(x(q.high), x.b)
            if b > a:
                top, bottom = html_svg.PAD["top"], html_svg.bottom(lane)
                body.insert(1, f'<rect class="band" x="{html_svg.px(a)}" y="{top}" width="{html_svg.px(b - a)}" '
                               f'height="{html_svg.px(bottom - top)}"/><text class="bandlabel" '
                               f'x="{html_svg.px(a + 3)}" y="{html_svg.px(bottom - 4)}">'
                               f'{html_svg.esc(name)} range</text>')
    lane_y = html_svg.bottom(True) + 2 + html_svg.LANE / 2
    body += _no_acc_marks(st, p, x, lane_y)
    pts = sorted(complete(st), key=lambda i: st.doc["trials"][i]["val_acc"])
    for i in pts:
        t = st.doc["trials"][i]
        cx = _xpos(p, x, t)
        if cx is not None:
            body.append(html_svg.dot(cx, y(t["val_acc"]), i, cls="pt sl best" if i == st.best else "pt sl"))
    return html_svg.svg(body, f"{st.label}: val_acc over {p.name}")


def map_axes(st: Stage) -> tuple[Param, Param] | None:
    """The two range parameters of the map: lr and reg when both are searched, else the first two ranges."""
    ranges = [p for p in st.params if p.kind == "range"]
    return (ranges[0], ranges[1]) if len(ranges) >= 2 else None


def map_plot(st: Stage, later: list[tuple[str, Param, Param]]) -> str | None:
    """Each trial at its (lr, reg), coloured by val_acc (viridis over the stage's range), diverged as red x,
    failed as triangles, the best ringed; later stages' ranges as dashed boxes."""
    axes = map_axes(st)
    if axes is None:
        return None
    px_, py_ = axes
    x = _x(px_)
    ylo, yhi = html_svg.nice_domain(py_.low, py_.high, py_.log)
    y = html_svg.Scale(ylo, yhi, html_svg.bottom(), html_svg.PAD["top"], py_.log)
    body = html_svg.frame(f"val_acc over {px_.name} \u00d7 {py_.name}", x, y, _axis_label(px_), _axis_label(py_))
    done = complete(st)
    done_set = set(done)
    vals = [st.doc["trials"][i]["val_acc"] for i in done]
    lo, hi = (min(vals), max(vals)) if vals else (0.0, 1.0)
    body += _colourbar(lo, hi)
    for name, qx, qy in later:
        a, b = max(x(qx.low), x.a), min(x(qx.high), x.b)
        c, d = max(y(qy.high), y.b), min(y(qy.low), y.a)
        if b > a and d > c:
            body.insert(1, f'<rect class="box" x="{html_svg.px(a)}" y="{html_svg.px(c)}" width="{html_svg.px(b - a)}" '
                           f'height="{html_svg.px(d - c)}"/><text class="bandlabel" x="{html_svg.px(a + 3)}" '
                           f'y="{html_svg.px(d - 4)}">{html_svg.esc(name)} range</text>')
    for i, t in enumerate(st.doc["trials"]):
        if i in done_set:
            continue
        cx, cy = _xpos(px_, x, t), _xpos(py_, y, t)
        if cx is not None and cy is not None:
            body.append(html_svg.triangle(cx, cy, 4.5, i) if t["status"] == "failed" else html_svg.cross(cx, cy, 4, i))
    for i in sorted(done, key=lambda i: st.doc["trials"][i]["val_acc"]):
        t = st.doc["trials"][i]
        cx, cy = _xpos(px_, x, t), _xpos(py_, y, t)
        if cx is None or cy is None:
            continue
        f = (t["val_acc"] - lo) / (hi - lo) if hi > lo else 1.0
        body.append(html_svg.dot(cx, cy, i, html_svg.colour(f), r=5 if i == st.best else 4.5,
                          cls="pt mapd best" if i == st.best else "pt mapd"))
    return html_svg.svg(body, f"{st.label}: val_acc over {px_.name} and {py_.name}")


def _axis_label(p: Param) -> str:
    return f"{p.name} (log scale)" if p.kind == "range" and p.log else p.name


def _colourbar(lo: float, hi: float) -> list[str]:
    x0, w, y0 = html_svg.W - html_svg.PAD["right"] - 150, 120, 8
    last = len(html_svg.VIRIDIS) - 1
    stops = "".join(f'<stop offset="{k / last:.2f}" stop-color="{c}"/>' for k, c in enumerate(html_svg.VIRIDIS))
    gid = f"vir{zlib.crc32(f'{lo}{hi}'.encode()) % 100000}"
    return [f'<defs><linearGradient id="{gid}">{stops}</linearGradient></defs>',
            f'<rect x="{x0}" y="{y0}" width="{w}" height="9" fill="url(#{gid})"/>',
            f'<text class="tick" x="{x0 - 4}" y="{y0 + 8}" text-anchor="end">val_acc {html_svg.num(lo)}</text>',
            f'<text class="tick" x="{x0 + w + 3}" y="{y0 + 8}">{html_svg.num(hi)}</text>']


def curves_plot(st: Stage, key: str = "acc") -> str | None:
    """The top trials' curves: `acc` = val_curve (solid) and train_curve (dashed) per epoch; `loss` =
    loss_curve over the epochs run (log y when it spans decades). None when no top trial has one."""
    trials = st.doc["trials"]
    series = []  # (trial index, colour, [(x, y)], dashed)
    for k, i in enumerate(top(st)):
        t, c = trials[i], html_svg.PALETTE[k % len(html_svg.PALETTE)]
        if key == "acc":
            for field, dashed in (("val_curve", False), ("train_curve", True)):
                pts = [(e + 1, v) for e, v in enumerate(_curve(t.get(field))) if v is not None]
                if pts:
                    series.append((i, c, pts, dashed))
        else:
            ys = _curve(t.get("loss_curve"))
            n = len(ys)
            span = t.get("epochs_run") or 1
            pts = [(span * (j + 0.5) / n, v) for j, v in enumerate(ys) if v is not None and v > 0]
            if pts:
                series.append((i, c, pts, False))
    if not series:
        return None
    xs = [p[0] for _, _, pts, _ in series for p in pts]
    ys = [p[1] for _, _, pts, _ in series for p in pts]
    log = key == "loss" and max(ys) / min(ys) > 30
    xlo = 1 if key == "acc" else 0
    x = html_svg.Scale(xlo, max(max(xs), xlo + 1), html_svg.PAD["left"], html_svg.W - html_svg.PAD["right"],
                       integer=True)
    ylo, yhi = html_svg.nice_domain(min(ys), max(ys), log)
    if key == "acc":
        ylo, yhi = max(0.0, ylo), min(1.0, yhi) if max(ys) < 1 else yhi
    y = html_svg.Scale(ylo, yhi, html_svg.bottom(), html_svg.PAD["top"], log)
    title = "accuracy per epoch, top trials" if key == "acc" else "training loss, top trials"
    ylabel = "accuracy" if key == "acc" else "loss (log scale)" if log else "loss"
    dashed = any(d for _, _, _, d in series)
    body = html_svg.frame(title, x, y, "epoch (solid: val, dashed: train)" if dashed else "epoch", ylabel)
    for i, c, pts, dashed in series:
        d = " ".join(f"{html_svg.px(x(a))},{html_svg.px(y(b))}" for a, b in pts)
        body.append(f'<polyline class="curve{" dash" if dashed else ""}" data-t="{i}" stroke="{c}" points="{d}"/>')
        if key == "acc" and not dashed:
            body += [html_svg.dot(x(a), y(b), i, c, r=2.5, cls="pt cpt") for a, b in pts]
    body += _legend(st, [(i, c) for i, c, _, _ in series], key)
    return html_svg.svg(body, f"{st.label}: {title}")


def _curve(v) -> list[float | None]:
    """A curve from the record: a list of numbers (None for a missing point); [x, y] pairs keep their y."""
    if not isinstance(v, list):
        return []
    out = []
    for p in v:
        p = p[-1] if isinstance(p, list) and p else p
        out.append(float(p) if is_number(p) else None)
    return out


def _legend(st: Stage, series: list[tuple[int, str]], key: str) -> list[str]:
    seen, out, xx = set(), [], html_svg.W - html_svg.PAD["right"]
    entries = []
    for i, c in series:
        if i not in seen:
            seen.add(i)
            entries.append((i, c))
    for i, c in reversed(entries):
        text = f"#{st.doc['trials'][i]['number']}"
        xx -= 8 * len(text) + 18
        out.append(f'<g class="leg" data-t="{i}"><rect x="{xx}" y="9" width="10" height="10" fill="{c}"/>'
                   f'<text class="tick" x="{xx + 13}" y="18">{html_svg.esc(text)}</text></g>')
    return out

