"""Successive halving in synchronous rungs (`coarse --halving`): rung 0 trains every configuration for
`min_epochs`; rung k+1 trains the best 1/rate of rung k (the stage's ranking of that rung: results/ranking.py
on the rung's own verdict scores) `rate` times longer, capped at the stage's epochs; the last rung trains for
the stage's epochs.

A promoted configuration retrains from scratch with its own seed (the seed of its configuration, whatever its
rung): its rung k+1 run repeats its rung k epochs exactly (the lr schedules do not depend on the total epochs)
and goes on, so no weights need to be kept where every worker can reach them, and every value is the same with
any number of workers. The plan numbers every (rung, configuration) pair, `number = rung * configs + config`;
rung 0 is enqueued up front, and rung k+1 by whichever worker first finds rung k complete (open_numbers, under
the study lock; the study is the queue, so a resumed or joined run recovers the rungs from it).
"""

from __future__ import annotations

from dataclasses import dataclass

from hpsearch.errors import ConfigError

RATE, MIN_EPOCHS = 3, 1  # the defaults of --halving-rate and --min-epochs


@dataclass(frozen=True)
class Halving:
    rate: int  # eta: each rung keeps the best 1/rate of the one before and trains it rate times longer
    min_epochs: int  # rung 0's epochs: enough for a hopeless configuration to show it

    def to_dict(self) -> dict:
        return {"rate": self.rate, "min_epochs": self.min_epochs}

    @classmethod
    def from_dict(cls, d: dict) -> "Halving":
        return cls(int(d["rate"]), int(d["min_epochs"]))


@dataclass(frozen=True)
class Rung:
    epochs: int  # epochs each of its trials trains
    count: int  # configurations it trains (at most: a rung promotes only complete trials)


def check(h: Halving, epochs: int) -> None:
    """The halving settings a stage of `epochs` epochs can use (errors name the flags)."""
    if isinstance(h.rate, bool) or not isinstance(h.rate, int) or h.rate < 2:
        raise ConfigError(f"--halving-rate must be an integer >= 2, got {h.rate!r}",
                          "e.g. --halving-rate 3 (keep the best third of each rung)", key="halving_rate")
    if isinstance(h.min_epochs, bool) or not isinstance(h.min_epochs, int) or h.min_epochs < 1:
        raise ConfigError(f"--min-epochs must be an integer >= 1, got {h.min_epochs!r}", "e.g. --min-epochs 1",
                          key="min_epochs")
    if h.min_epochs >= epochs:
        raise ConfigError(f"--min-epochs {h.min_epochs} must be below --epochs {epochs} (one rung is no halving)",
                          f"lower --min-epochs (e.g. {max(1, epochs // h.rate ** 2)}) or raise --epochs",
                          key="min_epochs")


