"""Optuna as the bookkeeper: the study is the queue of enqueued trials; claims and outcomes.

The work queue is the study itself. Every configuration is enqueued once as a WAITING trial that carries
its params and user_attrs {"hp_number": k}; a worker claims one by moving it WAITING -> RUNNING (the
storage makes that move succeed for one worker only), trains it, and finishes it. What each outcome
becomes in Optuna (and so in optuna-dashboard), with user attr `status`:

    complete     -> COMPLETE, value = val_acc (the study's one objective, named "val_acc", maximized)
    diverged     -> PRUNED (stopped early by the abort rule; never the best)
    failed       -> FAIL (an exception in training: a result, not re-run)
    interrupted  -> WAITING again (Ctrl-C, SIGTERM: back in the queue; the same trial runs on resume, or
                    in another worker still running)
    lost         -> FAIL (its worker died or fell silent: lease expired, engine/lease.py); its number is
                    enqueued again as a new trial. FAIL is terminal, so a worker that was only frozen cannot
                    record anything on it when it wakes (Optuna's own heartbeat fails stale trials the same way)
    duplicate    -> FAIL (a second copy of a number, given up unrun; see claim)

A finished trial carries its per-epoch validation accuracy as intermediate values (step = epoch, from 1),
plain sortable user attrs (`status`, `val_acc`, `val_last`, `epochs_run`, `diagnosis` as comma-joined
kinds, ...: every scalar of the record) and the whole record as one attr `result`. All of it is written
with the state change as one update (engine/update.py): one append to a journal file, one transaction in a
database. A claim is one update too (RUNNING and the worker attr).

Enqueueing runs under the study lock (storage.Handle.lock), so two coordinators starting at once enqueue
each number once. Should a number still be queued twice (a database without that lock), the copy with the
higher Optuna number gives way when claimed (FAIL, status "duplicate"): no number runs twice.

Dead workers: a RUNNING trial whose lease stops changing is declared lost (engine/lease.py) and its
number enqueued again (reconcile). The same mechanism serves journal files and PostgreSQL; Optuna's public
storage methods are used throughout, except engine/update.py's one database transaction per update.
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
from hpsearch.engine.update import update_trial

HP_NUMBER = "hp_number"  # user attr: the trial's number in the plan (Optuna's own numbers include retries)
PLAN_ATTR = "hpsearch"  # study user attr: what the study searches (a resumed run must match it)
META_ATTR = "hpsearch_meta"  # study user attr: how to describe it (data spec, parent): see identity.py
RESULT_ATTR = "result"  # trial user attr: the whole TrialRecord metrics (plain_attrs repeat its scalars)
DONE_FAIL = "failed"  # user attr status of a FAIL trial that counts as done
METRIC = "val_acc"  # the study's objective, by name (Study.set_metric_names: shown by optuna-dashboard)


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@on_handle
def check_plan(h: Handle, plan: dict, differences: Callable[[dict, dict], list[str]]) -> None:
    """Store what this study searches, or check that a resumed run searches the same thing; name its objective."""
    import warnings

    import optuna

    from hpsearch.errors import ConfigError

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)  # (since Optuna 3.2)
        if h.study.metric_names != [METRIC]:  # a new study, or one made before it was named
            h.study.set_metric_names([METRIC])
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
    from optuna.trial import TrialState, create_trial

    with h.lock():
        trials = h.storage.get_all_trials(h.study_id, deepcopy=False)
        taken, pending = set(), 0
        for t in trials:
            k = t.user_attrs.get(HP_NUMBER)
            if watch is not None and watch.stale(t):
                tid = h.storage.get_trial_id_from_study_id_trial_number(h.study_id, t.number)
                if update_trial(h, tid, {"status": "lost"}, TrialState.FAIL):
                    continue  # lost: its number is enqueued again below
                # else its worker finished it just now: taken (the next look sees how it ended)
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
      its own claimer looks. The copies' states are read under the journal's lock, with the claim written
      in the same append (storage.Handle.batch), so they are still current when it lands.
    A trial remembered as WAITING but claimed meanwhile by another worker is refused and skipped. A trial
    becomes WAITING again only when its worker was interrupted; a worker that finds nothing to claim while
    trials are pending reads the whole queue again (loop.py), so it finds such a trial too.
    """
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
        mine = {WORKER_ATTR: who or worker_id()}
        if not journal:
            if update_trial(h, tid, mine, TrialState.RUNNING):  # one transaction; refused unless WAITING
                return Claim(tid, t.number, int(k))
            continue
        with h.batch():  # under the journal's lock: the states read here hold until the claim is written
            if _trial(h, t.number).state != TrialState.WAITING:
                continue  # claimed meanwhile by another worker
            _index_new(h, q)  # copies created up to now
            others = [_trial(h, n) for n in q.copies.get(k, []) if n != t.number]
            if any(is_done(o) or (o.number < t.number and o.state in (TrialState.WAITING, TrialState.RUNNING))
                   for o in others):
                update_trial(h, tid, {"status": "duplicate"}, TrialState.FAIL)
                continue
            if not update_trial(h, tid, mine, TrialState.RUNNING):
                continue
        return Claim(tid, t.number, int(k))
    return None


def plain_attrs(result: dict) -> dict:
    """The sortable user attrs of a trial's record: every scalar that is not None as it is, a list of
    {"kind", ...} (the diagnosis) as its comma-joined kinds; curves and other structures (stopped_at) are in
    the `result` attr only."""
    out = {}
    for key, v in result.items():
        if v is None:
            continue  # (absent, not null: one record fewer)
        if isinstance(v, (bool, int, float, str)):
            out[key] = v
        elif isinstance(v, list) and v and all(isinstance(d, dict) and "kind" in d for d in v):
            out[key] = ",".join(str(d["kind"]) for d in v)
    return out


@on_handle
def finish(h: Handle, c: Claim, status: str, value: float | None, attrs: dict, curve=()) -> bool:
    """Record a claimed trial's outcome (`attrs`: its record, TrialRecord.attrs(); `curve`: its validation
    accuracy per epoch, reported as intermediate values) as one update; False if its lease was lost meanwhile
    (another worker re-runs it). `interrupted` puts the trial back in the queue (see the module docstring)."""
    from optuna.trial import TrialState

    if status == "interrupted":
        return update_trial(h, c.trial_id, {"status": status}, TrialState.WAITING)  # (its worker attr says who)
    state = {"complete": TrialState.COMPLETE, "diverged": TrialState.PRUNED}.get(status, TrialState.FAIL)
    user = {"status": status, **plain_attrs(attrs), RESULT_ATTR: attrs}
    steps = {epoch: float(v) for epoch, v in enumerate(curve or (), 1) if v is not None}
    return update_trial(h, c.trial_id, user, state, [value] if state == TrialState.COMPLETE else None, steps)


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
