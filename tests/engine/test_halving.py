"""coarse --halving: the rung schedule, promotions by the stage's ranking of each rung, the same trials with any
--jobs, workers on any rung, resume, and the results document (engine/halving.py)."""

from __future__ import annotations

import signal

import pytest

from hpsearch.config.data import DataSpec
from hpsearch.config.runtime import Runtime
from hpsearch.config.space_file import parse_yaml
from hpsearch.engine import halving, loop, stage, stop, storage
from hpsearch.engine.halving import Halving, Rung
from hpsearch.engine.plan import make_plan
from hpsearch.errors import ConfigError
from hpsearch.results import file as results_file
from hpsearch.results.ranking import rank_key
from jobhelp import ok, outcomes, pid_of, run, space

SPACE = ("trials: 9\nepochs: 4\nparams:\n  lr: {low: 1.0e-3, high: 1.0, log: true}\n"
         "  reg: {low: 1.0e-5, high: 1.0e-1, log: true}\n  hidden: [16]\n  batch_size: 50\n")


def test_the_schedule_keeps_a_rate_th_and_multiplies_the_epochs_up_to_the_stage_s():
    assert halving.schedule(Halving(3, 1), 27, 9) == (Rung(1, 27), Rung(3, 9), Rung(9, 3))
    assert halving.schedule(Halving(3, 1), 50, 5) == (Rung(1, 50), Rung(3, 16), Rung(5, 5))  # capped at --epochs
    assert halving.schedule(Halving(2, 2), 3, 16) == (Rung(2, 3), Rung(4, 1), Rung(8, 1), Rung(16, 1))


@pytest.mark.parametrize("h, epochs, needle", [(Halving(1, 1), 5, "--halving-rate must be an integer >= 2"),
                                               (Halving(3, 0), 5, "--min-epochs must be an integer >= 1"),
                                               (Halving(3, 5), 5, "--min-epochs 5 must be below --epochs 5")])
def test_bad_halving_settings_name_their_flag(h, epochs, needle):
    with pytest.raises(ConfigError, match=needle):
        halving.check(h, epochs)


def test_the_plan_numbers_every_rung_and_configuration_and_keeps_each_configuration_s_seed():
    sp = parse_yaml(SPACE, "s.yaml")
    plain, hv = make_plan(sp, 5), make_plan(sp, 5, halving=Halving(2, 1))
    assert (hv.configs, hv.requested, [r.epochs for r in hv.rungs]) == (9, 9 + 4 + 2, [1, 2, 4])
    for t in hv.trials:
        c, k = hv.config_of(t.number), hv.rung_of(t.number)
        assert t.params == plain.trials[c].params and t.config.epochs == hv.rungs[k].epochs
        assert hv.seed_of(t.number).entropy == plain.seed_of(c).entropy
        assert hv.seed_of(t.number).spawn_key == plain.seed_of(c).spawn_key


def journal(path, name):
    h = storage.open_study(None, path, name, False)
    return h.study


def request(tmp_path, name="r.json", **kw):
    return stage.StageRequest(command="coarse", space=parse_yaml(SPACE, "s.yaml"), seed=0, data=DataSpec("spiral"),
                              out=str(tmp_path / name), halving=Halving(2, 1), **kw)


def check_rungs(doc):
    """Each rung holds exactly the best 1/rate of the one before, by the stage's ranking of that rung; the
    document marks each configuration's earlier rungs `promoted`."""
    hv = doc["settings"]["halving"]
    rungs = [[t for t in doc["trials"] if t["rung"] == k] for k in range(len(hv["rungs"]))]
    assert [r["epochs"] for r in hv["rungs"]] == [1, 2, 4] and len(rungs[0]) == 9
    for k in range(len(rungs) - 1):
        done = sorted(({**t, "promoted": False} for t in rungs[k] if t["status"] == "complete"), key=rank_key)
        went_on = {t["config"] for t in done[:hv["rungs"][k + 1]["count"]]}
        assert {t["config"] for t in rungs[k + 1]} == went_on and went_on
        assert {t["config"] for t in rungs[k] if t["promoted"]} == went_on
    for t in doc["trials"]:
        assert t["epochs_run"] <= hv["rungs"][t["rung"]]["epochs"] and t["number"] == t["rung"] * 9 + t["config"]
    assert doc["best"]["number"] in {t["number"] for t in rungs[-1]}  # the best trained for --epochs
    return rungs


def test_a_promoted_configuration_repeats_its_earlier_rung_then_trains_on(tmp_path):
    """Retraining from scratch with the configuration's seed: rung k+1 starts exactly as rung k went (what
    continuing from rung k's weights would give), and the last rung is the plain coarse trial of --epochs."""
    doc = stage.run_stage(request(tmp_path), Runtime()).doc
    assert doc["schema_version"] == 3 and doc == results_file.read(tmp_path / "r.json")
    rungs = check_rungs(doc)
    by = {(t["rung"], t["config"]): t for t in doc["trials"]}
    for (k, c), t in by.items():
        if k:
            assert t["val_curve"][:len(by[(k - 1, c)]["val_curve"])] == by[(k - 1, c)]["val_curve"]
    plain = stage.run_stage(stage.StageRequest(command="coarse", space=parse_yaml(SPACE, "s.yaml"), seed=0,
                                               data=DataSpec("spiral"), out=str(tmp_path / "plain.json")),
                            Runtime()).doc
    for t in rungs[-1]:
        p = plain["trials"][t["config"]]
        assert (p["val_curve"], p["params"], p["status"]) == (t["val_curve"], t["params"], t["status"])


