"""`--jobs N` shares one prepared split (hpsearch/data/shared_split.py): built once into memory-mapped files, mapped
read-only by the workers, removed when the coordinator ends; results bit-identical to private splits."""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from hpsearch.cli import app, env
from hpsearch.config.data import DataSpec
from hpsearch.config.train import TrainConfig
from hpsearch.data import dataset, shared_split
from hpsearch.data.split import load_split
from hpsearch.engine import workers
from hpsearch.errors import DataError
from hpsearch.trainer import fit

runner = CliRunner()
SHARE_ENV = "HPSEARCH_SHARE_SPLIT"  # "0": no shared split, workers load --data themselves (Runtime.share_split)
ENV = {**os.environ, "PYTHONUNBUFFERED": "1"}
ENV.pop(SHARE_ENV, None)


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def ok(r):
    assert r.exit_code == 0, (r.exit_code, r.stdout[-2000:], r.stderr[-2000:])
    return json.loads(r.stdout) if r.stdout.strip().startswith("{") else None


def space(tmp_path, *, trials, epochs, hidden, batch_size=100):
    p = tmp_path / "s.yaml"
    p.write_text(yaml.safe_dump({"sampler": "random", "trials": trials, "epochs": epochs, "params": {
        "lr": {"low": 1e-3, "high": 3e-2, "log": True}, "reg": {"low": 1e-5, "high": 1e-3, "log": True},
        "hidden": list(hidden), "batch_size": batch_size}}))
    return p


def outcomes(doc):
    return [(t["number"], t["params"], t["status"], t["val_acc"], t["train_acc"], t["initial_loss"],
             t["final_loss"], t["epochs_run"], t["diagnosis"]) for t in doc["trials"]]


def trainers(journal, study_name) -> set:
    """The processes that finished trials of the study."""
    import optuna
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    from hpsearch.engine import study

    st = optuna.load_study(study_name=study_name, storage=JournalStorage(JournalFileBackend(str(journal))))
    return {t.user_attrs.get(study.WORKER_ATTR) for t in st.get_trials() if study.is_done(t)}


def spec(name="digits", **kw):
    return {"spec": name, "label_column": None, "val_fraction": 0.2, "split_seed": 0, "max_samples": None,
            "flatten": False, "preprocess": "standardize", **kw}


def shared(d: dict):
    """A Folder holding the split of data spec `d`, as a coordinator builds it (caller removes it)."""
    share = shared_split.Folder()
    split = load_split(DataSpec.from_dict(d), "float32", share.alloc)
    share.save(split, DataSpec.from_dict(d))
    return share, split


@pytest.fixture
def spies(monkeypatch):
    """What the coordinator told its workers ("go FOLDER") and, when it removed the folder, whether it existed
    and whether every worker process had exited by then."""
    seen = {"go": [], "removed": [], "pools": []}
    start, go, remove = workers.Pool.start.__func__, workers.Pool.go, shared_split.Folder.remove

    def spy_start(cls, *a, **k):
        pool = start(cls, *a, **k)
        seen["pools"].append(pool)
        return pool

    def spy_go(self, folder=None):
        seen["go"].append(folder)
        go(self, folder)

    def spy_remove(self):
        done = all(p.poll() is not None for pool in seen["pools"] for p in pool.procs)
        seen["removed"].append((self.path, self.path is not None and os.path.isdir(self.path), done))
        remove(self)

    monkeypatch.setattr(workers.Pool, "start", classmethod(spy_start))
    monkeypatch.setattr(workers.Pool, "go", spy_go)
    monkeypatch.setattr(shared_split.Folder, "remove", spy_remove)
    return seen


# ---------------------------------------------------------------------------- the library


def test_a_split_built_into_a_folder_is_the_private_split_mapped_read_only(digits_split):
    d = spec()
    share, built = shared(d)
    try:
        assert os.path.basename(share.path).startswith(f"{shared_split.PREFIX}{os.getpid()}-")
        assert isinstance(built.X_train, np.memmap) and os.path.dirname(built.X_train.filename) == share.path
        opened = shared_split.open_split(share.path, {**d, **digits_split.info()}, "float32", "test")
        for s in (built, opened):
            for k in ("X_train", "y_train", "X_val", "y_val", "mean", "std"):
                assert np.array_equal(getattr(s, k), getattr(digits_split, k)), k
                assert getattr(s, k).dtype == getattr(digits_split, k).dtype
            assert s.info() == digits_split.info() and s.num_classes == digits_split.num_classes
        assert isinstance(opened.X_train, np.memmap) and not opened.X_train.flags.writeable
        assert not opened.X_val.flags.writeable
        cfg = TrainConfig(hidden=(32,), epochs=2, lr=1e-2, dropout=0.2, batchnorm=True)
        a, b = fit.fit(digits_split, cfg, 7), fit.fit(opened, cfg, 7)  # the trainer never writes X: read-only is fine
        assert a.to_dict(history=True) | {"seconds": 0} == b.to_dict(history=True) | {"seconds": 0}
        for k, w in a.model.params.items():
            assert np.array_equal(w, b.model.params[k]), k
    finally:
        share.remove()
    assert not os.path.exists(share.path)