def schedule(h: Halving, configs: int, epochs: int) -> tuple[Rung, ...]:
    """The rungs: rung 0 all `configs` for min_epochs; then each 1/rate of the one before (at least 1) for
    rate times the epochs, until a rung reaches `epochs`."""
    out, n, e = [], configs, h.min_epochs
    while True:
        out.append(Rung(min(e, epochs), n))
        if e >= epochs:
            return tuple(out)
        n, e = max(1, n // h.rate), e * h.rate


def to_settings(h: Halving, rungs: tuple[Rung, ...]) -> dict:
    """results.json `settings.halving`."""
    return {**h.to_dict(), "rungs": [{"epochs": r.epochs, "count": r.count} for r in rungs]}


# ----------------------------------------------------------------------------------------- rungs of trials

def rung_scores(space, trials: list[dict], data: dict | None) -> dict[int, float]:
    """number -> score of each complete trial of one rung: the stage's verdict scores over that rung alone
    (its configurations' smoothed val_acc at the rung's epochs)."""
    from hpsearch.results import verdicts

    return verdicts.judge(space, trials, data).scores


def promoted(space, trials: list[dict], data: dict | None, count: int) -> list[int]:
    """The configurations (numbers in rung 0) of one complete rung's `trials` that go on to the next rung of
    `count`: its best complete trials in the stage's ranking (diverged and failed ones never go on)."""
    from hpsearch.results.ranking import rank_key

    scores = rung_scores(space, trials, data)
    done = [{**t, "score": scores.get(t["number"]), "promoted": False, "rung": 0} for t in trials
            if t["status"] == "complete" and t["val_acc"] is not None]  # (one rung: ranked by score alone)
    return [t["config"] for t in sorted(done, key=rank_key)[:count]]


def rungs_of(plan, trials: list[dict]) -> list[list[dict]]:
    """`trials` (results-file dicts of this plan, each with `config`) per rung."""
    out: list[list[dict]] = [[] for _ in plan.rungs]
    for t in trials:
        out[plan.rung_of(t["number"])].append(t)
    return out


def open_numbers(plan, trials: list[dict], data: dict | None) -> list[int]:
    """The plan numbers that may run now, given the finished `trials`: rung 0, and each rung whose previous
    rung is complete (every configuration it was given is done) - its promoted configurations."""
    return _opened(plan, trials, data)[0]


def requested(plan, trials: list[dict], data: dict | None) -> int:
    """The trials the stage will have run, as far as the finished `trials` tell: those of the rungs opened so
    far, and the schedule's count for the others (a rung promotes fewer when fewer trials completed)."""
    numbers, opened = _opened(plan, trials, data)
    return len(numbers) + sum(r.count for r in plan.rungs[opened:])


def _opened(plan, trials: list[dict], data: dict | None) -> tuple[list[int], int]:
    """(open_numbers, how many rungs are open)."""
    n = plan.configs
    out = list(range(n))
    given = list(range(n))
    opened = 1
    for k, trials_k in enumerate(rungs_of(plan, _with_config(plan, trials))):
        if k + 1 >= len(plan.rungs):
            break
        done = {t["config"] for t in trials_k}
        if not set(given) <= done:
            break  # rung k still running: synchronous rungs wait for it
        given = _promoted_once(plan, [t for t in trials_k if t["config"] in set(given)], data, plan.rungs[k + 1].count)
        out += [(k + 1) * n + c for c in given]
        opened += 1
    return out, opened


_PROMOTED: dict = {}  # a complete rung's promotions, remembered: idle workers look for open rungs several times a second


def _promoted_once(plan, trials: list[dict], data: dict | None, count: int) -> list[int]:
    key = (repr(plan.space), plan.seed, repr(data), count,
           tuple((t["number"], t["status"], t["val_acc"]) for t in trials))
    if key not in _PROMOTED:
        if len(_PROMOTED) >= 16:
            _PROMOTED.clear()
        _PROMOTED[key] = promoted(plan.space, trials, data, count)
    return list(_PROMOTED[key])


def _with_config(plan, trials: list[dict]) -> list[dict]:
    return [{**t, "config": plan.config_of(t["number"]), "rung": plan.rung_of(t["number"])} for t in trials]


def open_in_study(h, plan) -> list[int]:
    """open_numbers from the study as it stands (call under the study lock: the rungs it opens are enqueued
    once, by whichever worker first sees them open)."""
    from optuna.trial import TrialState

    from hpsearch.engine import study  # (not trial.collect: engine/trial.py imports the plan, which imports this)
    from hpsearch.engine.storage import faults

    with faults(h.where):
        data = (h.storage.get_study_user_attrs(h.study_id).get(study.META_ATTR) or {}).get("data")
        done = []
        for k, t in sorted(study.done_trials(h, range(len(plan.trials))).items()):
            a = t.user_attrs.get(study.RESULT_ATTR) or t.user_attrs
            status = {TrialState.COMPLETE: "complete", TrialState.PRUNED: "diverged"}.get(t.state, "failed")
            done.append({"number": k, "params": plan.trials[k].params, "status": status,
                         "val_acc": a.get("val_acc"), "diagnosis": list(a.get("diagnosis") or [])})
    return open_numbers(plan, done, data)


def annotate(plan, trials: list[dict], data: dict | None) -> list[dict]:
    """Give each trial of a results document its `rung`, `config`, `score` (among its rung, the ranking that
    promoted it) and `promoted` (its configuration trained again in a later rung of this document: that
    trial counts instead). Returns the trials the stage's verdict and ranking count: each configuration's
    last rung."""
    for t in trials:
        t["rung"], t["config"] = plan.rung_of(t["number"]), plan.config_of(t["number"])
    last: dict[int, int] = {}
    for t in trials:
        last[t["config"]] = max(last.get(t["config"], -1), t["rung"])
    for trials_k in rungs_of(plan, trials):
        scores = rung_scores(plan.space, trials_k, data) if trials_k else {}
        for t in trials_k:
            t["score"] = scores.get(t["number"])
            t["promoted"] = t["rung"] < last[t["config"]]
    return [t for t in trials if not t["promoted"]]
