"""The engine on Optuna: plans from (seed, number), the queue, statuses, resume, leases, stop signals."""

import signal

import pytest
from optuna.trial import TrialState

from hpsearch.config.runtime import Runtime
from hpsearch.config.space_file import parse_space
from hpsearch.engine import enqueue, lease, loop, stop, storage, study, trial
from hpsearch.engine.plan import make_plan
from hpsearch.errors import ConfigError, StorageError
from hpsearch.results import verdicts

default_grace = Runtime().default_grace  # what a study gets when no --grace is given (HPSEARCH_GRACE unset: 30 s)


def tiny(lr=(1e-3, 1.0), trials=6, epochs=1, sampler="random", **params):
    p = {"lr": {"low": lr[0], "high": lr[1], "log": True}, "reg": {"low": 1e-5, "high": 1e-1, "log": True},
         "hidden": [16], **params}
    return parse_space({"sampler": sampler, "trials": trials, "epochs": epochs, "params": p}, "tiny.yaml")


def start(tmp_path, sp, seed=0, name="s"):
    h = storage.open_study(None, tmp_path / f"{name}.journal", name)
    plan = make_plan(sp, seed)
    ident = {"seed": seed, "trials": len(plan.trials), "space": sp.to_dict()}
    enqueue.prepare(h, plan, ident, None, None, default_grace)
    return h, plan


def by_number(h):
    out = {}
    for t in h.study.get_trials(deepcopy=False):
        out.setdefault(t.user_attrs.get(study.HP_NUMBER), []).append(t)
    return out


def test_a_trial_is_a_function_of_seed_and_number():
    a, b = make_plan(tiny(trials=5), 0), make_plan(tiny(trials=8), 0)
    assert [t.params for t in a.trials] == [t.params for t in b.trials[:5]]  # more trials: same first five
    assert [t.params for t in make_plan(tiny(trials=5), 0).trials] == [t.params for t in a.trials]
    assert [t.params for t in make_plan(tiny(trials=5), 1).trials] != [t.params for t in a.trials]
    assert a.trials[2].config.lr == a.trials[2].params["lr"] and a.trials[2].config.hidden == (16,)
    s1, s2 = a.seed_of(3), make_plan(tiny(trials=5), 0).seed_of(3)
    assert s1.generate_state(2).tolist() == s2.generate_state(2).tolist()


def test_statuses_map_to_optuna_states(tmp_path, digits_split):
    sp = tiny(lr=(1e-2, 20.0), trials=8, epochs=2)
    h, plan = start(tmp_path, sp)
    out = loop.run(h, plan, digits_split)
    assert out.ran == 8 and out.stopped_by is None
    recs = trial.collect(h, plan)
    assert [r.number for r in recs] == list(range(8))
    status = {r.number: r for r in recs}
    assert {"complete", "diverged"} <= {r.status for r in recs}
    for t in h.study.get_trials():
        r = status[t.user_attrs[study.HP_NUMBER]]
        assert t.user_attrs["status"] == r.status and t.params["lr"] == pytest.approx(r.params["lr"])
        if r.status == "complete":
            assert t.state == TrialState.COMPLETE and t.value == r.val_acc
        else:
            assert t.state == TrialState.PRUNED and r.status == "diverged"
            assert r.stopped_at["epoch"] == r.epochs_run and r.diagnosis[0]["kind"] == "lr_too_high"
            if r.params["lr"] >= 10:
                assert r.epochs_run < 2
    best = verdicts.best([r.to_dict() for r in recs])
    assert best["status"] == "complete" and best["val_acc"] == max(r.val_acc for r in recs if r.status == "complete")
    assert h.study.best_trial.user_attrs[study.HP_NUMBER] == best["number"]
    assert loop.run(h, plan, digits_split).ran == 0  # nothing left: a rerun trains nothing


