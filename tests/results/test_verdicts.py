"""results/verdicts.py and results/narrow.py: each scenario of issue 13 built as a results document (a known
val_acc surface sampled as a stage samples it, tests/results/scenarios.py) and its verdict asserted; the
fine stage that follows the verdict; the stage's ranking."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import scenarios
from hpsearch.config.records import Narrowing
from hpsearch.config.space import Choice, Range
from hpsearch.config.space_file import parse_space
from hpsearch.engine.plan import make_plan
from hpsearch.results import ranking, verdicts
from hpsearch.results.narrow import narrow
from hpsearch.results.validate import validate

from spaces import spaces

SEEDS = range(10)


def verdict(sp, seed, **surface):
    doc = scenarios.doc(sp, seed, **surface)
    return doc, verdicts.judge(sp, doc["trials"], doc["data"])


def edges(v) -> set:
    return {(w["kind"], w["param"], w["edge"]) for w in v.warnings}


def test_a_range_too_low_to_learn_says_nothing_learned_and_suggests_moving_up():
    sp = scenarios.space(lr=(1e-7, 1e-4))
    right = 0
    for seed in SEEDS:
        doc, v = verdict(sp, seed)
        right += edges(v) == {("nothing_learned", "lr", "high")}
    assert right >= 9
    doc, v = verdict(sp, 0)
    [w] = v.warnings
    assert w["suggested"]["low"] >= 1e-4 and w["suggested"]["high"] <= 10.0 and "too low" in w["message"]
    assert "chance" in w["evidence"]
    fine, info = narrow(doc)  # fine moves the range as suggested instead of narrowing around noise
    lr = fine.param_dict["lr"]
    assert (lr.low, lr.high) == (w["suggested"]["low"], w["suggested"]["high"]) and info.params["lr"]["moved"] == "high"
    reg = fine.param_dict["reg"]
    assert (reg.low, reg.high) == (1e-5, 1e5)  # nothing trained: no good region of reg to narrow to


def test_most_of_the_range_diverging_moves_lr_down_even_when_some_trials_survive():
    sp = scenarios.space(lr=(1e-1, 1e3), reg=(1e-5, 1e-2))
    for seed in SEEDS:
        doc, v = verdict(sp, seed)
        assert any(t["status"] == "complete" for t in doc["trials"])
        assert edges(v) == {("mostly_diverged", "lr", "low")}
    w = v.warnings[0]
    assert w["suggested"]["high"] <= 2.0 and w["suggested"]["low"] < 1e-1
    fine, info = narrow(doc)
    assert fine.param_dict["lr"].high <= 2.0 and info.params["lr"]["moved"] == "low"


def test_every_trial_diverging_moves_lr_down_and_fine_follows():
    sp = scenarios.space(lr=(1e1, 1e3))
    doc, v = verdict(sp, 0)
    assert all(t["status"] == "diverged" for t in doc["trials"])
    [w] = v.warnings
    assert (w["kind"], w["param"], w["edge"]) == ("all_diverged", "lr", "low")  # the side better values lie on
    assert w["suggested"]["high"] <= 1e1
    fine, _ = narrow(doc)
    assert fine.param_dict["lr"].high <= 1e1


def test_a_reg_range_far_too_strong_warns_on_reg_low_not_on_lr():
    sp = scenarios.space(lr=(1e-2, 3e-1), reg=(1.0, 1e3))
    right = 0
    for seed in SEEDS:
        _, v = verdict(sp, seed)
        right += ("boundary", "reg", "low") in edges(v) and not any(p == "lr" for _, p, _ in edges(v))
    assert right >= 9


def test_a_bracketing_range_never_gets_an_lr_warning():
    sp = scenarios.space(lr=(1e-5, 1e1), reg=(1e-6, 1e-2))
    for seed in range(20):
        _, v = verdict(sp, seed)
        assert not any(w["param"] == "lr" for w in v.warnings), (seed, v.warnings)


def test_an_optimum_just_past_the_edge_is_warned_with_evidence():
    sp = scenarios.space(lr=(1e-4, 3e-3), reg=(1e-6, 1e-2))
    for seed in SEEDS:
        _, v = verdict(sp, seed, lr_half=1e-3, reg_half=10.0)
        assert edges(v) == {("boundary", "lr", "high")}, (seed, v.warnings)
    w = v.warnings[0]
    assert 3e-3 < w["suggested"]["high"] <= 0.3 and w["suggested"]["low"] < 3e-3 and "rises" in w["evidence"]


def test_divergence_caused_by_reg_does_not_hide_the_lr_edge():
    # lr x reg > 2 diverges: a trial at a high lr and a huge reg diverges, and says nothing about lr's edge
    sp = scenarios.space(lr=(1e-6, 1e-2), reg=(1e-5, 1e5))
    for seed in SEEDS:
        doc, v = verdict(sp, seed, lr_half=1e-2)
        assert any(t["status"] == "diverged" for t in doc["trials"])
        assert ("boundary", "lr", "high") in edges(v), (seed, v.warnings)
        assert not any(k == "mostly_diverged" for k, _, _ in edges(v))


def _flat_top(*kinds: str, alternate: tuple[str, ...] = ()) -> tuple[dict, verdicts.Verdict]:
    """A stage whose trials in the top VOTE_SPAN of lr all score the same (no trend to see there) and carry
    the diagnoses `kinds` (every other one `alternate`, when given)."""
    sp = scenarios.space(lr=(1e-6, 1e-2), reg=(1e-5, 1.0))
    doc = scenarios.doc(sp, 0, lr_half=1e-2, reg_half=1e3)
    top = 10 ** (-2 - 4 * verdicts.VOTE_SPAN)
    band = [t for t in doc["trials"] if t["status"] == "complete" and t["params"]["lr"] >= top]
    for i, t in enumerate(band):
        ks = alternate if alternate and i % 2 else kinds
        t["val_acc"], t["diagnosis"] = 0.5, [{"kind": k, "message": k} for k in ks]
    return doc, verdicts.judge(sp, doc["trials"], doc["data"])


def test_trials_still_learning_at_the_top_of_lr_vote_for_its_high_edge_and_reg_limited_ones_abstain():
    for kind in ("still_learning", "underfitting"):
        _, v = _flat_top(kind)
        w = [w for w in v.warnings if (w["kind"], w["param"], w["edge"]) == ("boundary", "lr", "high")]
        assert w and "diagnosed" in w[0]["evidence"], (kind, v.warnings)
    # no vote from healthy trials; and a trial whose diagnosis also blames reg says nothing about lr's edge
    for kinds in (("healthy",), ("still_learning", "reg_too_strong")):
        _, v = _flat_top(*kinds)
        assert not any(p == "lr" for _, p, _ in edges(v)), (kinds, v.warnings)
    # half still learning, half limited by reg: 1 in 2 is no majority, but the reg-limited half abstains
    _, v = _flat_top("still_learning", alternate=("reg_too_strong",))
    assert ("boundary", "lr", "high") in edges(v), v.warnings


def _overfitting_at_top_of_reg(near_peak: bool) -> verdicts.Verdict:
    """A stage whose reg range is flat (no trend) and whose trials in the top VOTE_SPAN of reg are diagnosed
    overfitting: those near the peak's lr (near_peak), or only those far below it."""
    sp = scenarios.space(lr=(1e-6, 1.0), reg=(1e-6, 1e-3))
    doc = scenarios.doc(sp, 0, lr_half=1e-2, reg_half=1e3, lr_div=10.0)  # the peak near the top of lr
    top = 10 ** (-3 - 3 * verdicts.VOTE_SPAN)
    for t in doc["trials"]:
        if t["status"] == "complete" and t["params"]["reg"] >= top:
            far = t["params"]["lr"] < 3e-2  # three quarters of the range, well below the peak
            kind = "overfitting" if far != near_peak else "healthy"
            t["diagnosis"] = [{"kind": kind, "message": kind}]
    return verdicts.judge(sp, doc["trials"], doc["data"])


