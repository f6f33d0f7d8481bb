"""`hpsearch report FILE... --html report.html`: one self-contained HTML page (no server, no CDN, works offline)
with each stage's summary, verdicts, top trials and pictures (html_plots.py); several results files show
their stages side by side. Pure: documents in, a string out.

A results file is user input: every string from it is escaped for HTML (html_svg.esc) or for the JSON the
hover script reads (html_stage.script_json), and the script writes it with textContent only.
"""

from __future__ import annotations

import base64
import hashlib
from importlib import resources

from hpsearch.config.plain import fmt, strict
from hpsearch.config.train import default_init
from hpsearch.report import html_plots as plots
from hpsearch.report import search as search_report
from hpsearch.report.html_stage import Stage, complete, diagnosis, hover_data, label, script_json, stage
from hpsearch.report.html_svg import esc

TABLE_ROWS = 10  # rows of each stage's top-trials table


def render(docs: list[tuple[str, dict]]) -> str:
    """The page for (path, results document) pairs, in the order given (coarse, then fine)."""
    if not docs:
        raise ValueError("render needs at least one results document")
    stages = [stage(i, path, doc) for i, (path, doc) in enumerate(docs)]
    many = len(stages) > 1
    parts = [_head(stages), "<main>"]
    parts.append(_row("Summary", [_summary(st) for st in stages], stages))
    parts.append(_row("Verdicts", [_verdicts(st) for st in stages], stages))
    figures = _figures(stages)
    if many:
        for k, (title, cells) in enumerate(figures):
            parts.append(_row(title, cells, stages, legend=k == 0 or title == "val_acc map"))
    else:
        flow = "".join(f'<div class="cell" data-s="0">{c}</div>' for _, (c,) in figures if c)
        parts.append(f'<section><h2>Plots</h2><div class="flow">{flow}</div>{_legend()}</section>')
    parts.append(_row(f"Top {TABLE_ROWS} trials", [_table(st) for st in stages], stages))
    parts.append("</main>")
    data = script_json(strict([hover_data(st) for st in stages]))
    parts.append('<footer>Written by hpsearch. Hover a point, a curve or a table row to see its trial; every mark of '
                 'that trial lights up.</footer>')
    parts.append(f'<script type="application/json" id="hp-data">{data}</script>')
    parts.append(f"<script>{_asset('report.js')}</script></body></html>\n")
    return "".join(parts)


def _script_hash() -> str:
    """The CSP source of the page's one script: nothing else runs, even if an escape were ever missed."""
    digest = hashlib.sha256(_asset("report.js").encode("utf-8")).digest()
    return f"'sha256-{base64.b64encode(digest).decode()}'"


def _asset(name: str) -> str:
    return resources.files("hpsearch.report").joinpath("assets", name).read_text(encoding="utf-8")


def _head(stages: list[Stage]) -> str:
    names = " + ".join(st.label for st in stages)
    files = ", ".join(st.path for st in stages)
    return ('<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
            f"style-src 'unsafe-inline'; script-src {_script_hash()}\">"
            f"<title>hpsearch report: {esc(names)}</title><style>{_asset('report.css')}</style></head><body>"
            f"<header><h1>hpsearch report</h1><p>{esc(files)}</p></header>")


def _row(title: str, cells: list[str | None], stages: list[Stage], legend: bool = False) -> str:
    """A section: one cell per stage, side by side."""
    body = "".join(f'<div class="cell" data-s="{st.index}"><h3>{esc(st.label)}</h3>'
                   f'{c or _empty("not in this stage")}</div>' for st, c in zip(stages, cells))
    legend = _legend() if legend else ""
    return f'<section><h2>{esc(title)}</h2><div class="row" style="--n:{len(stages)}">{body}</div>{legend}</section>'


def _empty(text: str) -> str:
    return f'<p class="empty">{esc(text)}</p>'


def _legend() -> str:
    return ('<p class="legend"><span class="k">\u25cf complete trial (the best in orange)</span>'
            '<span class="k" style="color:#d62728">\u00d7 diverged</span>'
            '<span class="k" style="color:#8e44ad">\u25b3 failed</span>'
            '<span class="k" style="color:#1f6feb">shaded / dashed: the range a later stage searched</span></p>')


