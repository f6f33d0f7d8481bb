"""Errors name the flag the user typed, and only when the key really came from that flag (cli/flags.py)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from clihelp import assert_one_line_error
from hpsearch.cli import app

ROOT = Path(__file__).resolve().parents[2]


def run(*args):
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


@pytest.mark.parametrize("name", ["epochs.yaml", "trials.yaml", "epochs_wide.yaml"])
def test_a_space_file_named_after_a_key_is_not_mistaken_for_the_key(tmp_path, monkeypatch, name):
    """'--space epochs.yaml --epochs 0': the error is about --epochs, and the file name stays intact."""
    monkeypatch.chdir(tmp_path)
    shutil.copy(ROOT / "search_spaces" / "coarse.yaml", tmp_path / name)
    flag = "--trials" if name.startswith("trials") else "--epochs"
    r = run("coarse", "--space", name, flag, "0", "--out", "r.json", "-q")
    assert_one_line_error(r, 2, f"{flag} must be an integer >= 1, got 0")


def test_a_data_file_named_after_a_key_keeps_its_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(0)
    np.savez("batch_size_demo.npz", X=rng.normal(size=(60, 4)).astype("f4"), y=rng.integers(0, 3, 60))
    r = run("coarse", "--data", "batch_size_demo.npz", "--batch-size", "1000", "--trials", "2", "--out", "r.json",
            "-q")
    assert_one_line_error(r, 2, "batch_size_demo.npz: the training split has", "fewer than a batch of 1000")
    assert "--batch-size_demo" not in r.stderr


def test_a_key_typed_as_a_flag_is_named_as_the_flag():
    assert_one_line_error(run("train", "--val-fraction", "1.5", "-q"), 2, "--val-fraction must be in (0, 1)")
    assert_one_line_error(run("coarse", "--sampler", "grid", "--trials", "3", "--space",
                              str(ROOT / "search_spaces" / "grid.yaml"), "-q"), 2, "--trials 3: grid mode runs")


def test_train_and_sanity_report_a_relative_data_path_as_typed(tmp_path, monkeypatch):
    """Only a search stage records its data path absolute (a fine stage reloads it from anywhere)."""
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(0)
    np.savez("small.npz", X=rng.normal(size=(300, 5)).astype("f4"), y=rng.integers(0, 3, 300))
    np.savez("img.npz", X=rng.normal(size=(60, 4, 4)).astype("f4"), y=rng.integers(0, 3, 60))
    r = run("train", "--data", "small.npz", "--epochs", "1", "--json", "-q")
    assert r.exit_code == 0 and json.loads(r.stdout)["data"]["name"] == "small.npz"
    assert_one_line_error(run("sanity", "--data", "img.npz", "-q"), 2, "img.npz: X has shape (60, 4, 4)")
    assert str(tmp_path) not in run("sanity", "--data", "img.npz", "-q").stderr
    r = run("coarse", "--data", "small.npz", "--trials", "2", "--epochs", "1", "--out", "r.json", "--json", "-q")
    assert r.exit_code == 0 and json.loads(r.stdout)["data"]["spec"] == str(tmp_path / "small.npz")
