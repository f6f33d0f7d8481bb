"""Optuna as the bookkeeper: the study is the queue of enqueued trials; claims and outcomes.

The work queue is the study itself. Every configuration is enqueued once as a WAITING trial that carries
its params and user_attrs {"hp_number": k}; a worker claims one by moving it WAITING -> RUNNING (the
storage makes that move succeed for one worker only), trains it, and finishes it:

    complete -> COMPLETE (value = val_acc, maximized)   diverged -> PRUNED (never the best)
    failed (an exception in training) -> FAIL, user_attrs status "failed" (done: not re-run)
    interrupted (Ctrl-C, SIGTERM) / lost (lease expired: a killed worker) -> FAIL, not done: re-enqueued

Enqueueing runs under the study lock (storage.Handle.lock), so two coordinators starting at once enqueue
each number once. Should a number still be queued twice (a database without that lock), the copy with the
higher Optuna number gives way when claimed (FAIL, status "duplicate"): no number runs twice.

Dead workers: a RUNNING trial whose lease stops changing is declared lost (engine/lease.py) and its
number enqueued again (reconcile); see engine/lease.py. Only public Optuna storage methods are used; the same mechanism serves
journal files and PostgreSQL.
"""

from __future__ import annotations

import os
import random
import socket
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from hpsearch.engine.lease import WORKER_ATTR, Watch  # WORKER_ATTR: trial user attr "host:pid" of its claimer
from hpsearch.engine.storage import Handle, on_handle

HP_NUMBER = "hp_number"  # user attr: the trial's number in the plan (Optuna's own numbers include retries)
PLAN_ATTR = "hpsearch"  # study user attr: what the study searches (a resumed run must match it)
META_ATTR = "hpsearch_meta"  # study user attr: how to describe it (data spec, parent): see identity.py
RESULT_ATTR = "result"  # trial user attr: the TrialRecord metrics (one record instead of ten)
DONE_FAIL = "failed"  # user attr status of a FAIL trial that counts as done


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@on_handle
def check_plan(h: Handle, plan: dict, differences: Callable[[dict, dict], list[str]]) -> None:
    """Store what this study searches, or check that a resumed run searches the same thing."""
    from hpsearch.errors import ConfigError

    old = h.storage.get_study_user_attrs(h.study_id).get(PLAN_ATTR)
    if old is None:
        h.storage.set_study_user_attr(h.study_id, PLAN_ATTR, plan)
        return
    diff = differences(old, plan)
    if diff:
        raise ConfigError(f"study {h.name!r} in {h.where} was started with other settings ({'; '.join(diff[:3])})",
                          "add --fresh to start over, or choose another --out or --study")
    if old != plan:  # only `trials` grew: record it
        h.storage.set_study_user_attr(h.study_id, PLAN_ATTR, plan)


def is_done(t) -> bool:
    from optuna.trial import TrialState

    return t.state in (TrialState.COMPLETE, TrialState.PRUNED) or (
        t.state == TrialState.FAIL and t.user_attrs.get("status") == DONE_FAIL)


@on_handle
def reconcile(h: Handle, wanted: Iterable[int], enqueue_args: Callable[[int], tuple[dict, dict]],
              watch: Watch | None = None) -> tuple[int, int]:
    """Under the study lock: fail RUNNING trials of dead workers (as `watch` sees them), then enqueue every
    wanted number not waiting, running or done. Returns (enqueued, pending): pending counts the trials
    waiting or running elsewhere (a worker may stop only when both are 0).

    `enqueue_args(k)` gives (params, distributions) of number k.
    """
    import optuna
    from optuna.trial import TrialState, create_trial

    with h.lock():
        trials = h.storage.get_all_trials(h.study_id, deepcopy=False)
        taken, pending = set(), 0
        for t in trials:
            k = t.user_attrs.get(HP_NUMBER)
            if watch is not None and watch.stale(t):
                tid = h.storage.get_trial_id_from_study_id_trial_number(h.study_id, t.number)
                try:
                    h.storage.set_trial_user_attr(tid, "status", "lost")
                    h.storage.set_trial_state_values(tid, TrialState.FAIL)
                    continue  # lost: its number is enqueued again below
                except optuna.exceptions.UpdateFinishedTrialError:
                    pass  # its worker finished it just now: taken (the next look sees how it ended)
            if t.state in (TrialState.WAITING, TrialState.RUNNING) or is_done(t):
                taken.add(k)
                pending += t.state in (TrialState.WAITING, TrialState.RUNNING)
        added = 0
        for k in wanted:
            if k in taken:
                continue
            params, dists = enqueue_args(k)
            tpl = create_trial(state=TrialState.WAITING, params=params, distributions=dists,
                               user_attrs={HP_NUMBER: k}, system_attrs={"fixed_params": params})
            h.storage.create_new_trial(h.study_id, template_trial=tpl)
            added += 1
    return added, pending


@on_handle
def planned_trials(h: Handle) -> int | None:
    """How many trials the study's plan holds now (its `hpsearch` attr; a coordinator may have grown it)."""
    n = (h.storage.get_study_user_attrs(h.study_id).get(PLAN_ATTR) or {}).get("trials")
    return n if isinstance(n, int) else None


@dataclass(frozen=True)
class Claim:
    trial_id: int  # storage id, for updates
    number: int  # Optuna's trial number
    hp_number: int  # the plan's number: config and seed derive from it