def test_a_worker_refuses_a_folder_that_is_not_its_studys_split(tmp_path, digits_split):
    share, _ = shared(spec("spiral"))
    try:
        with pytest.raises(DataError) as e:
            shared_split.open_split(share.path, {**spec(), **digits_split.info()}, "float32", "study 's'")
        assert "fingerprint" in str(e.value) and "study 's'" in str(e.value) and "\n" not in str(e.value)
        with pytest.raises(DataError, match="dtype float32 differs from float64"):
            shared_split.open_split(share.path, {}, "float64", "study 's'")
        with pytest.raises(DataError, match="split_seed 0 differs from 1"):
            shared_split.open_split(share.path, {"split_seed": 1}, "float32", "study 's'")
    finally:
        share.remove()
    with pytest.raises(DataError, match="cannot be read"):
        shared_split.open_split(share.path, {}, "float32", "study 's'")


def test_the_folder_goes_where_there_is_room_and_nowhere_without(monkeypatch):
    room = {shared_split.SHM: 0, tempfile.gettempdir(): 10**12}
    monkeypatch.setattr(shared_split, "free_bytes", lambda p: room.get(p, 0))
    assert shared_split.place(1000) == tempfile.gettempdir()
    room[shared_split.SHM] = 10**12
    assert shared_split.place(1000) == (shared_split.SHM if os.path.isdir(shared_split.SHM) else tempfile.gettempdir())
    room.update({shared_split.SHM: shared_split.MARGIN, tempfile.gettempdir(): shared_split.MARGIN})
    assert shared_split.place(1000) is None
    share = shared_split.Folder()
    out = share.alloc({"X_train": ((4, 3), np.dtype("float32"))})  # no room: private arrays, nothing shared
    assert share.path is None and type(out["X_train"]) is np.ndarray and out["X_train"].shape == (4, 3)


def test_a_folder_that_cannot_be_written_is_given_up_not_an_error(monkeypatch, digits_split):
    """Sharing saves memory; when it fails the search goes on with a private split (the CLI warns)."""
    def full(*a, **k):
        raise OSError(28, "No space left on device")

    with shared_split.sharing(True) as share:
        out = share.alloc({"X_train": ((4, 3), np.dtype("float32"))})
        folder = share.path
        monkeypatch.setattr(np, "save", full)
        share.save(digits_split, DataSpec.from_dict(spec()))
        assert share.path is None and "No space left" in share.problem and folder in share.problem
        assert not os.path.exists(folder)
        out["X_train"][:] = 1.0  # this process's arrays stay usable (mapped files, only unlinked)
        assert float(out["X_train"].sum()) == 12.0


def test_blocks_are_reserved_up_front_and_a_full_place_falls_back_to_the_next(monkeypatch):
    """A tmpfs that fills up while the split is written would kill the writer with SIGBUS: posix_fallocate
    reserves the blocks at once, so a lack of room shows as ENOSPC and the next place (or none) is used."""
    calls = []

    def fallocate(fd, offset, length):
        calls.append(length)
        if len(calls) == 1:
            raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "posix_fallocate", fallocate)
    monkeypatch.setattr(shared_split, "places", lambda need: [tempfile.gettempdir(), tempfile.gettempdir()])
    share = shared_split.Folder()
    try:
        out = share.alloc({"X_train": ((4, 3), np.dtype("float32"))})
        assert calls[0] >= 4 * 3 * 4 and len(calls) == 2  # the first place failed, the second took it
        assert share.path and os.path.isdir(share.path) and "No space left" in share.problem
        assert isinstance(out["X_train"], np.memmap) and len(shared_split.folders_of(os.getpid())) == 1
    finally:
        share.remove()
    monkeypatch.setattr(os, "posix_fallocate", lambda *a: (_ for _ in ()).throw(OSError(28, "full")))
    share = shared_split.Folder()
    out = share.alloc({"X_train": ((4, 3), np.dtype("float32"))})  # no place works: private arrays
    assert share.path is None and type(out["X_train"]) is np.ndarray and shared_split.folders_of(os.getpid()) == []


