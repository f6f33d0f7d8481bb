"""`hpsearch coarse`, `fine` and `report` through the CLI: the issue's scenarios, bad input, signals, resume."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from hpsearch.cli import app
from hpsearch.results import file as results_file
from hpsearch.results import validate
from clihelp import one_line_error

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def space(tmp_path, name="s.yaml", *, lr=(1e-4, 1.0), reg=(1e-5, 1e-1), trials=6, epochs=2, hidden=(32,), **extra):
    params = {"lr": {"low": lr[0], "high": lr[1], "log": True}, "hidden": list(hidden), **extra}
    if reg:
        params["reg"] = {"low": reg[0], "high": reg[1], "log": True}
    p = tmp_path / name
    p.write_text(yaml.safe_dump({"sampler": "random", "trials": trials, "epochs": epochs, "params": params}))
    return p


def ok(r):
    assert r.exit_code == 0, (r.exit_code, r.stdout[-2000:], r.stderr[-2000:])
    return json.loads(r.stdout) if r.stdout.strip().startswith("{") else None


def test_coarse_finds_a_good_config_and_a_seeded_rerun_is_identical(tmp_path):
    sp = space(tmp_path, trials=8, epochs=3)
    docs = []
    for name in ("a.json", "b.json"):
        doc = ok(run("coarse", "--space", sp, "--out", tmp_path / name, "--json", "--quiet"))
        assert doc == results_file.read(tmp_path / name)  # --json prints the document written to --out
        docs.append(doc)
    a, b = docs
    assert a["best"]["val_acc"] > 0.85  # chance is 0.10
    assert [(t["params"], t["status"], t["val_acc"]) for t in a["trials"]] == \
           [(t["params"], t["status"], t["val_acc"]) for t in b["trials"]]
    assert a["data"]["name"] == "digits" and a["progress"] == {**a["progress"], "requested": 8, "done": 8}
    c = ok(run("coarse", "--space", sp, "--out", tmp_path / "c.json", "--seed", "1", "--json", "--quiet"))
    assert [t["params"] for t in c["trials"]] != [t["params"] for t in a["trials"]]


def test_default_space_and_human_output(tmp_path):
    r = run("coarse", "--trials", "6", "--epochs", "1", "--hidden", "16", "--out", tmp_path / "r.json")
    ok(r)
    assert "top 10 trials" in r.stdout and "val_acc over lr (x, log) and reg (y, log)" in r.stdout
    doc = results_file.read(tmp_path / "r.json")
    assert doc["space"]["params"]["lr"] == {"low": 1e-6, "high": 1.0, "log": True}
    assert doc["fixed"]["hidden"] == [16] and doc["settings"]["epochs"] == 1
    assert (tmp_path / "r.journal").exists() and doc["settings"]["study"] == "coarse-r"
    assert_export_matches(tmp_path / "r.journal", "coarse-r", doc)


def assert_export_matches(journal, study, doc):
    """The study alone rebuilds the results file (what `hpsearch export` will write, issue 5)."""
    from hpsearch.engine import document, storage

    exported = document.export(storage.open_study(None, journal, study))
    validate.validate(exported, "export")
    for d in (exported, doc):
        d["progress"] = {k: d["progress"][k] for k in ("requested", "done", "interrupted")}
    assert exported == doc


def test_lecture_scenario_edge_warning_then_fine_extends_the_range(tmp_path):
    # batch 10: enough steps in 5 epochs that lr near 1e-4 learns while lr near 1e-7 stays at chance
    sp = space(tmp_path, lr=(1e-7, 1e-4), reg=(1e-5, 1e-3), trials=12, epochs=5, batch_size=10)
    out = tmp_path / "results.json"
    r = run("coarse", "--space", sp, "--out", out, "--json", "--quiet")
    doc = ok(r)
    assert doc["best"]["params"]["lr"] > 10 ** -5  # the upper part of the range, where something moved
    [w] = [w for w in doc["warnings"] if w["param"] == "lr"]  # nothing learned: the range is too low
    assert w["kind"] in ("nothing_learned", "mostly_slow", "boundary") and w["edge"] == "high"
    assert w["suggested"]["high"] > 1e-4 and w["evidence"]
    warned = [line for line in r.stderr.splitlines() if line.startswith("hpsearch: warning: ")]
    assert any(" lr " in line and "[evidence: " in line for line in warned)
    strict = run("coarse", "--space", sp, "--out", out, "--quiet", "--strict")  # resumes: nothing to train
    assert strict.exit_code == 1
    lines = strict.stderr.strip().splitlines()  # the warnings, then one error line
    assert lines[-1].startswith("hpsearch: error: --strict") and lines[0] == warned[0]

    fine = ok(run("fine", "--from", out, "--trials", "3", "--epochs", "1", "--json", "--quiet"))
    lr = fine["space"]["params"]["lr"]
    assert lr["log"] and lr["high"] > 1e-4  # the fine stage reaches above the coarse edge
    changed = fine["settings"]["narrowed"]["params"]["lr"]
    assert "high" in (changed["extended"], changed["moved"])
    parent = results_file.doc_fingerprint(results_file.read(out))
    assert fine["parent"]["fingerprint"] == parent and fine["command"] == "fine"
    assert all(t["params"]["lr"] <= lr["high"] for t in fine["trials"])
    assert (tmp_path / "results.fine.json").exists() and fine["fixed"]["hidden"] == [32]
    assert fine["data"]["fingerprint"] == doc["data"]["fingerprint"]


def test_lr_of_10_diverges_early_and_is_never_best(tmp_path):
    sp = space(tmp_path, lr=(1e-2, 30.0), reg=None, trials=8, epochs=3)
    doc = ok(run("coarse", "--space", sp, "--out", tmp_path / "r.json", "--json", "--quiet"))
    high = [t for t in doc["trials"] if t["params"]["lr"] >= 10]
    assert high and all(t["status"] == "diverged" and t["epochs_run"] < 3 and t["stopped_at"] for t in high)
    assert doc["best"]["number"] not in {t["number"] for t in doc["trials"] if t["status"] != "complete"}
    assert doc["summary"]["diverged"] >= len(high)


def test_every_trial_diverged_exits_one(tmp_path):
    sp = space(tmp_path, lr=(20.0, 200.0), reg=None, trials=3, epochs=2)
    r = run("coarse", "--space", sp, "--out", tmp_path / "r.json", "--json", "--quiet")
    one_line_error(r, 1, "every trial diverged", "lr range", "too high")
    doc = json.loads(r.stdout)
    assert doc["best"] is None and [w["kind"] for w in doc["warnings"]] == ["all_diverged"]
    assert results_file.read(tmp_path / "r.json")["summary"]["diverged"] == 3
    e = run("export", "--storage", tmp_path / "r.journal", "--study", "coarse-r", "--out", tmp_path / "e.json",
            "--quiet")  # the study's results file, with the same verdict
    one_line_error(e, 1, "every trial diverged")
    assert results_file.read(tmp_path / "e.json")["summary"]["diverged"] == 3


def test_three_by_three_grid(tmp_path):
    doc = ok(run("coarse", "--space", ROOT / "search_spaces" / "grid.yaml", "--epochs", "1", "--hidden", "8",
                 "--out", tmp_path / "g.json", "--json", "--quiet"))
    combos = {(t["params"]["lr"], t["params"]["reg"]) for t in doc["trials"]}
    assert len(doc["trials"]) == 9 and len(combos) == 9
    assert_export_matches(tmp_path / "g.journal", "coarse-g", doc)
    one_line_error(run("coarse", "--space", ROOT / "search_spaces" / "grid.yaml", "--trials", "5",
                       "--out", tmp_path / "g2.json"), 2, "--trials 5", "grid")


def test_a_model_flag_fixes_a_searched_key(tmp_path):
    doc = ok(run("coarse", "--space", space(tmp_path, trials=2, epochs=1), "--lr", "0.05", "--out",
                 tmp_path / "r.json", "--json", "--quiet"))
    assert "lr" not in doc["space"]["params"] or not isinstance(doc["space"]["params"]["lr"], dict)
    assert doc["fixed"]["lr"] == 0.05 and set(doc["trials"][0]["params"]) == {"reg"}


BAD_SPACES = [
    ("params:\n  lr: {low: 0, high: 1, log: true}\n", "params.lr.low must be > 0 for a log range, got 0"),
    ("params:\n  lr: {low: 1, high: 0.1}\n", "params.lr low must be < high"),
    ("params:\n  lr: {low: 1.0e-3, high: .inf}\n", "params.lr.high must be finite"),
    ("sampler: grid\nparams:\n  lr: {low: 1.0e-3, high: 1}\n", "needs"),
    ("params:\n  lr: {low: abc, high: 1}\n", "params.lr.low must be a number"),
    ("params:\n  learning_rate: 0.1\n", "params.learning_rate is not a training setting"),
    ("bogus: 3\nparams: {}\n", "bogus is not a known key"),
    ("params: {lr: [1,\n", "not valid YAML"),
]


@pytest.mark.parametrize("text,needle", BAD_SPACES)
def test_bad_space_files_exit_2_with_one_line(tmp_path, text, needle):
    p = tmp_path / "x.yaml"
    p.write_text(text)
    one_line_error(run("coarse", "--space", p, "--out", tmp_path / "r.json"), 2, str(p), needle)
    assert not (tmp_path / "r.json").exists()


def test_bad_flags_and_missing_space(tmp_path):
    one_line_error(run("coarse", "--space", tmp_path / "none.yaml"), 2, "no such file")
    one_line_error(run("coarse", "--epochs", "0", "--out", tmp_path / "r.json"), 2, "--epochs must be")
    one_line_error(run("coarse", "--sampler", "bayes", "--out", tmp_path / "r.json"), 2, "--sampler must be one of")
    one_line_error(run("coarse", "--lr", "-1", "--out", tmp_path / "r.json"), 2, "--lr must be > 0")
    one_line_error(run("coarse", "--batch-size", "5000", "--trials", "1", "--out", tmp_path / "r.json"), 2,
                   "fewer than a batch of 5000")


def test_unwritable_out_and_unreachable_storage_exit_3(tmp_path):
    sp = space(tmp_path, trials=1, epochs=1)
    (tmp_path / "afile").write_text("x")
    one_line_error(run("coarse", "--space", sp, "--out", tmp_path / "afile" / "r.json"), 3, "--out", "does not exist")
    one_line_error(run("coarse", "--space", sp, "--out", tmp_path), 3, "is a folder")
    one_line_error(run("coarse", "--space", sp, "--out", tmp_path / "r.json", "--storage", "nosuchdb://u:pw@h/x"),
                   2, "--storage", "unknown database kind")  # bad input, not an I/O fault
    one_line_error(run("coarse", "--space", sp, "--out", tmp_path / "r.json", "--storage",
                       "sqlite:////nonexistent-dir/sub/x.db"), 3, "storage")
    one_line_error(run("coarse", "--space", sp, "--out", tmp_path / "r.json", "--storage",
                       tmp_path / "missing" / "x.journal"), 3, "does not exist")


def test_fine_rejects_bad_parent_files(tmp_path):
    p = tmp_path / "r.json"
    one_line_error(run("fine", "--from", p), 2, "no such results file")
    p.write_text('{"schema_version": 1, "command": "coarse", "trials": [')
    one_line_error(run("fine", "--from", p), 2, str(p), "not valid JSON")
    p.write_text('{"schema_version": 4, "command": "coarse"}')
    one_line_error(run("fine", "--from", p), 2, "schema_version 4 is not supported")
    p.write_text('{"schema_version": 1, "command": "coarse"}')
    one_line_error(run("fine", "--from", p), 2, "settings is missing")
    one_line_error(run("report", p), 2, "settings is missing")


def test_fine_of_fine_and_data_fingerprint(tmp_path):
    out = tmp_path / "results.json"
    ok(run("coarse", "--space", space(tmp_path, lr=(1e-3, 1e-1), trials=6, epochs=2), "--out", out, "--quiet"))
    ok(run("fine", "--from", out, "--trials", "4", "--epochs", "2", "--quiet"))
    third = ok(run("fine", "--from", tmp_path / "results.fine.json", "--trials", "2", "--epochs", "2", "--json",
                   "--quiet"))
    assert third["parent"]["command"] == "fine" and (tmp_path / "results.fine2.json").exists()
    one_line_error(run("fine", "--from", out, "--out", out), 2, "is the --from file itself")
    doc = results_file.read(out)
    doc["data"]["fingerprint"] = "0000000000000000"
    results_file.write(tmp_path / "other.json", doc)
    one_line_error(run("fine", "--from", tmp_path / "other.json", "--trials", "1", "--quiet"), 2, "fingerprint")


def test_resume_refuses_other_settings_unless_fresh(tmp_path):
    sp, out = space(tmp_path, trials=3, epochs=1), tmp_path / "r.json"
    ok(run("coarse", "--space", sp, "--out", out, "--quiet"))
    again = ok(run("coarse", "--space", sp, "--out", out, "--quiet", "--json"))
    assert again["progress"]["ran_now"] == 0 and again["progress"]["done"] == 3
    one_line_error(run("coarse", "--space", sp, "--out", out, "--epochs", "2"), 2, "other settings", "--fresh")
    fresh = ok(run("coarse", "--space", sp, "--out", out, "--epochs", "2", "--fresh", "--quiet", "--json"))
    assert fresh["progress"]["ran_now"] == 3 and all(t["epochs_run"] <= 2 for t in fresh["trials"])


def test_report_shows_a_results_file(tmp_path):
    out = tmp_path / "r.json"
    ok(run("coarse", "--space", space(tmp_path, trials=4, epochs=1), "--out", out, "--quiet"))
    r = run("report", out, "--show", "2")
    ok(r)
    assert "top 2 trials" in r.stdout and "(a cell: its best trial)" in r.stdout  # the lr x reg map's legend
    rep = ok(run("report", out, "--json", "--quiet"))
    assert rep["best"] == results_file.read(out)["best"] and len(rep["top"]) == 4


def test_report_of_two_stages_with_curves_and_an_html_page(tmp_path):
    coarse, fine, page = tmp_path / "c.json", tmp_path / "f.json", tmp_path / "report.html"
    ok(run("coarse", "--space", space(tmp_path, trials=6, epochs=2), "--out", coarse, "--quiet"))
    ok(run("fine", "--from", coarse, "--trials", "4", "--epochs", "2", "--out", fine, "--quiet"))
    r = run("report", coarse, fine, "--curves", "2", "--show", "3", "--html", page)
    ok(r)
    assert r.stdout.count("top 3 trials") == 2  # one table per stage, in the order given
    assert r.stdout.index("coarse:") < r.stdout.index("fine:")
    assert r.stdout.count("accuracy per epoch") >= 2  # the top trials' curves
    assert f"report: {page}" in r.stdout
    text = page.read_text()
    assert text.startswith("<!DOCTYPE html>") and str(coarse) in text and str(fine) in text
    assert "<script src" not in text and "http://" not in text.replace("http://www.w3.org", "")  # offline
    both = ok(run("report", coarse, fine, "--json", "--quiet"))
    assert [x["path"] for x in both["reports"]] == [str(coarse), str(fine)]
    assert [x["command"] for x in both["reports"]] == ["coarse", "fine"]


def test_report_html_refuses_a_device_and_a_bad_file_before_writing(tmp_path):
    coarse = tmp_path / "c.json"
    ok(run("coarse", "--space", space(tmp_path, trials=3, epochs=1), "--out", coarse, "--quiet"))
    one_line_error(run("report", coarse, "--html", "/dev/null", "--quiet"), 2, "--html /dev/null", "device")
    page = tmp_path / "p.html"
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    one_line_error(run("report", coarse, bad, "--html", page, "--quiet"), 2, "bad.json")
    assert not page.exists()
    before = coarse.read_bytes()
    one_line_error(run("report", coarse, "--html", coarse), 2, "--html", "is the results file")
    assert coarse.read_bytes() == before  # never replaced by the page
    one_line_error(run("report", coarse, "--html", tmp_path / "no" / "p.html"), 2, "does not exist")


# ---------------------------------------------------------------------------- signals (subprocess)


def _done_in_journal(journal: Path, study: str) -> int:
    import optuna
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    if not journal.exists():
        return 0
    try:
        s = optuna.load_study(study_name=study, storage=JournalStorage(JournalFileBackend(str(journal))))
    except KeyError:
        return 0
    return sum(t.state.is_finished() for t in s.get_trials(deepcopy=False))


@pytest.mark.parametrize("sig,code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_saves_then_the_same_command_resumes_to_exactly_n(tmp_path, sig, code):
    import optuna

    n = 16  # trials long enough (~0.1 s each) that the signal lands mid-search
    sp = space(tmp_path, lr=(1e-3, 1e-1), trials=n, epochs=80, hidden=(100,))
    out = tmp_path / "r.json"
    cmd = [sys.executable, "-m", "hpsearch", "coarse", "--space", str(sp), "--out", str(out), "--quiet"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    p = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.monotonic() + 120
    while _done_in_journal(tmp_path / "r.journal", "coarse-r") < 2:
        assert p.poll() is None and time.monotonic() < deadline, p.communicate()
        time.sleep(0.05)
    p.send_signal(sig)
    _, err = p.communicate(timeout=120)
    assert p.returncode == code, err
    assert "Traceback" not in err and "run the same command again to resume" in err
    doc = results_file.read(out)
    assert doc["progress"]["interrupted"] is True and 2 <= doc["progress"]["done"] < n

    r = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr
    doc = results_file.read(out)
    assert sorted(t["number"] for t in doc["trials"]) == list(range(n)) and doc["progress"]["interrupted"] is False
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    trials = optuna.load_study(study_name="coarse-r", storage=JournalStorage(
        JournalFileBackend(str(tmp_path / "r.journal")))).get_trials()
    done = [t.user_attrs["hp_number"] for t in trials if t.user_attrs.get("status") in ("complete", "diverged")]
    assert sorted(done) == list(range(n))  # each number done exactly once: nothing ran twice
    assert [t.user_attrs["status"] for t in trials if t.state.name == "FAIL"] in ([], ["interrupted"])


def _closed_pipe_run(args, cwd, both: bool):
    """Run hpsearch with stdout (and stderr when `both`) a pipe whose reader is gone, output block-buffered."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}  # (small output stays buffered)
    r, w = os.pipe()
    os.close(r)
    try:
        return subprocess.run([sys.executable, "-m", "hpsearch", *args], cwd=cwd, env=env, stdout=w,
                              stderr=w if both else subprocess.PIPE, timeout=120)
    finally:
        os.close(w)


