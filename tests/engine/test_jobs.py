"""`--jobs N` on one machine (journal file), `hpsearch worker` / `export` on a journal, leases and refusals."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from hpsearch.config.runtime import Runtime
from hpsearch.data import shared_split
from hpsearch.engine import enqueue, lease, loop, storage, study, trial
from hpsearch.engine.plan import make_plan
from hpsearch.results import file as results_file
from clihelp import one_line_error
from jobhelp import ENV, freeze_mid_trial, ok, outcomes, pid_of, run, space


def journal_trials(path: Path, study_name: str):
    import optuna
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    if not path.exists():
        return []
    try:
        journal = JournalStorage(JournalFileBackend(str(path)))
        return optuna.load_study(study_name=study_name, storage=journal).get_trials()
    except KeyError:
        return []


def done_once(trials, n):
    """Each plan number done exactly once (a re-run after a kill or an interrupt is a new Optuna trial)."""
    done = Counter(t.user_attrs[study.HP_NUMBER] for t in trials if study.is_done(t))
    assert sorted(done) == list(range(n)) and set(done.values()) == {1}, done


def gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/status") as f:
            return "\nState:\tZ" in f.read()  # a zombie has exited
    except FileNotFoundError:
        return True


# ---------------------------------------------------------------------------- same results, any --jobs


def test_jobs_2_gives_the_same_trials_and_values_as_jobs_1(tmp_path):
    sp = space(tmp_path, trials=16, epochs=8, hidden=(256, 256))  # ~0.1 s a trial: the second process joins
    one = ok(run("coarse", "--space", sp, "--out", tmp_path / "one.json", "--json", "--quiet"))
    two = ok(run("coarse", "--space", sp, "--out", tmp_path / "two.json", "--jobs", "2", "--json", "--quiet"))
    assert outcomes(one) == outcomes(two) and one["best"] == two["best"] and one["warnings"] == two["warnings"]
    assert two == results_file.read(tmp_path / "two.json") and two["progress"]["done"] == 16
    trials = journal_trials(tmp_path / "two.journal", "coarse-two")
    assert len({pid_of(t) for t in trials}) == 2  # both processes trained
    done_once(trials, 16)
    curves = {k: {t.user_attrs["hp_number"]: (t.state, t.value, t.intermediate_values, t.user_attrs["status"],
                                              t.user_attrs.get("diagnosis"))
                  for t in journal_trials(tmp_path / f"{k}.journal", f"coarse-{k}")} for k in ("one", "two")}
    assert curves["one"] == curves["two"]  # the study too: states, values, intermediate values, plain attrs


# ---------------------------------------------------------------------------- faults (subprocess)


def test_a_sigkilled_local_worker_trial_runs_again(tmp_path):
    n = 8
    sp = space(tmp_path, trials=n, epochs=10, hidden=(512, 512))  # ~0.3 s a trial
    cmd = [sys.executable, "-m", "hpsearch", "coarse", "--space", str(sp), "--out", str(tmp_path / "r.json"),
           "--jobs", "2", "--grace", "2", "--quiet"]
    p = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    journal = tmp_path / "r.journal"

    def child():
        return next((pid_of(t) for t in journal_trials(journal, "coarse-r") if pid_of(t) not in (None, p.pid)), None)

    deadline = time.monotonic() + 60
    while (pid := child()) is None:
        assert p.poll() is None and time.monotonic() < deadline, p.communicate()
        time.sleep(0.05)
    held = freeze_mid_trial(lambda: journal_trials(journal, "coarse-r"), pid, p)
    os.kill(pid, signal.SIGKILL)
    _, err = p.communicate(timeout=120)
    assert p.returncode == 0, err
    assert f"worker process {pid} killed by SIGKILL" in err and "Traceback" not in err
    trials = journal_trials(journal, "coarse-r")
    done_once(trials, n)
    k = held.user_attrs[study.HP_NUMBER]
    copies = [t for t in trials if t.user_attrs[study.HP_NUMBER] == k]
    assert [t.user_attrs["status"] for t in copies] == ["lost", "complete"]
    assert pid_of(copies[1]) == p.pid  # the coordinator ran it again
    assert [t["number"] for t in results_file.read(tmp_path / "r.json")["trials"]] == list(range(n))


@pytest.mark.parametrize("sig,code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_stop_signal_stops_every_worker_then_the_run_resumes(tmp_path, sig, code):
    n = 10
    sp = space(tmp_path, trials=n, epochs=10, hidden=(512, 512))
    cmd = [sys.executable, "-m", "hpsearch", "coarse", "--space", str(sp), "--out", str(tmp_path / "r.json"),
           "--jobs", "2", "--quiet"]
    p = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    journal = tmp_path / "r.journal"
    deadline = time.monotonic() + 60
    while True:  # both processes busy: one trial done, the child training
        ts = journal_trials(journal, "coarse-r")
        child = {pid_of(t) for t in ts if t.state.name == "RUNNING"} - {None, p.pid}
        if child and any(study.is_done(t) for t in ts):
            break
        assert p.poll() is None and time.monotonic() < deadline, p.communicate()
        time.sleep(0.05)
    p.send_signal(sig)
    _, err = p.communicate(timeout=120)
    assert p.returncode == code, err
    assert "run the same command again to resume" in err and "Traceback" not in err and "worker process" not in err
    assert gone(child.pop())  # the child stopped too
    ts = journal_trials(journal, "coarse-r")
    assert not [t for t in ts if t.state.name == "RUNNING"]  # every claim recorded
    interrupted = [t for t in ts if t.user_attrs.get("status") == "interrupted"]
    assert interrupted and all(t.state.name == "WAITING" and pid_of(t) for t in interrupted)  # queued again
    doc = results_file.read(tmp_path / "r.json")
    assert doc["progress"]["interrupted"] is True and 1 <= doc["progress"]["done"] < n

    r = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, env=ENV, timeout=300)
    assert r.returncode == 0, r.stderr
    done_once(journal_trials(journal, "coarse-r"), n)
    assert [t["number"] for t in results_file.read(tmp_path / "r.json")["trials"]] == list(range(n))


def test_workers_stop_when_their_coordinator_dies(tmp_path):
    sp = space(tmp_path, trials=12, epochs=10, hidden=(512, 512))
    p = subprocess.Popen([sys.executable, "-m", "hpsearch", "coarse", "--space", str(sp), "--out",
                          str(tmp_path / "r.json"), "--jobs", "2", "--quiet"], cwd=tmp_path,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV)
    journal = tmp_path / "r.journal"
    deadline = time.monotonic() + 60
    while not (child := {pid_of(t) for t in journal_trials(journal, "coarse-r")
                         if t.state.name == "RUNNING"} - {None, p.pid}):
        assert p.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    p.kill()
    p.wait()
    for folder in shared_split.folders_of(p.pid):  # a SIGKILLed coordinator leaves its shared split
        shutil.rmtree(folder)
    pid = child.pop()
    deadline = time.monotonic() + 30
    while not gone(pid):  # the orphan notices within a second and stops as on SIGTERM
        assert time.monotonic() < deadline, "the orphaned worker kept running"
        time.sleep(0.1)
    ts = journal_trials(journal, "coarse-r")
    assert not [t for t in ts if t.state.name == "RUNNING" and pid_of(t) == pid]
    # it stopped early, leaving trials for a resumed run. Its trial in hand is recorded as interrupted, or kept
    # as finished when the stop lands after training, during the diagnosis or the record (as on SIGTERM)
    assert len([t for t in ts if study.is_done(t)]) < 12
    last = max((t for t in ts if pid_of(t) == pid), key=lambda t: t.number)
    assert last.user_attrs.get("status") == "interrupted" or study.is_done(last)


# ---------------------------------------------------------------------------- worker and export on a journal


def test_enqueue_only_then_a_worker_then_export_equals_a_local_run(tmp_path):
    sp = space(tmp_path, trials=6, epochs=2, hidden=(32,))
    local = ok(run("coarse", "--space", sp, "--out", tmp_path / "local.json", "--json", "--quiet"))
    q = run("coarse", "--space", sp, "--out", tmp_path / "q.json", "--jobs", "0", "--json", "--quiet")
    assert ok(q) == {"study": "coarse-q", "storage": str(tmp_path / "q.journal"), "requested": 6, "enqueued": 6,
                     "done": 0}
    assert "hpsearch worker --storage" in q.stderr and not (tmp_path / "q.json").exists()
    w = ok(run("worker", "--storage", tmp_path / "q.journal", "--study", "coarse-q", "--jobs", "2", "--json",
               "--quiet"))
    assert (w["ran"], w["done"], w["requested"], w["stopped_by"]) == (6, 6, 6, None)
    assert ok(run("worker", "--storage", tmp_path / "q.journal", "--study", "coarse-q", "--json"))["ran"] == 0
    doc = ok(run("export", "--storage", tmp_path / "q.journal", "--study", "coarse-q", "--out",
                 tmp_path / "e.json", "--json", "--quiet"))
    assert doc == results_file.read(tmp_path / "e.json") and outcomes(doc) == outcomes(local)
    assert doc["best"] == local["best"] and doc["progress"]["interrupted"] is False
    fine = ok(run("fine", "--from", tmp_path / "e.json", "--trials", "4", "--epochs", "1", "--jobs", "2", "--json",
                  "--quiet"))  # the worker process checks the data fingerprint the fine study records
    parent = results_file.read(tmp_path / "e.json")
    assert fine["parent"]["fingerprint"] == results_file.doc_fingerprint(parent) and fine["progress"]["done"] == 4


def test_worker_and_export_refuse_bad_input(tmp_path):
    sp = space(tmp_path, trials=2, epochs=1, hidden=(8,))
    ok(run("coarse", "--space", sp, "--out", tmp_path / "r.json", "--quiet"))
    j = tmp_path / "r.journal"
    one_line_error(run("worker", "--storage", j, "--study", "nope"), 2, "--study nope", "coarse-r")
    one_line_error(run("export", "--storage", j, "--study", "nope"), 2, "no such study")
    one_line_error(run("worker", "--storage", tmp_path / "none.journal", "--study", "x"), 2, "no such journal")
    one_line_error(run("worker", "--study", "x"), 2, "--storage is required")
    one_line_error(run("worker", "--storage", f"sqlite:///{tmp_path}/x.db", "--study", "x"), 2, "SQLite",
                   "journal", "PostgreSQL")
    one_line_error(run("coarse", "--space", sp, "--out", tmp_path / "s.json", "--jobs", "2", "--storage",
                       f"sqlite:///{tmp_path}/x.db"), 2, "--jobs 2", "SQLite", "journal file", "PostgreSQL")
    one_line_error(run("coarse", "--space", sp, "--out", tmp_path / "s.json", "--jobs", "-1"), 2, "--jobs must be")
    one_line_error(run("coarse", "--space", sp, "--out", tmp_path / "s.json", "--grace", "0"), 2, "--grace must be")
    bad = tmp_path / "bad.yaml"
    bad.write_text("params:\n  lr: {low: 0, high: 1, log: true}\n")
    one_line_error(run("coarse", "--space", bad, "--out", tmp_path / "s.json", "--jobs", "2"), 2, "params.lr.low")
    one_line_error(run("fine", "--from", tmp_path / "none.json", "--jobs", "3"), 2, "no such results file")
    assert not _worker_children()  # the workers started early were told to go home, and reaped
    assert not (tmp_path / "s.json").exists()
    ok(run("coarse", "--space", sp, "--out", tmp_path / "s.json", "--storage", f"sqlite:///{tmp_path}/x.db",
           "--quiet"))  # one process on SQLite is fine


def _worker_children() -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == os.getpid() and \
                    b"worker" in (stat.parent / "cmdline").read_bytes():
                out.append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            pass
    return out


# ---------------------------------------------------------------------------- leases (library)


def _one_claimed(tmp_path, grace=30.0):
    from hpsearch.config.space_file import parse_space

    sp = parse_space({"trials": 2, "epochs": 1, "params": {"lr": {"low": 1e-3, "high": 1e-1, "log": True},
                                                           "hidden": [8]}}, "t.yaml")
    h = storage.open_study(None, tmp_path / "t.journal", "t")
    plan = make_plan(sp, 0)
    enqueue.prepare(h, plan, {"seed": 0}, None, grace, Runtime().default_grace)
    return h, plan, study.claim(h, {0, 1}, "elsewhere:1")


def test_a_beating_lease_is_never_stale_a_silent_one_is(tmp_path):
    h, plan, c = _one_claimed(tmp_path, grace=4.0)
    assert lease.grace_of(h, lambda: 30.0) == 4.0 and lease.heartbeat_every(4.0) == 1.0
    clock = [0.0]
    watch = lease.Watch(4.0, clock=lambda: clock[0])
    with lease.Leaser(h, 0.02) as leaser, leaser.holding(c):
        for step in range(1, 6):  # 5 x 3 s of this process's clock, the lease renewed in between
            clock[0] = 3.0 * step
            time.sleep(0.1)
            assert enqueue.requeue(h, plan, watch) == (0, 2)
    clock[0] += 3.0
    assert enqueue.requeue(h, plan, watch) == (0, 2)  # its last renewal seen now, or 3 s ago
    clock[0] += 4.5  # silent for at least 4.5 s > grace
    assert enqueue.requeue(h, plan, watch) == (1, 1)
    t = [t for t in h.study.get_trials() if t.user_attrs.get(study.WORKER_ATTR) == "elsewhere:1"][0]
    assert t.state.name == "FAIL" and t.user_attrs["status"] == "lost"
    assert not study.finish(h, c, "complete", 0.5, {"val_acc": 0.5})  # the late worker's result is refused


def test_a_trial_interrupted_then_claimed_again_is_not_stale_on_its_old_lease(tmp_path):
    """An interrupted trial goes back to WAITING with its last lease; a new claim of it is a new claim, not
    that lease gone unchanged (a watcher that saw it before the interrupt must not declare it lost)."""
    h, plan, c = _one_claimed(tmp_path, grace=4.0)
    clock = [0.0]
    watch = lease.Watch(4.0, clock=lambda: clock[0])
    with lease.Leaser(h, 0.02) as leaser, leaser.holding(c):
        time.sleep(0.1)
        assert enqueue.requeue(h, plan, watch) == (0, 2)  # the watcher notes the lease
    study.finish(h, c, "interrupted", None, {})
    time.sleep(0.01)  # a new start time
    again = study.claim(h, {c.number}, "elsewhere:2")
    assert again is not None and again.trial_id == c.trial_id  # the same Optuna trial runs again
    clock[0] = 3.9
    assert enqueue.requeue(h, plan, watch) == (0, 2)
    clock[0] = 7.0  # 7 s after the old lease was first seen, 3.1 s after the new claim was: not lost
    assert enqueue.requeue(h, plan, watch) == (0, 2)
    clock[0] = 12.0  # and then silent for longer than the grace: lost
    assert enqueue.requeue(h, plan, watch) == (1, 1)


def test_a_worker_whose_trial_was_declared_lost_abandons_it(tmp_path, digits_split):
    h, plan, c = _one_claimed(tmp_path)
    watch = lease.Watch(1.0, clock=lambda: 0.0)
    study.reconcile(h, [], lambda k: None, watch)
    watch.clock = lambda: 2.0
    study.reconcile(h, [], lambda k: None, watch)  # declared lost
    with lease.Leaser(h, 0.01) as leaser, leaser.holding(c):
        time.sleep(0.1)
        assert leaser.lost  # the storage refused the renewal
        with pytest.raises(trial.LeaseLost):
            trial.train_one(plan.trials[0], plan.seed_of(0), digits_split, lambda: leaser.lost)


def test_a_worker_does_not_stop_while_a_trial_is_still_waiting(tmp_path, digits_split, monkeypatch):
    """Another worker may enqueue a lost trial again between this one's claim and its look at the queue."""
    h, plan, c = _one_claimed(tmp_path)
    study.finish(h, c, "complete", 0.5, {"val_acc": 0.5})
    real, calls = study.claim, []

    def claim(h, wanted, who=None, queue=None):
        calls.append(who)
        return None if len(calls) == 1 else real(h, wanted, who, queue)  # the first look finds the queue empty

    monkeypatch.setattr(study, "claim", claim)
    assert loop.run(h, plan, digits_split).ran == 1 and len(trial.collect(h, plan)) == 2


