"""Leases: how a search tells a dead worker's trial from a slow one, without comparing clocks.

Each worker's heartbeat thread (Leaser) rewrites the lease of the trial it trains every `grace/4` seconds
(at most 5 s). Another process declares the trial lost when it has *seen* the lease unchanged for `grace`
seconds of its own monotonic clock (Watch); study.reconcile then fails it and enqueues its number again.
The grace lives in the study (user attr `hpsearch_grace`), so every worker uses the same one: `--grace`,
else HPSEARCH_GRACE, else 30 s (config/runtime.py). A trial claimed by a process on this machine that no
longer exists (its "host:pid" worker attr) is stale at once: its owner is gone, no need to wait the grace.
"""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Any, Callable

from hpsearch.engine.journal import owner_gone
from hpsearch.engine.storage import Handle, on_handle

GRACE_ATTR = "hpsearch_grace"  # study user attr: seconds without a heartbeat after which a trial is lost
LEASE_ATTR = "hpsearch_lease"  # trial system attr: rewritten by the heartbeat of a RUNNING trial's worker


WORKER_ATTR = "worker"  # trial user attr "host:pid" of the process that claimed it (study.py writes it)


def heartbeat_every(grace: float) -> float:
    return min(5.0, grace / 4)


@on_handle
def grace_of(h: Handle, default: Callable[[], float]) -> float:
    """The study's grace; `default()` (Runtime.default_grace) when the study has none."""
    g = h.storage.get_study_user_attrs(h.study_id).get(GRACE_ATTR)
    return float(g) if isinstance(g, (int, float)) and g > 0 else default()


class Watch:
    """What this process has seen of other workers' leases: trial number -> (lease value, first seen).

    A RUNNING trial whose lease has not changed for `grace` seconds of this process's monotonic clock is
    stale. `clock` is injectable for tests.
    """

    def __init__(self, grace: float, clock: Callable[[], float] = time.monotonic):
        self.grace, self.clock = grace, clock
        self.seen: dict[int, tuple[Any, float]] = {}

    def stale(self, t) -> bool:
        from optuna.trial import TrialState

        if t.state != TrialState.RUNNING:
            self.seen.pop(t.number, None)
            return False
        if owner_gone(t.user_attrs.get(WORKER_ATTR)):
            self.seen.pop(t.number, None)
            return True
        # the claim as well as its lease: an interrupted trial goes back to WAITING with its old lease, and a new
        # claim of it must not look like that lease gone unchanged (a new claim, a new start time, maybe a new worker)
        lease = (t.system_attrs.get(LEASE_ATTR), t.user_attrs.get(WORKER_ATTR), t.datetime_start)
        now = self.clock()
        old = self.seen.get(t.number)
        if old is None or old[0] != lease:
            self.seen[t.number] = (lease, now)
            return False
        return now - old[1] > self.grace


class Leaser:
    """One background thread per worker renewing the lease of the trial it trains (`current`).

    Started once per run, not per trial: starting a thread costs milliseconds on a busy machine. `lost`
    turns True when the storage refuses a renewal (another worker declared the trial lost): the trial
    is abandoned at its next epoch.
    """

    def __init__(self, h: Handle, every: float):
        self.h, self.every = h, every
        self.current = None  # the study.Claim  # set while a trial trains
        self.lost = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="hpsearch-lease", daemon=True)

    def _beat(self) -> None:
        import optuna

        while not self._stop.wait(self.every):
            c = self.current
            if c is None:
                continue
            try:
                self.h.storage.set_trial_system_attr(c.trial_id, LEASE_ATTR, time.time())
            except optuna.exceptions.UpdateFinishedTrialError:
                if self.current is c:
                    self.lost = True
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
    def holding(self, c):
        self.lost = False
        self.current = c
        try:
            yield
        finally:
            self.current = None
