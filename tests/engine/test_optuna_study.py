"""The study as Optuna (and optuna-dashboard) sees it: the objective is named `val_acc`, every trial carries its
per-epoch validation accuracy as intermediate values and plain sortable attributes, an interrupted trial waits in
the queue, older studies still read; and what a trial writes is one journal append, a cut anywhere in which never
shows a trial finished without its result (issue 17 item 3, issue 18 item 2)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter

import optuna
import pytest
import stages
from optuna.trial import TrialState, create_trial

from hpsearch.config.runtime import Runtime
from hpsearch.engine import enqueue, loop, storage, study, trial, update
from hpsearch.engine.plan import make_plan


def search(tmp_path, url=None, data="spiral"):
    """A finished coarse stage: (results document, the study as plain Optuna loads it)."""
    doc = stages.run(tmp_path / "r.json", stages.space(10, 3), 3, data, url)[1].doc
    st = optuna.storages.RDBStorage(url) if url else optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(tmp_path / "r.journal")))
    return doc, optuna.load_study(study_name="coarse-r", storage=st)


@pytest.fixture(params=["journal", "sqlite"])
def searched(request, tmp_path):
    return search(tmp_path, f"sqlite:///{tmp_path}/s.db" if request.param == "sqlite" else None)


def test_the_objective_is_named_val_acc(searched):
    _, s = searched
    assert s.metric_names == ["val_acc"] and s.direction == optuna.study.StudyDirection.MAXIMIZE


def test_each_trial_reports_its_val_curve_as_intermediate_values(searched):
    doc, s = searched
    by_number = {t.user_attrs[study.HP_NUMBER]: t for t in s.get_trials()}
    assert sorted(by_number) == list(range(10))
    for r in doc["trials"]:
        t = by_number[r["number"]]
        assert t.intermediate_values == {e: v for e, v in enumerate(r["val_curve"], 1) if v is not None}
        assert len(t.intermediate_values) == (r["epochs_run"] if r["status"] == "complete" else len(r["val_curve"]))
    assert {r["status"] for r in doc["trials"]} == {"complete", "diverged"}  # both kinds are exercised
    assert any(len(by_number[r["number"]].intermediate_values) == 3 for r in doc["trials"])


def test_states_and_plain_attrs_follow_the_record(searched):
    doc, s = searched
    by_number = {t.user_attrs[study.HP_NUMBER]: t for t in s.get_trials()}
    for r in doc["trials"]:
        t = by_number[r["number"]]
        a = t.user_attrs
        if r["status"] == "complete":
            assert t.state == TrialState.COMPLETE and t.value == r["val_acc"]
        else:
            assert t.state == TrialState.PRUNED and t.value is None
        assert a["status"] == r["status"] and a["epochs_run"] == r["epochs_run"]
        assert a["diagnosis"] == ",".join(d["kind"] for d in r["diagnosis"])
        for key in ("val_last", "train_acc", "initial_loss", "final_loss", "seconds"):
            assert a.get(key) == r[key]  # absent when None
            assert r[key] is None or isinstance(a[key], (int, float))  # numbers: the dashboard sorts them
        assert "val_curve" not in a and "stopped_at" not in a  # structures stay in `result` only
        assert a[study.RESULT_ATTR]["val_curve"] == r["val_curve"]  # the whole record, as before


def test_plain_attrs_take_every_scalar_of_the_record():
    rec = {"val_acc": 0.5, "epochs_run": 2, "error": None, "ok": True, "diagnosis": [{"kind": "a", "message": "x"},
           {"kind": "b", "message": "y"}], "val_curve": [0.4, 0.5], "loss_curve": [], "stopped_at": {"epoch": 1}}
    assert study.plain_attrs(rec) == {"val_acc": 0.5, "epochs_run": 2, "ok": True, "diagnosis": "a,b"}


def start(tmp_path, n=6, epochs=2, name="s"):
    sp = stages.space(n, epochs, lr=(1e-3, 0.1))  # nothing diverges: every trial has a curve
    h = storage.open_study(None, tmp_path / f"{name}.journal", name)
    plan = make_plan(sp, 0)
    enqueue.prepare(h, plan, {"seed": 0, "trials": n}, None, None, Runtime().default_grace)
    return h, plan


def count_appends(h):
    """Wrap the journal backend: every real append (one write to the file) is recorded with its records."""
    appends, real = [], h.backend._write

    def write(data):
        appends.append([json.loads(line) for line in data.splitlines()])
        return real(data)

    h.backend._write = write
    return appends


def test_a_trial_is_one_journal_append_with_its_next_claim(tmp_path, digits_split):
    h, plan = start(tmp_path, n=6)
    appends = count_appends(h)
    locks, acquire = [], h.backend.hp_lock.acquire
    h.backend.hp_lock.acquire = lambda: locks.append(1) or acquire()
    assert loop.run(h, plan, digits_split).ran == 6
    # the first claim, then per trial one append: its result (and the next trial's claim)
    assert len(appends) == 6 + 1
    assert len(locks) == len(appends) + 1  # + the final look at the queue (it reads under the lock, writes nothing)
    ops = optuna.storages.journal._storage.JournalOperation
    for a in appends[1:]:
        finished = [r for r in a if r["op_code"] == ops.SET_TRIAL_STATE_VALUES and r["state"] != TrialState.RUNNING]
        assert len(finished) == 1  # one trial finished per append ...
        tid = finished[0]["trial_id"]
        mine = [r for r in a if r.get("trial_id") == tid]
        assert mine[-1] is finished[0]  # ... its state change last, after its attrs and intermediate values
        kinds = Counter(r["op_code"] for r in mine)
        assert kinds[ops.SET_TRIAL_USER_ATTR] >= 5 and kinds[ops.SET_TRIAL_INTERMEDIATE_VALUE] >= 1
    claims = [r for a in appends for r in a if r["op_code"] == ops.SET_TRIAL_STATE_VALUES
              and r["state"] == TrialState.RUNNING]
    assert len(claims) == 6


def test_a_failed_check_inside_a_batch_writes_nothing(tmp_path):
    h, plan = start(tmp_path, n=2)
    c = study.claim(h, {0, 1}, "me:1")
    appends = count_appends(h)
    with pytest.raises(RuntimeError), h.batch():
        study.finish(h, c, "complete", 0.5, {"val_acc": 0.5}, [0.5])
        raise RuntimeError("boom")
    assert appends == [] and h.storage.get_trial(c.trial_id).state == TrialState.RUNNING
    assert study.finish(h, c, "complete", 0.5, {"val_acc": 0.5}, [0.5]) and len(appends) == 1
    assert not study.finish(h, c, "complete", 0.6, {"val_acc": 0.6}, [0.6])  # finished: refused, nothing written
    assert len(appends) == 1 and h.storage.get_trial(c.trial_id).value == 0.5


def _trials_as_read(trials) -> list:
    return [(t.number, t.state, t.values, t.params, t.user_attrs, t.system_attrs, t.intermediate_values,
             t.datetime_start, t.datetime_complete) for t in trials]


def _fresh_reader(h):
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    return JournalStorage(JournalFileBackend(h.backend.hp_path)).get_all_trials(h.study_id)


def test_own_appends_are_not_read_back_and_match_the_file(tmp_path, digits_split):
    """This process's batch records go into its view of the study at once; the view equals what any reader of
    the journal file sees (same trials, attrs, values, times)."""
    h, plan = start(tmp_path, n=6)
    h.storage.get_all_trials(h.study_id)  # caught up with the enqueueing
    read_back, real = [], h.backend.read_logs

    def read_logs(n):
        for log in real(n):
            read_back.append(log)
            yield log

    h.backend.read_logs = read_logs
    assert loop.run(h, plan, digits_split).ran == 6
    assert read_back == []  # every record was this process's own: none was parsed again
    assert _trials_as_read(h.storage.get_all_trials(h.study_id)) == _trials_as_read(_fresh_reader(h))


def test_a_record_appended_between_a_batchs_read_and_its_write_is_read_in_order(tmp_path):
    """Another writer's record lands after the batch read the journal (here: this process's heartbeat thread,
    which writes under the lock the batch holds): the batch's records are read back after it, in file order."""
    h, plan = start(tmp_path, n=2)
    c = study.claim(h, {0, 1}, "me:1")
    with h.batch():
        assert h.storage.get_trial(c.trial_id).state == TrialState.RUNNING  # the batch's read
        op = optuna.storages.journal._storage.JournalOperation.SET_TRIAL_SYSTEM_ATTR
        h.backend._write(json.dumps({"op_code": op, "worker_id": "other", "trial_id": c.trial_id,
                                     "system_attr": {"beat": 1}}).encode() + b"\n")
        study.finish(h, c, "complete", 0.5, {"val_acc": 0.5}, [0.5])
    t = h.storage.get_trial(c.trial_id)
    assert t.system_attrs["beat"] == 1 and t.state == TrialState.COMPLETE and t.value == 0.5
    assert _trials_as_read(h.storage.get_all_trials(h.study_id)) == _trials_as_read(_fresh_reader(h))