def test_holding_the_journal_lock_while_another_thread_writes_does_not_deadlock(tmp_path):
    """The heartbeat thread appends (inside JournalStorage's thread lock) while the main thread holds the
    journal lock to enqueue (and then needs that thread lock): no lock-order cycle."""
    import threading

    h, plan, c = _one_claimed(tmp_path)
    stop, beats = threading.Event(), []

    def beat():
        while not stop.is_set():
            h.storage.set_trial_system_attr(c.trial_id, lease.LEASE_ATTR, time.time())
            beats.append(1)

    def requeue():
        for _ in range(120):
            enqueue.requeue(h, plan)

    threads = [threading.Thread(target=beat, daemon=True), threading.Thread(target=requeue, daemon=True)]
    for t in threads:
        t.start()
    threads[1].join(25)  # a deadlock would last until Optuna breaks the lock after 30 s
    stop.set()
    threads[0].join(25)
    assert not any(t.is_alive() for t in threads) and beats


def test_postgres_urls_are_normalised():
    import importlib.util

    plain = "postgresql://" if importlib.util.find_spec("psycopg2") else "postgresql+psycopg://"
    assert storage.normalise_url("postgresql://u@h/db") == plain + "u@h/db"  # psycopg 3 unless psycopg2 is there
    assert storage.normalise_url("postgres://u@h/db") == plain + "u@h/db"
    assert storage.normalise_url("postgresql+psycopg://u@h/db") == "postgresql+psycopg://u@h/db"
    assert storage.normalise_url("sqlite:///x.db") == "sqlite:///x.db"
    assert storage.is_sqlite("sqlite:///x.db") and not storage.is_sqlite("postgresql://h/db")
    assert not storage.is_sqlite(None)