def test_a_closed_stderr_or_a_small_buffered_output_keeps_the_exit_code(tmp_path):
    # an error line into `2>&1 | head` that already closed: still exit 2; a short report flushed only at exit: 0
    assert _closed_pipe_run(["coarse", "--data", "nosuch.npz"], tmp_path, both=True).returncode == 2
    sp = space(tmp_path, trials=2, epochs=1)
    assert subprocess.run([sys.executable, "-m", "hpsearch", "coarse", "--space", str(sp), "--out", "r.json",
                           "--quiet"], cwd=tmp_path, capture_output=True, timeout=120).returncode == 0
    p = _closed_pipe_run(["report", "r.json", "--json"], tmp_path, both=False)
    assert p.returncode == 0 and b"Traceback" not in p.stderr and b"Exception ignored" not in p.stderr


def test_the_resume_hint_after_an_interrupted_fresh_run_drops_fresh(capsys):
    # the same command with --fresh would throw the saved trials away instead of resuming
    from hpsearch.cli.stage import _exit_code

    doc = {"progress": {"done": 3, "requested": 10}}
    assert _exit_code(doc, "r.json", signal.SIGTERM, False, fresh=True) == 143
    assert "run the same command again without --fresh to resume" in capsys.readouterr().err
    assert _exit_code(doc, "r.json", signal.SIGINT, False) == 130
    assert "run the same command again to resume" in capsys.readouterr().err


