"""A damaged journal loses no finished trial (issue 16, item 1): a cut-off last record is set aside before
anything is appended after it, read-only commands write nothing, and a trial claimed by a process that is gone
is taken back at once, not after the grace."""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from hpsearch.cli import app
from hpsearch.engine.lease import owner_gone
from hpsearch.engine.storage import journal_backend, repair_journal

runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    d = tmp_path_factory.mktemp("journal")
    # another process: the trial whose last record gets cut was claimed by a process that is gone by now
    r = subprocess.run([sys.executable, "-m", "hpsearch", "coarse", "--trials", "6", "--epochs", "1", "--hidden",
                        "8", "--out", str(d / "r.json"), "--quiet"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return d / "r.journal"


def whole_records(data: bytes) -> list:
    return [json.loads(line) for line in data.split(b"\n") if line]


def test_a_journal_cut_at_every_byte_of_its_last_record_keeps_every_whole_record(finished, tmp_path):
    from optuna.storages.journal import JournalStorage

    data = finished.read_bytes()
    start = data.rstrip(b"\n").rfind(b"\n") + 1  # the last record's first byte
    before = whole_records(data[:start])
    for cut in range(start + 1, len(data)):  # a partial last record: 1 byte .. all but its newline
        path = tmp_path / f"cut{cut}.journal"
        path.write_bytes(data[:cut])
        note = repair_journal(str(path))
        assert note is not None and "cut off" in note
        assert whole_records(path.read_bytes()) == before  # every whole record kept, nothing else
        assert (tmp_path / f"cut{cut}.journal.damaged").read_bytes() == data[start:cut] + b"\n"  # set aside
        storage = JournalStorage(journal_backend(str(path)))
        assert [s.study_name for s in storage.get_all_studies()] == ["coarse-r"]
    path = tmp_path / "whole.journal"
    path.write_bytes(data)
    assert repair_journal(str(path)) is None and path.read_bytes() == data  # an intact journal is left alone


@pytest.mark.parametrize("cut_back", [1, 20, 100])
def test_a_search_resumes_after_a_cut_off_record_and_export_writes_nothing(finished, tmp_path, cut_back):
    shutil.copy(finished.with_suffix(".json"), tmp_path / "r.json")
    journal = tmp_path / "r.journal"
    data = finished.read_bytes()
    journal.write_bytes(data[:len(data) - cut_back])
    damaged = journal.read_bytes()
    r = run("export", "--storage", journal, "--study", "coarse-r", "--out", tmp_path / "e.json", "--quiet")
    assert r.exit_code in (0, 1), r.stderr
    assert journal.read_bytes() == damaged  # a read-only command never writes to the study
    r = run("coarse", "--trials", "8", "--epochs", "1", "--hidden", "8", "--out", tmp_path / "r.json", "--quiet")
    assert r.exit_code == 0, r.stderr
    assert "cut off" in r.stderr and (tmp_path / "r.journal.damaged").is_file()
    doc = json.loads((tmp_path / "r.json").read_text())
    assert doc["progress"]["done"] == 8 and doc["progress"]["seconds"] < 10  # the cut trial ran again, at once
    assert all(json.loads(line) for line in journal.read_bytes().splitlines())  # the journal is whole again


def test_a_trial_of_a_process_that_is_gone_is_stale_at_once():
    import os
    import socket

    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    here = socket.gethostname()
    assert owner_gone(f"{here}:{p.pid}")
    assert not owner_gone(f"{here}:{os.getpid()}")  # this process
    assert not owner_gone(f"another-host:{p.pid}")  # another machine's: only the grace can tell
    assert not owner_gone(f"{here}:1")  # alive (init), or not ours to signal
    assert not owner_gone(None) and not owner_gone("junk")


def test_a_lock_left_by_a_killed_process_is_broken_at_once(finished, tmp_path):
    """A process SIGKILLed while it holds the journal's lock: the next command does not wait Optuna's 30 s."""
    import signal
    import time

    shutil.copy(finished.with_suffix(".json"), tmp_path / "r.json")
    journal = tmp_path / "r.journal"
    shutil.copy(finished, journal)
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from hpsearch.engine.storage import owned_lock; "
        f"lock = owned_lock({str(journal)!r}); lock.acquire(); print('held', flush=True); time.sleep(60)")],
        stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    assert (tmp_path / "r.journal.lock").is_symlink()  # left behind
    t0 = time.monotonic()
    r = run("coarse", "--trials", "7", "--epochs", "1", "--hidden", "8", "--out", tmp_path / "r.json", "--quiet")
    assert r.exit_code == 0, r.stderr
    assert time.monotonic() - t0 < 10  # not Optuna's 30 s grace
    assert not (tmp_path / "r.journal.lock").exists()


