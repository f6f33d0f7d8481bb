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
