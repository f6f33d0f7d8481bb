"""results/verdicts.py and results/narrow.py: edge warnings in log units, the all-diverged warning, the best
trial, and the fine stage's space narrowed around the top trials."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hpsearch.config.records import Narrowing
from hpsearch.config.space import Choice, Range
from hpsearch.config.space_file import parse_space
from hpsearch.engine.plan import make_plan
from hpsearch.results import verdicts
from hpsearch.results.narrow import narrow
from hpsearch.results.validate import validate
from hpsearch.results.verdicts import all_diverged_warning, edge_warnings

from spaces import spaces


def tiny(lr=(1e-3, 1.0), trials=6, epochs=1, sampler="random", **params):
    p = {"lr": {"low": lr[0], "high": lr[1], "log": True}, "reg": {"low": 1e-5, "high": 1e-1, "log": True},
         "hidden": [16], **params}
    return parse_space({"sampler": sampler, "trials": trials, "epochs": epochs, "params": p}, "tiny.yaml")


def test_edge_warnings_in_log_units():
    sp = tiny(lr=(1e-7, 1e-4))
    [w] = edge_warnings(sp, {"lr": 9e-5, "reg": 1e-3})
    assert (w["kind"], w["param"], w["edge"]) == ("boundary", "lr", "high")
    assert w["suggested"]["high"] > 1e-4 and w["suggested"]["low"] < 9e-5 and "lr" in w["message"]
    [w] = edge_warnings(sp, {"lr": 1.5e-7, "reg": 1e-3})
    assert w["edge"] == "low" and w["suggested"]["low"] < 1e-7
    assert edge_warnings(sp, {"lr": 3e-6, "reg": 1e-3}) == []  # mid-range in log10 units (linear: bottom 3 %)
    [w] = edge_warnings(sp, {"lr": 3e-6, "reg": 0.09})
    assert w["param"] == "reg"
    diverged_above = [{"params": {"lr": 9.9e-5, "reg": 1e-3}, "status": "diverged"}]
    assert edge_warnings(sp, {"lr": 9e-5, "reg": 1e-3}, diverged_above) == []  # the range reaches divergence
    assert len(edge_warnings(sp, {"lr": 9e-5, "reg": 1e-3}, [{**diverged_above[0], "status": "complete"}])) == 1


def test_edge_suggestion_stays_valid_for_bounded_keys():
    sp = parse_space({"params": {"dropout": {"low": 0.0, "high": 0.9}}}, "d.yaml")
    [w] = edge_warnings(sp, {"dropout": 0.89})
    assert w["edge"] == "high" and 0.9 < w["suggested"]["high"] < 1.0
    [w] = edge_warnings(sp, {"dropout": 0.01})
    assert w["suggested"]["low"] == 0.0


def test_all_diverged_suggests_a_lower_lr_range():
    w = all_diverged_warning(tiny(lr=(1.0, 100.0)))
    assert w["kind"] == "all_diverged" and w["suggested"]["high"] <= 1.0 and "too high" in w["message"]


def results_doc(sp, vals, statuses=None, seed=0):
    plan = make_plan(sp, seed)
    trials = []
    for tp, v, s in zip(plan.trials, vals, statuses or ["complete"] * len(vals)):
        trials.append({"number": tp.number, "params": tp.params, "status": s,
                       "val_acc": v if s != "failed" else None, "epochs_run": 1})
    done = [t for t in trials if t["status"] == "complete"]
    best = max(done, key=lambda t: (t["val_acc"], -t["number"])) if done else None
    searched = {n for n, _ in sp.params}
    doc = {"schema_version": 1, "command": "coarse", "settings": {"seed": seed}, "data": {"spec": "digits",
           "fingerprint": "f"}, "space": sp.to_dict(), "parent": None, "progress": {},
           "fixed": {k: v for k, v in plan.trials[0].config.to_dict().items() if k not in searched},
           "trials": trials, "best": best and {"number": best["number"], "params": best["params"],
                                               "val_acc": best["val_acc"]}, "warnings": []}
    validate(doc, "doc")
    return doc


def test_fine_narrows_around_the_top_and_extends_past_a_touched_edge():
    sp = tiny(lr=(1e-7, 1e-4), trials=20, activation={"choices": ["relu", "tanh", "elu"]})
    plan = make_plan(sp, 0)
    vals = [0.1 + 0.8 * (t.params["lr"] > 5e-5) * t.params["lr"] / 1e-4 for t in plan.trials]  # higher lr wins
    doc = results_doc(sp, vals)
    fine, info = narrow(doc, trials=30, epochs=20, source="r.json")
    lr = fine.param_dict["lr"]
    assert lr.log and lr.high > 1e-4 and lr.low > 1e-7  # extended past the high edge, narrowed at the low one
    assert info.params["lr"]["extended"] == "high" and info.top_k == 3
    top_acts = {t["params"]["activation"] for t in sorted(doc["trials"], key=lambda t: -t["val_acc"])[:3]}
    act = fine.param_dict.get("activation")
    assert (set(act.choices) if isinstance(act, Choice) else {fine.fixed_dict["activation"]}) == top_acts
    assert fine.fixed_dict["hidden"] == [16] and fine.epochs == 20 and fine.trials == 30
    r = fine.param_dict["reg"]
    assert 1e-5 <= r.low < r.high <= 1e-1  # no edge touched: a sub-range


def test_fine_needs_a_complete_trial():
    sp = tiny(trials=2)
    from hpsearch.errors import ResultsError

    with pytest.raises(ResultsError, match="no complete trial"):
        narrow(results_doc(sp, [None, None], ["diverged", "failed"]))


@settings(max_examples=60, deadline=None)
@given(spaces(sampler="random"), st.data())
def test_fine_space_from_any_valid_results_file_is_valid(sp, data):
    n = len(make_plan(sp, 0).trials)
    statuses = data.draw(st.lists(st.sampled_from(["complete", "diverged", "failed"]), min_size=n, max_size=n))
    if "complete" not in statuses:
        statuses[0] = "complete"
    vals = data.draw(st.lists(st.floats(0, 1), min_size=n, max_size=n))
    doc = results_doc(sp, vals, statuses)
    top_k = data.draw(st.none() | st.integers(1, 10))
    fine, _ = narrow(doc, top_k=top_k, trials=5, epochs=2, sampler=data.draw(st.sampled_from(["random", "grid"])))
    again = parse_space(fine.to_dict(), "fine")  # valid as a space file
    assert again.to_dict() == fine.to_dict()
    for name, p in fine.params:
        if isinstance(p, Range):
            assert p.low < p.high and (not p.log or p.low > 0)
    make_plan(fine, 0)  # every configuration in it is valid


def test_the_best_trial_is_the_highest_complete_val_acc_ties_to_the_lower_number():
    trials = [{"number": 0, "status": "complete", "val_acc": 0.5}, {"number": 1, "status": "diverged", "val_acc": 0.9},
              {"number": 2, "status": "complete", "val_acc": 0.7}, {"number": 3, "status": "complete", "val_acc": 0.7},
              {"number": 4, "status": "failed", "val_acc": None}]
    assert verdicts.best(trials)["number"] == 2
    assert verdicts.best(trials[1:2] + trials[4:]) is None


def test_the_gate_fails_when_nothing_completed():
    sp = tiny(trials=2)
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
    sp = tiny(lr=(1e-7, 1e-4), trials=12)
    _, info = narrow(results_doc(sp, [0.1 * (k % 5) for k in range(12)]), trials=5, epochs=2)
    assert isinstance(info, Narrowing) and Narrowing.from_dict(info.to_dict()) == info
    assert list(info.to_dict()) == ["top_k", "top_numbers", "params"] and set(info.params) == {"lr", "reg"}
