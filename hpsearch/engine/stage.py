"""A stage from start to results: run a coarse or fine stage (`run_stage`), or join a study as a worker
(`join_study`). Each returns an outcome; nothing here prints (notes and progress go out through callbacks),
the CLI renders the outcome and picks the exit code.

`--jobs N` trains here and in N-1 worker processes (engine/workers.py), all on one split built here into
memory-mapped files (data/shared_split.py); `--jobs 0` only records the plan in the study and enqueues it,
for `hpsearch worker` processes on other machines.
"""

from __future__ import annotations

import time
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Callable, ContextManager

from hpsearch.config.data import DataSpec
from hpsearch.config.plain import strict
from hpsearch.config.records import Narrowing, ParentRef, StudyMeta
from hpsearch.config.runtime import Runtime, check_grace
from hpsearch.config.space import Space
from hpsearch.data import shared_split
from hpsearch.data.split import Split, load_split
from hpsearch.engine import document, enqueue, identity, lease, loop, storage, study, trial, workers
from hpsearch.engine.halving import Halving
from hpsearch.engine.plan import check_data, make_plan
from hpsearch.engine.stop import Stopper
from hpsearch.engine.workers import default_study, journal_path, released_on_error, start_workers
from hpsearch.errors import ConfigError, DataError, StorageError
from hpsearch.results import file as results_file
from hpsearch.trainer.fast.lanes import single_threaded_blas

# progress(total trials, poll): a context manager around the search; poll() reads the finished trials
Progress = Callable[[int, Callable[[], list]], ContextManager]
Note = Callable[[str], None]  # a warning line for the user (the CLI prefixes "hpsearch: warning: ")


@dataclass(frozen=True)
class StageRequest:
    command: str  # coarse | fine
    space: Space  # what is searched, CLI overrides applied
    seed: int  # study seed (trial k: SeedSequence([seed, k]))
    data: DataSpec  # what to load and how to split it (fine: its parent's, with the parent's fingerprint)
    out: str  # results file
    storage: str | None = None  # --storage URL (None: a journal file beside `out`)
    study: str | None = None  # --study NAME (None: derived from the command and `out`)
    fresh: bool = False  # delete the study's earlier trials first
    jobs: int = 1  # worker processes on this machine, this one included; 0: enqueue only
    grace: float | None = None  # silence (s) after which a worker's trial runs again (None: the study's or default)
    space_file: str | None = None  # where the space came from (coarse)
    parent: ParentRef | None = None  # fine: the parent results file
    narrowed: Narrowing | None = None  # fine: how its space was narrowed from the parent's
    halving: Halving | None = None  # coarse --halving: successive halving in synchronous rungs (engine/halving.py)


@dataclass(frozen=True)
class Queued:
    """`--jobs 0`: the plan is in the study, for workers elsewhere."""

    study: str  # study name
    where: str  # storage, as shown (password masked)
    join: str  # what a worker passes as --storage (the journal's absolute path, or the URL)
    requested: int  # trials in the plan
    enqueued: int  # trials enqueued now
    done: int  # trials already finished


@dataclass(frozen=True)
class StageOutcome:
    doc: dict | None  # the results document written to the results file (None when only enqueued)
    stopped_by: int | None = None  # the signal that stopped the search, if any
    problems: tuple[str, ...] = ()  # worker processes that did not end normally (each also sent to `note`)
    queued: Queued | None = None  # --jobs 0


def run_stage(req: StageRequest, runtime: Runtime, pool=None, progress: Progress | None = None,
              note: Note | None = None) -> StageOutcome:
    """Run the stage and write its results file; `pool`: the workers workers.start_workers() started (None:
    started here when jobs > 1). `note` hears each warning as it happens (a worker process that ended badly is
    reported before the results file is written, so a failing write does not swallow it)."""
    if pool is None:
        pool = start_workers(req.command, req.jobs, req.storage, req.study, req.out)
    name = req.study or default_study(req.command, req.out)
    journal = journal_path(req.out)
    # the shared split's folder goes after the workers: released_on_error (inner) stops them first
    with shared_split.sharing(pool is not None and runtime.share_split) as share, released_on_error(pool):
        storage.check_out_is_not_study(req.out, req.storage, journal)
        if req.grace is not None:
            check_grace(req.grace)
        results_file.check_writable(req.out)
        base = req.space.base_config()
        plan = make_plan(req.space, req.seed, base, req.halving)
        split = stage_split(req.data, base.dtype, req.parent.path if req.parent else "the parent file", share, note)
        check_data(plan, split)
        data = {**req.data.to_dict(), **split.info(), "classes": split.num_classes}

        h = storage.open_study(req.storage, journal, name, req.fresh)
        ident = identity.identity(req.command, plan, base, data, req.parent)
        meta = StudyMeta(data, req.parent, req.narrowed, req.space_file)
        queued = enqueue.prepare(h, plan, ident.to_dict(), strict(meta.to_dict()), req.grace, runtime.default_grace)
        if req.jobs == 0:
            h.sync()
            done = len(study.done_trials(h, range(len(plan.trials))))
            return StageOutcome(None, queued=Queued(h.name, h.where, h.url if h.backend is not None else h.where,
                                                    plan.requested, queued, done))

        trial.preload()
        t0 = time.perf_counter()
        watch = lease.Watch(lease.grace_of(h, runtime.default_grace))
        bar = progress(plan.requested, lambda: trial.collect(h, plan)) if progress else nullcontext()
        with bar, single_threaded_blas():
            stopper = Stopper()
            with stopper.signals():
                outcome, ended = workers.run(h, plan, split, stopper, pool, None, watch, share and share.path,
                                             threads=1 if req.jobs > 1 else runtime.threads)
    h.sync()
    problems = tuple(workers.problems(ended, stopped=pool is not None and pool.stopped is not None))
    _tell(note, problems)
    if outcome.plan is not None and len(outcome.plan.trials) > len(plan.trials):
        plan, ident, meta = identity.plan_of(h)  # another coordinator raised --trials meanwhile: report the study's
    records = trial.collect(h, plan)
    doc = document.build(h, plan, ident, meta, records, {
        "interrupted": outcome.stopped_by is not None, "ran_now": workers.ran_here(h, plan, outcome, ended),
        "seconds": round(time.perf_counter() - t0, 3)})
    results_file.write(req.out, doc)
    _tell(note, h.notes())
    return StageOutcome(doc, outcome.stopped_by, problems)


