"""config/files.py's write_atomic: every output file (results, report page, model file, predictions) is
replaced whole or not at all, with a new file's usual mode, and leaves nothing behind when writing fails."""

from __future__ import annotations

import os

import numpy as np
import pytest

from hpsearch.config.files import write_atomic


def _mode(p) -> int:
    return os.stat(p).st_mode & 0o777


def test_a_new_file_gets_the_mode_open_would_give_and_an_old_one_keeps_its_own(tmp_path):
    p = tmp_path / "out.csv"
    mask = os.umask(0o022)
    try:
        write_atomic(p, lambda f: f.write("a,b\n"))
        assert p.read_text() == "a,b\n" and _mode(p) == 0o644  # not mkstemp's 0600
        os.chmod(p, 0o640)
        write_atomic(p, lambda f: f.write("c\n"))
        assert p.read_text() == "c\n" and _mode(p) == 0o640
    finally:
        os.umask(mask)


def test_binary_content_round_trips(tmp_path):
    p = tmp_path / "m.npz"
    write_atomic(p, lambda f: np.savez(f, w=np.arange(3)), binary=True)
    assert np.load(p)["w"].tolist() == [0, 1, 2]


def test_a_failing_write_leaves_the_old_file_intact_and_no_temporary_file(tmp_path):
    p = tmp_path / "results.json"
    p.write_text("old")

    def boom(f):
        f.write("half")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space left"):
        write_atomic(p, boom)
    assert p.read_text() == "old"
    assert sorted(x.name for x in tmp_path.iterdir()) == ["results.json"]


def test_a_folder_that_cannot_take_the_file_raises_oserror(tmp_path):
    with pytest.raises(OSError):
        write_atomic(tmp_path / "missing" / "x.csv", lambda f: f.write("x"))


def test_a_name_near_the_length_limit_still_gets_a_temporary_file(tmp_path):
    p = tmp_path / ("m" * 250 + ".npz")  # 254 bytes: the temporary name must not exceed 255
    write_atomic(p, lambda f: f.write("x"))
    assert p.read_text() == "x" and [x.name for x in tmp_path.iterdir()] == [p.name]


def test_an_existing_file_this_process_may_not_write_is_refused_not_replaced(tmp_path, monkeypatch):
    p = tmp_path / "locked.csv"
    p.write_text("old")
    os.chmod(p, 0o444)
    # (as root, access() says yes to everything: ask as a user would)
    monkeypatch.setattr(os, "access", lambda path, mode, **k: not (mode & os.W_OK and os.fspath(path) == str(p)))
    with pytest.raises(PermissionError):
        write_atomic(p, lambda f: f.write("new"))
    assert p.read_text() == "old"
