"""The curves a trial record carries for the report's pictures: loss_curve (the minibatch loss, at most 200
points) and train_curve (train accuracy per epoch), written by a stage, rebuilt from its study, validated on
read; files written before them still read."""

from __future__ import annotations

import copy
import json
import math

import pytest
import stages

from hpsearch.engine import document, stage, storage, trial
from hpsearch.errors import ResultsError
from hpsearch.results import file as results_file


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A finished stage on spiral at batch 1: 240 iterations an epoch, so its loss curve is downsampled."""
    out = tmp_path_factory.mktemp("curves") / "results.json"
    req, _ = stages.run(out, stages.space(6, 2, lr=(1e-2, 30.0), hidden=10, batch_size=1), 3)
    return req, json.loads(out.read_text())


def test_loss_curve_keeps_means_over_equal_windows_and_nulls_non_finite_ones():
    assert trial.loss_curve([2.302585, 1.5, 0.25]) == [2.303, 1.5, 0.25]  # short: as is, 4 significant digits
    long = [float(i) for i in range(1000)]
    c = trial.loss_curve(long)
    assert len(c) == trial.LOSS_POINTS == 200
    assert c[0] == 2.0 and c[-1] == 997.0  # windows of 5: the means of 0..4 and 995..999
    assert c == sorted(c)
    diverging = [1.0] * 995 + [math.inf, math.nan, 1.0, 1.0, 1.0]
    c = trial.loss_curve(diverging)
    assert c[:199] == [1.0] * 199 and c[199] is None
    assert trial.loss_curve([]) == []


def test_a_stage_records_both_curves(finished):
    _, doc = finished
    done = [t for t in doc["trials"] if t["status"] == "complete"]
    assert done and any(t["status"] == "diverged" for t in doc["trials"])
    for t in done:
        assert len(t["train_curve"]) == t["epochs_run"] == len(t["val_curve"])
        assert t["train_acc"] in t["train_curve"]  # the train accuracy of the best epoch
        assert len(t["loss_curve"]) == trial.LOSS_POINTS  # 480 iterations, downsampled
        assert all(isinstance(v, float) and v > 0 for v in t["loss_curve"])
    for t in doc["trials"]:
        if t["status"] == "diverged":
            assert len(t["train_curve"]) == t["epochs_run"] - 1  # the epoch it stopped in never finished
            assert 1 <= len(t["loss_curve"]) <= trial.LOSS_POINTS


def test_the_curves_are_rebuilt_from_the_study(finished):
    req, doc = finished
    h = storage.open_study(None, stage.journal_path(req.out), stage.default_study("coarse", req.out), create=False)
    exported = json.loads(json.dumps(document.export(h)))
    for a, b in zip(exported["trials"], doc["trials"]):
        assert a["loss_curve"] == b["loss_curve"] and a["train_curve"] == b["train_curve"]


def test_files_with_and_without_the_curves_read(finished, tmp_path):
    _, doc = finished
    p = tmp_path / "with.json"
    results_file.write(p, doc)
    assert results_file.read(p) == doc
    old = copy.deepcopy(doc)
    for t in old["trials"]:
        del t["loss_curve"], t["train_curve"]
    p = tmp_path / "without.json"
    results_file.write(p, old)
    back = results_file.read(p)
    assert all("loss_curve" not in t for t in back["trials"])


@pytest.mark.parametrize("key,value", [("loss_curve", "x"), ("loss_curve", [1.0, "a"]), ("loss_curve", {"a": 1}),
                                       ("train_curve", [0.5, 1.5]), ("train_curve", 0.5), ("train_curve", [True])])
def test_damaged_curves_are_refused_by_name(finished, tmp_path, key, value):
    _, doc = finished
    bad = copy.deepcopy(doc)
    bad["trials"][0][key] = value
    p = tmp_path / "bad.json"
    p.write_text(json.dumps(bad))
    with pytest.raises(ResultsError, match=rf"trials\[0\]\.{key}"):
        results_file.read(p)


def test_a_null_in_a_curve_is_a_non_finite_value_and_reads(finished, tmp_path):
    _, doc = finished
    d = copy.deepcopy(doc)
    i = next(i for i, t in enumerate(d["trials"]) if t["status"] == "complete")
    d["trials"][i]["loss_curve"][-1] = None
    d["trials"][i]["train_curve"][0] = None
    p = tmp_path / "nulls.json"
    results_file.write(p, d)
    assert results_file.read(p)["trials"][i]["loss_curve"][-1] is None