def test_a_dead_coordinators_folder_is_swept_a_live_ones_is_not():
    code = ("import os, sys, numpy as np; from hpsearch.data import shared_split; f = shared_split.Folder(); "
            "f.alloc({'X_train': ((4, 3), np.dtype('float32'))}); print(f.path, flush=True); sys.stdin.read(); "
            "os._exit(0)")  # exits without removing its folder, as a SIGKILLed coordinator leaves it
    live = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                            env=ENV)
    dead = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                            env=ENV)
    try:
        live_dir, dead_dir = live.stdout.readline().strip(), dead.stdout.readline().strip()
        dead.kill()
        dead.wait(10)
        assert os.path.isdir(dead_dir) and os.path.isdir(live_dir)
        removed = shared_split.sweep()
        assert dead_dir in removed and not os.path.exists(dead_dir)
        assert live_dir not in removed and os.path.isdir(live_dir)  # its coordinator still holds the lock
    finally:
        live.communicate("", timeout=10)
        shutil.rmtree(live_dir, ignore_errors=True)


@pytest.mark.skipif(signal.getsignal(signal.SIGTERM) != signal.SIG_DFL, reason="a SIGTERM handler is installed")
def test_sigterm_before_the_search_exits_143_and_removes_the_folder():
    with pytest.raises(SystemExit) as e:
        with shared_split.sharing(True) as share:  # as while the coordinator loads the data, before engine.stop.Stopper
            share.alloc({"X_train": ((4, 3), np.dtype("float32"))})
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)  # the handler raises at once
    assert e.value.code == 143 and not os.path.exists(share.path)
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL


def test_sharing_removes_the_folder_on_error_and_can_be_turned_off(monkeypatch):
    with pytest.raises(RuntimeError):
        with shared_split.sharing(True) as share:
            share.alloc({"X_train": ((4, 3), np.dtype("float32"))})
            assert os.path.isdir(share.path)
            raise RuntimeError
    assert not os.path.exists(share.path)
    with shared_split.sharing(False) as none:
        assert none is None
    assert env.runtime().share_split
    monkeypatch.setenv(SHARE_ENV, "0")
    assert not env.runtime().share_split


# ---------------------------------------------------------------------------- coarse --jobs 2


def test_jobs_2_trains_every_process_on_one_shared_split_with_the_same_results(tmp_path, spies, monkeypatch):
    sp = space(tmp_path, trials=16, epochs=8, hidden=(256, 256))  # ~0.1 s a trial: the second process joins
    one = ok(run("coarse", "--space", sp, "--out", tmp_path / "one.json", "--json", "--quiet"))
    assert spies == {"go": [], "removed": [], "pools": []}  # --jobs 1: nothing written, nothing shared
    two = ok(run("coarse", "--space", sp, "--out", tmp_path / "two.json", "--jobs", "2", "--json", "--quiet"))
    (folder,) = spies["go"]
    assert os.path.basename(folder).startswith(f"{shared_split.PREFIX}{os.getpid()}-")
    assert spies["removed"] == [(folder, True, True)] and not os.path.exists(folder)  # after the workers ended
    assert len(trainers(tmp_path / "two.journal", "coarse-two")) == 2  # the worker trained too (on the folder)
    assert outcomes(one) == outcomes(two) and one["best"] == two["best"]
    monkeypatch.setenv(SHARE_ENV, "0")
    off = ok(run("coarse", "--space", sp, "--out", tmp_path / "off.json", "--jobs", "2", "--json", "--quiet"))
    assert spies["go"][1] is None and len(spies["removed"]) == 1  # a bare "go": the worker loaded --data itself
    assert outcomes(off) == outcomes(one)


def test_the_folder_is_removed_when_the_coordinator_fails_after_building_it(tmp_path, spies):
    sp = space(tmp_path, trials=2, epochs=1, hidden=(8,), batch_size=5000)  # bigger than digits' training split
    r = run("coarse", "--space", sp, "--out", tmp_path / "r.json", "--jobs", "2")
    assert r.exit_code == 2 and "fewer than a batch" in r.stderr, r.stderr
    ((folder, existed, workers_done),) = spies["removed"]
    assert folder and existed and workers_done and not os.path.exists(folder) and spies["go"] == []


