"""The search engine: trials of a plan (hpsearch/plan.py) run on an Optuna study (hpsearch/study.py).

    plan = plan.make_plan(space, seed)       # every trial's params, config and seed, up front
    handle = storage.open_study(...)         # Optuna holds the queue and the outcomes
    prepare(handle, plan, identity)          # check/record what the study searches; enqueue what is missing
    outcome = run(handle, plan, split, stop) # claim, train, record until the queue is empty or a stop
    records = collect(handle, plan)          # the finished trials, by number

Nothing here prints; `on_trial` callbacks feed progress.
"""

from __future__ import annotations

import math
import signal
import time
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from hpsearch import lease as L
from hpsearch import study as S
from hpsearch.plan import Plan, TrialPlan
from hpsearch.space import Choice, Space

METRICS = ("status", "val_acc", "train_acc", "initial_loss", "final_loss", "epochs_run", "seconds",
           "diagnosis", "stopped_at", "error")


@dataclass(frozen=True)
class TrialRecord:
    number: int
    params: dict
    status: str  # complete | diverged | failed
    val_acc: float | None  # best validation accuracy over the epochs run
    train_acc: float | None
    initial_loss: float | None
    final_loss: float | None
    epochs_run: int
    seconds: float
    diagnosis: list = field(default_factory=list)  # [{"kind", "message"}] from hpsearch.diagnosis
    stopped_at: dict | None = None  # diverged: where the abort rule fired
    error: str | None = None  # failed: the exception, one line

    def to_dict(self) -> dict:
        return {"number": self.number, "params": self.params, **{k: getattr(self, k) for k in METRICS}}


@dataclass(frozen=True)
class Outcome:
    ran: int  # trials this process finished
    stopped_by: int | None  # signal number that stopped the run (SIGINT, SIGTERM), None if it ran out
    plan: Plan | None = None  # the plan at the end: longer than the one given if the study's trials grew


# ---------------------------------------------------------------------------- Optuna encoding


def distributions(space: Space) -> dict:
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    out = {}
    for name, p in space.params:
        if isinstance(p, Choice):
            out[name] = CategoricalDistribution([_optuna_value(c) for c in p.choices])
        elif p.integer:
            out[name] = IntDistribution(int(p.low), int(p.high), log=p.log)
        else:
            out[name] = FloatDistribution(p.low, p.high, log=p.log)
    return out


def _optuna_value(v):
    """Optuna categoricals hold scalars: hidden (100, 50) is stored as '100,50'."""
    return ",".join(map(str, v)) if isinstance(v, (tuple, list)) else v


def prepare(h, plan: Plan, identity: dict, meta: dict | None = None, grace: float | None = None) -> int:
    """Record (or check) what the study searches and how to describe it, then enqueue the numbers not yet
    queued or done. Under the study lock: coordinators starting at once enqueue each number once.

    `grace` (seconds) is stored in the study for every worker; None keeps the study's (or sets the default).
    """
    from hpsearch.storage import faults

    with faults(h.where), h.lock():
        S.check_plan(h, identity, differences)
        if meta is not None:
            h.storage.set_study_user_attr(h.study_id, S.META_ATTR, meta)
        attrs = h.storage.get_study_user_attrs(h.study_id)
        if grace is not None or L.GRACE_ATTR not in attrs:
            h.storage.set_study_user_attr(h.study_id, L.GRACE_ATTR, L.default_grace() if grace is None else grace)
        return requeue(h, plan)[0]  # (the lock is re-entrant)


def requeue(h, plan: Plan, watch: L.Watch | None = None) -> tuple[int, int]:
    dists = distributions(plan.space)

    def args(k: int):
        params = {n: _optuna_value(v) for n, v in plan.trials[k].params.items()}
        return params, dists

    return S.reconcile(h, range(len(plan.trials)), args, watch)


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


# ---------------------------------------------------------------------------- running


