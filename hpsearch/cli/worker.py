"""`hpsearch worker --storage URL --study NAME`: join a study and train its queued trials until none is left.

Everything a worker needs is in the study, written there by the coordinator (`hpsearch coarse` or `fine`
with --storage/--study): what is searched and its seed (user attr `hpsearch`; the trials derive from
(seed, number)), the data spec and fingerprint (`hpsearch_meta`), and the grace (`hpsearch_grace`). The
same command starts the extra processes of `--jobs N` on the coordinator's machine: those read "go FOLDER"
and train on the split their coordinator saved there (hpsearch/shared_split.py) instead of loading --data.
"""

from __future__ import annotations

import sys
from typing import Annotated, Optional

import typer

from hpsearch.cli import options as O
from hpsearch.cli.output import emit_json

StorageReq = Annotated[Optional[str], typer.Option(
    "--storage", envvar="HPSEARCH_STORAGE", show_envvar=False,
    help="The study's storage: postgresql://user@host/db (several machines) or the coordinator's journal "
         "file (default: $HPSEARCH_STORAGE).")]
StudyReq = Annotated[str, typer.Option("--study", help="Study name (as the coordinator's --study, or "
                                       "'coarse-results' for a default coarse --out results.json).")]


def worker(
    study: StudyReq,
    storage: StorageReq = None,
    jobs: Annotated[int, typer.Option("--jobs", "-j", help="Worker processes on this machine, this one "
                                      "included, each on one BLAS thread.")] = 1,
    data: Annotated[Optional[str], typer.Option("--data", help="Where the study's data lives on this machine "
                                                "(default: as recorded; its fingerprint must match).")] = None,
    wait: Annotated[float, typer.Option("--wait", help="Seconds to wait for the study to appear (start workers "
                                        "before the coordinator).")] = 0.0,
    json_out: O.Json = False,
    quiet: O.Quiet = False,
) -> None:
    """Train the queued trials of a study started by 'hpsearch coarse/fine --storage URL --study NAME'.

    Pulls trials until none is waiting or running, then exits 0; Ctrl-C or SIGTERM records the trial in
    training as interrupted (it runs again) and exits 130/143. A trial whose worker stopped sending
    heartbeats (killed, machine lost) for the study's grace period is run again by another worker.
    """
    import os

    from hpsearch import parallel as P
    from hpsearch import shared_split as SS
    from hpsearch import storage as ST
    from hpsearch import study as S
    from hpsearch.errors import ConfigError

    if not storage:
        raise ConfigError("worker: --storage is required", "pass the coordinator's --storage (or set HPSEARCH_STORAGE)",
                          key="storage")
    ST.refuse_shared_sqlite(storage, "hpsearch worker")
    P.check_jobs(jobs, storage)
    _watch_parent()
    shared = None  # the folder of the split the coordinator shares (shared_split.py), from "go FOLDER"
    if os.environ.pop(P.GO_ENV, None):  # started by a coordinator's --jobs: import now, open after its "go"
        _preload(storage)
        word, _, shared = sys.stdin.readline().strip().partition(" ")
        if word != "go":
            raise typer.Exit(0)  # the coordinator gave up before the search began
        shared = shared or None
    extra = ("--data", data) if data else ()
    pool = P.Pool.start(ST.join_url(storage, None), study, jobs - 1, extra) if jobs > 1 else None
    # --jobs N here: share the split with the children (the one this worker was given, or one built here)
    with SS.sharing(pool is not None and shared is None and SS.enabled()) as share:
        outcome, ended, h, plan = _run(storage, study, data, wait, shared, share, pool)
    h.sync()
    plan = outcome.plan or plan  # the study's plan may have grown (a larger --trials) while this worker ran
    for line in P.problems(ended):
        sys.stderr.write(f"hpsearch: warning: {line}\n")
    done = len(S.done_trials(h, range(len(plan.trials))))
    ran = P.ran_here(h, plan, outcome, ended)
    if not quiet:
        procs = f" (and {len(ended)} more process(es))" if ended else ""
        sys.stderr.write(f"hpsearch: worker {S.worker_id()}{procs} ran {ran} trial(s) of study {study!r}; "
                         f"{done} of {len(plan.trials)} done\n")
    if json_out:
        emit_json({"worker": S.worker_id(), "study": study, "storage": h.where, "ran": ran,
                   "done": done, "requested": len(plan.trials), "stopped_by": outcome.stopped_by})
    raise typer.Exit(0 if outcome.stopped_by is None else 128 + int(outcome.stopped_by))


def _run(storage: str, study: str, data: str | None, wait: float, shared: str | None, share, pool):
    """Open the study, get the split (mapped from `shared`, or loaded, into `share` if given) and train.
    Returns (search.Outcome, [(pid, returncode)] of `pool`'s children, the study handle, its plan)."""
    import time

    from hpsearch import document
    from hpsearch import parallel as P
    from hpsearch import search as E
    from hpsearch import lease as L
    from hpsearch import shared_split as SS
    from hpsearch import storage as ST
    from hpsearch.cli.stage import _env, _one_blas_thread, load_split
    from hpsearch.errors import ConfigError, StorageError
    from hpsearch.plan import check_data

    try:
        deadline = time.monotonic() + max(0.0, wait)
        while True:
            try:
                h = ST.open_study(storage, None, study, create=False)
                plan, ident, m = document.plan_of(h)
                break
            except ConfigError:
                if time.monotonic() >= deadline:
                    raise
            except StorageError as e:  # a study being created: its attrs not written yet
                if time.monotonic() >= deadline or "not written by hpsearch" not in str(e):
                    raise
            time.sleep(0.5)
        d = dict(m["data"], spec=data) if data else m["data"]
        dtype, source = ident["fixed"].get("dtype", "float32"), f"study {study!r}"
        if shared:
            split = SS.open_split(shared, m["data"], dtype, source)
        else:
            split = load_split(d, dtype, source, share)
        check_data(plan, split)

        E.preload()
        stopper = E.Stopper()
        with _one_blas_thread(), _env(P.ONE_THREAD if pool is not None else {}), stopper.signals():
            outcome, ended = P.run(h, plan, split, stopper, pool, None, L.Watch(L.grace_of(h)),
                                   shared or (share and share.path))
    except BaseException:
        if pool is not None and not pool.released:
            pool.stop()
        raise
    return outcome, ended, h, plan


def _preload(storage: str) -> None:
    """The heavy imports a worker needs, done while its coordinator still prepares the study."""
    import optuna.storages.journal  # noqa: F401

    from hpsearch import search

    search.preload()

    if "://" in storage:
        import sqlalchemy.orm  # noqa: F401


def _watch_parent() -> None:
    """A worker started by a coordinator's --jobs stops (as on SIGTERM) when that coordinator dies."""
    import os
    import signal
    import threading

    pid = os.environ.pop("HPSEARCH_PARENT_PID", "")
    if not pid.isdigit():
        return

    def watch() -> None:
        while os.getppid() == int(pid):
            threading.Event().wait(1.0)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="hpsearch-parent-watch", daemon=True).start()


def register(app: typer.Typer) -> None:
    app.command(
        "worker",
        epilog="Example: hpsearch worker --storage postgresql://me@db.lan/hp --study coarse-lr --jobs 4",
    )(worker)
