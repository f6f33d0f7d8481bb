"""Optuna as the bookkeeper: the study is the queue of enqueued trials; claims, outcomes and leases.

The work queue is the study itself. Every configuration is enqueued once as a WAITING trial that carries
its params and user_attrs {"hp_number": k}; a worker claims one by moving it WAITING -> RUNNING (the
storage makes that move succeed for one worker only), trains it, and finishes it:

    complete -> COMPLETE (value = val_acc, maximized)   diverged -> PRUNED (never the best)
    failed (an exception in training) -> FAIL, user_attrs status "failed" (done: not re-run)
    interrupted (Ctrl-C, SIGTERM) / lost (lease expired: a killed worker) -> FAIL, not done: re-enqueued

So any number of processes or machines can share one study (issue 5) and a resumed run re-enqueues only
the numbers that are not done. Only public Optuna storage methods are used.
"""

from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from hpsearch.storage import Handle, on_handle

HP_NUMBER = "hp_number"  # user attr: the trial's number in the plan (Optuna's own numbers include retries)
PLAN_ATTR = "hpsearch"  # study user attr: what the study searches (a resumed run must match it)
LEASE_ATTR = "hpsearch_lease"  # trial system attr: unix time of the last heartbeat of a RUNNING trial
HEARTBEAT_SECONDS = 5.0  # a RUNNING trial's worker renews its lease this often
GRACE_SECONDS = 30.0  # a RUNNING trial whose lease is older than this belongs to a dead worker
DONE_FAIL = "failed"  # user attr status of a FAIL trial that counts as done


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


def _stale(t, now: float, grace: float) -> bool:
    from optuna.trial import TrialState

    if t.state != TrialState.RUNNING:
        return False
    beat = t.system_attrs.get(LEASE_ATTR)
    if beat is None and t.datetime_start is not None:
        beat = t.datetime_start.timestamp()
    return beat is not None and now - beat > grace


@on_handle
def reconcile(h: Handle, wanted: Iterable[int], enqueue_args: Callable[[int], tuple[dict, dict]],
              now: float | None = None, grace: float = GRACE_SECONDS) -> tuple[int, int]:
    """Fail RUNNING trials of dead workers, then enqueue every wanted number not waiting, running or done.

    Returns (enqueued, running elsewhere). `enqueue_args(k)` gives (params, distributions) of number k.
    """
    import optuna
    from optuna.trial import TrialState, create_trial

    now = time.time() if now is None else now
    trials = h.storage.get_all_trials(h.study_id, deepcopy=False)
    taken, running = set(), 0
    for t in trials:
        k = t.user_attrs.get(HP_NUMBER)
        if _stale(t, now, grace):
            tid = h.storage.get_trial_id_from_study_id_trial_number(h.study_id, t.number)
            with contextlib.suppress(optuna.exceptions.UpdateFinishedTrialError):
                h.storage.set_trial_user_attr(tid, "status", "lost")
                h.storage.set_trial_state_values(tid, TrialState.FAIL)
            continue
        if t.state in (TrialState.WAITING, TrialState.RUNNING) or is_done(t):
            taken.add(k)
            running += t.state == TrialState.RUNNING
    added = 0
    for k in wanted:
        if k in taken:
            continue
        params, dists = enqueue_args(k)
        tpl = create_trial(state=TrialState.WAITING, params=params, distributions=dists,
                           user_attrs={HP_NUMBER: k}, system_attrs={"fixed_params": params})
        h.storage.create_new_trial(h.study_id, template_trial=tpl)
        added += 1
    return added, running


@dataclass(frozen=True)
class Claim:
    trial_id: int  # storage id, for updates
    number: int  # Optuna's trial number
    hp_number: int  # the plan's number: config and seed derive from it


@on_handle
def claim(h: Handle, wanted: set[int]) -> Claim | None:
    """Move one WAITING trial to RUNNING for this worker; None when the queue is empty.

    A claimed trial whose number is already done, or also queued/running under a lower Optuna number
    (two workers enqueued it at once), is given up (FAIL, status "duplicate"): no number runs twice.
    """
    import optuna
    from optuna.trial import TrialState

    for t in h.storage.get_all_trials(h.study_id, deepcopy=False, states=(TrialState.WAITING,)):
        tid = h.storage.get_trial_id_from_study_id_trial_number(h.study_id, t.number)
        try:
            if not h.storage.set_trial_state_values(tid, TrialState.RUNNING):
                continue
        except optuna.exceptions.UpdateFinishedTrialError:
            continue
        k = t.user_attrs.get(HP_NUMBER)
        others = [o for o in h.storage.get_all_trials(h.study_id, deepcopy=False)
                  if o.user_attrs.get(HP_NUMBER) == k and o.number != t.number]
        if k not in wanted or any(is_done(o) or (o.number < t.number and o.state in (TrialState.WAITING,
                                                                                       TrialState.RUNNING))
                                  for o in others):
            h.storage.set_trial_user_attr(tid, "status", "duplicate")
            h.storage.set_trial_state_values(tid, TrialState.FAIL)
            continue
        return Claim(tid, t.number, int(k))
    return None


@on_handle
def finish(h: Handle, c: Claim, status: str, value: float | None, attrs: dict) -> bool:
    """Record a claimed trial's outcome; False if its lease was lost meanwhile (another worker re-runs it)."""
    import optuna
    from optuna.trial import TrialState

    state = {"complete": TrialState.COMPLETE, "diverged": TrialState.PRUNED}.get(status, TrialState.FAIL)
    try:
        for key, v in {**attrs, "status": status}.items():
            h.storage.set_trial_user_attr(c.trial_id, key, v)
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


class Leaser:
    """One background thread per worker renewing the lease of the trial it trains (`current`).

    Started once per run, not per trial: starting a thread costs milliseconds on a busy machine.
    """

    def __init__(self, h: Handle, every: float = HEARTBEAT_SECONDS):
        self.h, self.every = h, every
        self.current: Claim | None = None  # set while a trial trains
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="hpsearch-lease", daemon=True)

    def _beat(self) -> None:
        while not self._stop.wait(self.every):
            c = self.current
            if c is None:
                continue
            try:
                self.h.storage.set_trial_system_attr(c.trial_id, LEASE_ATTR, time.time())
            except Exception:  # the main thread sees storage faults itself; a lost beat only risks a re-run
                pass

    def __enter__(self) -> "Leaser":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.current = None
        self._stop.set()
        self._thread.join()

    @contextlib.contextmanager
    def holding(self, c: Claim):
        self.current = c
        try:
            yield
        finally:
            self.current = None