class Interrupted(KeyboardInterrupt):
    """Raised inside a trial by a stop signal; the trial is not counted and will run again on resume."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


class Stopper:
    """SIGINT/SIGTERM: stop the search cleanly. A trial in training is interrupted at once (and re-run on
    resume); outside training (storage writes) the signal is only noted and the loop stops at the next check.
    """

    def __init__(self) -> None:
        self.signum: int | None = None
        self._in_trial = False
        self.listeners: list[Callable[[int], None]] = []  # told of each stop signal (parallel.Pool.forward)

    def _handler(self, signum, frame) -> None:
        if self.signum is None:
            self.signum = signum
        for tell in list(self.listeners):
            tell(signum)
        if self._in_trial:
            self._in_trial = False
            raise Interrupted(signum)

    @contextmanager
    def signals(self, which=(signal.SIGINT, signal.SIGTERM)):
        """Install the handlers (main thread only) and restore the previous ones afterwards."""
        old = {s: signal.signal(s, self._handler) for s in which}
        try:
            yield self
        finally:
            for s, h in old.items():
                signal.signal(s, h)

    def sleep(self, seconds: float) -> None:
        """Wait, but return at once when a stop signal arrives."""
        end = time.monotonic() + seconds
        while self.signum is None and time.monotonic() < end:
            time.sleep(min(0.05, end - time.monotonic()))

    @contextmanager
    def trial(self):
        if self.signum is not None:
            raise Interrupted(self.signum)
        self._in_trial = True
        try:
            yield
        finally:
            self._in_trial = False


def run(h, plan: Plan, split, stopper: Stopper | None = None, on_trial: Callable[[TrialRecord], None] | None = None,
        watch: L.Watch | None = None, who: str | None = None) -> Outcome:
    """Claim and train trials until none is left to run (none waiting, none running anywhere), or a stop
    signal. Safe to run in several processes and on several machines at once.

    The study's grace (L.grace_of) sets the heartbeat (grace/4, at most 5 s) and how often an idle worker
    looks for trials of dead workers; `watch` carries what this process has already seen of the leases.
    When nothing is left to claim and the study's `trials` grew meanwhile (a coordinator re-run with a
    larger --trials), the plan is reloaded from the study and the new numbers run here too: report with
    `Outcome.plan`, not the plan passed in.
    """
    stopper = stopper or Stopper()
    watch = watch or L.Watch(L.grace_of(h))
    with L.Leaser(h, L.heartbeat_every(watch.grace)) as leaser:
        return _loop(h, plan, split, stopper, on_trial, watch, leaser, who)


def _loop(h, plan: Plan, split, stopper: Stopper, on_trial, watch: L.Watch, leaser, who) -> Outcome:
    wanted = set(range(len(plan.trials)))
    ran, idle, queue = 0, IDLE_FIRST, S.Queue()
    while stopper.signum is None:
        c = S.claim(h, wanted, who, queue)
        if c is None:
            grown = _grown(h, plan)
            if grown is not None:  # the study's trials grew: claim the new numbers too
                plan, wanted = grown, set(range(len(grown.trials)))
                queue.clear()
                continue
            added, pending = requeue(h, plan, watch)  # trials of dead workers, or numbers lost to interrupts
            if added:
                continue
            if not pending:
                break
            stopper.sleep(idle)  # others hold (or just queued) the last trials: wait for them, or their leases
            idle = min(2 * idle, IDLE_MAX if h.backend is None else IDLE_MAX_JOURNAL, watch.grace / 4)
            continue
        idle = IDLE_FIRST
        tp = plan.trials[c.hp_number]
        try:
            with leaser.holding(c):
                record = train_one(tp, plan.seed_of(tp.number), split, lambda: leaser.lost, stopper.trial)
        except KeyboardInterrupt as e:
            S.finish(h, c, "interrupted", None, {})
            return Outcome(ran, getattr(e, "signum", signal.SIGINT), plan)
        except LeaseLost:
            continue  # another worker declared this trial lost and runs it again
        if S.finish(h, c, record.status, record.val_acc, _attrs(record)):
            ran += 1
            if on_trial is not None:
                on_trial(record)
    return Outcome(ran, stopper.signum, plan)


def _grown(h, plan: Plan) -> Plan | None:
    """The study's plan when its `trials` outgrew `plan` (only `trials` may change on resume), else None."""
    n = S.planned_trials(h)
    if n is None or n <= len(plan.trials):
        return None
    from hpsearch.document import plan_of  # (document imports this module)

    new = plan_of(h)[0]
    return new if len(new.trials) > len(plan.trials) else None


