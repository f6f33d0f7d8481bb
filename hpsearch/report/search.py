"""Rich renderables for a search's results document: summary, top-k table, and a val_acc scatter over
(lr, reg) on log axes like CS231n's slide. Pure: builds objects from the dict, never prints.
"""

from __future__ import annotations

import math

from rich.console import Group
from rich.table import Table
from rich.text import Text

from hpsearch.config.plain import fmt
from hpsearch.results import ranking

MARK_DIVERGED, MARK_FAILED, MARK_BEST = "x", "!", "*"


def counts(doc: dict) -> dict:
    out = {"complete": 0, "diverged": 0, "failed": 0}
    for t in doc["trials"]:
        out[t["status"]] = out.get(t["status"], 0) + 1
    return out


def ranked(doc: dict) -> list[dict]:
    """Complete trials best first (the stage's ranking: results.ranking), then diverged and failed ones."""
    done = sorted((t for t in doc["trials"] if t["status"] == "complete"), key=ranking.rank_key)
    return done + [t for t in doc["trials"] if t["status"] != "complete"]


def _searched(doc: dict) -> list[str]:
    return list(doc["trials"][0]["params"]) if doc["trials"] else list(doc["space"].get("params", {}))


def _value(v) -> str:
    if isinstance(v, float):
        return f"{v:.3g}" if 1e-3 <= abs(v) < 1e4 or v == 0 else f"{v:.2e}"
    if isinstance(v, list):
        return ",".join(map(str, v))
    return str(v)


def summary(doc: dict) -> Text:
    c = counts(doc)
    prog = doc["progress"]
    head = f"{doc['command']}: {prog['done']}/{prog['requested']} trials"
    if prog.get("interrupted"):
        head += " (interrupted: rerun the same command to resume)"
    text = Text(f"{head} — {c['complete']} complete, {c['diverged']} diverged, {c['failed']} failed; ")
    b = doc["best"]
    if b is None:
        text.append("no best trial", style="red")
    else:
        params = ", ".join(f"{k} {_value(v)}" for k, v in b["params"].items())
        text.append(f"best val_acc {b['val_acc']:.4f}", style="bold green")
        smoothed = f", smoothed {b['score']:.4f}" if b.get("score") is not None else ""
        text.append(f" (#{b['number']}: {params}{smoothed})")
    return text


def top_table(doc: dict, k: int = 10) -> Table:
    """The k best trials in the stage's ranking; with schema 2, its `smoothed` score comes first."""
    names = _searched(doc)
    t = Table(title=f"top {k} trials", header_style="bold", title_justify="left")
    t.add_column("#", justify="right")
    for n in names:
        t.add_column(n, justify="right")
    scored = any(tr.get("score") is not None for tr in doc["trials"])  # schema 2: ranked by the smoothed score
    for col in ("smoothed",) * scored + ("val_acc", "train_acc", "epochs"):
        t.add_column(col, justify="right")
    t.add_column("diagnosis", overflow="fold")
    epochs = doc["space"].get("epochs")
    for tr in ranked(doc)[:k]:
        style = {"complete": "", "diverged": "red", "failed": "magenta"}[tr["status"]]
        kinds = ", ".join(d["kind"] for d in tr.get("diagnosis") or [])
        diag = kinds if tr["status"] == "complete" else f"{tr['status']}: {kinds or (tr.get('error') or '')[:60]}"
        score = (fmt(tr.get("score"), ".4f"),) * scored
        t.add_row(str(tr["number"]), *(_value(tr["params"][n]) for n in names), *score, fmt(tr["val_acc"], ".4f"),
                  fmt(tr.get("train_acc"), ".4f"), f"{tr['epochs_run']}/{epochs}", Text(diag, style=style))
    return t


def _axes(doc: dict) -> list[tuple[str, dict]]:
    """The (up to) two range parameters to plot: lr and reg when searched, else the first ranges."""
    ranges = [(n, p) for n, p in doc["space"].get("params", {}).items() if isinstance(p, dict) and "choices" not in p]
    ranges = [(n, {"low": p.get("low", min(p.get("values", [0]))), "high": p.get("high", max(p.get("values", [1]))),
                   "log": p.get("log", False)}) for n, p in ranges]
    by = dict(ranges)
    pick = [n for n in ("lr", "reg") if n in by] or [n for n, _ in ranges]
    pick += [n for n, _ in ranges if n not in pick]
    return [(n, by[n]) for n in pick[:2]]


def _pos(v: float, ax: dict, cells: int) -> int:
    f = (lambda z: math.log10(z)) if ax["log"] else float
    lo, hi = f(ax["low"]), f(ax["high"])
    x = (f(v) - lo) / (hi - lo) if hi > lo else 0.5
    return min(cells - 1, max(0, int(x * cells)))


