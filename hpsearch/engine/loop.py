"""The trial loop: claim a queued trial, train it, record it, until the study has nothing left to run or a stop
signal arrives. Safe to run in several processes and on several machines at once.

    plan = plan.make_plan(space, seed)          # every trial's params, config and seed, up front
    h = storage.open_study(...)                 # Optuna holds the queue and the outcomes
    enqueue.prepare(h, plan, identity, ...)     # check/record what the study searches; enqueue what is missing
    outcome = loop.run(h, plan, split, stopper) # claim, train, record
    records = trial.collect(h, plan)            # the finished trials, by number

Nothing here prints; `on_trial` callbacks feed progress.
"""

from __future__ import annotations

import contextlib
import signal
from dataclasses import dataclass
from typing import Callable

from hpsearch.config.runtime import DEFAULT_GRACE
from hpsearch.engine import identity, lease, study
from hpsearch.engine.enqueue import requeue
from hpsearch.engine.plan import Plan
from hpsearch.engine.stop import Stopper
from hpsearch.engine.trial import LeaseLost, TrialRecord, train_one

# seconds between looks while other workers hold the last trials, doubling from IDLE_FIRST: a look reads
# the whole study (a few ms in a journal file, tens of ms in a database)
IDLE_FIRST, IDLE_MAX, IDLE_MAX_JOURNAL = 0.05, 1.0, 0.25


@dataclass(frozen=True)
class Outcome:
    ran: int  # trials this process finished
    stopped_by: int | None  # signal number that stopped the run (SIGINT, SIGTERM), None if it ran out
    plan: Plan | None = None  # the plan at the end: longer than the one given if the study's trials grew


def run(h, plan: Plan, split, stopper: Stopper | None = None, on_trial: Callable[[TrialRecord], None] | None = None,
        watch: lease.Watch | None = None, who: str | None = None, threads: int | None = None) -> Outcome:
    """Claim and train trials until none is left to run (none waiting, none running anywhere), or a stop
    signal. `threads`: lanes per fit (fast/lanes.py).

    The study's grace (lease.grace_of) sets the heartbeat (grace/4, at most 5 s) and how often an idle worker
    looks for trials of dead workers; `watch` carries what this process has already seen of the leases.
    When nothing is left to claim and the study's `trials` grew meanwhile (a coordinator re-run with a
    larger --trials), the plan is reloaded from the study and the new numbers run here too: report with
    `Outcome.plan`, not the plan passed in.
    """
    stopper = stopper or Stopper()
    watch = watch or lease.Watch(lease.grace_of(h, lambda: DEFAULT_GRACE))
    with lease.Leaser(h, lease.heartbeat_every(watch.grace)) as leaser, _set_up_objects_frozen():
        return _loop(h, plan, split, stopper, on_trial, watch, leaser, who, threads)


@contextlib.contextmanager
def _set_up_objects_frozen():
    """Python's full garbage collections skip the objects that exist when the trials start (gc.freeze): every
    module, the split, the study as read. A full collection walks them all (about 15 ms with NumPy, Optuna and
    the CLI loaded, 0.15 ms a trial in a 100-trial search) although none of them becomes garbage meanwhile;
    what the trials create is still collected as usual. Undone (gc.unfreeze) when the trials end."""
    import gc

    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _loop(h, plan: Plan, split, stopper: Stopper, on_trial, watch: lease.Watch, leaser, who, threads) -> Outcome:
    wanted = set(range(len(plan.trials)))
    ran, idle, seen, c = 0, IDLE_FIRST, study.Queue(), None
    while stopper.signum is None:
        if c is None:
            c = study.claim(h, wanted, who, seen)
        if c is None:
            grown = _grown(h, plan)
            if grown is not None:  # the study's trials grew: claim the new numbers too
                plan, wanted = grown, set(range(len(grown.trials)))
                seen.clear()
                continue
            added, pending = requeue(h, plan, watch)  # trials of dead workers, or numbers lost to interrupts
            if added:
                continue
            if not pending:
                break
            seen.clear()  # a trial put back in the queue (its worker interrupted) is found on the next look
            stopper.sleep(idle)  # others hold (or just queued) the last trials: wait for them, or their leases
            idle = min(2 * idle, IDLE_MAX if h.backend is None else IDLE_MAX_JOURNAL, watch.grace / 4)
            continue
        idle = IDLE_FIRST
        tp = plan.trials[c.hp_number]
        try:
            with leaser.holding(c):
                record = train_one(tp, plan.seed_of(tp.number), split, lambda: leaser.lost, stopper.trial, threads)
        except KeyboardInterrupt as e:
            study.finish(h, c, "interrupted", None, {})
            return Outcome(ran, getattr(e, "signum", signal.SIGINT), plan)
        except LeaseLost:
            c = None
            continue  # another worker declared this trial lost and runs it again
        with h.batch():  # a journal file: this result and the next claim are one append under one lock
            recorded = study.finish(h, c, record.status, record.val_acc, record.attrs(), record.val_curve)
            c = study.claim(h, wanted, who, seen) if stopper.signum is None else None
        if recorded:
            ran += 1
            if on_trial is not None:
                on_trial(record)
    if c is not None:  # claimed just as a stop signal arrived: back in the queue, untouched
        study.finish(h, c, "interrupted", None, {})
    return Outcome(ran, stopper.signum, plan)


def _grown(h, plan: Plan) -> Plan | None:
    """The study's plan when its `trials` outgrew `plan` (only `trials` may change on resume), else None."""
    n = study.planned_trials(h)
    if n is None or n <= len(plan.trials):
        return None
    new = identity.plan_of(h)[0]
    return new if len(new.trials) > len(plan.trials) else None