# seconds between looks while other workers hold the last trials, doubling from IDLE_FIRST: a look reads
# the whole study (a few ms in a journal file, tens of ms in a database)
IDLE_FIRST, IDLE_MAX, IDLE_MAX_JOURNAL = 0.05, 1.0, 0.25


class LeaseLost(Exception):
    """The storage refused this worker's heartbeat: the trial was declared lost and runs elsewhere."""


def preload() -> None:
    """Import the trainer and the diagnosis, and scan the BLAS libraries once (about 12 ms in all). Search
    set-up calls this, so that these one-time costs are not paid inside the first trial."""
    import hpsearch.diagnosis  # noqa: F401
    import hpsearch.train  # noqa: F401
    from hpsearch.nn import lanes

    lanes.controller()


def train_one(tp: TrialPlan, seed: np.random.SeedSequence, split, lost: Callable[[], bool] | None = None,
              interruptible=nullcontext) -> TrialRecord:
    """Train one planned trial; an exception becomes status `failed` (the search goes on).

    `lost()` is asked after each epoch; True abandons the trial (LeaseLost). `interruptible()` is entered
    around `fit` only (Stopper.trial): a stop signal arriving once training is over (during the diagnosis)
    is noted, and the finished trial is still recorded.
    """
    from hpsearch.diagnosis import diagnose
    from hpsearch.train import fit

    def check(_stats) -> None:
        if lost():
            raise LeaseLost(tp.number)

    t0 = time.perf_counter()
    try:
        with interruptible():
            r = fit(split, tp.config, seed, check if lost is not None else None)
    except LeaseLost:
        raise
    except Exception as e:  # noqa: BLE001 - a failing trial is a result, not a crash of the search
        return TrialRecord(tp.number, tp.params, "failed", None, None, None, None, 0,
                           round(time.perf_counter() - t0, 4), [], None, " ".join(f"{type(e).__name__}: {e}".split()))
    return TrialRecord(tp.number, tp.params, r.status, _num(r.val_acc), _num(r.train_acc), _num(r.initial_loss),
                       _num(r.final_loss), r.epochs_run, round(r.seconds, 4), diagnose(r, tp.config), r.stopped_at)


def _num(v) -> float | None:
    return float(v) if v is not None and math.isfinite(v) else None


def _attrs(r: TrialRecord) -> dict:
    return {k: getattr(r, k) for k in METRICS if k != "status"}


def collect(h, plan: Plan) -> list[TrialRecord]:
    """The finished trials of the plan, by number, rebuilt from the study (also for an export).

    The status follows the Optuna state (COMPLETE, PRUNED, FAIL) rather than the mutable `status` attr.
    """
    from optuna.trial import TrialState

    done = S.done_trials(h, range(len(plan.trials)))
    out = []
    for k in sorted(done):
        t = done[k]
        a = t.user_attrs.get(S.RESULT_ATTR) or t.user_attrs  # one dict; flat attrs before 0.2
        status = {TrialState.COMPLETE: "complete", TrialState.PRUNED: "diverged"}.get(t.state, "failed")
        out.append(TrialRecord(k, plan.trials[k].params, status, a.get("val_acc"),
                               a.get("train_acc"), a.get("initial_loss"), a.get("final_loss"),
                               int(a.get("epochs_run") or 0), float(a.get("seconds") or 0.0),
                               list(a.get("diagnosis") or []), a.get("stopped_at"), a.get("error")))
    return out


def best(records: list[TrialRecord]) -> TrialRecord | None:
    """Highest val_acc among complete trials (diverged and failed never win); ties go to the lower number."""
    ok = [r for r in records if r.status == "complete" and r.val_acc is not None]
    return max(ok, key=lambda r: (r.val_acc, -r.number)) if ok else None