def test_same_seed_same_trials_and_values(tmp_path, digits_split):
    sp = tiny(trials=4)
    runs = []
    for name in ("a", "b"):
        h, plan = start(tmp_path, sp, name=name)
        loop.run(h, plan, digits_split)
        runs.append([(r.params, r.val_acc, r.final_loss) for r in trial.collect(h, plan)])
    assert runs[0] == runs[1]


def test_stop_between_trials_then_resume(tmp_path, digits_split):
    h, plan = start(tmp_path, tiny(trials=6))
    stopper = stop.Stopper()

    def after_three(rec):
        if rec.number == 2:
            stopper.signum = signal.SIGINT  # what the handler does outside a trial

    out = loop.run(h, plan, digits_split, stopper, after_three)
    assert out.stopped_by == signal.SIGINT and out.ran == 3
    assert [r.number for r in trial.collect(h, plan)] == [0, 1, 2]
    assert loop.run(h, plan, digits_split).ran == 3
    assert [r.number for r in trial.collect(h, plan)] == list(range(6))


def test_interrupted_trial_is_not_counted_and_reruns_once(tmp_path, digits_split, monkeypatch):
    from hpsearch.trainer import fit as trainer_fit

    real, calls = trainer_fit.fit, []

    def fit(split, cfg, seed, callback=None, threads=None):
        calls.append(cfg.lr)
        if len(calls) == 3:
            raise stop.Interrupted(signal.SIGTERM)
        return real(split, cfg, seed, callback, threads=threads)

    monkeypatch.setattr(trainer_fit, "fit", fit)
    h, plan = start(tmp_path, tiny(trials=5))
    out = loop.run(h, plan, digits_split)
    assert out.stopped_by == signal.SIGTERM and out.ran == 2
    assert [r.number for r in trial.collect(h, plan)] == [0, 1]
    [cut] = by_number(h)[2]  # back in the queue, saying why (the dashboard shows it waiting, not failed)
    assert cut.state == TrialState.WAITING and cut.user_attrs["status"] == "interrupted"
    assert not cut.intermediate_values and study.RESULT_ATTR not in cut.user_attrs
    monkeypatch.setattr(trainer_fit, "fit", real)
    assert loop.run(h, plan, digits_split).ran == 3
    groups = by_number(h)
    assert sorted(groups) == list(range(5))
    assert [(t.number, t.state, t.user_attrs["status"]) for t in groups[2]] == [
        (cut.number, TrialState.COMPLETE, "complete")]  # the same Optuna trial ran, once
    assert all(len(ts) == 1 and study.is_done(ts[0]) for ts in groups.values())


def test_exception_in_training_is_a_failed_trial_not_rerun(tmp_path, digits_split, monkeypatch):
    from hpsearch.trainer import fit as trainer_fit

    real = trainer_fit.fit
    plan_lr = make_plan(tiny(trials=4), 0).trials[1].config.lr

    def fit(split, cfg, seed, callback=None, threads=None):
        if cfg.lr == plan_lr:
            raise FloatingPointError("boom\nsecond line")
        return real(split, cfg, seed, callback, threads=threads)

    monkeypatch.setattr(trainer_fit, "fit", fit)
    h, plan = start(tmp_path, tiny(trials=4))
    loop.run(h, plan, digits_split)
    recs = {r.number: r for r in trial.collect(h, plan)}
    assert recs[1].status == "failed" and recs[1].error == "FloatingPointError: boom second line"
    assert by_number(h)[1][0].state == TrialState.FAIL
    assert loop.run(h, plan, digits_split).ran == 0


def test_dead_workers_trial_is_requeued(tmp_path, digits_split):
    h, plan = start(tmp_path, tiny(trials=3))
    c = study.claim(h, {0, 1, 2})  # a worker claims trial 0 and is SIGKILLed
    assert c.hp_number == 0
    clock = [0.0]
    watch = lease.Watch(30.0, clock=lambda: clock[0])  # what an idle worker sees, on its own clock
    assert enqueue.requeue(h, plan, watch) == (0, 3)  # first sight of its lease: left alone (3 pending: 2 waiting)
    clock[0] = 29.0
    assert enqueue.requeue(h, plan, watch) == (0, 3)  # silent, but still within the grace
    clock[0] = 31.0
    assert enqueue.requeue(h, plan, watch) == (1, 2)  # silent for longer than the grace: lost, enqueued again
    loop.run(h, plan, digits_split)
    groups = by_number(h)
    assert [t.user_attrs["status"] for t in groups[0]] == ["lost", "complete"]
    assert len(trial.collect(h, plan)) == 3


