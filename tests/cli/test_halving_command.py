"""`coarse --halving` through the CLI: its flags, the report's rungs, `fine --from` and `train --from` a halving
results file, and what the results file may hold."""

import json

import pytest
import yaml
from typer.testing import CliRunner

from hpsearch.cli import app
from hpsearch.errors import ResultsError
from hpsearch.report.search import summary
from hpsearch.results import file as results_file
from hpsearch.results.validate import validate
from clihelp import assert_one_line_error

runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def ok(r):
    assert r.exit_code == 0, (r.exit_code, r.stdout[-2000:], r.stderr[-2000:])
    return json.loads(r.stdout) if r.stdout.strip().startswith("{") else None


@pytest.fixture(scope="module")
def halved(tmp_path_factory):
    """A finished coarse --halving stage: 12 configurations, rate 3, rungs of 1, 3 and 6 epochs."""
    tmp = tmp_path_factory.mktemp("halving")
    sp = tmp / "s.yaml"
    sp.write_text(yaml.safe_dump({"sampler": "random", "trials": 12, "epochs": 6, "params": {
        "lr": {"low": 1e-4, "high": 1.0, "log": True}, "reg": {"low": 1e-5, "high": 1e-1, "log": True},
        "hidden": [16]}}))
    doc = ok(run("coarse", "--space", sp, "--halving", "--out", tmp / "c.json", "--json", "--quiet"))
    return tmp, doc


def test_the_document_records_the_schedule_and_each_trial_s_rung(halved):
    tmp, doc = halved
    hv = doc["settings"]["halving"]
    assert (hv["rate"], hv["min_epochs"], hv["rungs"]) == (3, 1, [{"epochs": 1, "count": 12},
                                                                 {"epochs": 3, "count": 4},
                                                                 {"epochs": 6, "count": 1}])
    per_rung = [sum(t["rung"] == k for t in doc["trials"]) for k in range(3)]
    assert per_rung[0] == 12 and 1 <= per_rung[2] <= per_rung[1] <= 4
    assert doc["progress"]["requested"] == 17 and doc["progress"]["done"] == len(doc["trials"])
    assert doc["settings"]["trials"] == 12 and doc["schema_version"] == 3
    lines = summary(doc).plain.splitlines()
    assert lines[-3].strip().startswith("rung 0: 12/12 trials x 1 epoch(s), 4 promoted")
    assert lines[-1].strip() == f"rung 2: {per_rung[2]}/1 trials x 6 epoch(s)"


def test_fine_and_train_from_a_halving_file_use_each_configuration_s_last_rung(halved):
    tmp, doc = halved
    fine = ok(run("fine", "--from", tmp / "c.json", "--trials", "4", "--epochs", "2", "--out", tmp / "f.json",
                  "--json", "--quiet"))
    top = fine["settings"]["narrowed"]["top_numbers"]
    by = {t["number"]: t for t in doc["trials"]}
    assert top[0] == doc["best"]["number"] and by[top[0]]["rung"] == 2
    assert not any(by[n]["promoted"] for n in top)
    assert len({by[n]["config"] for n in top}) == len(top)  # no configuration twice
    trained = ok(run("train", "--from", tmp / "c.json", "--top", "3", "--json", "--quiet"))
    configs = [m["config"] for m in trained["models"]]
    current = sorted((t for t in doc["trials"] if not t["promoted"] and t["status"] == "complete"),
                     key=lambda t: (-t["rung"], -t["score"] if t["score"] is not None else -t["val_acc"]))
    assert [(c["lr"], c["reg"]) for c in configs] == [(t["params"]["lr"], t["params"]["reg"]) for t in current[:3]]
    assert {c["epochs"] for c in configs} == {6}  # a configuration trains for the stage's --epochs, whatever its rung


def test_train_from_a_halving_file_reproduces_its_best_trial_exactly(halved):
    """The best trial (its last rung, number = rung x configs + config) trained with its configuration's seed:
    the same val_acc per epoch as in the stage."""
    tmp, doc = halved
    best = next(t for t in doc["trials"] if t["number"] == doc["best"]["number"])
    assert best["number"] != best["config"]  # a later rung: the number alone would give another seed
    trained = ok(run("train", "--from", tmp / "c.json", "--json", "--quiet"))
    assert trained["history"]["val_acc"] == best["val_curve"]
    numbers = {t["number"] for t in doc["trials"]}
    missing = min(set(range(max(numbers))) - numbers)  # a gap between rungs
    r = run("train", "--from", tmp / "c.json", "--trial", missing, "--quiet")
    assert_one_line_error(r, 2, f"no trial {missing}", "its trials are numbered 0..")
    assert r.stderr.rstrip().endswith(str(max(numbers)))


@pytest.mark.parametrize("key, value, needle", [("rung", -1, "trials[0].rung must be an integer >= 0"),
                                                ("config", "0", "trials[0].config must be an integer >= 0"),
                                                ("promoted", 1, "trials[0].promoted must be true or false")])
def test_the_trial_fields_of_halving_are_validated(halved, key, value, needle):
    doc = json.loads(json.dumps(halved[1]))
    doc["trials"][0][key] = value
    with pytest.raises(ResultsError, match=needle.replace("[", r"\[").replace("]", r"\]")):
        validate(doc, "c.json")


def test_a_bad_schedule_in_the_file_is_refused(halved):
    doc = json.loads(json.dumps(halved[1]))
    doc["settings"]["halving"]["rungs"][1]["count"] = 0
    with pytest.raises(ResultsError, match=r"settings.halving.rungs\[1\]"):
        validate(doc, "c.json")
    assert results_file.read(halved[0] / "c.json") == halved[1]


@pytest.mark.parametrize("args, needle", [
    (("--min-epochs", "2"), "--min-epochs only apply with --halving"),
    (("--halving", "--halving-rate", "1"), "--halving-rate must be an integer >= 2, got 1"),
    (("--halving", "--min-epochs", "5"), "--min-epochs 5 must be below --epochs 5"),
])
def test_bad_halving_flags_are_one_line_errors(tmp_path, args, needle):
    r = run("coarse", "--data", "spiral", "--epochs", "5", "--trials", "3", *args, "--out", tmp_path / "r.json")
    assert_one_line_error(r, 2, needle)
    assert not (tmp_path / "r.json").exists()