@pytest.mark.parametrize("lr, code", [((1e-3, 1e-1), 0), ((1e3, 1e4), 1)])
def test_a_reader_that_went_away_does_not_change_the_exit_code(tmp_path, lr, code):
    # `hpsearch coarse | head -1` in a CI script: the results file is written and the exit code is the
    # command's own (0, or 1 when every trial diverged), not click's 1 for a broken pipe
    sp = space(tmp_path, lr=lr, trials=4, epochs=1)
    r, w = os.pipe()
    os.close(r)  # the reader is gone before the first line
    try:
        p = subprocess.run([sys.executable, "-m", "hpsearch", "coarse", "--space", str(sp), "--out", "r.json"],
                           cwd=tmp_path, stdout=w, stderr=subprocess.PIPE, text=True, timeout=120)
    finally:
        os.close(w)
    assert p.returncode == code, p.stderr
    assert "Traceback" not in p.stderr and "Broken pipe" not in p.stderr
    assert results_file.read(tmp_path / "r.json")["progress"]["done"] == 4


def test_progress_bar_on_a_terminal(tmp_path):
    import pty
    import select

    master, slave = pty.openpty()
    sp = space(tmp_path, trials=4, epochs=1)
    p = subprocess.Popen([sys.executable, "-m", "hpsearch", "coarse", "--space", str(sp), "--out",
                          str(tmp_path / "r.json")], cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=slave,
                         env={**os.environ, "COLUMNS": "120", "TERM": "xterm"})
    os.close(slave)
    chunks = []
    while True:
        ready, _, _ = select.select([master], [], [], 60)
        if not ready:
            break
        try:
            data = os.read(master, 4096)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    p.wait(timeout=60)
    os.close(master)
    text = b"".join(chunks).decode(errors="replace")
    assert p.returncode == 0
    assert "coarse" in text and "best val_acc" in text and "diverged" in text
    assert "trials/s" in text and "eta" in text  # the rate and the time remaining