def test_duplicated_queue_entries_never_run_twice(tmp_path, digits_split):
    from optuna.trial import create_trial

    h, plan = start(tmp_path, tiny(trials=3))
    dists = enqueue.distributions(plan.space)
    for tp in plan.trials:  # two workers enqueued at once
        params = {k: v for k, v in tp.params.items()}
        h.storage.create_new_trial(h.study_id, template_trial=create_trial(
            state=TrialState.WAITING, params=params, distributions=dists, user_attrs={study.HP_NUMBER: tp.number},
            system_attrs={"fixed_params": params}))
    assert loop.run(h, plan, digits_split).ran == 3
    groups = by_number(h)
    for k, ts in groups.items():
        assert sum(study.is_done(t) for t in ts) == 1
        assert sorted(t.user_attrs["status"] for t in ts) == ["complete", "duplicate"]


def test_claims_do_not_reread_the_whole_journal_study(tmp_path, monkeypatch):
    """A claim reads the whole study only when trials were added since the last one: claiming cost must not
    grow with the study (it made a 1,000-trial search's claims a third of its engine time)."""
    h, plan = start(tmp_path, tiny(trials=40))
    reads, real = [], h.storage.get_all_trials
    monkeypatch.setattr(h.storage, "get_all_trials", lambda *a, **k: reads.append(1) or real(*a, **k))
    q, got = study.Queue(), []
    while (c := study.claim(h, set(range(40)), "me:1", q)) is not None:
        got.append(c.hp_number)
        study.finish(h, c, "complete", 0.5, {})
    assert sorted(got) == list(range(40)) and len(reads) == 1
    from optuna.trial import create_trial

    dists = enqueue.distributions(plan.space)  # a trial added later (a second copy of 3) is found, with one more read

    params = dict(plan.trials[3].params)
    h.storage.create_new_trial(h.study_id, template_trial=create_trial(
        state=TrialState.WAITING, params=params, distributions=dists, user_attrs={study.HP_NUMBER: 3},
        system_attrs={"fixed_params": params}))
    assert study.claim(h, set(range(40)), "me:1", q) is None and len(reads) == 2
    copy = by_number(h)[3][1]  # found and claimed, then given up: number 3 was done already
    assert copy.number == 40 and copy.state == TrialState.FAIL and copy.user_attrs["status"] == "duplicate"


def test_resume_must_search_the_same_thing(tmp_path):
    sp = tiny(trials=3)
    h = storage.open_study(None, tmp_path / "s.journal", "s")
    plan = make_plan(sp, 0)
    enqueue.prepare(h, plan, {"seed": 0, "trials": 3, "epochs": 1}, None, None, default_grace)
    enqueue.prepare(h, plan, {"seed": 0, "trials": 5, "epochs": 1}, None, None, default_grace)  # more trials: fine
    with pytest.raises(ConfigError, match="--fresh") as e:
        enqueue.prepare(h, plan, {"seed": 0, "trials": 5, "epochs": 2}, None, None, default_grace)
    assert "epochs: 1 then, 2 now" in str(e.value)
    with pytest.raises(ConfigError, match="trials"):
        enqueue.prepare(h, plan, {"seed": 0, "trials": 2, "epochs": 1}, None, None, default_grace)
    h2 = storage.open_study(None, tmp_path / "s.journal", "s", fresh=True)
    enqueue.prepare(h2, plan, {"seed": 0, "trials": 3, "epochs": 2}, None, None, default_grace)
    assert len(h2.study.get_trials()) == 3