# ---------------------------------------------------------------------------- --trials grown while workers run


def _extended(tmp_path, trials):
    return ok(run("coarse", "--space", tmp_path / "s.yaml", "--trials", trials, "--out", tmp_path / "g.json",
                  "--jobs", "0", "--json", "--quiet"))


def _no_duplicates(trials):
    assert not [t.number for t in trials if t.user_attrs.get("status") == "duplicate"]


def test_a_running_worker_runs_the_trials_added_by_a_larger_trials(tmp_path):
    """Regression: a worker holding the 4-trial plan claimed numbers 4-7, marked them duplicate and exited."""
    space(tmp_path, trials=4, epochs=10, hidden=(512, 512))  # ~0.3 s a trial
    journal = tmp_path / "g.journal"
    assert _extended(tmp_path, 4)["enqueued"] == 4
    p = subprocess.Popen([sys.executable, "-m", "hpsearch", "worker", "--storage", str(journal), "--study",
                          "coarse-g", "--json", "--quiet"], cwd=tmp_path, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, env=ENV)
    freeze_mid_trial(lambda: journal_trials(journal, "coarse-g"), p.pid, p)  # surely still on the old plan
    try:
        assert _extended(tmp_path, 8)["enqueued"] == 4
    finally:
        os.kill(p.pid, signal.SIGCONT)
    out, err = p.communicate(timeout=120)
    assert p.returncode == 0 and "Traceback" not in err, err
    report = json.loads(out)
    assert report["ran"] == 8  # the new numbers ran in the worker that was already running
    assert (report["done"], report["requested"]) == (8, 8)  # and it reports the grown plan
    trials = journal_trials(journal, "coarse-g")
    done_once(trials, 8)
    _no_duplicates(trials)
    assert {pid_of(t) for t in trials} == {p.pid}