def test_only_trials_near_the_peak_vote_overfitting_for_a_stronger_reg():
    assert ("boundary", "reg", "high") in edges(_overfitting_at_top_of_reg(near_peak=True))
    # overfitting diagnosed only at an lr far from the peak says nothing about the best configuration's reg
    assert not any(p == "reg" for _, p, _ in edges(_overfitting_at_top_of_reg(near_peak=False)))


def test_divergence_is_attributed_to_lr_times_reg_when_that_separates_it_better():
    sp = scenarios.space(lr=(1e-2, 3e-1), reg=(1.0, 1e3))
    doc, _ = verdict(sp, 0)
    assert verdicts._lr_diverged(sp, doc["trials"]) == []  # lr x reg > 2, not lr, decides
    sp = scenarios.space(lr=(1e-1, 1e3), reg=(1e-5, 1e-2))
    doc, _ = verdict(sp, 0)
    lr_div = verdicts._lr_diverged(sp, doc["trials"])
    assert lr_div and all(t["params"]["lr"] > 1.0 for t in lr_div)


def test_mostly_slow_trials_move_the_range_up():
    sp = scenarios.space(lr=(1e-6, 1e-2), reg=(1e-6, 1e-2))
    doc, v = verdict(sp, 0, lr_half=1e-2)  # most trials barely move: diagnosed lr_too_low
    assert edges(v) == {("mostly_slow", "lr", "high")}
    assert v.warnings[0]["suggested"]["low"] >= 1e-2


