"""The HTML report in a real headless browser (Debian's chromium): a report of a real coarse + fine search loads
with no console error, its plots are in the DOM after the scripts ran, hovering a point shows its trial, a
hostile results file runs nothing, and a screenshot is written (HPSEARCH_SCREENSHOT_DIR keeps it).

Chromium is driven over the DevTools protocol on a pipe (--remote-debugging-pipe: fds 3 and 4, messages ended
by NUL), so no extra package is needed. Without chromium they skip and say why (the README's test command works on
a fresh machine), as the PostgreSQL tests do; under HPSEARCH_REQUIRE_BROWSER=1 (set by .ci/run, which installs
chromium) they fail instead, so CI never skips them silently.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from hpsearch.cli import app
from hpsearch.report import html
from hpsearch.results import file as results_file

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
TIMEOUT = 30.0  # seconds for any one protocol answer (two shared cores, a cold browser)


def _browser() -> str:
    exe = next((shutil.which(b) for b in BROWSERS if shutil.which(b)), None)
    if exe is None:
        if os.environ.get("HPSEARCH_REQUIRE_BROWSER") == "1":
            pytest.fail("chromium is needed for the HTML report tests (HPSEARCH_REQUIRE_BROWSER=1): "
                        "apt-get install chromium")
        pytest.skip("no chromium: the HTML report's browser tests need it (apt-get install chromium)")
    return exe


def _above(fd: int, low: int) -> int:
    new = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, low)
    os.close(fd)
    return new


class Chromium:
    """Just enough of the DevTools protocol: call a method, collect events, in one page."""

    def __init__(self, exe: str, profile: Path, width: int = 1440, height: int = 900):
        to_browser_r, self._w = os.pipe()
        self._r, from_browser_w = os.pipe()
        # the child's ends above 4, so that moving them onto 3 and 4 cannot overwrite one with the other
        to_browser_r, from_browser_w = (_above(fd, 10) for fd in (to_browser_r, from_browser_w))
        # put them on fds 3 and 4 (what --remote-debugging-pipe uses), then become chromium (sh's redirections
        # stop at fd 9)
        move = ("import os, sys; os.dup2(int(sys.argv[1]), 3); os.dup2(int(sys.argv[2]), 4); "
                "os.execv(sys.argv[3], sys.argv[3:])")
        self.log = profile / "chromium.log"
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", move, str(to_browser_r), str(from_browser_w), exe, "--headless", "--no-sandbox",
                 "--disable-gpu", "--remote-debugging-pipe", "--no-first-run", "--no-default-browser-check",
                 "--disable-extensions", "--mute-audio",
                 f"--user-data-dir={profile / 'data'}", f"--window-size={width},{height}", "--hide-scrollbars"],
                pass_fds=(to_browser_r, from_browser_w), stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._buf, self._id, self.events = b"", 0, []
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            self.call(f"{domain}.enable", session=True)
        self.call("Emulation.setDeviceMetricsOverride", {"width": width, "height": height, "deviceScaleFactor": 1,
                                                         "mobile": False}, session=True)

    def _read(self, deadline: float) -> dict:
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._r], [], [], left)[0]:
                raise TimeoutError(f"chromium did not answer: {self._tail()}")
            chunk = os.read(self._r, 1 << 20)
            if not chunk:
                raise RuntimeError(f"chromium closed the pipe: {self._tail()}")
            self._buf += chunk
        msg, self._buf = self._buf.split(b"\0", 1)
        return json.loads(msg)

    def _tail(self) -> str:
        """The end of chromium's own log, without its harmless D-Bus complaints (no system bus in CI)."""
        lines = self.log.read_text(errors="replace").splitlines()
        return "\n".join(line for line in lines if "dbus" not in line)[-2000:]

    def call(self, method: str, params: dict | None = None, session: bool = False) -> dict:
        self._id += 1
        msg = {"id": self._id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = self.session
        os.write(self._w, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + TIMEOUT
        while True:
            reply = self._read(deadline)
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_event(self, method: str) -> dict:
        deadline = time.monotonic() + TIMEOUT
        while True:
            for e in self.events:
                if e.get("method") == method:
                    return e
            self.events.append(self._read(deadline))

    def eval(self, expression: str):
        r = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True},
                      session=True)
        if "exceptionDetails" in r:
            raise AssertionError(f"{expression}: {r['exceptionDetails']}")
        return r["result"].get("value")

    def open(self, url: str) -> None:
        self.events.clear()
        self.call("Page.navigate", {"url": url}, session=True)
        self.wait_event("Page.loadEventFired")

    def problems(self) -> list[str]:
        """Console errors and warnings, uncaught exceptions and browser log errors since the last open()."""
        out = []
        for e in self.events:
            m, p = e.get("method"), e.get("params", {})
            if m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "warning", "assert"):
                out.append(f"console.{p['type']}: {[a.get('value', a.get('description')) for a in p['args']]}")
            elif m == "Runtime.exceptionThrown":
                out.append(f"exception: {p['exceptionDetails'].get('exception', {}).get('description')}")
            elif m == "Log.entryAdded" and p["entry"]["level"] in ("error", "warning"):
                out.append(f"log {p['entry']['level']}: {p['entry']['text']}")
        return out

    def screenshot(self, path: Path, full: bool = True) -> None:
        """A PNG of the whole page, or with full=False of what the window shows."""
        data = self.call("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": full}, session=True)
        path.write_bytes(base64.b64decode(data["data"]))

    def close(self) -> None:
        try:
            self.call("Browser.close")
        except (RuntimeError, TimeoutError, OSError):
            pass
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._w)
        os.close(self._r)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    b = Chromium(_browser(), tmp_path_factory.mktemp("profile"))
    yield b
    b.close()


