"""`hpsearch worker --storage URL --study NAME`: join a study and train its queued trials until none is left.

Everything a worker needs is in the study, written there by the coordinator (`hpsearch coarse` or `fine`
with --storage/--study): what is searched and its seed, the data spec and fingerprint, and the grace
(engine/identity.py). The same command starts the extra processes of `--jobs N` on the coordinator's
machine: those read "go FOLDER" on stdin and train on the split their coordinator saved there
(data/shared_split.py) instead of loading --data.
"""

from __future__ import annotations

import sys
from typing import Annotated, Optional

import typer

from hpsearch.cli import command, env, flags
from hpsearch.cli.errors import warn_line
from hpsearch.cli.output import emit_json

StorageReq = Annotated[Optional[str], typer.Option(
    "--storage", envvar="HPSEARCH_STORAGE", show_envvar=True, rich_help_panel=flags.STORAGE,
    help="The study's storage: postgresql://user@host/db (several machines) or the coordinator's journal "
         "file.")]
StudyReq = Annotated[str, typer.Option("--study", rich_help_panel=flags.STORAGE, help="Study name (as the "
                                       "coordinator's --study, or 'coarse-results' for a default coarse --out "
                                       "results.json).")]


def worker(
    study: StudyReq,
    storage: StorageReq = None,
    jobs: Annotated[str, typer.Option("--jobs", "-j", metavar="<n|auto>", rich_help_panel=flags.STORAGE,
                                      help="Worker processes on this machine, this one included, each on one "
                                      "BLAS thread; auto: one per core this process may use.")] = "1",
    data: Annotated[Optional[str], typer.Option("--data", rich_help_panel=flags.DATA, show_default="as recorded",
                                                help="Where the study's data lives on this machine (its "
                                                "fingerprint must match).")] = None,
    wait: Annotated[float, typer.Option("--wait", rich_help_panel=flags.STORAGE, help="Seconds to wait for the "
                                        "study to appear (start workers before the coordinator).")] = 0.0,
    json_out: flags.Json = False,
    quiet: flags.Quiet = False,
) -> None:
    """Train the queued trials of a study started by 'hpsearch coarse/fine --storage URL --study NAME'.

    Pulls trials until none is waiting or running, then exits 0; Ctrl-C or SIGTERM records the trial in
    training as interrupted (it runs again) and exits 130/143. A trial whose worker stopped sending
    heartbeats (killed, machine lost) for the study's grace period is run again by another worker.
    """
    import os

    from hpsearch.engine import stage, storage as study_storage, study as optuna_study, workers
    from hpsearch.errors import ConfigError, DataError

    if not storage:
        raise ConfigError("worker: --storage is required", "pass the coordinator's --storage (or set HPSEARCH_STORAGE)",
                          key="storage")
    if not wait >= 0:  # negative or NaN
        raise ConfigError(f"--wait must be a number of seconds >= 0, got {wait}", "e.g. --wait 60", key="wait")
    study_storage.refuse_shared_sqlite(storage, "hpsearch worker")
    jobs = workers.parse_jobs(jobs)
    workers.check_jobs(jobs, storage)
    parent = os.environ.get(workers.PARENT_ENV, "")
    workers.watch_parent(int(parent) if parent.isdigit() else None)
    shared = None  # the folder of the split the coordinator shares (data/shared_split.py), from "go FOLDER"
    if os.environ.get(workers.GO_ENV):  # started by a coordinator's --jobs: import now, open after its "go"
        stage.preload_worker(storage)
        word, _, shared = sys.stdin.readline().strip().partition(" ")
        if word != "go":
            raise typer.Exit(0)  # the coordinator gave up before the search began
        shared = shared or None
    extra = ("--data", data) if data else ()
    pool = workers.Pool.start(study_storage.join_url(storage, None), study, jobs - 1, extra) if jobs > 1 else None
    with flags.naming_flags(DataError):
        joined = stage.join_study(storage, study, data, wait, shared, env.runtime(), pool, warn_line)
    me = optuna_study.worker_id()
    if not quiet:
        procs = f" (and {joined.children} more process(es))" if joined.children else ""
        sys.stderr.write(f"hpsearch: worker {me}{procs} ran {joined.ran} trial(s) of study {study!r}; "
                         f"{joined.done} of {joined.requested} done\n")
    stopped_by = joined.outcome.stopped_by
    if json_out:
        emit_json({"worker": me, "study": study, "storage": joined.where, "ran": joined.ran,
                   "done": joined.done, "requested": joined.requested, "stopped_by": stopped_by})
    raise typer.Exit(0 if stopped_by is None else 128 + int(stopped_by))


def register(app: typer.Typer) -> None:
    command.register(app, "worker", worker,
                     epilog="Example: hpsearch worker --storage postgresql://me@db.lan/hp --study coarse-lr --jobs 4")