@pytest.mark.parametrize("db, way", [("sqlite", "upsert"), ("sqlite", "helpers"), ("sqlite", "public"),
                                     ("postgresql", "upsert")])
def test_a_database_update_is_one_transaction_or_public_calls(tmp_path, monkeypatch, request, db, way):
    """One transaction (multi-row upserts, or RDBStorage's per-item helpers), and the public-method fallback:
    the same trial in the end."""
    if way == "public":
        monkeypatch.setattr(update, "_rdb_helpers", lambda storage: None)
    if way == "helpers":
        monkeypatch.setattr(update, "_upsert_rows", lambda *a: False)
    url = request.getfixturevalue("postgres_url") if db == "postgresql" else f"sqlite:///{tmp_path}/x.db"
    sp = stages.space(2, 3)
    h = storage.open_study(url, None, f"x-{tmp_path.name}", fresh=True)
    enqueue.prepare(h, make_plan(sp, 0), {"seed": 0}, None, None, Runtime().default_grace)
    c = study.claim(h, {0, 1}, "me:1")
    assert h.storage.get_trial(c.trial_id).state == TrialState.RUNNING
    assert h.storage.get_trial(c.trial_id).user_attrs[study.WORKER_ATTR] == "me:1"
    assert study.finish(h, c, "complete", 0.75, {"val_acc": 0.75, "epochs_run": 2}, [0.5, 0.75])
    t = h.storage.get_trial(c.trial_id)
    assert (t.state, t.value, t.intermediate_values) == (TrialState.COMPLETE, 0.75, {1: 0.5, 2: 0.75})
    assert t.user_attrs["epochs_run"] == 2 and t.user_attrs[study.RESULT_ATTR] == {"val_acc": 0.75, "epochs_run": 2}
    assert not study.finish(h, c, "complete", 0.9, {}, [0.9])  # already finished: refused
    assert not update.update_trial(h, c.trial_id, {"x": 1}, TrialState.RUNNING)  # not WAITING: no claim
    other = study.claim(h, {0, 1}, "me:1")
    assert study.finish(h, other, "interrupted", None, {})
    t = h.storage.get_trial(other.trial_id)
    assert t.state == TrialState.WAITING and t.user_attrs["status"] == "interrupted"
    assert study.claim(h, {0, 1}, "me:2").trial_id == other.trial_id  # the same trial is claimed again