# ---------------------------------------------------------------------------- edited results files


@pytest.fixture(scope="module")
def coarse_doc(tmp_path_factory):
    """One small coarse results document with a range (lr, reg) and a choice (activation)."""
    tmp = tmp_path_factory.mktemp("edited")
    out = tmp / "r.json"
    ok(run("coarse", "--space", space(tmp, trials=4, epochs=1, activation={"choices": ["relu", "tanh"]}),
           "--out", out, "--quiet"))
    return results_file.read(out)


def _best_trial(d):
    return next(t for t in d["trials"] if t["number"] == d["best"]["number"])


EDITS = [
    ("lr-text", lambda d: _best_trial(d)["params"].update(lr="abc"), "params.lr must be a finite number"),
    ("lr-zero", lambda d: _best_trial(d)["params"].update(lr=0), "params.lr must be > 0 on a log range"),
    ("lr-negative", lambda d: _best_trial(d)["params"].update(lr=-1), "params.lr must be > 0 on a log range"),
    ("lr-null", lambda d: _best_trial(d)["params"].update(lr=None), "params.lr must be a finite number"),
    ("best-lr", lambda d: d["best"]["params"].update(lr="abc"), "best.params.lr must be a finite number"),
    ("choice", lambda d: _best_trial(d)["params"].update(activation="elu"), "params.activation 'elu' is not one of"),
    ("fixed-unknown", lambda d: d["fixed"].update(foo=1), "fixed.foo is not a setting"),
    ("fixed-hidden", lambda d: d["fixed"].update(hidden=5), "fixed.hidden must be a list"),
    ("val-fraction", lambda d: d["data"].update(val_fraction="x"), "data.val_fraction must be a number in (0, 1)"),
    ("max-samples", lambda d: d["data"].update(max_samples="abc"), "data.max_samples must be an integer >= 1"),
    ("flatten", lambda d: d["data"].update(flatten="yes"), "data.flatten must be true or false"),
    ("split-seed", lambda d: d["data"].update(split_seed=-3), "data.split_seed must be an integer >= 0"),
    ("preprocess", lambda d: d["data"].update(preprocess=7), "data.preprocess must be a string"),
    ("settings-seed", lambda d: d["settings"].update(seed=-1), "settings.seed must be an integer >= 0"),
]