class Queue:
    """What one claimer keeps between its claims, so that a claim costs the same in a study of 100 trials as
    in one of 100,000 (it does not read every trial each time). `clear()` forgets it all (the caller's plan
    grew)."""

    def __init__(self) -> None:
        self.waiting: deque = deque()  # FrozenTrials seen WAITING, in claim order; re-checked when claimed
        self.seen = 0  # journal: trials numbered below this are indexed in `copies`
        self.copies: dict[Any, list[int]] = {}  # journal: hp_number -> Optuna numbers of its trials

    def clear(self) -> None:
        self.__init__()


def _index_new(h: Handle, q: Queue) -> None:
    """Journal: take in the trials created since the last look (a cheap probe when there are none)."""
    try:
        h.storage.get_trial_id_from_study_id_trial_number(h.study_id, q.seen)
    except KeyError:
        return
    from optuna.trial import TrialState

    trials = h.storage.get_all_trials(h.study_id, deepcopy=False)  # Optuna number order
    for t in trials[q.seen:]:
        q.copies.setdefault(t.user_attrs.get(HP_NUMBER), []).append(t.number)
        if t.state == TrialState.WAITING:
            q.waiting.append(t)
    q.seen = len(trials)


def _trial(h: Handle, number: int):
    return h.storage.get_trial(h.storage.get_trial_id_from_study_id_trial_number(h.study_id, number))


@on_handle
def claim(h: Handle, wanted: set[int], who: str | None = None, queue: Queue | None = None) -> Claim | None:
    """Move one WAITING trial to RUNNING for this worker; None when the queue is empty.

    Only trials whose hp_number is in `wanted` (the caller's plan) are claimed; one beyond it (the study's
    `trials` grew after the caller loaded its plan) is left waiting: the caller reloads its plan when
    nothing is left to claim (see planned_trials), and clears `queue`.

    `queue` (kept by the caller between calls; a fresh one if None) remembers the WAITING trials already
    seen, so a claim does not read the whole study:
    - a database with a study lock (PostgreSQL): no number is ever enqueued twice. The WAITING trials are
      read again once the remembered ones are used up, so a trial enqueued meanwhile is still found; each
      worker starts at its own place in them, so that workers do not all reach for the same trial.
    - a journal file: the trials created since the last claim are indexed by hp_number. A claimed trial
      whose number is already done, or also queued/running under a lower Optuna number, is given up (FAIL,
      status "duplicate"): a copy created later has a higher Optuna number, and gives way to this one when
      its own claimer looks. The other copies' states are read after the claim, so they are current.
    A trial is never WAITING again once it has left that state, so one remembered as WAITING but claimed
    meanwhile by another worker is simply refused by the storage and skipped.
    """
    import optuna
    from optuna.trial import TrialState

    q = queue if queue is not None else Queue()
    journal = h.locker is None
    if journal:
        _index_new(h, q)
    elif not q.waiting:
        waiting = h.storage.get_all_trials(h.study_id, deepcopy=False, states=(TrialState.WAITING,))
        at = random.Random(os.getpid()).randrange(len(waiting)) if waiting else 0
        q.waiting.extend(waiting[at:] + waiting[:at])  # workers start apart, not all on the same trial
    while q.waiting:
        t = q.waiting.popleft()
        k = t.user_attrs.get(HP_NUMBER)
        if k not in wanted:
            continue  # beyond this caller's plan: never claimed here, never marked duplicate
        tid = h.storage.get_trial_id_from_study_id_trial_number(h.study_id, t.number)
        try:
            if not h.storage.set_trial_state_values(tid, TrialState.RUNNING):
                continue
        except optuna.exceptions.UpdateFinishedTrialError:
            continue
        if journal:
            _index_new(h, q)  # copies created up to the claim
            others = [_trial(h, n) for n in q.copies.get(k, []) if n != t.number]
            if any(is_done(o) or (o.number < t.number and o.state in (TrialState.WAITING, TrialState.RUNNING))
                   for o in others):
                h.storage.set_trial_user_attr(tid, "status", "duplicate")
                h.storage.set_trial_state_values(tid, TrialState.FAIL)
                continue
        h.storage.set_trial_user_attr(tid, WORKER_ATTR, who or worker_id())
        return Claim(tid, t.number, int(k))
    return None


@on_handle
def finish(h: Handle, c: Claim, status: str, value: float | None, attrs: dict) -> bool:
    """Record a claimed trial's outcome; False if its lease was lost meanwhile (another worker re-runs it)."""
    import optuna
    from optuna.trial import TrialState

    state = {"complete": TrialState.COMPLETE, "diverged": TrialState.PRUNED}.get(status, TrialState.FAIL)
    try:
        h.storage.set_trial_user_attr(c.trial_id, RESULT_ATTR, attrs)
        h.storage.set_trial_user_attr(c.trial_id, "status", status)
        return h.storage.set_trial_state_values(c.trial_id, state, [value] if state == TrialState.COMPLETE else None)
    except optuna.exceptions.UpdateFinishedTrialError:
        return False


@on_handle
def done_trials(h: Handle, wanted: Iterable[int]) -> dict[int, Any]:
    """hp_number -> the FrozenTrial that holds its outcome, for the wanted numbers that are done."""
    wanted = set(wanted)
    out: dict[int, Any] = {}
    for t in h.storage.get_all_trials(h.study_id, deepcopy=False):
        k = t.user_attrs.get(HP_NUMBER)
        if k in wanted and is_done(t) and k not in out:
            out[k] = t
    return out
