"""One stage of the HTML report: its results document read into what the page draws (searched parameters,
ranked trials, the hover data). Reads the document defensively: version 1 files lack scores, curves and
verdict fields, and nothing here assumes a field beyond what validate.py requires.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from hpsearch.config.plain import is_number
from hpsearch.report import search as search_report

TOP = 5  # learning curves drawn per stage (the best trials)


@dataclass(frozen=True)
class Param:
    name: str  # the searched TrainConfig key
    kind: str  # "range" | "choice"
    low: float = 0.0  # a range's domain (from the space, widened to every trial's value)
    high: float = 1.0
    log: bool = False  # a log10 range (lr, reg): drawn on a log axis
    choices: tuple = ()  # a choice's options, as labels


@dataclass(frozen=True)
class Stage:
    index: int  # position on the page; SVG marks carry it (data-s) so the hover finds the trial
    label: str  # "coarse (coarse.json)": the column's title
    path: str  # the file as given
    doc: dict  # the results document
    params: tuple[Param, ...]  # searched parameters, lr and reg first
    ranked: tuple[int, ...]  # indices into doc["trials"], best first (the stage's ranking)
    best: int | None  # index of the best trial


def label(v) -> str:
    """A parameter value as a short label (choices, tooltips)."""
    from hpsearch.report.html_svg import num

    if isinstance(v, float):
        return num(v)
    if isinstance(v, list):
        return "[" + ", ".join(map(label, v)) + "]"
    return str(v)


def _params(doc: dict) -> tuple[Param, ...]:
    raw = doc.get("space", {}).get("params", {})
    names = list(doc["trials"][0]["params"]) if doc["trials"] else [n for n, p in raw.items() if isinstance(p, dict)]
    out = []
    for name in names:
        spec = raw.get(name) if isinstance(raw.get(name), dict) else {}
        values = [t["params"].get(name) for t in doc["trials"]]
        nums = [v for v in values if is_number(v)]
        if "choices" in spec or (values and len(nums) < len(values)):
            opts = [label(c) for c in spec.get("choices", [])]
            opts += [label(v) for v in values if label(v) not in opts]
            out.append(Param(name, "choice", choices=tuple(opts)))
            continue
        log = bool(spec.get("log", False))
        bounds = [v for v in (spec.get("low"), spec.get("high"), *(spec.get("values") or [])) if is_number(v)]
        span = [v for v in bounds + nums if not log or v > 0]
        if not span:
            continue
        out.append(Param(name, "range", low=min(span), high=max(span), log=log))
    order = {"lr": 0, "reg": 1}
    return tuple(sorted(out, key=lambda p: order.get(p.name, 2)))


def stage(index: int, path: str, doc: dict) -> Stage:
    trials = doc["trials"]
    pos = {id(t): i for i, t in enumerate(trials)}
    ranked = tuple(pos[id(t)] for t in search_report.ranked(doc))
    best_no = (doc.get("best") or {}).get("number")
    best = next((i for i, t in enumerate(trials) if t["number"] == best_no), None)
    return Stage(index, f"{doc.get('command', 'stage')} ({Path(path).name})", path, doc, _params(doc), ranked, best)


def complete(st: Stage) -> list[int]:
    return [i for i, t in enumerate(st.doc["trials"]) if t["status"] == "complete" and is_number(t.get("val_acc"))]


def top(st: Stage, k: int = TOP) -> list[int]:
    """The k best complete trials."""
    done = set(complete(st))
    return [i for i in st.ranked if i in done][:k]


def diagnosis(t: dict) -> list[str]:
    return [f"{d.get('kind', '?')}: {d.get('message', '')}" for d in t.get("diagnosis") or [] if isinstance(d, dict)]


def hover_data(st: Stage) -> dict:
    """What a tooltip shows for each trial (index = data-t), plain JSON."""
    epochs = st.doc.get("space", {}).get("epochs")
    rows = []
    for t in st.doc["trials"]:
        extra = []
        if t.get("error"):
            extra.append(f"error: {str(t['error'])[:300]}")
        stop = t.get("stopped_at")
        if isinstance(stop, dict) and stop.get("reason"):
            extra.append(f"stopped at epoch {stop.get('epoch', '?')}: {stop['reason']}")
        rows.append({
            "n": t["number"], "st": t["status"],
            "p": [[k, label(v)] for k, v in t["params"].items()],
            "v": t.get("val_acc"), "tr": t.get("train_acc"), "sc": t.get("score"),
            "e": f"{t.get('epochs_run', '?')}/{epochs if epochs is not None else '?'}",
            "d": diagnosis(t) + extra,
        })
    return {"label": st.label, "trials": rows}


def script_json(obj) -> str:
    """JSON safe inside a <script type="application/json"> element: no `<`, `>` or `&` can end it or open a
    comment, and the line separators JS once treated as newlines are escaped too."""
    text = json.dumps(obj, allow_nan=False, separators=(",", ":"), default=str)
    for ch, rep in (("&", "\\u0026"), ("<", "\\u003c"), (">", "\\u003e"), ("\u2028", "\\u2028"),
                    ("\u2029", "\\u2029")):
        text = text.replace(ch, rep)
    return text