@pytest.mark.parametrize("command", ["fine", "report"])
@pytest.mark.parametrize("edit,needle", [e[1:] for e in EDITS], ids=[e[0] for e in EDITS])
def test_edited_results_files_exit_2_with_one_line(tmp_path, coarse_doc, command, edit, needle):
    d = json.loads(json.dumps(coarse_doc))
    edit(d)
    p = tmp_path / "r.json"
    p.write_text(json.dumps(d))
    args = ("fine", "--from", p, "--trials", "1", "--epochs", "1", "--quiet") if command == "fine" else ("report", p)
    one_line_error(run(*args), 2, f"{p}: ", needle, "; ")
    assert not (tmp_path / "r.fine.json").exists()


def test_fine_resumes_after_a_no_op_rerun_of_its_coarse_stage(tmp_path):
    sp, out = space(tmp_path, trials=3, epochs=1), tmp_path / "r.json"
    ok(run("coarse", "--space", sp, "--out", out, "--quiet"))
    first = ok(run("fine", "--from", out, "--trials", "2", "--epochs", "1", "--quiet", "--json"))
    again = ok(run("coarse", "--space", sp, "--out", out, "--quiet", "--json"))  # rewrites progress/seconds
    assert again["progress"]["ran_now"] == 0
    resumed = ok(run("fine", "--from", out, "--trials", "2", "--epochs", "1", "--quiet", "--json"))
    assert resumed["progress"]["ran_now"] == 0 and resumed["progress"]["done"] == 2
    parent = results_file.doc_fingerprint(results_file.read(out))
    assert resumed["parent"]["fingerprint"] == first["parent"]["fingerprint"] == parent
    assert [t["params"] for t in resumed["trials"]] == [t["params"] for t in first["trials"]]
    edited = results_file.read(out)  # a meaningful change (here a setting; narrowing stays the same) is another parent
    edited["settings"]["space_file"] = "other.yaml"
    results_file.write(out, edited)
    one_line_error(run("fine", "--from", out, "--trials", "2", "--epochs", "1", "--quiet"), 2,
                   "other settings", "parent: ", "--fresh")


def test_fine_seed_must_not_be_negative(tmp_path):
    out = tmp_path / "r.json"
    ok(run("coarse", "--space", space(tmp_path, trials=2, epochs=1), "--out", out, "--quiet"))
    one_line_error(run("fine", "--from", out, "--seed", "-1"), 2, "--seed")