def test_every_warning_has_the_fields_scripts_read():
    cases = [(scenarios.space(lr=(1e-7, 1e-4)), {}), (scenarios.space(lr=(1e-1, 1e3), reg=(1e-5, 1e-2)), {}),
             (scenarios.space(lr=(1e1, 1e3)), {}), (scenarios.space(lr=(1e-2, 3e-1), reg=(1.0, 1e3)), {}),
             (scenarios.space(lr=(1e-6, 1e-2)), {"lr_half": 1e-2})]
    for sp, surface in cases:
        doc, v = verdict(sp, 1, **surface)
        assert v.warnings
        for w in v.warnings:
            assert {"kind", "param", "edge", "value", "range", "message", "suggested", "evidence"} <= set(w)
            assert w["edge"] in ("low", "high") and w["suggested"]["low"] < w["suggested"]["high"]
            assert w["param"] in w["message"] and w["evidence"]
        validate({**doc, "warnings": v.warnings}, "doc")


def test_edge_suggestions_stay_inside_sane_limits():
    sp = scenarios.space(lr=(1e-6, 1.0), reg=(1e-6, 1e-2))
    for seed in SEEDS:
        _, v = verdict(sp, seed, lr_half=3.0, lr_div=1e6)  # better and better up to lr 1, nothing diverges
        for w in v.warnings:
            if w["param"] == "lr":
                assert w["suggested"]["high"] <= verdicts.SANE["lr"][1]  # never lr 100


def test_edge_suggestion_stays_valid_for_bounded_keys():
    p = Range(low=0.0, high=0.9)
    lo, hi = verdicts.clip_to_domain("dropout", p, -0.2, 1.3, (0.0, 0.9))
    assert lo == 0.0 and 0.9 < hi < 1.0


def test_more_coarse_trials_narrow_the_fine_range_and_it_stays_inside_its_parent():
    sp_of = lambda n: scenarios.space(lr=(1e-5, 1e1), reg=(1e-6, 1e-2), trials=n)  # noqa: E731
    width = {}
    for n in (50, 400):
        ws = []
        for seed in range(4):
            doc = scenarios.doc(sp_of(n), seed)
            fine, info = narrow(doc)
            lr = fine.param_dict["lr"]
            assert 1e-5 <= lr.low < lr.high <= 1e1 and info.params["lr"]["extended"] is None
            ws.append(math.log10(lr.high / lr.low))
        width[n] = sum(ws) / len(ws)
    assert width[400] <= width[50] < 6  # narrower than the 6-decade parent, and no wider with more trials


