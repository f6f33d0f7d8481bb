"""The plan in the study: record (or check) what it searches, and enqueue every trial number not yet queued,
running or done, as a WAITING Optuna trial with its params."""

from __future__ import annotations

from typing import Callable

from hpsearch.config.space import Choice, Space
from hpsearch.engine import halving, lease, study
from hpsearch.engine.plan import Plan
from hpsearch.engine.storage import faults


def distributions(space: Space) -> dict:
    """The Optuna distribution of each searched parameter."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    out = {}
    for name, p in space.params:
        if isinstance(p, Choice):
            out[name] = CategoricalDistribution([optuna_value(c) for c in p.choices])
        elif p.integer:
            out[name] = IntDistribution(int(p.low), int(p.high), log=p.log)
        else:
            out[name] = FloatDistribution(p.low, p.high, log=p.log)
    return out


def optuna_value(v):
    """Optuna categoricals hold scalars: hidden (100, 50) is stored as '100,50'."""
    return ",".join(map(str, v)) if isinstance(v, (tuple, list)) else v


def prepare(h, plan: Plan, identity: dict, meta: dict | None, grace: float | None,
            default_grace: Callable[[], float]) -> int:
    """Record (or check) what the study searches and how to describe it, then enqueue the numbers not yet
    queued or done. Under the study lock: coordinators starting at once enqueue each number once. Returns
    how many were enqueued.

    `grace` (seconds) is stored in the study for every worker; None keeps the study's, or stores
    `default_grace()` (Runtime.default_grace, asked only then) in a new study.
    """
    with faults(h.where), h.lock():
        study.check_plan(h, identity, differences)
        if meta is not None:
            h.storage.set_study_user_attr(h.study_id, study.META_ATTR, meta)
        attrs = h.storage.get_study_user_attrs(h.study_id)
        if grace is not None or lease.GRACE_ATTR not in attrs:
            h.storage.set_study_user_attr(h.study_id, lease.GRACE_ATTR, default_grace() if grace is None else grace)
        return requeue(h, plan)[0]  # (the lock is re-entrant)


def requeue(h, plan: Plan, watch: lease.Watch | None = None) -> tuple[int, int]:
    """study.reconcile for this plan: (enqueued, pending elsewhere)."""
    dists = distributions(plan.space)

    def args(k: int):
        params = {n: optuna_value(v) for n, v in plan.trials[k].params.items()}
        return params, dists

    if plan.halving is None:
        return study.reconcile(h, range(len(plan.trials)), args, watch)
    with h.lock():  # halving: the rungs open so far (the lock is re-entrant)
        return study.reconcile(h, halving.open_in_study(h, plan), args, watch)


def differences(old: dict, new: dict, prefix: str = "") -> list[str]:
    """Why a stored study cannot be resumed with these settings, by key path (a grown `trials` is fine)."""
    out = []
    for key in sorted(set(old) | set(new), key=str):
        a, b = old.get(key), new.get(key)
        path = f"{prefix}{key}"
        if path == "trials" and isinstance(a, int) and isinstance(b, int) and b >= a:
            continue
        if isinstance(a, dict) and isinstance(b, dict):
            out += differences(a, b, f"{path}.")
        elif a != b:
            out.append(f"{path}: {_short(a)} then, {_short(b)} now")
    return out


def _short(v) -> str:
    text = str(v)
    return text if len(text) <= 60 else text[:57] + "..."
