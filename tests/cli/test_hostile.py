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


def _npz_claiming(path, shape):
    """An .npz whose X header claims `shape` but holds 16 bytes."""
    import io
    import struct
    import zipfile

    import numpy as np

    hdr = repr({"descr": "<f8", "fortran_order": False, "shape": shape}).encode()
    hdr += b" " * (63 - (10 + len(hdr)) % 64) + b"\n"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("X.npy", b"\x93NUMPY\x01\x00" + struct.pack("<H", len(hdr)) + hdr + b"\x00" * 16)
        y = io.BytesIO()
        np.save(y, np.zeros(3, np.int64))
        z.writestr("y.npy", y.getvalue())


def test_hostile_data_files_are_one_line(tmp_path):
    import pickle
    import zipfile

    huge = tmp_path / "huge.npz"
    _npz_claiming(huge, (1_000_000, 1_000_000))
    assert_one_line_error(run("train", "--data", huge, "--quiet"), 2, "huge.npz", "GiB")
    pkl = tmp_path / "pickle.npz"
    with zipfile.ZipFile(pkl, "w") as z:
        z.writestr("X.npy", pickle.dumps([1, 2]))
        z.writestr("y.npy", pickle.dumps([1]))
    assert_one_line_error(run("train", "--data", pkl, "--quiet"), 2, "not a .npy array")
    field = tmp_path / "field.csv"
    field.write_text("a,b\n" + "x" * 200_000 + ",1\n1,2\n")
    assert_one_line_error(run("train", "--data", field, "--quiet"), 2, "field", "131,072")
    label = tmp_path / "label.csv"
    label.write_text("a,label\n" + "".join(f"{i},{'1e30' if i % 2 else 0}\n" for i in range(40)))
    assert_one_line_error(run("train", "--data", label, "--quiet"), 2, "1e30", "integers")


def test_a_network_too_big_for_memory_is_refused_before_allocating():
    assert_one_line_error(run("train", "--hidden", 100_000_000, "--quiet"), 2, "hidden", "GiB")
