"""engine/document.py: the results document a stage writes is rebuilt, identically, from its study alone."""

from __future__ import annotations

import json

import pytest
import stages

from hpsearch.config.data import DataSpec
from hpsearch.config.records import StudyIdentity, StudyMeta
from hpsearch.engine import document, identity, stage, storage, trial
from hpsearch.results import file as results_file
from hpsearch.results import validate


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A finished local stage on spiral: its request and the results file it wrote."""
    out = tmp_path_factory.mktemp("doc") / "results.json"
    req, outcome = stages.run(out, stages.space(8, 2, hidden=20, activation={"choices": ["relu", "tanh"]}), 4)
    return req, outcome, json.loads(out.read_text())


def test_the_written_file_is_the_outcome_and_valid(finished):
    req, outcome, doc = finished
    assert doc == json.loads(json.dumps(outcome.doc))
    validate.validate(doc, "results.json")  # raises on anything fine --from or report relies on
    assert doc["schema_version"] == validate.SCHEMA_VERSION and doc["command"] == "coarse"
    assert doc["progress"]["requested"] == doc["progress"]["done"] == 8 and not doc["progress"]["interrupted"]


def test_best_and_summary_follow_the_trials(finished):
    _, _, doc = finished
    done = [t for t in doc["trials"] if t["status"] == "complete"]
    assert all(isinstance(t["score"], float) for t in done)  # the smoothed val_acc the stage ranks by
    assert all(t["score"] is None for t in doc["trials"] if t["status"] != "complete")
    top = min(done, key=lambda t: (-t["score"], t["number"]))
    assert doc["best"] == {"number": top["number"], "params": top["params"], "val_acc": top["val_acc"],
                           "train_acc": top["train_acc"], "score": top["score"]}
    assert all(len(t["val_curve"]) == t["epochs_run"] and t["val_last"] == t["val_curve"][-1] for t in done)
    assert doc["summary"] == {s: sum(t["status"] == s for t in doc["trials"]) for s in ("complete", "diverged", "failed")}
    assert doc["summary"]["diverged"] >= 1  # lr up to 30 diverges on spiral: the abort rule is exercised
    assert [t["number"] for t in doc["trials"]] == list(range(8))


def test_fixed_settings_leave_out_the_searched_keys(finished):
    _, _, doc = finished
    assert "lr" not in doc["fixed"] and "activation" not in doc["fixed"]
    assert doc["fixed"]["hidden"] == [20] and doc["fixed"]["batch_size"] == 50 and doc["fixed"]["epochs"] == 2


def test_the_data_record_is_the_spec_plus_the_split(finished):
    _, _, doc = finished
    data = doc["data"]
    assert list(data)[:7] == ["spec", "label_column", "val_fraction", "split_seed", "max_samples", "flatten",
                              "preprocess"]
    assert data["spec"] == "spiral" and data["classes"] == 3
    assert data["train_samples"] + data["val_samples"] == 300


def test_an_export_from_the_study_alone_equals_the_file(finished):
    req, _, doc = finished
    h = storage.open_study(None, stage.journal_path(req.out), stage.default_study("coarse", req.out), create=False)
    exported = document.export(h)
    strip = lambda d: {**d, "progress": {k: v for k, v in d["progress"].items() if k not in ("seconds", "ran_now")},
                       "trials": [{k: v for k, v in t.items() if k != "seconds"} for t in d["trials"]]}
    assert strip(json.loads(json.dumps(exported))) == strip(doc)


def test_the_study_records_rebuild_the_plan(finished):
    req, _, doc = finished
    h = storage.open_study(None, stage.journal_path(req.out), stage.default_study("coarse", req.out), create=False)
    plan, ident, meta = identity.plan_of(h)
    assert isinstance(ident, StudyIdentity) and isinstance(meta, StudyMeta)
    assert ident.seed == 4 and ident.trials == 8 and ident.command == "coarse"
    assert StudyIdentity.from_dict(ident.to_dict()) == ident
    assert meta.data_spec == DataSpec("spiral", fingerprint=doc["data"]["fingerprint"])
    assert [t.params for t in plan.trials] == [t["params"] for t in doc["trials"]]
    records = trial.collect(h, plan)
    assert [r.to_dict()["val_acc"] for r in records] == [t["val_acc"] for t in doc["trials"]]


def test_a_study_not_written_by_hpsearch_is_refused(tmp_path):
    from hpsearch.errors import StorageError

    h = storage.open_study(None, tmp_path / "x.journal", "plain-optuna")
    with pytest.raises(StorageError, match="not written by hpsearch"):
        document.export(h)


def test_the_results_file_round_trips_through_read(finished):
    req, _, doc = finished
    assert results_file.read(req.out) == doc
