"""Hostile inputs (issue 16, items 3 and 6): FIFOs, devices, symlinks and absurd --jobs get exit 2 and one line,
never a hang, and nothing is replaced or written."""

from __future__ import annotations

import os

import pytest
from typer.testing import CliRunner

from clihelp import assert_one_line_error
from hpsearch.cli import app

runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture
def fifo(tmp_path):
    p = tmp_path / "pipe"
    os.mkfifo(p)
    return p


@pytest.mark.parametrize("args,needle", [
    (("report", "{p}"), "FIFO"),
    (("coarse", "--space", "{p}", "--quiet"), "FIFO"),
    (("coarse", "--data", "{p}", "--quiet"), "FIFO"),
    (("fine", "--from", "{p}", "--quiet"), "FIFO"),
    (("train", "--from", "{p}", "--quiet"), "FIFO"),
    (("sanity", "--data", "{p}", "--quiet"), "FIFO"),
])
def test_a_fifo_is_refused_not_read(fifo, args, needle):
    r = run(*(a.format(p=fifo) for a in args))  # a plain read would block forever
    assert_one_line_error(r, 2, needle)


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/null"])
def test_a_device_is_not_a_results_file(device):
    assert_one_line_error(run("report", device), 2, "device")


def test_out_never_replaces_a_symlink_or_a_device(tmp_path):
    target = tmp_path / "target.json"
    target.write_text("keep me")
    link = tmp_path / "link.json"
    link.symlink_to(target)
    assert_one_line_error(run("coarse", "--trials", 2, "--epochs", 1, "--out", link, "--quiet"), 2, "symbolic link")
    assert link.is_symlink() and target.read_text() == "keep me"
    assert_one_line_error(run("coarse", "--trials", 2, "--epochs", 1, "--out", "/dev/null", "--quiet"), 2, "device")
    assert not os.path.exists("/dev/null.journal")
    assert_one_line_error(run("train", "--epochs", 1, "--save", link, "--quiet"), 2, "symbolic link")
    assert link.is_symlink() and target.read_text() == "keep me"


def test_a_huge_space_file_is_refused_before_parsing(tmp_path):
    big = tmp_path / "big.yaml"
    big.write_text("params:\n" + "  # padding\n" * 200_000)
    assert_one_line_error(run("coarse", "--space", big, "--quiet"), 2, "bytes", "allowed")


def test_absurd_jobs_are_refused_with_the_limit(tmp_path):
    r = run("coarse", "--jobs", 1000, "--out", tmp_path / "r.json", "--quiet")
    assert_one_line_error(r, 2, "--jobs 1000", "per core")
    assert not (tmp_path / "r.json").exists() and not (tmp_path / "r.journal").exists()


@pytest.fixture(scope="module")
def good_results(tmp_path_factory):
    d = tmp_path_factory.mktemp("good")
    r = run("coarse", "--trials", 3, "--epochs", 1, "--hidden", 8, "--out", d / "r.json", "--quiet")
    assert r.exit_code == 0, r.stderr
    import json

    return json.loads((d / "r.json").read_text())


@pytest.mark.parametrize("edit,key", [
    (lambda d: d.update(progress={}), "progress.requested"),
    (lambda d: d["progress"].update(done="x"), "progress.done"),
    (lambda d: d["trials"][0].update(diagnosis=5), "trials[0].diagnosis"),
    (lambda d: d["trials"][0].update(diagnosis=[{"message": "no kind"}]), "trials[0].diagnosis"),
    (lambda d: d["trials"][0].update(train_acc=7), "trials[0].train_acc"),
    (lambda d: d["trials"][0].update(val_curve="x"), "trials[0].val_curve"),
    (lambda d: d["best"].update(val_acc="high"), "best.val_acc"),
    (lambda d: d.update(warnings=[1]), "warnings[0]"),
    (lambda d: d.update(warnings=[{"kind": "boundary"}]), "warnings[0]"),
    (lambda d: d["settings"].update(narrowed={"top_k": 3, "params": {"lr": 5}}), "settings.narrowed.params.lr"),
])
def test_every_field_a_command_reads_is_validated(good_results, tmp_path, edit, key):
    import copy
    import json

    doc = copy.deepcopy(good_results)
    edit(doc)
    p = tmp_path / "bad.json"
    p.write_text(json.dumps(doc))
    for args in (("report", p), ("fine", "--from", p, "--quiet"), ("train", "--from", p, "--quiet")):
        assert_one_line_error(run(*args), 2, key)


def test_a_deeply_nested_file_is_one_line(tmp_path):
    p = tmp_path / "deep.json"
    p.write_text("[" * 200_000)
    assert_one_line_error(run("report", p), 2, "nested too deeply")
