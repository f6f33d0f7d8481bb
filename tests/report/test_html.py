"""report/html.py without a browser: the page's structure, what each plot draws, escaping of everything a results
file holds, two stages side by side, documents with and without curves, a version 1 file."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import math
from html.parser import HTMLParser

import pytest

from hpsearch.report import html, html_svg
from hpsearch.results import file as results_file

EVIL = '</script><img src=x onerror="alert(1)"><script>alert(2)</script>&amp;'


class Page(HTMLParser):
    """Every element (tag, attributes, enclosing SVG's stage cell) and the page's text, as a browser parses it."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.elements, self.text, self.scripts, self._script = [], [], [], None
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))
        if tag == "script":
            self._script = []

    def handle_endtag(self, tag):
        if tag == "script" and self._script is not None:
            self.scripts.append(("".join(self._script), self.elements_with("script")[-1][1]))
            self._script = None

    def handle_data(self, data):
        (self._script if self._script is not None else self.text).append(data)

    def elements_with(self, tag, **attrs):
        return [(t, a) for t, a in self.elements if t == tag and all(a.get(k) == v for k, v in attrs.items())]

    def data(self) -> list[dict]:
        return json.loads(next(s for s, a in self.scripts if a.get("id") == "hp-data"))


def doc(command="coarse", n=12, curves=True, version=2, seed=0) -> dict:
    """A valid results document: lr x reg x activation, some trials diverged, one failed."""
    trials = []
    for k in range(n):
        lr, reg = 10 ** (-5 + 5 * ((k * 7 + seed) % n) / n), 10 ** (-4 + 5 * ((k * 5 + seed) % n) / n)
        status = "diverged" if lr > 0.3 else "failed" if k == 3 else "complete"
        acc = None if status != "complete" else round(0.1 + 0.8 * math.exp(-((math.log10(lr) + 2) ** 2) / 2), 4)
        t = {"number": k, "params": {"lr": lr, "reg": reg, "activation": ["relu", "tanh"][k % 2]}, "status": status,
             "val_acc": acc, "train_acc": acc, "epochs_run": 3 if acc else 1, "seconds": 0.1,
             "diagnosis": [{"kind": "healthy", "message": "no problem seen"}], "error": "boom" if k == 3 else None}
        if curves and acc is not None:
            t["val_curve"] = [acc / 3, acc / 2, acc]
        if version == 2:
            t["score"] = acc
        trials.append(t)
    done = [t for t in trials if t["status"] == "complete"]
    b = max(done, key=lambda t: t["val_acc"])
    d = {
        "schema_version": version, "command": command, "settings": {"seed": 0, "sampler": "random"},
        "data": {"spec": "digits", "fingerprint": "abc", "name": "digits", "classes": 10},
        "space": {"sampler": "random", "trials": n, "epochs": 3, "params": {
            "lr": {"low": 1e-5, "high": 1.0, "log": True}, "reg": {"low": 1e-4, "high": 10.0, "log": True},
            "activation": {"choices": ["relu", "tanh"]}, "hidden": [10]}},
        "fixed": {"hidden": [10], "epochs": 3},
        "parent": None, "progress": {"requested": n, "done": n, "interrupted": False},
        "trials": trials, "best": {"number": b["number"], "params": dict(b["params"]), "val_acc": b["val_acc"]},
        "warnings": [{"kind": "boundary", "param": "lr", "edge": "high", "message": "lr peaks at the high edge",
                      "suggested": {"low": 0.01, "high": 10.0}, "evidence": "val_acc rises by 0.2 toward 1"}],
    }
    if version == 1:
        d["warnings"] = [{"kind": "boundary", "message": "best lr at the high edge"}]
    return d


def fine_doc() -> dict:
    d = doc("fine", n=8, seed=3)
    d["space"]["params"]["lr"] = {"low": 1e-3, "high": 0.1, "log": True}
    d["space"]["params"]["reg"] = {"low": 1e-3, "high": 1.0, "log": True}
    for k, t in enumerate(d["trials"]):
        t["params"]["lr"], t["params"]["reg"] = 10 ** (-3 + 2 * k / 8), 10 ** (-3 + 3 * k / 8)
        t["status"], t["val_acc"], t["error"] = "complete", 0.9 + k / 100, None
        t["val_curve"] = [0.5, 0.8, t["val_acc"]]
    d["best"] = {"number": 7, "params": dict(d["trials"][7]["params"]), "val_acc": 0.97}
    d["warnings"] = []
    return d


def page(*docs, paths=None) -> Page:
    paths = paths or [f"{d['command']}.json" for d in docs]
    return Page(html.render(list(zip(paths, docs))))