@pytest.fixture(scope="module")
def search(tmp_path_factory) -> list[Path]:
    """A real small coarse search (lr x reg and a choice) and the fine stage that follows it."""
    d = tmp_path_factory.mktemp("search")
    space = d / "space.yaml"
    space.write_text(yaml.safe_dump({"sampler": "random", "trials": 24, "epochs": 3, "params": {
        "lr": {"low": 1e-5, "high": 3.0, "log": True}, "reg": {"low": 1e-5, "high": 10.0, "log": True},
        "activation": {"choices": ["relu", "tanh"]}, "hidden": [32]}}))
    runner = CliRunner()
    for args in (["coarse", "--space", space, "--out", d / "coarse.json"],
                 ["fine", "--from", d / "coarse.json", "--trials", "12", "--epochs", "4", "--out", d / "fine.json"]):
        r = runner.invoke(app, [str(a) for a in args] + ["--quiet"])
        assert r.exit_code in (0, 1), (r.exit_code, r.stderr[-2000:])  # 1: a gate (a warning) is still a file
    return [d / "coarse.json", d / "fine.json"]


def _page(tmp_path: Path, paths: list[Path], name: str = "report.html") -> Path:
    out = tmp_path / name
    out.write_text(html.render([(str(p), results_file.read(p)) for p in paths]), encoding="utf-8")
    return out


def _shot_dir(tmp_path: Path) -> Path:
    keep = os.environ.get("HPSEARCH_SCREENSHOT_DIR")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
    return Path(keep) if keep else tmp_path


def test_a_report_of_a_real_search_loads_cleanly_and_its_plots_render(browser, search, tmp_path):
    page = _page(tmp_path, search)
    browser.open(page.as_uri())
    assert browser.eval("document.documentElement.getAttribute('data-ready')") == "1"
    assert browser.problems() == []
    coarse, fine = (results_file.read(p) for p in search)
    stats = browser.eval("""(() => {
        const cells = [...document.querySelectorAll('.cell[data-s]')];
        const per = s => cells.filter(c => c.dataset.s === String(s));
        const marks = s => per(s).reduce((n, c) => n + c.querySelectorAll('svg [data-t]').length, 0);
        const box = document.querySelector('svg.plot').getBoundingClientRect();
        return {plots: document.querySelectorAll('svg.plot').length, marks0: marks(0), marks1: marks(1),
                curves: document.querySelectorAll('svg polyline.curve').length,
                rows: document.querySelectorAll('tbody tr[data-t]').length,
                width: box.width, height: box.height,
                sections: [...document.querySelectorAll('section > h2')].map(h => h.textContent)};
    })()""")
    # 3 slice plots + map + accuracy curves (+ loss curves when the trial records carry them), for each stage
    with_loss = any(t.get("loss_curve") for t in coarse["trials"] + fine["trials"])
    assert stats["plots"] == 2 * (5 + with_loss), stats
    assert stats["marks0"] >= 4 * len(coarse["trials"]) and stats["marks1"] >= 4 * len(fine["trials"]), stats
    assert stats["curves"] >= 2 and stats["rows"] == 20, stats
    assert stats["width"] > 400 and stats["height"] > 200, stats  # laid out at a readable size, not collapsed
    assert stats["sections"][:3] == ["Summary", "Verdicts", "val_acc over lr"], stats
    browser.screenshot(_shot_dir(tmp_path) / "report.png")
    assert (_shot_dir(tmp_path) / "report.png").stat().st_size > 20_000