def test_an_older_study_is_still_read_and_named_on_resume(tmp_path, digits_split):
    """A study written before this change: outcome in the `result` attr only (or flat attrs, before 0.2), an
    interrupted trial FAIL with a copy enqueued, no metric name. It reads as before; a resume names it."""
    h, plan = start(tmp_path, n=3)
    h.storage.set_study_system_attr(h.study_id, "study:metric_names", None)  # as if never named
    dists = enqueue.distributions(plan.space)
    waiting = {t.user_attrs[study.HP_NUMBER]: t for t in h.storage.get_all_trials(h.study_id)}
    old = {0: {"status": "complete", study.RESULT_ATTR: {"val_acc": 0.9, "val_last": 0.8, "val_curve": [0.9, 0.8],
                                                         "epochs_run": 2, "seconds": 0.1, "diagnosis": []}},
           1: {"status": "complete", "val_acc": 0.7, "val_curve": [0.7], "epochs_run": 1}}  # flat, before 0.2
    for k, attrs in old.items():
        tid = waiting[k]._trial_id
        h.storage.set_trial_state_values(tid, TrialState.RUNNING)
        for key, v in attrs.items():
            h.storage.set_trial_user_attr(tid, key, v)
        h.storage.set_trial_state_values(tid, TrialState.COMPLETE, [attrs.get("val_acc") or 0.9])
    tid = waiting[2]._trial_id
    h.storage.set_trial_state_values(tid, TrialState.RUNNING)
    h.storage.set_trial_user_attr(tid, "status", "interrupted")
    h.storage.set_trial_state_values(tid, TrialState.FAIL)  # the old way, and its copy:
    params = dict(waiting[2].params)
    h.storage.create_new_trial(h.study_id, template_trial=create_trial(
        state=TrialState.WAITING, params=params, distributions=dists, user_attrs={study.HP_NUMBER: 2},
        system_attrs={"fixed_params": params}))
    recs = {r.number: r for r in trial.collect(h, plan)}
    assert sorted(recs) == [0, 1]
    assert (recs[0].val_acc, recs[0].val_curve, recs[0].epochs_run) == (0.9, [0.9, 0.8], 2)
    assert (recs[1].val_acc, recs[1].val_curve, recs[1].epochs_run) == (0.7, [0.7], 1)
    assert enqueue.prepare(h, plan, {"seed": 0, "trials": 3}, None, None, Runtime().default_grace) == 0
    assert h.study.metric_names == ["val_acc"]  # named on resume
    assert loop.run(h, plan, digits_split).ran == 1  # the copy ran, nothing else
    assert [r.number for r in trial.collect(h, plan)] == [0, 1, 2]


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A journal finished by another process (gone now, so its claims are stale at once)."""
    d = tmp_path_factory.mktemp("cut")
    r = subprocess.run([sys.executable, "-m", "hpsearch", "coarse", "--trials", "4", "--epochs", "2", "--hidden",
                        "8", "--lr", "0.05", "--out", str(d / "r.json"), "--quiet"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return d


def test_a_journal_cut_inside_a_trials_append_never_shows_it_finished_without_its_result(finished, tmp_path):
    """The crash promise, per record: the last trial's append cut after any of its records (a crash mid-write;
    a cut inside a record is set aside, tests/engine/test_journal_damage.py) leaves that trial RUNNING, never
    finished without its attrs and curve; the same command then runs it again, with the same result."""
    data = (finished / "r.journal").read_bytes()
    lines = data.splitlines(keepends=True)
    records = [json.loads(x) for x in lines]
    last = max(r["trial_id"] for r in records if "trial_id" in r and r["op_code"] == 6 and r["state"] == 1)
    first = min(i for i, r in enumerate(records) if r.get("trial_id") == last and r["op_code"] == 8
                and "status" in r["user_attr"])  # its finish append starts here (attrs, curve, state last)
    whole = json.loads((finished / "r.json").read_text())
    for cut in range(first, len(lines) + 1):
        d = tmp_path / f"c{cut}"
        d.mkdir()
        (d / "r.journal").write_bytes(b"".join(lines[:cut]))
        st = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(d / "r.journal")))
        t = st.get_trial(last)
        if cut < len(lines):
            assert t.state == TrialState.RUNNING  # not finished: its claimer is gone, so it runs again at once
        else:
            assert t.state == TrialState.COMPLETE and t.intermediate_values and study.RESULT_ATTR in t.user_attrs
    d = tmp_path / f"c{first + 3}"
    r = subprocess.run([sys.executable, "-m", "hpsearch", "coarse", "--trials", "4", "--epochs", "2", "--hidden",
                        "8", "--lr", "0.05", "--out", str(d / "r.json"), "--quiet"], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    again = json.loads((d / "r.json").read_text())
    same = [(t["number"], t["status"], t["val_acc"], t["val_curve"]) for t in whole["trials"]]
    assert [(t["number"], t["status"], t["val_acc"], t["val_curve"]) for t in again["trials"]] == same