def plots(p: Page, stage: int) -> list[list[tuple[str, dict]]]:
    """The marks of each SVG plot of one stage cell, in page order."""
    out, cell, current = [], None, None
    for tag, a in p.elements:
        if tag == "div" and "cell" in a.get("class", ""):
            cell = a.get("data-s")
        elif tag == "svg":
            current = [] if cell == str(stage) else None
            if current is not None:
                out.append(current)
        elif current is not None and "data-t" in a:
            current.append((tag, a))
    return out


def test_the_page_is_one_self_contained_file(tmp_path):
    d = doc()
    text = html.render([("coarse.json", d)])
    p = Page(text)
    assert text.startswith("<!DOCTYPE html>") and text.endswith("</html>\n")
    refs = [a for _, a in p.elements for k in ("src", "href") if k in a] + p.elements_with("link")
    assert refs == []  # nothing fetched: no CDN, no server, works offline
    assert len(p.scripts) == 2 and all("src" not in a for _, a in p.scripts)
    assert len(p.elements_with("style")) == 1
    policy = next(a["content"] for t, a in p.elements_with("meta") if a.get("http-equiv") == "Content-Security-Policy")
    own = next(s for s, a in p.scripts if "id" not in a)
    digest = base64.b64encode(hashlib.sha256(own.encode()).digest()).decode()
    directives = {d.split()[0]: d.split()[1:] for d in policy.split(";") if d.strip()}
    assert directives["script-src"] == [f"'sha256-{digest}'"] and directives["default-src"] == ["'none'"]
    data = p.data()
    assert [t["n"] for t in data[0]["trials"]] == [t["number"] for t in d["trials"]]
    body = "".join(p.text)
    for needle in ("Summary", "Verdicts", "Top 10 trials", "val_acc over lr", "val_acc over lr \u00d7 reg",
                   "val_acc over activation", "accuracy per epoch, top trials", "lr peaks at the high edge",
                   "val_acc rises by 0.2 toward 1", "suggested range 0.01..10", "better values past the high edge"):
        assert needle in body, needle


@pytest.mark.parametrize("fixed, shown, hidden", [
    ({"activation": "relu", "init": None, "init_scale": 0.01}, "init he", "init_scale"),
    ({"activation": "tanh", "init": None, "init_scale": 0.01}, "init xavier", "init_scale"),
    ({"activation": "relu", "init": "small", "init_scale": 0.05}, "init small, init_scale 0.05", None),
    ({"init": None, "init_scale": 0.01}, "init he for the ReLU family, else xavier", "init_scale"),  # activation
    ({"activation": "relu", "init_scale": 0.02}, "init_scale 0.02", "init he"),  # init searched
])
def test_the_fixed_settings_name_the_init_the_trials_used(fixed, shown, hidden):
    # a null init is the activation's default; init_scale only applies to the small init
    d = doc()
    d["fixed"] = {k: v for k, v in d.get("fixed", {}).items() if k not in ("activation", "init", "init_scale")}
    d["fixed"].update(fixed)  # a key left out is searched
    body = "".join(Page(html.render([("coarse.json", d)])).text)
    assert shown in body
    assert hidden is None or hidden not in body


def test_each_plot_marks_every_trial_by_its_status():
    d = doc()
    p = page(d)
    status = [t["status"] for t in d["trials"]]
    slices_and_map = plots(p, 0)[:4]  # lr, reg, activation, lr x reg
    for marks in slices_and_map:
        assert sorted(int(a["data-t"]) for _, a in marks) == list(range(len(status)))
        for _, a in marks:
            kind = {"complete": "pt", "diverged": "div", "failed": "fail"}[status[int(a["data-t"])]]
            assert kind in a["class"].split(), (a, status[int(a["data-t"])])
    best = next(i for i, t in enumerate(d["trials"]) if t["number"] == d["best"]["number"])
    assert all(any("best" in a["class"] and a["data-t"] == str(best) for _, a in m) for m in slices_and_map)
    curves = plots(p, 0)[4]
    top = {a["data-t"] for t, a in curves if t == "polyline"}
    assert len(top) == 5  # the five best complete trials


def test_log_axes_have_decade_ticks_and_linear_ones_round_steps():
    log = html_svg.Scale(1e-6, 1.0, 0, 100, log=True).ticks()
    assert [label for _, label in log] == ["1e-6", "1e-5", "1e-4", "0.001", "0.01", "0.1", "1"]
    narrow = [label for _, label in html_svg.Scale(0.005, 0.3, 0, 100, log=True).ticks()]
    assert narrow[:3] == ["0.005", "0.01", "0.02"] and len(narrow) >= 4
    lin = [v for v, _ in html_svg.Scale(0.91, 0.985, 0, 100).ticks(6)]
    assert lin == pytest.approx([0.92, 0.94, 0.96, 0.98])
    s = html_svg.Scale(1e-4, 1e2, 10, 110, log=True)
    assert s(1e-4) == 10 and s(1e2) == 110 and s(1e-1) == pytest.approx(60)