@pytest.mark.parametrize("seed", range(8))
def test_the_good_region_does_not_widen_into_a_stretch_where_every_trial_scored_at_chance(seed):
    """Below lr 1e-4 every trial of the stage is at chance whatever its reg; the profile through the peak may
    have no trial near there, but the fine range must not reach down into it (issue 15: half of fine's trials
    were spent at chance)."""
    sp = scenarios.space(lr=(1e-6, 1.0), reg=(1e-5, 1e5), trials=50)  # a wide reg: few trials near the peak's
    doc = scenarios.doc(sp, seed)
    at_chance = [t for t in doc["trials"] if t["status"] == "complete" and t["params"]["lr"] < 1e-4]
    assert at_chance and max(t["val_acc"] for t in at_chance) < 0.2
    fine, _ = narrow(doc)
    assert fine.param_dict["lr"].low > 1e-4


def test_fine_extends_past_a_warned_edge_only():
    sp = scenarios.space(lr=(1e-4, 3e-3), reg=(1e-6, 1e-2))
    doc, v = verdict(sp, 0, lr_half=1e-3, reg_half=10.0)
    fine, info = narrow(doc, trials=30, epochs=20, source="r.json")
    lr, reg = fine.param_dict["lr"], fine.param_dict["reg"]
    assert lr.high > 3e-3 and info.params["lr"]["extended"] == "high"
    assert 1e-6 <= reg.low < reg.high <= 1e-2 and info.params["reg"]["extended"] is None
    assert fine.fixed_dict["hidden"] == [16] and fine.epochs == 20 and fine.trials == 30


def test_fine_keeps_the_choices_of_the_top_trials():
    sp = parse_space({"trials": 20, "params": {"lr": {"low": 1e-3, "high": 1.0, "log": True},
                                               "activation": {"choices": ["relu", "tanh", "elu"]}}}, "c.yaml")
    plan = make_plan(sp, 0)
    vals = [0.9 if t.params["activation"] != "elu" else 0.2 for t in plan.trials]
    doc = results_doc(sp, vals)
    fine, _ = narrow(doc)
    act = fine.param_dict.get("activation")
    assert (set(act.choices) if isinstance(act, Choice) else {fine.fixed_dict["activation"]}) <= {"relu", "tanh"}


def results_doc(sp, vals, statuses=None, seed=0):
    plan = make_plan(sp, seed)
    trials = []
    for tp, v, s in zip(plan.trials, vals, statuses or ["complete"] * len(vals)):
        trials.append({"number": tp.number, "params": tp.params, "status": s,
                       "val_acc": v if s != "failed" else None, "epochs_run": 1})
    done = [t for t in trials if t["status"] == "complete"]
    best = max(done, key=lambda t: (t["val_acc"], -t["number"])) if done else None
    searched = {n for n, _ in sp.params}
    doc = {"schema_version": 2, "command": "coarse", "settings": {"seed": seed}, "data": {"spec": "digits",
           "fingerprint": "f"}, "space": sp.to_dict(), "parent": None, "progress": {"requested": len(trials), "done": len(trials)},
           "fixed": {k: v for k, v in plan.trials[0].config.to_dict().items() if k not in searched},
           "trials": trials, "best": best and {"number": best["number"], "params": best["params"],
                                               "val_acc": best["val_acc"]}, "warnings": []}
    validate(doc, "doc")
    return doc


def test_fine_needs_a_complete_trial_or_a_verdict_that_moves_the_range():
    sp = parse_space({"trials": 2, "params": {"reg": {"low": 1e-5, "high": 1e-1, "log": True}}}, "r.yaml")
    from hpsearch.errors import ResultsError

    with pytest.raises(ResultsError, match="no complete trial"):
        narrow(results_doc(sp, [None, None], ["failed", "failed"]))


