"""What `coarse` and `fine` share: run a stage on the engine, write its results, render, pick the exit code.

Exit codes: 0 ok · 1 every trial diverged, or a warning under --strict · 130 SIGINT / 143 SIGTERM
(what finished is saved; the same command resumes).

`--jobs N` trains here and in N-1 worker processes (hpsearch/parallel.py), all on one split built here into
memory-mapped files (hpsearch/shared_split.py); `--jobs 0` only records the plan in the study and enqueues
it, for `hpsearch worker` processes on other machines.
"""

from __future__ import annotations

import sys
import time
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path

import typer

from hpsearch.cli.output import console, emit_json, show_progress


@dataclass(frozen=True)
class Stage:
    command: str  # coarse | fine
    space: object  # hpsearch.space.Space, CLI overrides applied
    seed: int  # study seed (trial k: SeedSequence([seed, k]))
    data: dict  # spec, label_column, val_fraction, split_seed (for fine to reload the same data)
    out: str  # results file
    storage: str | None  # --storage URL (None: a journal file beside --out)
    study: str | None  # --study NAME (None: derived from the command and --out)
    fresh: bool
    strict: bool
    json_out: bool
    quiet: bool
    top_k: int = 10  # rows of the final table
    space_file: str | None = None  # where the space came from (coarse)
    parent: dict | None = None  # fine: {"path", "fingerprint", "command"}
    narrowed: dict | None = None  # fine: what changed per parameter
    jobs: int = 1  # worker processes on this machine, this one included; 0: enqueue only
    grace: float | None = None  # --grace: silence (s) after which a worker's trial runs again (None: study's/30)


def journal_path(out: str) -> Path:
    """results.json -> results.journal, beside it (x.journal -> x.journal.journal: never the --out file)."""
    p = Path(out)
    return p.with_name(p.name + ".journal") if p.suffix == ".journal" else p.with_name(p.stem + ".journal")


def default_study(command: str, out: str) -> str:
    return f"{command}-{Path(out).stem}"


def start_workers(command: str, jobs: int, storage: str | None, study: str | None, out: str):
    """--jobs N: start the N-1 other worker processes first thing (a parallel.Pool, or None), so that they
    import while this process reads the space, loads the data and prepares the study; run_stage lets them
    join once the study is ready. Use inside `released_on_error(pool)`."""
    from hpsearch import parallel as P  # light modules only: the point is to start early
    from hpsearch import storage as ST

    P.check_jobs(jobs, storage)
    if jobs <= 1:
        return None
    return P.Pool.start(ST.join_url(storage, journal_path(out)), study or default_study(command, out), jobs - 1)


@contextmanager
def released_on_error(pool):
    """Workers started early exit (without training) if the command fails before the search begins."""
    try:
        yield
    except BaseException:
        if pool is not None and not pool.released:
            pool.stop()
        raise


def run_stage(st: Stage, pool=None) -> None:
    """Run the stage; `pool`: the workers start_workers() started (None: started here when --jobs > 1)."""
    from hpsearch import parallel as P
    from hpsearch import results as R
    from hpsearch import lease as L
    from hpsearch import shared_split as SS
    from hpsearch import storage as ST

    if pool is None:
        pool = start_workers(st.command, st.jobs, st.storage, st.study, st.out)
    name = st.study or default_study(st.command, st.out)
    journal = journal_path(st.out)
    # the shared split's folder goes after the workers: released_on_error (inner) stops them first
    with SS.sharing(pool is not None and SS.enabled()) as share, released_on_error(pool):
        ST.check_out_is_not_study(st.out, st.storage, journal)
        if st.grace is not None:
            L.check_grace(st.grace)
        R.check_writable(st.out)
        from hpsearch import document
        from hpsearch import search as E
        from hpsearch.plan import check_data, make_plan

        base = st.space.base_config()
        plan = make_plan(st.space, st.seed, base)
        split = load_split(st.data, base.dtype, st.parent["path"] if st.parent else "the parent file", share)
        check_data(plan, split)
        data = {**st.data, **split.info(), "classes": split.num_classes}

        h = ST.open_study(st.storage, journal, name, st.fresh)
        ident = document.identity(st.command, plan, base, data, st.parent)
        m = document.meta(data, st.parent, st.narrowed, st.space_file)
        queued = E.prepare(h, plan, ident, R.strict(m), st.grace)
        if st.jobs == 0:
            h.sync()
            _report_queued(st, h, plan, queued)
            raise typer.Exit(0)

        E.preload()
        t0 = time.perf_counter()
        watch = L.Watch(L.grace_of(h))
        with _progress(st, h, plan), _one_blas_thread(), _env(P.ONE_THREAD if st.jobs > 1 else {}):
            stopper = E.Stopper()
            with stopper.signals():
                outcome, ended = P.run(h, plan, split, stopper, pool, None, watch, share and share.path)
    h.sync()
    for line in P.problems(ended):
        sys.stderr.write(f"hpsearch: warning: {line}\n")
    if outcome.plan is not None and len(outcome.plan.trials) > len(plan.trials):
        plan, ident, m = document.plan_of(h)  # another coordinator raised --trials meanwhile: report the study's
    records = E.collect(h, plan)
    doc = document.build(h, plan, ident, m, records, {
        "interrupted": outcome.stopped_by is not None, "ran_now": P.ran_here(h, plan, outcome, ended),
        "seconds": round(time.perf_counter() - t0, 3)})
    R.write(st.out, doc)
    render(doc, st.out, st.top_k, st.quiet, st.json_out)
    raise typer.Exit(_exit_code(st, doc, outcome))