def _mark(t: dict) -> tuple[str, str, float]:
    """(character, style, priority) for one trial: a digit of val_acc's tenths, x diverged, ! failed."""
    if t["status"] == "diverged":
        return MARK_DIVERGED, "red", -1.0
    if t["status"] == "failed" or t["val_acc"] is None:
        return MARK_FAILED, "magenta", -2.0
    v = t["val_acc"]
    style = "bold green" if v >= 0.9 else "green" if v >= 0.7 else "yellow" if v >= 0.4 else "dim"
    return str(min(9, int(v * 10))), style, v


def scatter(doc: dict, width: int = 56, height: int = 14) -> Group | Text:
    """val_acc of every trial placed by its (lr, reg) on log axes; one character per cell (its best trial)."""
    axes = _axes(doc)
    if not axes or not doc["trials"]:
        return Text("(no range parameter to plot)", style="dim")
    (xn, xa), (yn, ya) = axes[0], (axes[1] if len(axes) > 1 else (None, None))
    rows = height if yn else 1
    cells: dict[tuple[int, int], tuple[str, str, float]] = {}
    best = doc["best"]["number"] if doc["best"] else None
    for t in doc["trials"]:
        c = _pos(t["params"][xn], xa, width)
        r = rows - 1 - _pos(t["params"][yn], ya, rows) if yn else 0
        mark = _mark(t)
        if t["number"] == best:
            mark = (MARK_BEST, "bold reverse green", 2.0)
        if (r, c) not in cells or mark[2] > cells[(r, c)][2]:
            cells[(r, c)] = mark
    label_w = 8
    lines = []
    title = f"val_acc over {xn} (x{', log' if xa['log'] else ''})"
    title += f" and {yn} (y{', log' if ya['log'] else ''})" if yn else ""
    lines.append(Text(title, style="bold"))
    lines.append(Text(f"digit = val_acc tenths (9 means >= 0.90), {MARK_DIVERGED} diverged, {MARK_FAILED} failed, "
                      f"{MARK_BEST} best", style="dim"))
    for r in range(rows):
        if yn and r == 0:
            label = _value(ya["high"])
        elif yn and r == rows - 1:
            label = _value(ya["low"])
        elif yn and r == rows // 2:
            label = yn
        else:
            label = ""
        line = Text(f"{label:>{label_w}} │")
        for c in range(width):
            ch, style, _ = cells.get((r, c), (" ", "", 0))
            line.append(ch, style=style)
        lines.append(line)
    lines.append(Text(" " * label_w + " └" + "─" * width))
    lo, hi = _value(xa["low"]), _value(xa["high"])
    lines.append(Text(" " * (label_w + 2) + lo + xn.center(width - len(lo) - len(hi)) + hi))
    return Group(*lines)


def best_diagnosis(doc: dict) -> Text:
    """The best trial's diagnosis in words (the table shows only the kinds)."""
    if doc["best"] is None:
        return Text("")
    trial = next(t for t in doc["trials"] if t["number"] == doc["best"]["number"])
    text = Text(f"best trial #{trial['number']}: ", style="bold")
    text.append("; ".join(d["message"] for d in trial.get("diagnosis") or []) or "no diagnosis")
    return text


def warnings_lines(doc: dict) -> list[str]:
    return [w["message"] for w in doc["warnings"]]


def report(doc: dict, k: int = 10) -> Group:
    """Everything `hpsearch report` and the end of a search show."""
    parts = [summary(doc), Text(""), top_table(doc, k), best_diagnosis(doc), Text(""), scatter(doc)]
    narrowed = doc["settings"].get("narrowed")
    if narrowed:
        parts.insert(1, narrowed_text(narrowed))
    return Group(*parts)


def narrowed_text(narrowed: dict) -> Text:
    how = ("to the good region of the parent's verdict" if narrowed.get("basis") == "verdict" else
           f"around the top {narrowed['top_k']} trials of the parent")
    text = Text(f"narrowed {how}:\n", style="dim")
    for name, ch in narrowed["params"].items():
        if ch["kind"] == "choice":
            to, frm = _value(ch["to"]), _value(ch["from"])
        else:
            frm = f"[{_value(ch['from'][0])}, {_value(ch['from'][1])}]" if ch["kind"] == "range" or not isinstance(
                ch["from"][0], (str, list, bool)) else _value(ch["from"])
            to = f"[{_value(ch['to'][0])}, {_value(ch['to'][1])}]" if ch["kind"] == "range" else f"fixed at {_value(ch['to'])}"
        ext = (f" (extended past the {ch['extended']} edge)" if ch.get("extended") else
               f" (moved {'up' if ch['moved'] == 'high' else 'down'}, as the verdict suggests)" if ch.get("moved")
               else "")
        text.append(f"  {name}: {frm} -> {to}{ext}\n", style="dim")
    return text
