"""results.json: strict JSON, atomic writes, and validation with clear ResultsError messages."""

import json
import math
import os
import zlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hpsearch.config import plain
from hpsearch.errors import OutputError, ResultsError
from hpsearch.results import file as results_file
from hpsearch.results import validate


def doc(**changes):
    d = {
        "schema_version": 1, "command": "coarse",
        "settings": {"seed": 0, "sampler": "random", "trials": 2, "epochs": 1},
        "data": {"spec": "digits", "fingerprint": "abc", "val_fraction": 0.2, "split_seed": 0},
        "space": {"sampler": "random", "trials": 2, "epochs": 1, "abort_factor": 3.0,
                  "params": {"lr": {"low": 1e-4, "high": 1.0, "log": True}, "hidden": [10]}},
        "fixed": {"hidden": [10], "epochs": 1},
        "parent": None,
        "progress": {"requested": 2, "done": 2, "interrupted": False},
        "trials": [
            {"number": 0, "params": {"lr": 0.01}, "status": "complete", "val_acc": 0.9, "epochs_run": 1,
             "final_loss": float("nan")},
            {"number": 1, "params": {"lr": 0.9}, "status": "diverged", "val_acc": None, "epochs_run": 1,
             "initial_loss": float("inf")},
        ],
        "best": {"number": 0, "params": {"lr": 0.01}, "val_acc": 0.9},
        "warnings": [],
    }
    d.update(changes)
    return d


def test_round_trip_turns_nan_into_null(tmp_path):
    p = tmp_path / "results.json"
    results_file.write(p, doc())
    text = p.read_text()
    assert "NaN" not in text and "Infinity" not in text
    back = results_file.read(p)
    assert back["trials"][0]["final_loss"] is None and back["trials"][1]["initial_loss"] is None
    assert back["best"]["number"] == 0


def test_write_is_atomic_and_leaves_no_temp_file(tmp_path, monkeypatch):
    p = tmp_path / "results.json"
    results_file.write(p, doc())
    before = p.read_bytes()

    def boom(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OutputError, match="No space left"):
        results_file.write(p, doc(command="fine"))
    assert p.read_bytes() == before  # the old file is intact
    assert sorted(x.name for x in tmp_path.iterdir()) == ["results.json"]


def test_new_file_gets_the_usual_permissions(tmp_path):
    p = tmp_path / "r.json"
    results_file.write(p, doc())
    mask = os.umask(0)
    os.umask(mask)
    assert p.stat().st_mode & 0o777 == 0o666 & ~mask


def test_unwritable_destination(tmp_path):
    with pytest.raises(OutputError, match="does not exist"):
        results_file.check_writable(tmp_path / "no" / "r.json")
    with pytest.raises(OutputError, match="is a folder"):
        results_file.check_writable(tmp_path)


def test_a_folder_that_refuses_new_files_is_caught_before_the_search_even_for_root(tmp_path, monkeypatch):
    # permission bits say writable (root, /proc, a read-only mount): only making a file there tells
    import tempfile

    def refuse(*a, **k):
        raise OSError(30, "Read-only file system")

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    with pytest.raises(OutputError, match=r"--out .*r\.json: cannot create files in .*Read-only file system"):
        results_file.check_writable(tmp_path / "r.json")
    monkeypatch.undo()
    results_file.check_writable(tmp_path / "r.json")  # and the probe leaves nothing behind
    assert list(tmp_path.iterdir()) == []


def read_edited(tmp_path, change):
    """Write doc() with `change` applied and read it back: the ResultsError raised, and the file's path."""
    d = json.loads(results_file.dumps(doc()))
    change(d)
    p = tmp_path / "r.json"
    p.write_text(json.dumps(d))
    with pytest.raises(ResultsError) as e:
        results_file.read(p)
    return e, p


@pytest.mark.parametrize("text,needle", [
    ('{"schema_version": 1, "command": "coarse", "trials": [', "not valid JSON at line 1"),
    ("", "not valid JSON"),
    ("[1, 2]", "top level is not a JSON object"),
    ('{"command": "coarse"}', "schema_version is missing"),
    ('{"schema_version": 99}', "schema_version 99 is not supported (this hpsearch reads versions 1, 2, 3)"),
    ('{"schema_version": "1"}', "schema_version '1' is not supported"),
    ('{"schema_version": 1, "val": NaN}', "not valid JSON"),
])
def test_bad_files(tmp_path, text, needle):
    p = tmp_path / "r.json"
    p.write_text(text)
    with pytest.raises(ResultsError) as e:
        results_file.read(p)
    assert str(e.value).startswith(str(p)) and needle in str(e.value), str(e.value)
    assert e.value.exit_code == 2