@contextlib.contextmanager
def _tmpfs(path, options: str):
    """A tmpfs mounted at `path` with mount `options` (root only), unmounted after; skipped where it cannot be."""
    path.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


@pytest.fixture
def tiny_disk(tmp_path):
    """A 64 KiB tmpfs."""
    with _tmpfs(tmp_path / "disk", "size=64k") as disk:
        yield disk


def test_a_full_disk_is_one_line_and_the_search_resumes_once_there_is_room(tiny_disk):
    cmd = [sys.executable, "-m", "hpsearch", "coarse", "--trials", "200", "--epochs", "1", "--hidden", "4", "--quiet"]
    r = subprocess.run(cmd, cwd=tiny_disk, capture_output=True, text=True, timeout=120)
    assert r.returncode == 3, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "the disk is full" in lines[0] and "Traceback" not in r.stderr
    subprocess.run(["mount", "-o", "remount,size=4m", str(tiny_disk)], check=True)
    r = subprocess.run(cmd, cwd=tiny_disk, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    doc = json.loads((tiny_disk / "results.json").read_text())
    assert doc["progress"]["done"] == 200  # every trial, the ones finished before the disk filled included
    assert all(json.loads(line) for line in (tiny_disk / "results.journal").read_bytes().splitlines())


def test_a_read_only_disk_is_one_line_before_anything_runs(tmp_path):
    with _tmpfs(tmp_path / "ro", "size=64k,ro") as ro:
        for args in (["coarse", "--trials", "2", "--epochs", "1", "--hidden", "4", "--out", str(ro / "r.json")],
                     ["train", "--epochs", "1", "--save", str(ro / "m.npz")]):
            r = subprocess.run([sys.executable, "-m", "hpsearch", *args, "--quiet"], capture_output=True, text=True,
                               timeout=60)
            lines = r.stderr.strip().splitlines()
            assert r.returncode == 3 and len(lines) == 1 and "writable" in lines[0], r.stderr


def test_the_lock_owner_record_names_only_the_lock_it_was_written_for(tmp_path):
    """The owner record is rewritten in place and left behind at release: a record of an earlier holder that
    is gone must not get a live holder's lock broken; a record of the current lock whose owner is gone does."""
    import os

    from hpsearch.engine.storage import OWNER_BYTES, owned_lock

    journal = tmp_path / "j.journal"
    journal.write_bytes(b"")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    me, other = owned_lock(str(journal)), owned_lock(str(journal))
    me.acquire()
    made = os.lstat(me._lock_file).st_ctime_ns
    record = open(me.hp_owner, "rb").read()
    assert len(record) == OWNER_BYTES and record.split()[1] == str(made).encode()  # this process, this lock
    assert not other._owner_gone()  # alive
    fake = f"{record.split()[0].decode().rsplit(':', 1)[0]}:{dead.pid}"
    (tmp_path / "j.journal.lock.owner").write_bytes(f"{fake} {made - 1}".encode().ljust(OWNER_BYTES))
    assert not other._owner_gone()  # a gone owner, but of an earlier lock: not this one's
    (tmp_path / "j.journal.lock.owner").write_bytes(f"{fake} {made}".encode().ljust(OWNER_BYTES))
    assert other._owner_gone()  # this lock, its owner gone: broken at once
    me.release()
    assert not os.path.lexists(me._lock_file) and (tmp_path / "j.journal.lock.owner").is_file()
    other.acquire()  # a new lock: the record is rewritten for it
    assert open(other.hp_owner, "rb").read().split()[1] == str(os.lstat(other._lock_file).st_ctime_ns).encode()
    other.release()
