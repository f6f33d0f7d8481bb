"""From a search to a tested model (issue 15): train --from/--trial/--top/--final, the model file, evaluate, predict."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from typer.testing import CliRunner

import hpsearch
from clihelp import assert_one_line_error
from hpsearch.cli import app
from hpsearch.config.data import DataSpec
from hpsearch.config.train import TrainConfig
from hpsearch.data.builtin import digits
from hpsearch.data.dataset import load
from hpsearch.data.split import load_split, split_indices
from hpsearch.results import file as results_file
from hpsearch.trainer.fit import fit
from hpsearch.trainer.saved import save_model

runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def search(tmp_path_factory):
    """A small coarse stage on digits: its results file."""
    d = tmp_path_factory.mktemp("search")
    out = d / "results.json"
    r = run("coarse", "--trials", "8", "--epochs", "2", "--hidden", "32", "--out", out, "--quiet")
    assert r.exit_code in (0, 1), r.stderr
    return out


def test_a_saved_model_predicts_exactly_what_the_trainer_validated(tmp_path):
    spec = DataSpec("digits")
    sp = load_split(spec)
    cfg = TrainConfig(hidden=(32,), epochs=3)
    r = fit(sp, cfg, 0)
    path = tmp_path / "m.npz"
    save_model(str(path), r.model, cfg, sp, {"seed": 0})
    m = hpsearch.load_model(path)
    ds = load("digits")
    _, va = split_indices(ds.y, spec.val_fraction, spec.split_seed)
    raw = np.asarray(ds.X)[va]
    assert np.array_equal(m.predict(raw), np.asarray(sp.classes, dtype=object)[r.model.predict(sp.X_val)])
    assert np.allclose(m.predict_proba(raw).sum(axis=1), 1.0)
    assert m.header["classes"] == list(range(10)) and m.features == 64
    mask = os.umask(0)
    os.umask(mask)
    assert os.stat(path).st_mode & 0o777 == 0o666 & ~mask  # a new file's usual mode, not a temp file's 0600
    assert [p.name for p in tmp_path.iterdir()] == ["m.npz"]


def test_a_model_saved_from_uint8_images_reads_the_raw_file(tmp_path):
    X, y = digits()
    img = (X * 15).astype(np.uint8).reshape(-1, 8, 8)  # 0..240 pixel values, as images
    data = tmp_path / "img.npz"
    np.savez(data, X=img, y=y)
    model = tmp_path / "img_model.npz"
    r = run("train", "--data", data, "--flatten", "--hidden", "32", "--epochs", "5", "--save", model, "--json",
            "--quiet")
    assert r.exit_code == 0, r.stderr
    val_acc = json.loads(r.stdout)["val_acc"]
    m = hpsearch.load_model(model)
    ds = load(str(data), flatten=True)
    _, va = split_indices(ds.y, 0.2, 0)
    acc = float((m.predict(np.asarray(ds.X)[va]).astype(int) == y[va]).mean())
    assert acc == pytest.approx(val_acc, abs=1e-12)  # the raw 0-255 file, no manual scaling
    assert np.asarray(m.mean).max() > 1  # the statistics are in the file's own units


def test_train_from_reproduces_the_trial_and_says_what_was_overridden(search, tmp_path):
    doc = results_file.read(search)
    best = min((t for t in doc["trials"] if t["status"] == "complete"),
               key=lambda t: (-(t["score"] if t.get("score") is not None else t["val_acc"]), t["number"]))
    r = run("train", "--from", search, "--json", "--quiet")
    assert r.exit_code == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["from"]["trial"] == best["number"] and out["from"]["overridden"] == {}
    assert out["val_acc"] == best["val_acc"]  # same settings, same seed, same split: the same run
    assert out["config"]["hidden"] == [32] and out["config"]["epochs"] == 2
    r = run("train", "--from", search, "--trial", 0, "--epochs", 3, "--json")
    out = json.loads(r.stdout)
    assert out["from"]["trial"] == 0 and out["from"]["overridden"] == {"epochs": "2 -> 3"}
    assert "overridden: epochs 2 -> 3" in r.stderr


def test_train_from_with_a_seed_trains_the_same_configuration_from_another_start_and_says_so(search):
    """--seed overrides the trial's own seed (another init and shuffling, e.g. for an ensemble of seeds); it was
    silently ignored, so five "seeds" gave five identical models."""
    own = json.loads(run("train", "--from", search, "--json", "--quiet").stdout)
    r = run("train", "--from", search, "--seed", 7, "--json")
    assert r.exit_code == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["seed"] == 7 and own["seed"] != 7
    assert out["from"]["overridden"] == {"seed": "the trial's -> 7"}
    assert "overridden: seed the trial's -> 7" in " ".join(r.stderr.split())
    assert out["config"] == own["config"]  # the same configuration ...
    assert out["final_loss"] != own["final_loss"]  # ... from another start
    again = json.loads(run("train", "--from", search, "--seed", 7, "--json", "--quiet").stdout)
    assert again["val_acc"] == out["val_acc"] and again["final_loss"] == out["final_loss"]


def test_seeds_trains_each_chosen_configuration_from_n_seeds_the_first_its_own(search, tmp_path):
    """--seeds N: seed 1 is the trial's own (it reproduces the trial), the others independent starts of the same
    configuration, each saved as trial-N-seedI.npz; a rerun saves the same models."""
    own = json.loads(run("train", "--from", search, "--json", "--quiet").stdout)
    folder = tmp_path / "seeds"
    r = run("train", "--from", search, "--seeds", 3, "--save", folder, "--json")
    assert r.exit_code == 0, r.stderr
    models = json.loads(r.stdout)["models"]
    best = ranking_best(search)
    assert sorted(p.name for p in folder.iterdir()) == [f"trial-{best}-seed{i}.npz" for i in (1, 2, 3)]
    assert [m["from"]["run"] for m in models] == [1, 2, 3] and {m["from"]["trial"] for m in models} == {best}
    assert models[0]["seed"] == own["seed"] and models[0]["val_acc"] == own["val_acc"]
    assert len({json.dumps(m["seed"]) for m in models}) == 3  # three different starts ...
    assert len({m["final_loss"] for m in models}) == 3
    assert all(m["config"] == own["config"] for m in models)  # ... of one configuration
    said = " ".join(r.stderr.split())
    assert "seed 2 of 3" in said
    accs = sorted(m["val_acc"] for m in models)  # after the reports, one line says what the run left
    assert f"3 models from 1 configuration, val_acc {accs[0]:.4f}-{accs[-1]:.4f}; saved in {folder}" in said
    again = json.loads(run("train", "--from", search, "--seeds", 3, "--json", "--quiet").stdout)["models"]
    assert [m["final_loss"] for m in again] == [m["final_loss"] for m in models]
    # with --top K: K configurations x N seeds; with --seed S the first start is S
    r = run("train", "--from", search, "--top", 2, "--seeds", 2, "--seed", 5, "--epochs", 1, "--save",
            tmp_path / "grid", "--json", "--quiet")
    assert r.exit_code == 0, r.stderr
    models = json.loads(r.stdout)["models"]
    assert len(models) == 4 and len(list((tmp_path / "grid").glob("trial-*-seed[12].npz"))) == 4
    assert [m["seed"] for m in models] == [5, [5, 0], 5, [5, 0]]  # seed 2 is spawned from --seed's
    for m in models:  # each file holds the model its JSON reports
        saved = hpsearch.load_model(m["saved"]).header["provenance"]
        assert saved["seed"] == m["seed"] and saved["trial"] == m["from"]["trial"]
        assert m["saved"].endswith(f"trial-{m['from']['trial']}-seed{m['from']['run']}.npz")
    # the first start is --seed's own; a later one is spawned from it, and the output says which it is
    overridden = [m["from"]["overridden"]["seed"] for m in models]
    assert overridden == ["the trial's -> 5", "the trial's -> [5, 0]"] * 2
    # as with --top, --save is a folder even for --seeds 1, and a name that looks like a model file is refused
    assert run("train", "--from", search, "--seeds", 1, "--epochs", 1, "--save", tmp_path / "one",
               "--quiet").exit_code == 0
    assert [p.name for p in (tmp_path / "one").iterdir()] == [f"trial-{best}-seed1.npz"]
    for flag in ("--seeds", "--top"):
        r = run("train", "--from", search, flag, 2, "--epochs", 1, "--save", tmp_path / "two.npz", "--quiet")
        assert_one_line_error(r, 2, "--save", "two.npz", "names a file", "--save models/")
        assert not (tmp_path / "two.npz").exists()
    # a folder holding models this run does not write is refused before training: evaluate would ensemble them
    r = run("train", "--from", search, "--seeds", 2, "--save", folder, "--quiet")
    assert_one_line_error(r, 2, "--save", "already holds 1 model file", f"trial-{best}-seed3.npz", "new folder")
    assert sorted(p.name for p in folder.iterdir()) == [f"trial-{best}-seed{i}.npz" for i in (1, 2, 3)]
    assert run("train", "--from", search, "--seeds", 3, "--save", folder, "--quiet").exit_code == 0  # a rerun
    assert_one_line_error(run("train", "--seeds", 2), 2, "--seeds needs --from")
    assert_one_line_error(run("train", "--from", search, "--seeds", 0), 2, "--seeds")


def test_top_k_final_saves_a_model_per_configuration_and_evaluate_ensembles_them(search, tmp_path):
    folder = tmp_path / "models"
    r = run("train", "--from", search, "--top", 3, "--final", "--save", folder, "--json", "--quiet")
    assert r.exit_code == 0, r.stderr
    models = json.loads(r.stdout)["models"]
    assert len(models) == 3 and len(list(folder.glob("*.npz"))) == 3
    for m in models:  # every training row, no validation
        assert m["final"] and m["val_acc"] is None and m["data"]["val_samples"] == 0
        assert m["data"]["train_samples"] == 1797
    X, y = digits()
    test = tmp_path / "test.npz"
    np.savez(test, X=X[:300], y=y[:300])
    r = run("evaluate", folder, "--data", test, "--json", "--quiet")
    assert r.exit_code == 0, r.stderr
    ev = json.loads(r.stdout)
    assert {"accuracy", "samples", "models", "per_class", "confusion", "members"} <= set(ev)
    assert ev["samples"] == 300 and len(ev["members"]) == 3 and len(ev["confusion"]["matrix"]) == 10
    assert sum(map(sum, ev["confusion"]["matrix"])) == 300
    r = run("predict", folder, "--data", test, "--out", tmp_path / "p.csv")
    assert r.exit_code == 0, r.stderr
    rows = (tmp_path / "p.csv").read_text().splitlines()
    assert rows[0].startswith("row,label,p_0") and len(rows) == 301
    pred = np.array([int(line.split(",")[1]) for line in rows[1:]])
    assert float((pred == y[:300]).mean()) == pytest.approx(ev["accuracy"])


def test_top_k_says_when_fewer_trials_exist_and_when_nothing_is_kept(search, tmp_path):
    complete = sum(t["status"] == "complete" for t in results_file.read(search)["trials"])
    r = run("train", "--from", search, "--top", complete + 5, "--epochs", "1", "--save", tmp_path / "all",
            "--quiet")
    assert r.exit_code == 0, r.stderr
    assert f"--top {complete + 5}" in r.stderr and f"has {complete} complete trial(s)" in r.stderr
    assert len(list((tmp_path / "all").iterdir())) == complete
    r = run("train", "--from", search, "--top", 2, "--epochs", "1", "--quiet")
    assert r.exit_code == 0 and "not kept (add --save FOLDER" in r.stderr
    # with --top, --save is a folder even for one configuration (README: one trial-N.npz per configuration)
    r = run("train", "--from", search, "--top", 1, "--epochs", "1", "--save", tmp_path / "one", "--quiet")
    assert r.exit_code == 0, r.stderr
    assert [p.name for p in (tmp_path / "one").iterdir()] == [f"trial-{ranking_best(search)}.npz"]


def test_an_ensemble_of_identical_models_is_that_model(search, tmp_path):
    model = tmp_path / "one.npz"
    assert run("train", "--from", search, "--save", model, "--quiet").exit_code == 0
    X, y = digits()
    test = tmp_path / "t.npz"
    np.savez(test, X=X[:200], y=y[:200])
    one = json.loads(run("evaluate", model, "--data", test, "--json", "--quiet").stdout)
    two = json.loads(run("evaluate", model, model, "--data", test, "--json", "--quiet").stdout)
    assert two["accuracy"] == one["accuracy"] and two["confusion"] == one["confusion"]


def test_bad_model_files_and_mismatched_data_are_one_line_errors(search, tmp_path):
    X, y = digits()
    test = tmp_path / "t.npz"
    np.savez(test, X=X[:50], y=y[:50])
    garbage = tmp_path / "garbage.npz"
    garbage.write_text("not a model")
    assert_one_line_error(run("evaluate", garbage, "--data", test), 2, "garbage.npz", "not a model file")
    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, W1=np.zeros((2, 2)))
    assert_one_line_error(run("evaluate", foreign, "--data", test), 2, "foreign.npz", "not an hpsearch model")
    good = tmp_path / "good.npz"
    assert run("train", "--from", search, "--save", good, "--quiet").exit_code == 0
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(good.read_bytes()[: len(good.read_bytes()) // 2])
    assert_one_line_error(run("evaluate", truncated, "--data", test), 2, "truncated.npz")
    assert_one_line_error(run("evaluate", good, "--data", "spiral"), 2, "2 features", "expects 64")
    labels = tmp_path / "labels.npz"
    np.savez(labels, X=X[:50], y=y[:50] + 100)
    assert_one_line_error(run("evaluate", good, "--data", labels), 2, "labels", "does not know")
    empty = tmp_path / "empty"
    empty.mkdir()
    assert_one_line_error(run("evaluate", empty, "--data", test), 2, "no model files")
    assert_one_line_error(run("train", "--trial", 1), 2, "--from")
    assert_one_line_error(run("train", "--from", search, "--trial", 999, "--quiet"), 2, "no trial 999")
    # one model is one file: a folder name (trailing slash) is refused before training, not after it
    assert_one_line_error(run("train", "--from", search, "--save", f"{tmp_path}/newdir/", "--quiet"), 2,
                          "--save", "names a folder", "--top K")
    assert not (tmp_path / "newdir").exists()


def test_a_model_file_of_an_unknown_version_is_refused(tmp_path):
    sp = load_split(DataSpec("digits"))
    cfg = TrainConfig(hidden=(8,), epochs=1)
    r = fit(sp, cfg, 0)
    path = tmp_path / "m.npz"
    save_model(str(path), r.model, cfg, sp, {})
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files}
    header = json.loads(arrays["header"].tobytes())
    header["version"] = 99
    arrays["header"] = np.frombuffer(json.dumps(header).encode(), np.uint8)
    np.savez(path, **arrays)
    from hpsearch.errors import ModelFileError

    with pytest.raises(ModelFileError, match="version 99"):
        hpsearch.load_model(path)


def test_csv_class_names_travel_from_the_data_to_the_model_and_back(tmp_path):
    # a CSV whose label column holds names: the model file keeps the names; evaluate matches the test file's
    # classes by name (a test file may lack a class); predict prints names
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 3))
    y = np.where(X[:, 0] > 0.3, "cat", np.where(X[:, 1] > 0, "dog", "bird"))

    def write(path, rows):
        path.write_text("a,b,c,species\n" + "".join(",".join(f"{v:.4f}" for v in X[i]) + f",{y[i]}\n"
                                                    for i in rows))

    write(tmp_path / "train.csv", range(300))
    no_bird = [i for i in range(100) if y[i] != "bird"]
    write(tmp_path / "test.csv", no_bird)
    r = run("train", "--data", tmp_path / "train.csv", "--epochs", "8", "--save", tmp_path / "m.npz", "--quiet")
    assert r.exit_code == 0, r.stderr
    m = hpsearch.load_model(tmp_path / "m.npz")
    assert m.classes == ("bird", "cat", "dog") and m.header["classes"] == ["bird", "cat", "dog"]
    r = run("evaluate", tmp_path / "m.npz", "--data", tmp_path / "test.csv", "--json")
    assert r.exit_code == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["samples"] == len(no_bird) and set(out["per_class"]) <= {"bird", "cat", "dog"}
    predicted = m.predict(X[no_bird])
    assert out["accuracy"] == pytest.approx(float(np.mean(predicted == y[no_bird])))
    r = run("predict", tmp_path / "m.npz", "--data", tmp_path / "test.csv")
    assert r.exit_code == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "row,label,p_bird,p_cat,p_dog"
    assert [ln.split(",")[1] for ln in lines[1:]] == list(predicted)


def test_predict_out_replaces_a_regular_file_whole_and_writes_into_a_link_or_a_fifo(search, tmp_path):
    X, y = digits()
    data = tmp_path / "d.npz"
    np.savez(data, X=X[:20], y=y[:20])
    model = tmp_path / "m.npz"
    assert run("train", "--from", search, "--epochs", "1", "--save", model, "--quiet").exit_code == 0
    target = tmp_path / "target.csv"
    target.write_text("old\n")
    link = tmp_path / "link.csv"
    link.symlink_to(target)
    assert run("predict", model, "--data", data, "--out", link).exit_code == 0
    assert link.is_symlink() and len(target.read_text().splitlines()) == 21  # written through, not replaced
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    import threading

    got = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_text()))
    reader.start()
    r = run("predict", model, "--data", data, "--out", fifo)
    reader.join(timeout=30)
    assert r.exit_code == 0 and len(got[0].splitlines()) == 21 and fifo.is_fifo()
    plain = tmp_path / "p.csv"
    assert run("predict", model, "--data", data, "--out", plain).exit_code == 0
    assert plain.read_text() == target.read_text()


def ranking_best(results) -> int:
    from hpsearch.results.ranking import rank_key

    doc = results_file.read(results)
    return sorted((t for t in doc["trials"] if t["status"] == "complete"), key=rank_key)[0]["number"]