def test_sigterm_removes_the_folder_after_the_workers(tmp_path):
    sp = space(tmp_path, trials=10, epochs=10, hidden=(512, 512))
    p = subprocess.Popen([sys.executable, "-m", "hpsearch", "coarse", "--space", str(sp), "--out",
                          str(tmp_path / "r.json"), "--jobs", "2", "--quiet"], cwd=tmp_path,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    deadline = time.monotonic() + 60
    while not [f for f in shared_split.folders_of(p.pid) if os.path.exists(os.path.join(f, shared_split.META))]:
        assert p.poll() is None and time.monotonic() < deadline, p.communicate()
        time.sleep(0.05)
    (folder,) = shared_split.folders_of(p.pid)
    time.sleep(0.5)  # the worker maps it (or is about to): either way it must be gone after
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=120)
    assert p.returncode == 143, err
    assert "Traceback" not in err and not os.path.exists(folder) and shared_split.folders_of(p.pid) == []


# ---------------------------------------------------------------------------- hpsearch worker


def _worker(journal, study, go: str | None):
    """A worker as a coordinator's --jobs starts it: waits for the go line on stdin."""
    p = subprocess.Popen([sys.executable, "-m", "hpsearch", "worker", "--storage", str(journal), "--study", study,
                          "--json", "--quiet"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, env={**ENV, workers.GO_ENV: "1"})
    out, err = p.communicate("go\n" if go is None else f"go {go}\n", timeout=120)
    return p.returncode, out, err


def test_a_worker_given_a_folder_trains_on_it_not_on_data(tmp_path):
    ds = dataset.load("digits")
    np.save(tmp_path / "X.npy", ds.X)
    np.save(tmp_path / "y.npy", np.array(ds.classes)[ds.y])
    sp = space(tmp_path, trials=4, epochs=2, hidden=(32,))
    local = ok(run("coarse", "--space", sp, "--data", tmp_path / "X.npy", "--out", tmp_path / "local.json",
                   "--json", "--quiet"))
    ok(run("coarse", "--space", sp, "--data", tmp_path / "X.npy", "--out", tmp_path / "q.json", "--jobs", "0",
           "--json", "--quiet"))
    share, _ = shared(spec(str(tmp_path / "X.npy")))
    other, _ = shared(spec("spiral"))
    try:
        os.rename(tmp_path / "X.npy", tmp_path / "moved.npy")  # --data is gone: only the folder can serve
        rc, _, err = _worker(tmp_path / "q.journal", "coarse-q", None)
        assert rc == 2 and "no such file" in err, err
        rc, out, err = _worker(tmp_path / "q.journal", "coarse-q", other.path)
        lines = err.strip().splitlines()
        assert rc == 2 and len(lines) == 1 and out == "", err
        assert lines[0].startswith("hpsearch: error: shared split ") and "fingerprint" in lines[0]
        rc, out, err = _worker(tmp_path / "q.journal", "coarse-q", share.path)
        assert rc == 0 and json.loads(out)["ran"] == 4, err
    finally:
        share.remove()
        other.remove()
    doc = ok(run("export", "--storage", tmp_path / "q.journal", "--study", "coarse-q", "--out", tmp_path / "e.json",
                 "--json", "--quiet"))
    assert outcomes(doc) == outcomes(local)


def test_a_worker_with_jobs_2_shares_its_split_with_its_child(tmp_path, spies):
    sp = space(tmp_path, trials=8, epochs=4, hidden=(256, 256))
    local = ok(run("coarse", "--space", sp, "--out", tmp_path / "local.json", "--json", "--quiet"))
    ok(run("coarse", "--space", sp, "--out", tmp_path / "q.json", "--jobs", "0", "--json", "--quiet"))
    w = ok(run("worker", "--storage", tmp_path / "q.journal", "--study", "coarse-q", "--jobs", "2", "--json",
               "--quiet"))
    assert w["done"] == 8
    (folder,) = spies["go"]
    assert folder and spies["removed"] == [(folder, True, True)] and not os.path.exists(folder)
    doc = ok(run("export", "--storage", tmp_path / "q.journal", "--study", "coarse-q", "--out", tmp_path / "e.json",
                 "--json", "--quiet"))
    assert outcomes(doc) == outcomes(local)