def _figures(stages: list[Stage]) -> list[tuple[str, list[str | None]]]:
    """(section title, one SVG or None per stage) for every picture, parameters in the order first seen."""
    names: list[str] = []
    for st in stages:
        names += [p.name for p in st.params if p.name not in names]
    out = []
    for name in names:
        cells = []
        for st in stages:
            p = next((p for p in st.params if p.name == name), None)
            later = [(o.doc.get("command", "later"), q) for o in stages[st.index + 1:] for q in o.params
                     if q.name == name]
            cells.append(plots.slice_plot(st, p, later) if p else None)
        out.append((f"val_acc over {name}", cells))
    cells = []
    for st in stages:
        axes = plots.map_axes(st)
        later = []
        for o in stages[st.index + 1:]:
            oa = plots.map_axes(o)
            if axes and oa and (oa[0].name, oa[1].name) == (axes[0].name, axes[1].name):
                later.append((o.doc.get("command", "later"), oa[0], oa[1]))
        cells.append(plots.map_plot(st, later))
    if any(cells):
        out.append(("val_acc map", cells))
    out.append(("accuracy per epoch", [plots.curves_plot(st, "acc") or _empty(
        "no per-epoch curves in this file (written before hpsearch recorded them, or no trial completed)")
        for st in stages]))
    loss = [plots.curves_plot(st, "loss") for st in stages]
    if any(loss):
        out.append(("training loss", [c or _empty("no loss curves in this file") for c in loss]))
    return out


def _summary(st: Stage) -> str:
    d = st.doc
    c = search_report.counts(d)
    prog = d.get("progress") or {}
    kv = [("file", esc(st.path))]
    done = f"{prog.get('done', len(d['trials']))}/{prog.get('requested', '?')}"
    if prog.get("interrupted"):
        done += " (interrupted: rerun the same command to resume)"
    kv.append(("trials", esc(done)))
    outcome = (f'<span class="counts">{c["complete"]} complete, <span class="div">{c["diverged"]} diverged</span>, '
               f'<span class="fail">{c["failed"]} failed</span></span>')
    kv.append(("outcome", outcome))
    b = d.get("best")
    if b:
        params = ", ".join(f"{k} {label(v)}" for k, v in (b.get("params") or {}).items())
        score = f", smoothed {fmt(b.get('score'), '.4f')}" if b.get("score") is not None else ""
        about = esc(f"(trial #{b.get('number')}: {params}{score})")
        kv.append(("best", f'<span class="best">val_acc {fmt(b.get("val_acc"), ".4f")}</span> {about}'))
        said = diagnosis(d["trials"][st.best]) if st.best is not None else []
        if said:
            kv.append(("best trial's curves", esc("; ".join(x.split(": ", 1)[-1] for x in said))))
    else:
        kv.append(("best", '<span class="div">no trial completed</span>'))
    data = d.get("data") or {}
    shape = ", ".join(f"{data[k]} {k.replace('_', ' ')}"
                      for k in ("train_samples", "val_samples", "features", "classes") if k in data)
    kv.append(("data", esc(f"{data.get('name') or data.get('spec', '?')}" + (f" ({shape})" if shape else ""))))
    space = d.get("space") or {}
    settings = d.get("settings") or {}
    sampler = space.get("sampler", settings.get("sampler", "?"))
    kv.append(("search", esc(f"{sampler} sampler, {space.get('epochs', '?')} epochs a trial, "
                             f"seed {settings.get('seed', '?')}")))
    searched = ", ".join(_range_text(p) for p in st.params)
    kv.append(("searched", esc(searched or "nothing")))
    fixed = d.get("fixed") or {}
    shown = {k: fixed[k] for k in ("hidden", "activation", "optimizer", "batch_size") if k in fixed}
    if "init" in fixed:  # the init the trials used (null: the activation's default)
        init = fixed["init"]
        if init is None:
            init = (default_init(fixed["activation"]) if "activation" in fixed
                    else "he for the ReLU family, else xavier")  # (activation searched)
        shown["init"] = init
    if fixed.get("init", "small") == "small" and "init_scale" in fixed:  # the scale applies to the small init only
        shown["init_scale"] = fixed["init_scale"]  # (init fixed at small, or searched)
    if "dropout" in fixed:
        shown["dropout"] = fixed["dropout"]
    if shown:
        kv.append(("fixed", esc(", ".join(f"{k} {label(v)}" for k, v in shown.items()))))
    narrowed = settings.get("narrowed")
    if isinstance(narrowed, dict):
        kv.append(("narrowed", esc(_narrowed(narrowed))))
    parent = d.get("parent")
    if isinstance(parent, dict) and parent.get("path"):
        kv.append(("parent", esc(parent["path"])))
    rows = "".join(f"<dt>{esc(k)}</dt><dd>{v}</dd>" for k, v in kv)
    return f'<dl class="kv">{rows}</dl>'