@pytest.mark.parametrize("change,needle", [
    (lambda d: d.pop("trials"), "trials is missing"),
    (lambda d: d.update(trials={}), "trials has the wrong type"),
    (lambda d: d["trials"][0].update(status="weird"), "trials[0].status must be one of"),
    (lambda d: d["trials"][0].update(val_acc=1.5), "trials[0].val_acc must be in [0, 1]"),
    (lambda d: d["trials"][0].update(val_acc=None), "null for a complete trial"),
    (lambda d: d["trials"][1].update(number=0), "trials[1].number 0 appears twice"),
    (lambda d: d["trials"][0].update(params={"reg": 1}), "trials[0].params has keys ['reg']"),
    (lambda d: d["trials"][0].pop("epochs_run"), "trials[0].epochs_run is missing"),
    (lambda d: d["data"].pop("fingerprint"), "data.fingerprint is missing"),
    (lambda d: d["space"]["params"]["lr"].update(low=0), "space: params.lr.low must be > 0 for a log range"),
    (lambda d: d.update(best={"number": 7}), "best.number names no trial"),
])
def test_invalid_documents(tmp_path, change, needle):
    e, _ = read_edited(tmp_path, change)
    assert needle in str(e.value), str(e.value)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(ResultsError, match="no such results file"):
        results_file.read(tmp_path / "nope.json")
    with pytest.raises(ResultsError, match="is a folder"):
        results_file.read(tmp_path)


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
                           lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=8), c, max_size=4),
                           max_leaves=12)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(json_values, st.booleans())
def test_any_json_either_validates_or_raises_results_error(tmp_path, value, patch):
    obj = doc() if patch else value
    if patch:  # damage one top-level key of a valid document
        obj = json.loads(results_file.dumps(obj))
        obj[sorted(obj)[zlib.crc32(json.dumps(value, sort_keys=True).encode()) % len(obj)]] = value
    p = tmp_path / "h.json"
    p.write_text(json.dumps(obj, allow_nan=True))
    try:
        results_file.read(p)
    except ResultsError as e:
        assert "\n" not in str(e)


def test_strict_handles_numpy_and_nested(tmp_path):
    import numpy as np

    out = plain.strict({"a": np.float32("nan"), "b": [np.int64(3), (1.0, math.inf)]})
    assert out == {"a": None, "b": [3, [1.0, None]]}


@pytest.mark.parametrize("change,needle", [
    (lambda d: d["trials"][0]["params"].update(lr="abc"), "trials[0].params.lr must be a finite number"),
    (lambda d: d["trials"][0]["params"].update(lr=None), "trials[0].params.lr must be a finite number"),
    (lambda d: d["trials"][0]["params"].update(lr=True), "trials[0].params.lr must be a finite number"),
    (lambda d: d["trials"][1]["params"].update(lr=0), "trials[1].params.lr must be > 0 on a log range"),
    (lambda d: d["best"]["params"].update(lr=-1), "best.params.lr must be > 0 on a log range"),
    (lambda d: d["fixed"].update(foo=1), "fixed.foo is not a setting"),
    (lambda d: d["fixed"].update(hidden=5), "fixed.hidden must be a list of integer widths"),
    (lambda d: d["fixed"].update(lr="abc"), "fixed.lr must be > 0"),
    (lambda d: d["fixed"].update(activation="nope"), "fixed.activation"),
    (lambda d: d["data"].update(val_fraction="x"), "data.val_fraction must be a number in (0, 1)"),
    (lambda d: d["data"].update(val_fraction=1.0), "data.val_fraction must be a number in (0, 1)"),
    (lambda d: d["data"].update(split_seed=-1), "data.split_seed must be an integer >= 0"),
    (lambda d: d["data"].update(max_samples="abc"), "data.max_samples must be an integer >= 1 or null"),
    (lambda d: d["data"].update(flatten="yes"), "data.flatten must be true or false"),
    (lambda d: d["data"].update(preprocess="zca"), "data.preprocess must be one of"),
    (lambda d: d["settings"].update(seed=-1), "settings.seed must be an integer >= 0"),
])
def test_values_fine_and_report_use_are_checked(tmp_path, change, needle):
    e, p = read_edited(tmp_path, change)
    assert needle in str(e.value) and str(e.value).startswith(f"{p}: "), str(e.value)
    assert "\n" not in str(e.value) and "; " in str(e.value)


def test_choice_values_must_be_among_the_choices(tmp_path):
    d = json.loads(results_file.dumps(doc()))
    d["space"]["params"]["hidden"] = {"choices": [[10], [20, 10]]}
    d["fixed"].pop("hidden")
    for t in d["trials"]:
        t["params"]["hidden"] = [20, 10]
    d["best"]["params"]["hidden"] = [20, 10]
    validate.validate(d, "r.json")  # lists match the choices
    d["trials"][1]["params"]["hidden"] = [30]
    with pytest.raises(ResultsError, match=r"r\.json: trials\[1\]\.params\.hidden \[30\] is not one of"):
        validate.validate(d, "r.json")


def test_doc_fingerprint_ignores_progress_timing_and_storage_only():
    base = json.loads(results_file.dumps(doc()))
    a = results_file.doc_fingerprint(base)
    rerun = json.loads(results_file.dumps(doc()))
    rerun["progress"].update(seconds=12.5, ran_now=0)
    rerun["trials"][0]["seconds"] = 3.0
    rerun["settings"].update(storage="/elsewhere/x.journal", study="other")
    rerun["trials"].reverse()
    assert results_file.doc_fingerprint(rerun) == a and len(a) == 16
    for change in (lambda d: d["trials"][0].update(val_acc=0.5), lambda d: d["fixed"].update(epochs=2),
                   lambda d: d["settings"].update(seed=1), lambda d: d["data"].update(fingerprint="x"),
                   lambda d: d.update(command="fine")):
        other = json.loads(results_file.dumps(doc()))
        change(other)
        assert results_file.doc_fingerprint(other) != a