def load_split(d: dict, dtype: str, source: str, share=None):
    """The split a stage trains on, from its data spec (options.data_spec); a recorded fingerprint must
    match (`source` says where it was recorded). `share` (a shared_split.Folder): build it there, for workers."""
    from hpsearch.cli import options as O
    from hpsearch.errors import DataError

    split = O.load_spec(d, dtype, share.alloc if share is not None else None)
    if d.get("fingerprint") and split.fingerprint != d["fingerprint"]:
        raise DataError(f"--data {d['spec']}: fingerprint {split.fingerprint} differs from {d['fingerprint']} "
                        f"recorded in {source} (the data changed)",
                        "use the data the search was started on (--data PATH if it moved), or start over")
    if share is not None:
        share.save(split, d)
        if share.problem:
            sys.stderr.write(f"hpsearch: warning: {share.problem}; each worker loads --data itself instead "
                             "(one copy of the split per process)\n")
    return split


def _report_queued(st: Stage, h, plan, queued: int) -> None:
    from hpsearch import study as S

    done = len(S.done_trials(h, range(len(plan.trials))))
    storage = h.url if h.backend is not None else h.where
    sys.stderr.write(f"hpsearch: study {h.name!r} in {h.where}: {queued} trial(s) enqueued, {done} of "
                     f"{len(plan.trials)} done; run 'hpsearch worker --storage {storage} --study {h.name}' on each "
                     f"machine, then 'hpsearch export --storage {storage} --study {h.name} --out {st.out}'\n")
    if st.json_out:
        emit_json({"study": h.name, "storage": h.where, "requested": len(plan.trials), "enqueued": queued,
                   "done": done})


@contextmanager
def _env(values: dict):
    """Set environment variables for the duration (the trainer reads HPSEARCH_THREADS per fit)."""
    import os

    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _exit_code(st: Stage, doc: dict, outcome) -> int:
    from hpsearch.cli import fail_line

    if outcome.stopped_by is not None:
        p = doc["progress"]
        sys.stderr.write(f"hpsearch: interrupted: {p['done']} of {p['requested']} trials done, saved to {st.out}; "
                         "run the same command again to resume\n")
        return 128 + int(outcome.stopped_by)
    if gate(doc, st.out):
        return 1
    if st.strict and doc["warnings"]:
        fail_line(f"--strict: {len(doc['warnings'])} warning(s) (see above); widen or shift the range")
        return 1
    return 0


def gate(doc: dict, out: str) -> int:
    """1 (with the error line) when the results hold trials but none completed: every one diverged, or
    failed; else 0. The exit code of a search, and of `export`, whatever else they report."""
    from hpsearch.cli import fail_line

    if any(w["kind"] == "all_diverged" for w in doc["warnings"]):
        fail_line(next(w["message"] for w in doc["warnings"] if w["kind"] == "all_diverged"))
        return 1
    if doc["best"] is None and doc["trials"]:
        fail_line("no trial completed (see the trials' errors in " + out + ")")
        return 1
    return 0


def render(doc: dict, out: str, top_k: int, quiet: bool, json_out: bool) -> None:
    """Warnings (stderr), the report unless quiet (stderr under --json), then the document if --json."""
    for w in doc["warnings"]:
        if w["kind"] != "all_diverged":  # that one is the error line
            sys.stderr.write(f"hpsearch: warning: {w['message']}\n")
    sys.stderr.flush()
    if not quiet:
        from hpsearch.report_search import report  # Rich tables: not imported by --quiet runs (CI)

        con = console(json_out)
        con.print(report(doc, top_k))
        con.print(f"results: {out}")
    if json_out:
        emit_json(doc)


def _progress(st: Stage, h, plan):
    """A Rich bar on a terminal's stderr (trials done, diverged so far, best so far), read from the study
    twice a second, so trials finished by other processes and machines count too; else a no-op."""
    if not show_progress(st.quiet):
        return nullcontext()
    import threading

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from hpsearch import search as E

    def info(records) -> str:
        ok = [r.val_acc for r in records if r.status == "complete" and r.val_acc is not None]
        best = f"{max(ok):.3f}" if ok else "-"
        return f"diverged {sum(r.status == 'diverged' for r in records)} · best val_acc {best}"

    @contextmanager
    def bar():
        records = E.collect(h, plan)
        with Progress(TextColumn(f"{st.command}"), MofNCompleteColumn(), BarColumn(), TextColumn("{task.fields[info]}"),
                      TimeElapsedColumn(), console=Console(stderr=True), transient=True) as p:
            task = p.add_task(st.command, total=len(plan.trials), completed=len(records), info=info(records))
            stop = threading.Event()

            def poll() -> None:
                while not stop.wait(0.5):
                    try:
                        rs = E.collect(h, plan)
                    except Exception:  # noqa: BLE001 - the search itself reports storage faults
                        continue
                    p.update(task, completed=len(rs), info=info(rs))

            t = threading.Thread(target=poll, name="hpsearch-progress", daemon=True)
            t.start()
            try:
                yield
            finally:
                stop.set()
                t.join()

    return bar()


def _one_blas_thread():
    """Small matrices train fastest on one BLAS thread (on this 2-core machine: 9 ms vs 88 ms a trial when
    other processes compete for the cores), and --jobs workers must not fight over the cores. threadpoolctl
    is a dependency; without it (a broken install) the environment set for --jobs children still holds.
    The same limiter as each fit's, on the process's one ThreadpoolController (no second library scan)."""
    from hpsearch.nn.lanes import single_threaded_blas

    return single_threaded_blas()