def _tell(note: Note | None, lines) -> None:
    for line in lines if note is not None else ():
        note(line)


def stage_split(spec: DataSpec, dtype: str, source: str, share=None, note: Note | None = None) -> Split:
    """The split a stage trains on; a recorded fingerprint must match (`source` says where it was recorded).
    `share` (a shared_split.Folder): build it there, for the workers."""
    split = load_split(spec, dtype, share.alloc if share is not None else None)
    if spec.fingerprint and split.fingerprint != spec.fingerprint:
        raise DataError(f"--data {spec.spec}: fingerprint {split.fingerprint} differs from {spec.fingerprint} "
                        f"recorded in {source} (the data changed)",
                        "use the data the search was started on (--data PATH if it moved), or start over")
    if share is not None:
        share.save(split, spec)
        if share.problem and note is not None:
            note(f"{share.problem}; each worker loads --data itself instead (one copy of the split per process)")
    return split


@dataclass(frozen=True)
class JoinOutcome:
    """What a worker did: its loop's outcome, its children's exits, and the study's state after it."""

    outcome: loop.Outcome
    children: int  # worker processes this one started (its --jobs N - 1)
    problems: tuple[str, ...]  # children that did not end normally (each also sent to `note`)
    where: str  # the study's storage, as shown
    requested: int  # trials in the study's plan (it may have grown meanwhile)
    done: int  # trials the study has finished
    ran: int  # trials this process and its children finished


def join_study(storage_url: str, name: str, data: str | None, wait: float, shared: str | None,
               runtime: Runtime, pool=None, note: Note | None = None) -> JoinOutcome:
    """Open the study (waiting up to `wait` s for it to appear), get the split (mapped from the coordinator's
    `shared` folder, or loaded from the recorded data spec, `data` replacing its path) and train until the
    study has nothing left to run. `pool`: this worker's own --jobs children."""
    with shared_split.sharing(pool is not None and shared is None and runtime.share_split) as share:
        try:
            h, plan, ident, meta = _open_when_ready(storage_url, name, wait)
            spec = meta.data_spec.with_(spec=data) if data else meta.data_spec
            dtype, source = ident.fixed.get("dtype", "float32"), f"study {name!r}"
            if shared:
                split = shared_split.open_split(shared, meta.data, dtype, source)
            else:
                split = stage_split(spec, dtype, source, share, note)
            check_data(plan, split)

            trial.preload()
            stopper = Stopper()
            with single_threaded_blas(), stopper.signals():
                outcome, ended = workers.run(h, plan, split, stopper, pool, None,
                                             lease.Watch(lease.grace_of(h, runtime.default_grace)),
                                             shared or (share and share.path),
                                             threads=1 if pool is not None else runtime.threads)
        except BaseException:
            if pool is not None and not pool.released:
                pool.stop()
            raise
    h.sync()
    problems = tuple(workers.problems(ended, stopped=pool is not None and pool.stopped is not None))
    _tell(note, problems)
    plan = outcome.plan or plan  # the study's plan may have grown (a larger --trials) while this worker ran
    done = len(study.done_trials(h, range(len(plan.trials))))
    _tell(note, h.notes())
    return JoinOutcome(outcome, len(ended), problems, h.where, plan.requested, done,
                       workers.ran_here(h, plan, outcome, ended))


def _open_when_ready(storage_url: str, name: str, wait: float):
    """(handle, plan, identity, meta) of an existing study, retried for `wait` seconds while it is missing or
    still being created (its attrs not written yet)."""
    deadline = time.monotonic() + max(0.0, wait)
    while True:
        try:
            h = storage.open_study(storage_url, None, name, create=False)
            return (h, *identity.plan_of(h))
        except ConfigError:
            if time.monotonic() >= deadline:
                raise
        except StorageError as e:  # a study being created: its attrs not written yet
            if time.monotonic() >= deadline or "not written by hpsearch" not in str(e):
                raise
        time.sleep(0.5)


def preload_worker(storage_url: str) -> None:
    """The heavy imports a worker needs, done while its coordinator still prepares the study."""
    import optuna.storages.journal  # noqa: F401

    trial.preload()
    if "://" in storage_url:
        import sqlalchemy.orm  # noqa: F401