def test_everything_from_the_file_is_escaped():
    d = doc()
    d["warnings"] = [{"kind": EVIL, "param": EVIL, "edge": "high", "message": EVIL, "evidence": EVIL,
                      "suggested": {"low": EVIL, "high": 1}}]
    d["trials"][0]["diagnosis"] = [{"kind": EVIL, "message": EVIL}]
    d["trials"][3]["error"] = EVIL
    d["data"]["name"] = EVIL
    d["settings"]["narrowed"] = {"top_k": 1, "basis": EVIL, "params": {}}
    for t in [*d["trials"], d["best"]]:  # a parameter name and a choice value (validation would refuse them)
        t["params"][EVIL] = t["params"].pop("activation")
        t["params"][EVIL] = EVIL if t["params"][EVIL] == "relu" else "tanh"
    d["space"]["params"][EVIL] = {"choices": [EVIL, "tanh"]}
    text = html.render([(EVIL, d)])
    p = Page(text)
    assert [t for t, _ in p.elements if t in ("img", "iframe", "object")] == []
    assert not [(t, k) for t, a in p.elements for k in a if k.startswith("on")]
    assert len(p.scripts) == 2  # the data and the page's own script; none from the file
    assert "".join(p.text).count(EVIL) >= 5  # shown as text: path, kind, message, evidence, data, plot titles
    data = p.data()  # survives the JSON round trip unchanged
    assert data[0]["trials"][3]["d"][-1] == f"error: {EVIL}" and [EVIL, EVIL] in data[0]["trials"][0]["p"]
    assert "\u2028" not in html.render([("a\u2028b.json", doc())]).split('id="hp-data">', 1)[1]


def test_two_stages_side_by_side_with_the_later_range_drawn_on_the_earlier():
    p = page(doc(), fine_doc())
    rows = [a for t, a in p.elements if t == "div" and a.get("class") == "row"]
    assert rows and all(a["style"] == "--n:2" for a in rows)
    cells = [a["data-s"] for t, a in p.elements if t == "div" and "cell" in a.get("class", "").split()]
    assert cells.count("0") == cells.count("1") == len(rows)
    bands = [a for t, a in p.elements if t == "rect" and a.get("class") in ("band", "box")]
    assert len(bands) == 3  # lr and reg slices and the map of the coarse stage; none on the fine one
    text = "".join(p.text)
    assert "fine range" in text and "coarse (coarse.json)" in text and "fine (fine.json)" in text
    assert [len(m) for m in plots(p, 1)[:4]] == [8, 8, 8, 8]


def test_a_document_without_curves_says_so_and_with_loss_and_train_curves_draws_them():
    bare = page(doc(curves=False))
    assert not bare.elements_with("polyline")
    assert "no per-epoch curves in this file" in "".join(bare.text)
    d = doc()
    for t in d["trials"]:
        if t["status"] == "complete":
            t["train_curve"] = [min(1, v + 0.05) for v in t["val_curve"]]
            t["loss_curve"] = [2.3 * 0.7 ** j for j in range(40)]
    p = page(d)
    lines = p.elements_with("polyline")
    assert len([a for _, a in lines if "dash" in a["class"]]) == 5  # train curves, dashed
    assert len(lines) == 15  # val + train + loss for the top five
    text = "".join(p.text)
    assert "training loss, top trials" in text and "solid: val, dashed: train" in text


def test_a_version_1_results_file(tmp_path):
    d = doc(version=1)
    for t in d["trials"]:
        for key in ("val_curve", "seconds", "diagnosis", "train_acc"):
            t.pop(key, None)
    path = tmp_path / "v1.json"
    results_file.write(path, d)
    p = Page(html.render([(str(path), results_file.read(path))]))
    heads = [t for t, _ in p.elements if t == "th"]
    assert len(heads) == 9  # rank # lr reg activation val_acc train_acc epochs diagnosis: no smoothed
    text = "".join(p.text)
    assert "smoothed" not in text and "best lr at the high edge" in text
    assert "no per-epoch curves in this file" in text
    assert len(plots(p, 0)) == 4


def test_an_all_diverged_stage_and_no_documents():
    d = doc()
    for t in d["trials"]:
        t.update(status="diverged", val_acc=None, score=None)
        t.pop("val_curve", None)
    d["best"] = None
    p = page(d)
    assert "no trial completed" in "".join(p.text)
    assert all(all("div" in a["class"] for _, a in m) for m in plots(p, 0)[:4])
    with pytest.raises(ValueError):
        html.render([])


def test_rendering_leaves_the_document_unchanged():
    d = doc()
    before = copy.deepcopy(d)
    html.render([("a.json", d), ("b.json", d)])
    assert d == before
