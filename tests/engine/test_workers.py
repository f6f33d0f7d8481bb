"""engine/workers.py: the --jobs worker processes, their start, release, stop and reaping, one unit at a time
(tests/engine/test_jobs.py runs whole searches with them)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from hpsearch.config.runtime import Runtime
from hpsearch.config.space_file import parse_yaml
from hpsearch.engine import stage, storage, workers
from hpsearch.errors import ConfigError


def test_exits_are_described_in_words():
    assert workers.describe_exit(0) == "exit 0"
    assert workers.describe_exit(3) == "exit 3"
    assert workers.describe_exit(-signal.SIGKILL) == "killed by SIGKILL"
    assert workers.describe_exit(-200) == "killed by signal 200"


def test_only_abnormal_exits_are_problems():
    """A child stopped by SIGINT/SIGTERM ended normally when this command stopped it (stopped=True); otherwise
    the signal came from outside and is reported, as a kill or a failure always is."""
    ended = [(10, 0), (11, 130), (12, -signal.SIGTERM), (13, -signal.SIGKILL), (14, 2)]
    lines = workers.problems(ended, stopped=True)
    assert lines == ["worker process 13 killed by SIGKILL (a trial it held ran again in another process)",
                     "worker process 14 exit 2 (a trial it held ran again in another process)"]
    outside = workers.problems(ended, stopped=False)
    assert outside == ["worker process 11 stopped by SIGINT from outside (a trial it held ran again in another "
                       "process)", "worker process 12 stopped by SIGTERM from outside (a trial it held ran again in "
                       "another process)", *lines]


@pytest.mark.parametrize("jobs, url, message", [
    (-1, None, "--jobs must be >= 0"),
    (2, "sqlite:///x.db", "SQLite storage cannot be shared"),
    (0, "sqlite:///x.db", "SQLite storage cannot be shared"),
])
def test_check_jobs_refuses_what_cannot_work(jobs, url, message):
    with pytest.raises(ConfigError, match=message):
        workers.check_jobs(jobs, url)


def test_check_jobs_accepts_a_single_process_on_sqlite():
    workers.check_jobs(1, "sqlite:///x.db")


def test_a_pool_given_up_before_go_ends_its_children_cleanly(tmp_path):
    """EOF instead of "go": each child exits 0 without opening the study (it does not even exist)."""
    pool = workers.Pool.start(str(tmp_path / "none.journal"), "nothing", 2)
    assert len(pool.procs) == 2 and all(p.poll() is None for p in pool.procs)
    pool.stop()
    assert pool.released and [p.returncode for p in pool.procs] == [0, 0]
    assert workers.problems([(p.pid, p.returncode) for p in pool.procs]) == []


def test_children_get_their_environment_explicitly(tmp_path, monkeypatch):
    """One BLAS thread, the storage, the parent pid and the go flag are set for the child only."""
    seen = {}

    class Spy:
        def __init__(self, cmd, env, **kw):
            seen.update(cmd=cmd, env=env)
            self.stdin, self.pid = None, 1

    monkeypatch.setattr(subprocess, "Popen", Spy)
    before = dict(os.environ)
    workers.Pool.start("postgresql://u:secret@db/x", "s", 1, ("--data", "here.npz"))
    assert dict(os.environ) == before
    env = seen["env"]
    assert {k: env[k] for k in workers.ONE_THREAD} == workers.ONE_THREAD
    assert env[workers.STORAGE_ENV] == "postgresql://u:secret@db/x" and "secret" not in " ".join(seen["cmd"])
    assert env[workers.PARENT_ENV] == str(os.getpid()) and env[workers.GO_ENV] == "1"
    assert seen["cmd"][:5] == [sys.executable, "-m", "hpsearch", "worker", "--study"]
    assert seen["cmd"][-2:] == ["--data", "here.npz"]


def test_a_released_pool_trains_and_reports_what_its_children_ran(tmp_path):
    """Two children and this process share a study: every trial runs once, and ran_here counts them all."""
    out = tmp_path / "results.json"
    space = parse_yaml("trials: 12\nepochs: 1\nparams:\n  lr: {low: 1.0e-3, high: 1.0e-1, log: true}\n"
                       "  hidden: [10]\n  batch_size: 30\n", "test space")
    from hpsearch.config.data import DataSpec

    req = stage.StageRequest(command="coarse", space=space, seed=0, data=DataSpec("spiral"), out=str(out), jobs=3)
    result = stage.run_stage(req, Runtime())
    doc = result.doc
    assert result.problems == () and result.stopped_by is None
    assert doc["progress"]["done"] == 12 and doc["progress"]["ran_now"] == 12
    h = storage.open_study(None, stage.journal_path(str(out)), stage.default_study("coarse", str(out)), create=False)
    from hpsearch.engine import study

    who = {t.user_attrs.get(study.WORKER_ATTR) for t in study.done_trials(h, range(12)).values()}
    assert len(who) >= 1 and all(w and w.count(":") == 1 for w in who)


def test_a_worker_stops_when_the_watched_parent_is_gone(tmp_path):
    """watch_parent: a process whose watched pid is no longer its parent SIGTERMs itself."""
    code = ("import os, time, signal; from hpsearch.engine import workers\n"
            "workers.watch_parent(os.getppid() + 10**6)\n"  # not our parent: the watcher fires at once
            "time.sleep(10)\n")
    t0 = time.monotonic()
    r = subprocess.run([sys.executable, "-c", code], timeout=20)
    assert r.returncode == -signal.SIGTERM and time.monotonic() - t0 < 8


def test_watch_parent_without_a_pid_does_nothing():
    workers.watch_parent(None)  # no thread, no signal: the test process goes on
