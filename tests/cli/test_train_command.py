"""`hpsearch train` through the CLI: JSON contract, --save, and bad input (exit 2, one stderr line)."""

import json
import subprocess
import sys

import numpy as np
import pytest
from typer.testing import CliRunner

from hpsearch.cli import app
from clihelp import assert_one_line_error

runner = CliRunner()


def run(*args):
    return runner.invoke(app, list(args))


def test_json_is_one_object_on_stdout():
    r = run("train", "--epochs", "2", "--json")
    assert r.exit_code == 0, r.stderr
    payload = json.loads(r.stdout)  # exactly one object: json.loads fails on trailing text
    for key in ("status", "val_acc", "train_acc", "initial_loss", "final_loss", "epochs_run", "seconds", "history"):
        assert key in payload
    assert payload["status"] == "complete"
    assert payload["epochs_run"] == 2
    assert len(payload["history"]["val_acc"]) == 2
    assert payload["diagnosis"] and payload["data"]["name"] == "digits"


def test_flags_reach_the_config():
    r = run("train", "--epochs", "1", "--hidden", "30,20", "--activation", "tanh", "--optimizer", "adam",
            "--lr", "1e-3", "--reg", "0.01", "--batch-size", "50", "--dropout", "0.1", "--batchnorm",
            "--lr-decay", "0.9", "--init", "xavier", "--json", "--quiet")
    assert r.exit_code == 0, r.stderr
    cfg = json.loads(r.stdout)["config"]
    assert cfg["hidden"] == [30, 20] and cfg["activation"] == "tanh" and cfg["optimizer"] == "adam"
    assert cfg["batch_size"] == 50 and cfg["batchnorm"] is True and cfg["dropout"] == 0.1
    assert cfg["schedule"] == "exp" and cfg["lr_decay"] == 0.9 and cfg["init"] == "xavier"


def test_default_reaches_095_on_digits():
    r = run("train", "--json", "--quiet")
    assert r.exit_code == 0
    assert json.loads(r.stdout)["val_acc"] >= 0.95


def test_diverged_run_exits_one_with_its_json():
    # a lone run that diverged is "every trial diverged": the gate exit code, with the result still printed
    r = run("train", "--lr", "10", "--epochs", "3", "--json", "--quiet")
    assert r.exit_code == 1
    p = json.loads(r.stdout)
    assert p["status"] == "diverged"
    assert p["stopped_at"]["epoch"] == 1 and p["epochs_run"] == 1


def test_table_goes_to_stderr_under_json():
    r = run("train", "--epochs", "1", "--json")
    assert "hpsearch train" in r.stderr
    json.loads(r.stdout)


def test_save_writes_weights(tmp_path):
    out = tmp_path / "model.npz"
    r = run("train", "--epochs", "1", "--batchnorm", "--save", str(out), "--quiet")
    assert r.exit_code == 0, r.stderr
    with np.load(out, allow_pickle=False) as z:  # the model file (hpsearch/trainer/saved.py): arrays + a JSON header
        assert {"W1", "W2", "b2", "gamma1", "beta1", "running_mean1", "preprocess_mean", "preprocess_std",
                "header"} <= set(z.files)
        assert z["W1"].shape == (64, 100)
        header = json.loads(z["header"].tobytes())
    assert header["format"] == "hpsearch-model" and header["version"] == 1
    assert header["config"]["batchnorm"] is True and header["classes"] == list(range(10))


def test_save_to_unwritable_place_is_io_error(tmp_path):
    r = run("train", "--epochs", "1", "--save", str(tmp_path / "missing" / "m.npz"))
    assert_one_line_error(r, 3, "--save")


@pytest.fixture
def files(tmp_path):
    f = {}
    f["unreadable"] = tmp_path / "garbage.csv"
    f["unreadable"].write_bytes(b"\x89PNG\r\n\x1a\n\x00\xff\xfe")
    f["strlabels"] = tmp_path / "labels.csv"
    f["strlabels"].write_text("a,b,label\n1,2,cat\n3,4,\n")
    f["nan"] = tmp_path / "nan.npz"
    np.savez(f["nan"], X=np.array([[1.0, np.nan], [2.0, 3.0]] * 10), y=np.array([0, 1] * 10))
    f["inf"] = tmp_path / "inf.npz"
    np.savez(f["inf"], X=np.array([[1.0, np.inf], [2.0, 3.0]] * 10), y=np.array([0, 1] * 10))
    f["oneclass"] = tmp_path / "one.npz"
    np.savez(f["oneclass"], X=np.ones((20, 2)), y=np.zeros(20))
    f["small"] = tmp_path / "small.npz"
    np.savez(f["small"], X=np.random.default_rng(0).standard_normal((30, 2)), y=np.array([0, 1] * 15))
    return f


@pytest.mark.parametrize("args,code,needles", [
    (["--data", "/no/such/file.csv"], 2, ["--data", "no such file", "digits"]),
    (["--data", "FILE:unreadable"], 2, ["garbage.csv", "not a text CSV"]),
    (["--data", "FILE:strlabels"], 2, ["labels.csv", "line 3", "the label is empty"]),
    (["--data", "FILE:nan"], 2, ["nan.npz", "NaN"]),
    (["--data", "FILE:inf"], 2, ["inf.npz", "inf"]),
    (["--data", "FILE:oneclass"], 2, ["one.npz", "only one class"]),
    (["--data", "FILE:small", "--batch-size", "100"], 2, ["fewer than one batch", "--batch-size"]),
    (["--activation", "swish"], 2, ["--activation", "swish", "relu"]),
    (["--optimizer", "adamw"], 2, ["--optimizer", "adamw", "adam"]),
    (["--init", "glorot"], 2, ["--init", "glorot", "xavier"]),
    (["--lr", "-0.1"], 2, ["--lr", "> 0"]),
    (["--lr", "abc"], 2, ["--lr"]),
    (["--hidden", "100,,x"], 2, ["--hidden", "100,50"]),
    (["--hidden", "100,-5"], 2, ["--hidden"]),
    (["--dropout", "1.5"], 2, ["--dropout"]),
    (["--epochs", "0"], 2, ["--epochs"]),
    (["--seed", "-1"], 2, ["--seed"]),
    (["--no-such-flag"], 2, ["--no-such-flag"]),
])
def test_bad_input(files, args, code, needles):
    args = [str(files[a[5:]]) if a.startswith("FILE:") else a for a in args]
    assert_one_line_error(run("train", *args), code, *needles)


def test_debug_shows_traceback():
    r = subprocess.run([sys.executable, "-m", "hpsearch", "--debug", "train", "--activation", "swish"],
                       capture_output=True, text=True)
    assert r.returncode != 0 and "Traceback" in r.stderr


def test_help_ends_with_an_example():
    r = run("train", "--help")
    assert r.exit_code == 0
    assert "Example: hpsearch train" in r.stdout


def test_no_progress_bar_when_not_a_tty():
    r = subprocess.run([sys.executable, "-m", "hpsearch", "train", "--epochs", "1", "--json"],
                       capture_output=True, text=True)
    assert r.returncode == 0
    assert "\x1b[" not in r.stderr  # no live display escape codes in a pipe
    json.loads(r.stdout)