def test_stop_in_a_later_rung_then_resume_gives_the_same_trials(tmp_path):
    whole = stage.run_stage(request(tmp_path, "whole.json"), Runtime()).doc
    queued = stage.run_stage(request(tmp_path, jobs=0), Runtime()).queued
    assert (queued.enqueued, queued.requested) == (9, 15)  # rung 0 only: later rungs open as rungs complete
    h = storage.open_study(None, tmp_path / "r.journal", "coarse-r", False)
    plan = make_plan(parse_yaml(SPACE, "s.yaml"), 0, halving=Halving(2, 1))
    stopper = stop.Stopper()

    def after_eleven(_record):
        ran.append(1)
        if len(ran) == 11:  # inside rung 1
            stopper.signum = signal.SIGINT

    ran = []
    out = loop.run(h, plan, stage.stage_split(DataSpec("spiral"), "float32", "x"), stopper, after_eleven)
    assert out.stopped_by == signal.SIGINT and out.ran == 11
    doc = stage.run_stage(request(tmp_path), Runtime()).doc
    assert doc["progress"]["ran_now"] == whole["progress"]["done"] - 11
    assert outcomes(doc) == outcomes(whole) and doc["trials"] == [
        {**t, "seconds": d["seconds"]} for t, d in zip(whole["trials"], doc["trials"])]


def test_jobs_2_and_a_worker_give_the_same_rungs_as_jobs_1(tmp_path):
    sp = space(tmp_path, trials=18, epochs=9, hidden=(256, 256))
    args = ("coarse", "--space", sp, "--halving", "--halving-rate", "3", "--json", "--quiet")
    one = ok(run(*args, "--out", tmp_path / "one.json"))
    two = ok(run(*args, "--out", tmp_path / "two.json", "--jobs", "2"))
    keys = ("rung", "config", "score", "promoted")
    assert [(t["number"], *(t[k] for k in keys)) for t in one["trials"]] == \
        [(t["number"], *(t[k] for k in keys)) for t in two["trials"]]
    assert outcomes(one) == outcomes(two) and one["best"] == two["best"] and one["warnings"] == two["warnings"]
    assert [len([t for t in one["trials"] if t["rung"] == k]) for k in range(3)] == [18, 6, 2]
    assert len({pid_of(t) for t in journal(tmp_path / "two.journal", "coarse-two").trials}) == 2  # both trained
    # --jobs 0 enqueues rung 0; a worker (its plan rebuilt from the study) runs every rung
    queued = ok(run(*args, "--out", tmp_path / "w.json", "--jobs", "0"))
    assert (queued["enqueued"], queued["requested"]) == (18, 26)
    ok(run("worker", "--storage", tmp_path / "w.journal", "--study", "coarse-w", "--quiet"))
    ok(run("export", "--storage", tmp_path / "w.journal", "--study", "coarse-w", "--out", tmp_path / "w.json",
           "--quiet"))
    w = results_file.read(tmp_path / "w.json")
    assert outcomes(w) == outcomes(one) and w["best"] == one["best"] and not w["progress"]["interrupted"]


def test_resuming_with_more_trials_or_other_halving_settings_is_refused(tmp_path):
    stage.run_stage(request(tmp_path), Runtime())
    grown = parse_yaml(SPACE.replace("trials: 9", "trials: 12"), "s.yaml")
    with pytest.raises(ConfigError, match="space.halving.configs: 9 then, 12 now"):
        stage.run_stage(stage.StageRequest(command="coarse", space=grown, seed=0, data=DataSpec("spiral"),
                                           out=str(tmp_path / "r.json"), halving=Halving(2, 1)), Runtime())
    with pytest.raises(ConfigError, match="space.halving.rate: 2 then, 3 now"):
        stage.run_stage(request(tmp_path).__class__(**{**request(tmp_path).__dict__, "halving": Halving(3, 1)}),
                        Runtime())


def test_a_rung_that_promotes_fewer_lowers_what_the_stage_requests():
    """Diverged and failed trials never go on: when fewer than a rung's count completed, fewer are promoted,
    and the stage is finished (not interrupted) once those ran."""
    plan = make_plan(parse_yaml(SPACE, "s.yaml"), 0, halving=Halving(2, 1))  # rungs of 9, 4 and 2

    def t(k, status="complete", val=0.5):
        return {"number": k, "params": plan.trials[k].params, "status": status,
                "val_acc": val if status == "complete" else None}

    rung0 = [t(k, "diverged") for k in range(6)] + [t(6, val=0.4), t(7, "failed"), t(8, val=0.6)]
    assert halving.open_numbers(plan, rung0[:-1], None) == list(range(9))  # rung 0 still running
    assert halving.open_numbers(plan, rung0, None) == list(range(9)) + [9 + 8, 9 + 6]  # best first
    assert halving.requested(plan, rung0, None) == 9 + 2 + 2
    rung1 = rung0 + [t(17, val=0.7), t(15, "diverged")]
    assert halving.open_numbers(plan, rung1, None) == list(range(9)) + [17, 15, 18 + 8]
    assert halving.requested(plan, rung1, None) == 9 + 2 + 1