def test_a_run_holding_an_old_plan_widens_it_and_reports_the_grown_plan(tmp_path):
    """The coordinator's own loop too: nothing outside its plan is claimed; it reloads the plan instead."""
    from hpsearch.engine import identity, stage

    space(tmp_path, trials=2, epochs=1, hidden=(8,))
    _extended(tmp_path, 2)
    h = storage.open_study(str(tmp_path / "g.journal"), None, "coarse-g", create=False)
    old, ident, m = identity.plan_of(h)
    _extended(tmp_path, 5)
    c = study.claim(h, {0, 1})
    assert c is not None and c.hp_number in (0, 1)  # numbers 2-4 are left waiting, not failed
    assert study.claim(h, set()) is None
    study.finish(h, c, "interrupted", None, {})  # WAITING again, not done: it runs below
    outcome = loop.run(h, old, stage.stage_split(m.data_spec, "float32", "test"))
    assert outcome.ran == 5 and len(outcome.plan.trials) == 5 and len(old.trials) == 2
    assert outcome.plan.trials[:2] == old.trials
    trials = journal_trials(tmp_path / "g.journal", "coarse-g")
    done_once(trials, 5)
    _no_duplicates(trials)
    assert [r.number for r in trial.collect(h, outcome.plan)] == list(range(5))


