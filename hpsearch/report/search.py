"""Rich renderables for a search's results document: summary, top-k table, the slice plots and the lr x reg
map (report/space_plots.py), the top trials' curves (report/plots.py). Pure: builds objects, never prints.
"""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text

from hpsearch.config.plain import cell, fmt
from hpsearch.results.ranking import ranked  # noqa: F401 - the stage ranking, as html_stage and cli.report call it


def counts(doc: dict) -> dict:
    out = {"complete": 0, "diverged": 0, "failed": 0}
    for t in doc["trials"]:
        out[t["status"]] = out.get(t["status"], 0) + 1
    return out


def _searched(doc: dict) -> list[str]:
    return list(doc["trials"][0]["params"]) if doc["trials"] else list(doc["space"].get("params", {}))


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
        params = ", ".join(f"{k} {cell(v)}" for k, v in b["params"].items())
        text.append(f"best val_acc {fmt(b['val_acc'], '.4f')}", style="bold green")
        smoothed = f", smoothed {b['score']:.4f}" if b.get("score") is not None else ""
        text.append(f" (#{b['number']}: {params}{smoothed})")
    hv = doc["settings"].get("halving")  # coarse --halving: a line per rung
    for k, r in enumerate(hv["rungs"] if isinstance(hv, dict) else ()):
        ts = [t for t in doc["trials"] if t.get("rung") == k]
        on = f", {sum(bool(t.get('promoted')) for t in ts)} promoted" if k + 1 < len(hv["rungs"]) else ""
        text.append(f"\n  rung {k}: {len(ts)}/{r['count']} trials x {r['epochs']} epoch(s){on}"
                    + (f" (halving rate {hv['rate']})" if k == 0 else ""))
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
        t.add_row(str(tr["number"]), *(cell(tr["params"][n]) for n in names), *score, fmt(tr["val_acc"], ".4f"),
                  fmt(tr.get("train_acc"), ".4f"), f"{tr['epochs_run']}/{epochs}", Text(diag, style=style))
    return t


def scatter(doc: dict, width: int | None = None, height: int | None = None):
    """The lr x reg map (report/space_plots.py): at the console's width unless `width` is given."""
    from hpsearch.report import space_plots

    return space_plots.lr_reg_map(doc, width, height)


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


def report(doc: dict, k: int = 10, width: int | None = None, curves: int = 0) -> Group:
    """Everything `hpsearch report` and the end of a search show: the pictures at the console's width (or
    `width`); `curves` > 0 adds the learning curves of that many top trials (`report --curves`)."""
    from hpsearch.report import plots, space_plots

    parts = [summary(doc), Text(""), top_table(doc, k), best_diagnosis(doc), Text(""),
             space_plots.slices(doc, width), Text(""), scatter(doc, width)]
    if curves > 0:
        parts += [Text(""), plots.curves(doc, curves, width)]
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
            to, frm = cell(ch["to"]), cell(ch["from"])
        else:
            frm = f"[{cell(ch['from'][0])}, {cell(ch['from'][1])}]" if ch["kind"] == "range" or not isinstance(
                ch["from"][0], (str, list, bool)) else cell(ch["from"])
            to = f"[{cell(ch['to'][0])}, {cell(ch['to'][1])}]" if ch["kind"] == "range" else f"fixed at {cell(ch['to'])}"
        ext = (f" (extended past the {ch['extended']} edge)" if ch.get("extended") else
               f" (moved {'up' if ch['moved'] == 'high' else 'down'}, as the verdict suggests)" if ch.get("moved")
               else "")
        text.append(f"  {name}: {frm} -> {to}{ext}\n", style="dim")
    return text