@settings(max_examples=60, deadline=None)
@given(spaces(sampler="random"), st.data())
def test_fine_space_from_any_valid_results_file_is_valid_and_inside_its_parent_unless_warned(sp, data):
    n = len(make_plan(sp, 0).trials)
    statuses = data.draw(st.lists(st.sampled_from(["complete", "diverged", "failed"]), min_size=n, max_size=n))
    if "complete" not in statuses:
        statuses[0] = "complete"
    vals = data.draw(st.lists(st.floats(0, 1), min_size=n, max_size=n))
    doc = results_doc(sp, vals, statuses)
    top_k = data.draw(st.none() | st.integers(1, 10))
    fine, info = narrow(doc, top_k=top_k, trials=5, epochs=2, sampler=data.draw(st.sampled_from(["random", "grid"])))
    again = parse_space(fine.to_dict(), "fine")  # valid as a space file
    assert again.to_dict() == fine.to_dict()
    for name, p in fine.params:
        if isinstance(p, Range):
            assert p.low < p.high and (not p.log or p.low > 0)
            parent = sp.param_dict.get(name)
            ch = info.params.get(name, {})
            if isinstance(parent, Range) and not ch.get("extended") and not ch.get("moved"):
                assert parent.low <= p.low and p.high <= parent.high
    make_plan(fine, 0)  # every configuration in it is valid


def test_the_stage_ranks_by_its_smoothed_score_and_old_files_by_val_acc():
    trials = [{"number": 0, "status": "complete", "val_acc": 0.5}, {"number": 1, "status": "diverged", "val_acc": 0.9},
              {"number": 2, "status": "complete", "val_acc": 0.7}, {"number": 3, "status": "complete", "val_acc": 0.7},
              {"number": 4, "status": "failed", "val_acc": None}]
    assert verdicts.best(trials)["number"] == 2  # version 1: val_acc, ties to the lower number
    assert verdicts.best(trials[1:2] + trials[4:]) is None
    scored = [{**t, "score": s} for t, s in zip(trials, (0.8, None, 0.6, 0.65, None))]
    assert ranking.best(scored)["number"] == 0  # a lucky val_acc does not win against the smoothed estimate


def test_a_lucky_trial_does_not_win_the_smoothed_ranking():
    sp = scenarios.space(lr=(1e-3, 1.0), reg=(1e-6, 1e-3), trials=60)
    doc = scenarios.doc(sp, 0)
    lucky = min((t for t in doc["trials"] if t["status"] == "complete"),
                key=lambda t: abs(math.log10(t["params"]["lr"] / 3e-3)))
    top = max(t["val_acc"] for t in doc["trials"] if t["status"] == "complete")
    lucky["val_acc"] = top + 0.01  # near lr 3e-3, where its neighbours score ~0.5: the stage's highest val_acc
    v = verdicts.judge(sp, doc["trials"], doc["data"])
    assert v.scores[lucky["number"]] < top
    ranked = sorted((dict(t, score=v.scores.get(t["number"])) for t in doc["trials"] if t["status"] == "complete"),
                    key=ranking.rank_key)
    assert ranked[0]["number"] != lucky["number"]


def test_the_gate_fails_when_nothing_completed():
    sp = parse_space({"trials": 2, "params": {"lr": {"low": 1e-3, "high": 1.0, "log": True}}}, "g.yaml")
    diverged = results_doc(sp, [0.1, 0.1], ["diverged", "diverged"])
    diverged["warnings"] = verdicts.warnings(sp, diverged["trials"])
    assert [w["kind"] for w in diverged["warnings"]] == ["all_diverged"]
    assert "every trial diverged" in verdicts.gate_failure(diverged, "r.json")
    failed = results_doc(sp, [None, None], ["failed", "failed"])
    assert verdicts.warnings(sp, failed["trials"]) == []
    assert verdicts.gate_failure(failed, "r.json") == "no trial completed (see the trials' errors in r.json)"
    ok = results_doc(sp, [0.3, 0.6])
    assert verdicts.gate_failure(ok, "r.json") is None