def test_storage_faults_are_storage_errors(tmp_path):
    with pytest.raises(ConfigError) as e:  # not a database hpsearch can open: bad input (exit 2)
        storage.open_study("nosuchdb://user:secret@host/x", tmp_path / "x.journal", "s")
    assert e.value.exit_code == 2 and "secret" not in str(e.value) and "nosuchdb" in str(e.value)
    with pytest.raises(StorageError) as e:  # a database that cannot be reached: an I/O fault (exit 3)
        storage.open_study("sqlite:////nonexistent-dir/sub/x.db", tmp_path / "x.journal", "s")
    assert e.value.exit_code == 3
    with pytest.raises(StorageError, match="does not exist"):
        storage.open_study(str(tmp_path / "no" / "x.journal"), tmp_path / "x.journal", "s")
    bad = tmp_path / "bad.journal"
    bad.write_text("not json\n{}\n")
    with pytest.raises(StorageError):
        storage.open_study(str(bad), bad, "s")


def test_sqlite_url_works(tmp_path, digits_split):
    h = storage.open_study(f"sqlite:///{tmp_path}/s.db", tmp_path / "unused.journal", "s")
    plan = make_plan(tiny(trials=2), 0)
    enqueue.prepare(h, plan, {"seed": 0}, None, None, default_grace)
    assert loop.run(h, plan, digits_split).ran == 2
    assert storage.describe("postgresql://me:pw@db:5432/x") == "postgresql://me:***@db:5432/x"


def test_grid_runs_each_combination_once(tmp_path, digits_split):
    sp = parse_space({"sampler": "grid", "epochs": 1, "params": {
        "lr": {"low": 1e-3, "high": 1e-1, "log": True, "points": 3}, "reg": {"values": [1e-4, 1e-3, 1e-2]},
        "hidden": [8]}}, "g.yaml")
    h, plan = start(tmp_path, sp)
    loop.run(h, plan, digits_split)
    combos = [tuple(r.params.values()) for r in trial.collect(h, plan)]
    assert len(combos) == 9 and len(set(combos)) == 9


def test_a_stop_signal_after_training_keeps_the_trained_result(tmp_path, digits_split, monkeypatch):
    """A signal during the diagnosis (fit has returned) stops the search but the trial is recorded."""
    from hpsearch.trainer import diagnosis

    real, calls = diagnosis.diagnose, []
    stopper = stop.Stopper()

    def diagnose(result, cfg):
        calls.append(1)
        if len(calls) == 2:
            stopper._handler(signal.SIGTERM, None)  # what the installed handler runs on SIGTERM
        return real(result, cfg)

    monkeypatch.setattr(diagnosis, "diagnose", diagnose)
    h, plan = start(tmp_path, tiny(trials=5))
    out = loop.run(h, plan, digits_split, stopper)
    assert out.stopped_by == signal.SIGTERM and out.ran == 2
    assert [r.number for r in trial.collect(h, plan)] == [0, 1]
    statuses = {k: [t.user_attrs.get("status") for t in ts] for k, ts in by_number(h).items()}
    assert statuses[0] == ["complete"] and statuses[1] == ["complete"]  # neither discarded as "interrupted"
    assert "interrupted" not in sum(statuses.values(), [])


def test_preload_leaves_no_one_time_cost_for_the_first_trial():
    """Search set-up imports the trainer and scans the BLAS libraries, so the first trial's time is training."""
    import subprocess
    import sys

    code = ("import sys; from hpsearch.engine import loop, trial; from hpsearch.trainer.fast import lanes; "
            "assert 'hpsearch.trainer.fit' not in sys.modules and lanes._controller is None; trial.preload(); "
            "assert {'hpsearch.trainer.fit', 'hpsearch.trainer.diagnosis'} <= set(sys.modules) "
            "and lanes._controller is not None")
    subprocess.run([sys.executable, "-c", code], check=True)