def test_hovering_a_point_shows_its_trial_and_lights_up_its_marks(browser, search, tmp_path):
    page = _page(tmp_path, search)
    browser.open(page.as_uri())
    best = results_file.read(search[0])["best"]
    pos = browser.eval("""(() => {
        const el = document.querySelector('.cell[data-s="0"] svg .pt.best');
        el.scrollIntoView({block: 'center'});
        const r = el.getBoundingClientRect();
        return [r.x + r.width / 2, r.y + r.height / 2];
    })()""")
    browser.call("Input.dispatchMouseEvent", {"type": "mouseMoved", "x": pos[0], "y": pos[1]}, session=True)
    tip = browser.eval("(() => { const t = document.querySelector('.tip'); "
                       "return {hidden: t.hidden, text: t.innerText}; })()")
    assert not tip["hidden"] and f"trial #{best['number']}" in tip["text"], tip
    assert "val_acc" in tip["text"] and "lr = " in tip["text"], tip
    lit = browser.eval("document.querySelectorAll('.hl').length")
    assert lit >= 5  # the point in each of its plots, the table row
    browser.screenshot(_shot_dir(tmp_path) / "report-hover.png", full=False)
    browser.call("Input.dispatchMouseEvent", {"type": "mouseMoved", "x": 2, "y": 2}, session=True)
    assert browser.eval("document.querySelector('.tip').hidden") is True
    assert browser.problems() == []


def test_a_hostile_results_file_runs_nothing(browser, search, tmp_path):
    doc = results_file.read(search[0])
    evil = '</script><img src=x onerror="window.pwned=1"><script>window.pwned=2</script>'
    doc["warnings"] = [{"kind": evil, "param": "lr", "edge": "high", "message": evil, "evidence": evil,
                        "suggested": {"low": 0.1, "high": 1.0}}]
    doc["trials"][0]["diagnosis"] = [{"kind": "x", "message": evil}]
    doc["trials"][0]["error"] = evil
    doc["data"]["name"] = evil
    page = tmp_path / "evil.html"
    page.write_text(html.render([(evil, doc)]), encoding="utf-8")
    browser.open(page.as_uri())
    assert browser.eval("document.documentElement.getAttribute('data-ready')") == "1"
    assert browser.eval("window.pwned === undefined && document.querySelectorAll('img').length === 0")
    assert browser.eval(f"document.body.innerText.includes({json.dumps(evil)})")  # shown as text
    assert browser.problems() == []


def test_the_pages_policy_runs_only_its_own_script_even_if_an_escape_were_missed(browser, search, tmp_path):
    text = html.render([(str(search[0]), results_file.read(search[0]))])
    missed = '<script>window.pwned=1</script><img src="x" onerror="window.pwned=2"><svg onload="window.pwned=3"/>'
    page = tmp_path / "missed.html"
    page.write_text(text.replace("<main>", "<main>" + missed, 1), encoding="utf-8")
    browser.open(page.as_uri())
    assert browser.eval("document.documentElement.getAttribute('data-ready')") == "1"  # its own script ran
    assert browser.eval("window.pwned === undefined")
    assert any("Content Security Policy" in p for p in browser.problems())


def scaled(doc: dict, n: int) -> dict:
    """`doc` with n trials: its own, repeated with their lr and reg moved a little (a big search's shape)."""
    trials = []
    for k in range(n):
        t = json.loads(json.dumps(doc["trials"][k % len(doc["trials"])]))
        t["number"] = k
        t["params"]["lr"] *= 1 + (k % 7) / 50
        t["params"]["reg"] *= 1 + (k % 11) / 50
        trials.append(t)
    return {**doc, "trials": trials, "progress": {**doc["progress"], "requested": n, "done": n}}


def test_a_thousand_trial_report_renders(browser, search, tmp_path):
    """Size and layout hold at 1,000 trials (benchmarks/bench_html_report.py measures the time)."""
    page = tmp_path / "big.html"
    page.write_text(html.render([("big.json", scaled(results_file.read(search[0]), 1000))]), encoding="utf-8")
    assert page.stat().st_size < 1_500_000
    browser.open(page.as_uri())
    assert browser.eval("document.documentElement.getAttribute('data-ready')") == "1"
    assert browser.eval("document.querySelectorAll('svg [data-t]').length") >= 3000
    assert browser.problems() == []


def test_without_chromium_the_browser_tests_skip_and_say_why_unless_required(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.delenv("HPSEARCH_REQUIRE_BROWSER", raising=False)
    with pytest.raises(pytest.skip.Exception, match="apt-get install chromium"):
        _browser()
    monkeypatch.setenv("HPSEARCH_REQUIRE_BROWSER", "1")
    with pytest.raises(pytest.fail.Exception, match="apt-get install chromium"):
        _browser()