def test_the_narrowing_record_round_trips_as_results_store_it():
    doc = scenarios.doc(scenarios.space(lr=(1e-5, 1e1), reg=(1e-6, 1e-2), trials=30), 0)
    _, info = narrow(doc, trials=5, epochs=2)
    assert isinstance(info, Narrowing) and Narrowing.from_dict(info.to_dict()) == info
    assert list(info.to_dict()) == ["top_k", "top_numbers", "params", "basis"] and set(info.params) == {"lr", "reg"}
    assert info.basis == "verdict" and narrow(doc, top_k=3)[1].basis == "top_k"


def test_version_1_files_still_validate_and_version_4_does_not():
    doc = scenarios.doc(scenarios.space(trials=5), 0)
    validate({**doc, "schema_version": 1}, "v1.json")
    from hpsearch.errors import ResultsError

    with pytest.raises(ResultsError, match="schema_version 4"):
        validate({**doc, "schema_version": 4}, "v4.json")
    with pytest.raises(ResultsError, match=r"warnings\[0\]"):
        validate({**doc, "warnings": [1]}, "w.json")


def choice_doc(seed: int):
    """lr x activation, relu 0.2 better than tanh and 0.5 better than sigmoid at every lr."""
    import numpy as np

    sp = parse_space({"sampler": "random", "trials": 40, "epochs": 5, "params": {
        "lr": {"low": 1e-4, "high": 1e-1, "log": True}, "activation": {"choices": ["relu", "tanh", "sigmoid"]},
        "hidden": [16]}}, "c.yaml")
    rng = np.random.default_rng(seed)
    base = {"relu": 0.92, "tanh": 0.70, "sigmoid": 0.40}
    vals = [base[t.params["activation"]] - 0.02 * abs(math.log10(t.params["lr"]) + 2.5) + rng.normal(0, 0.01)
            for t in make_plan(sp, seed).trials]
    return sp, results_doc(sp, [min(max(v, 0.0), 1.0) for v in vals], seed=seed)


def test_the_smoothed_score_does_not_pool_trials_of_a_choice_that_matters():
    for seed in range(10):
        sp, doc = choice_doc(seed)
        v = verdicts.judge(sp, doc["trials"], doc["data"])
        scored = [dict(t, score=v.scores.get(t["number"])) for t in doc["trials"]]
        assert ranking.best(scored)["params"]["activation"] == "relu", seed


def test_no_boundary_warning_where_the_key_cannot_go_further():
    sp = parse_space({"trials": 40, "params": {"dropout": {"low": 0.0, "high": 0.8}}}, "d.yaml")
    vals = [0.95 - 0.5 * t.params["dropout"] for t in make_plan(sp, 0).trials]  # best at dropout 0
    doc = results_doc(sp, vals)
    v = verdicts.judge(sp, doc["trials"], doc["data"])
    assert v.axes["dropout"].edge == "low" and v.warnings == []  # nothing below 0 to try
    fine, info = narrow(doc)
    assert fine.param_dict["dropout"].low == 0.0 and info.params["dropout"]["extended"] is None


def test_a_grid_stage_with_a_fixed_lr_that_diverged_moves_lr_in_a_valid_grid():
    sp = parse_space({"sampler": "grid", "params": {"lr": 30.0, "reg": {"values": [1e-5, 1e-3, 1e-1], "log": True}}},
                     "g.yaml")
    doc = results_doc(sp, [None] * 3, ["diverged"] * 3)
    [w] = verdicts.judge(sp, doc["trials"], doc["data"]).warnings
    assert w["kind"] == "all_diverged" and w["suggested"]["high"] < 30.0
    for sampler in ("grid", "random"):
        fine, info = narrow(doc, sampler=sampler)
        lr = fine.param_dict["lr"]
        assert lr.high < 30.0 and info.params["lr"]["moved"] == "low" and info.params["lr"]["from"] == [30.0, 30.0]
        make_plan(fine, 0)


def test_lr_searched_as_values_moves_from_the_values_it_tried():
    sp = parse_space({"trials": 20, "params": {"lr": {"choices": [1e-7, 1e-6]},
                                               "reg": {"low": 1e-5, "high": 1.0, "log": True}}}, "v.yaml")
    doc = results_doc(sp, [0.1] * 20)
    doc["data"]["classes"] = 10
    [w] = verdicts.judge(sp, doc["trials"], doc["data"]).warnings
    assert w["kind"] == "nothing_learned" and w["suggested"]["low"] >= 1e-6 and "fixed at" not in w["message"]
    fine, info = narrow(doc)
    assert isinstance(fine.param_dict["lr"], Range) and fine.param_dict["lr"].low >= 1e-6
    assert info.params["lr"]["moved"] == "high"