def _narrowed(narrowed: dict) -> str:
    """report/search.py's narrowing lines as one line: "how: lr [a, b] -> [c, d]; reg ..."."""
    head, *lines = search_report.narrowed_text(narrowed).plain.strip().splitlines()
    return f"{head.rstrip(':')}: " + "; ".join(line.strip() for line in lines)


def _range_text(p) -> str:
    if p.kind == "choice":
        return f"{p.name} in {{{', '.join(p.choices)}}}"
    return f"{p.name} {label(p.low)}..{label(p.high)}{' (log)' if p.log else ''}"


def _verdicts(st: Stage) -> str:
    warnings = [w for w in st.doc.get("warnings") or [] if isinstance(w, dict)]
    if not warnings:
        return '<p class="ok">No warnings: no range needs moving and the search learned.</p>'
    out = []
    for w in warnings:
        sug = w.get("suggested") if isinstance(w.get("suggested"), dict) else None
        meta = [f"param {w['param']}" if w.get("param") else None,
                f"better values past the {w['edge']} edge" if w.get("edge") else None,
                f"suggested range {label(sug.get('low'))}..{label(sug.get('high'))}" if sug else None]
        meta_text = " \u00b7 ".join(m for m in meta if m)
        ev = f'<div class="evidence">evidence: {esc(w["evidence"])}</div>' if w.get("evidence") else ""
        out.append(f'<div class="verdict"><span class="kind">{esc(w.get("kind", "warning"))}</span>'
                   f'{" <span class=meta>" + esc(meta_text) + "</span>" if meta_text else ""}'
                   f'<div>{esc(w.get("message", ""))}</div>{ev}</div>')
    return "".join(out)


def _table(st: Stage) -> str:
    d = st.doc
    names = [p.name for p in st.params]
    scored = any(t.get("score") is not None for t in d["trials"])
    epochs = (d.get("space") or {}).get("epochs", "?")
    head = ["rank", "#"] + names + (["smoothed"] if scored else []) + ["val_acc", "train_acc", "epochs"]
    th = "".join(f"<th>{esc(h)}</th>" for h in head) + '<th class="diag">diagnosis</th>'
    rows = []
    done = set(complete(st))
    for rank, i in enumerate(st.ranked[:TABLE_ROWS], 1):
        t = d["trials"][i]
        cells = [str(rank) if i in done else "-", f"{t['number']}"]
        cells += [label(t["params"].get(n)) for n in names]
        cells += [fmt(t.get("score"), ".4f")] if scored else []
        cells += [fmt(t.get("val_acc"), ".4f"), fmt(t.get("train_acc"), ".4f"),
                  f"{t.get('epochs_run', '?')}/{epochs}"]
        diag = "; ".join(x.split(": ", 1)[0] for x in diagnosis(t))
        status = diag if t["status"] == "complete" else f"{t['status']}: {diag or str(t.get('error') or '')[:80]}"
        best = ' class="bestrow"' if i == st.best else ""
        tds = "".join(f"<td>{esc(c)}</td>" for c in cells)
        rows.append(f'<tr class="st-{esc(t["status"])}" data-t="{i}"{best}>{tds}'
                    f'<td class="diag">{esc(status)}</td></tr>')
    if not rows:
        return _empty("no trials")
    return f'<div class="tablewrap"><table><thead><tr>{th}</tr></thead><tbody>{"".join(rows)}</tbody></table></div>'