def test_a_coordinator_whose_study_grew_writes_the_grown_results(tmp_path, monkeypatch):
    """Another coordinator raises --trials while this one runs: this one's results file reports the study's
    grown plan (all 5 trials, requested 5), as a worker does, not the 2 trials it started with."""
    space(tmp_path, trials=2, epochs=1, hidden=(8,))
    real = loop.run

    def grow_first(h, plan, *a, **k):
        _extended(tmp_path, 5)  # the other coordinator: same study, --trials 5, enqueue only
        return real(h, plan, *a, **k)

    monkeypatch.setattr(loop, "run", grow_first)
    doc = ok(run("coarse", "--space", tmp_path / "s.yaml", "--out", tmp_path / "g.json", "--json", "--quiet"))
    assert [t["number"] for t in doc["trials"]] == list(range(5))
    assert (doc["progress"]["requested"], doc["progress"]["done"], doc["progress"]["ran_now"]) == (5, 5, 5)
    assert results_file.read(tmp_path / "g.json") == doc


def test_export_of_a_running_study_whose_finished_trials_all_diverged_exits_0(tmp_path):
    """Early in a coarse search the high learning rates diverge first: not a verdict while trials remain."""
    sp = space(tmp_path, trials=3, epochs=1, hidden=(8,))
    ok(run("coarse", "--space", sp, "--out", tmp_path / "q.json", "--jobs", "0", "--quiet"))
    h = storage.open_study(str(tmp_path / "q.journal"), None, "coarse-q", create=False)
    c = study.claim(h, {0, 1, 2}, "elsewhere:1")
    study.finish(h, c, "diverged", None, {"epochs_run": 1, "seconds": 0.1})
    r = run("export", "--storage", tmp_path / "q.journal", "--study", "coarse-q", "--out", tmp_path / "e.json",
            "--quiet")
    assert r.exit_code == 0, r.stderr
    assert "1 of 3 trials done" in r.stderr and "error" not in r.stderr
    assert results_file.read(tmp_path / "e.json")["summary"]["diverged"] == 1