def test_a_score_that_is_not_a_number_is_refused():
    doc = scenarios.doc(scenarios.space(trials=5), 0)
    from hpsearch.errors import ResultsError

    doc["trials"][0]["score"] = "0.9"
    with pytest.raises(ResultsError, match=r"trials\[0\]\.score"):
        validate(doc, "s.json")


@pytest.mark.parametrize("seed", range(4))
def test_trials_blamed_on_reg_do_not_make_a_rise_toward_lr_s_edge(seed):
    """A bracketing lr range whose lower part of the top band holds trials spoiled by a strong reg (scored
    near chance, diagnosed reg_too_strong): without them the top band is flat, so no lr edge."""
    sp = scenarios.space(lr=(1e-6, 1.0), reg=(1e-5, 1e5))
    doc = scenarios.doc(sp, seed, lr_half=1e-3)
    band = [t for t in doc["trials"] if t["status"] == "complete" and t["params"]["lr"] >= 10 ** -1.2]
    spoiled = 0
    for t in band:
        if t["params"]["lr"] < 0.25 or t["params"]["reg"] > 1.0:
            t["val_acc"], t["diagnosis"] = 0.2, [{"kind": "reg_too_strong", "message": "reg_too_strong"}]
            spoiled += 1
    assert spoiled >= 2
    assert not any(p == "lr" for _, p, _ in edges(verdicts.judge(sp, doc["trials"], doc["data"])))


def test_a_rise_toward_an_edge_must_clear_one_and_a_half_standard_errors(monkeypatch):
    """The edge test runs on both sides of every axis: a rise of 1.2 standard errors (plus TOL) is noise, one of
    2 standard errors is a warning. The peak is put at lr's top edge; the trend there is what the test sets."""
    from hpsearch.results import surface

    sp = scenarios.space(lr=(1e-6, 1e-2), reg=(1e-5, 1e-2))
    doc = scenarios.doc(sp, 0, lr_half=5e-3)  # the optimum past the top edge: the peak sits on it
    se = 0.02
    for z, warned in ((1.2, False), (2.0, True)):
        rise = z * se + verdicts.TOL
        monkeypatch.setattr(surface.Surface, "edge_trend",
                            lambda self, i, at, side, *a, **k: (rise, se, 8.0) if side == "high" else None)
        for t in doc["trials"]:  # no diagnosis votes: only the trend decides
            t["diagnosis"] = [{"kind": "healthy", "message": "healthy"}]
        v = verdicts.judge(sp, doc["trials"], doc["data"])
        assert (("boundary", "lr", "high") in edges(v)) == warned, (z, v.warnings)


@pytest.mark.parametrize("seed", range(4))
def test_a_mostly_diverging_range_whose_few_survivors_learned_nothing_moves_lr_down(seed):
    """45 of 50 trials diverge and the few that survive score at chance (their lr is too high as well): that is
    a range mostly too high, not "nothing learned, check the model", which suggests nothing."""
    sp = scenarios.space(lr=(1.0, 1e3), reg=(1e-5, 1e-2))
    doc = scenarios.doc(sp, seed)
    survivors = [t for t in doc["trials"] if t["status"] == "complete"]
    assert 1 <= len(survivors) <= 0.2 * len(doc["trials"])
    for t in survivors:
        t["val_acc"], t["diagnosis"] = scenarios.CHANCE + 0.01, [{"kind": "lr_too_high", "message": "lr_too_high"}]
    v = verdicts.judge(sp, doc["trials"], doc["data"])
    assert edges(v) == {("mostly_diverged", "lr", "low")}, v.warnings
    assert v.warnings[0]["suggested"]["high"] <= 1.0
