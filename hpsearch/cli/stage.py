"""What `coarse` and `fine` share: run a stage on the engine, write its results, render, pick the exit code.

Exit codes: 0 ok · 1 every trial diverged, or a warning under --strict · 130 SIGINT / 143 SIGTERM
(what finished is saved; the same command resumes).
"""

from __future__ import annotations

import sys
import time
from contextlib import nullcontext
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


def journal_path(out: str) -> Path:
    """results.json -> results.journal, beside it."""
    p = Path(out)
    return p.with_name(p.stem + ".journal")


def default_study(command: str, out: str) -> str:
    return f"{command}-{Path(out).stem}"


def run_stage(st: Stage) -> None:
    from hpsearch import document
    from hpsearch import results as R
    from hpsearch import search as E
    from hpsearch import storage as ST
    from hpsearch.cli import options as O
    from hpsearch.plan import check_data, make_plan

    R.check_writable(st.out)
    base = st.space.base_config()
    plan = make_plan(st.space, st.seed, base)
    d = st.data
    split = O.load_split(d["spec"], d.get("label_column"), d["val_fraction"], d["split_seed"], base.dtype,
                         d.get("max_samples"), d.get("flatten", False), d.get("preprocess", "standardize"))
    if d.get("fingerprint") and split.fingerprint != d["fingerprint"]:
        from hpsearch.errors import DataError

        raise DataError(f"--data {d['spec']}: fingerprint {split.fingerprint} differs from {d['fingerprint']} "
                        f"recorded in {st.parent['path'] if st.parent else 'the parent file'} (the data changed)",
                        "use the data the parent stage ran on, or rerun coarse")
    check_data(plan, split)
    data = {**d, **split.info(), "classes": split.num_classes}

    name = st.study or default_study(st.command, st.out)
    h = ST.open_study(st.storage, journal_path(st.out), name, st.fresh)
    ident = document.identity(st.command, plan, base, data, st.parent)
    E.prepare(h, plan, ident)
    m = document.meta(data, st.parent, st.narrowed, st.space_file)
    document.save_meta(h, m)

    t0 = time.perf_counter()
    with _progress(st, len(plan.trials), E.collect(h, plan)) as on_trial, _one_blas_thread():
        stopper = E.Stopper()
        with stopper.signals():
            outcome = E.run(h, plan, split, stopper, on_trial)
    h.sync()
    records = E.collect(h, plan)
    doc = document.build(h, plan, ident, m, records, {
        "interrupted": outcome.stopped_by is not None, "ran_now": outcome.ran,
        "seconds": round(time.perf_counter() - t0, 3)})
    R.write(st.out, doc)
    _render(st, doc)
    raise typer.Exit(_exit_code(st, doc, outcome))


def _exit_code(st: Stage, doc: dict, outcome) -> int:
    from hpsearch.cli import fail_line

    if outcome.stopped_by is not None:
        p = doc["progress"]
        sys.stderr.write(f"hpsearch: interrupted: {p['done']} of {p['requested']} trials done, saved to {st.out}; "
                         "run the same command again to resume\n")
        return 128 + int(outcome.stopped_by)
    if any(w["kind"] == "all_diverged" for w in doc["warnings"]):
        fail_line(next(w["message"] for w in doc["warnings"] if w["kind"] == "all_diverged"))
        return 1
    if doc["best"] is None and doc["trials"]:
        fail_line("no trial completed (see the trials' errors in " + st.out + ")")
        return 1
    if st.strict and doc["warnings"]:
        fail_line(f"--strict: {len(doc['warnings'])} warning(s) (see above); widen or shift the range")
        return 1
    return 0


def _render(st: Stage, doc: dict) -> None:
    from hpsearch.report_search import report

    for w in doc["warnings"]:
        if w["kind"] != "all_diverged":  # that one is the error line
            sys.stderr.write(f"hpsearch: warning: {w['message']}\n")
    sys.stderr.flush()
    if not st.quiet:
        out = console(st.json_out)
        out.print(report(doc, st.top_k))
        out.print(f"results: {st.out}")
    if st.json_out:
        emit_json(doc)


def _progress(st: Stage, total: int, done: list):
    """A Rich bar on a terminal's stderr (trials done, diverged so far, best so far); else a no-op callback."""
    if not show_progress(st.quiet):
        return nullcontext(None)
    from contextlib import contextmanager

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    @contextmanager
    def bar():
        ok = [r.val_acc for r in done if r.status == "complete"]
        seen = {"diverged": sum(r.status == "diverged" for r in done), "best": max(ok) if ok else None}

        def info() -> str:
            best = "-" if seen["best"] is None else f"{seen['best']:.3f}"
            return f"diverged {seen['diverged']} · best val_acc {best}"

        with Progress(TextColumn(f"{st.command}"), MofNCompleteColumn(), BarColumn(), TextColumn("{task.fields[info]}"),
                      TimeElapsedColumn(), console=Console(stderr=True), transient=True) as p:
            task = p.add_task(st.command, total=total, completed=len(done), info=info())

            def on_trial(r) -> None:
                seen["diverged"] += r.status == "diverged"
                if r.status == "complete" and (seen["best"] is None or r.val_acc > seen["best"]):
                    seen["best"] = r.val_acc
                p.update(task, advance=1, info=info())

            yield on_trial

    return bar()


def _one_blas_thread():
    """Small matrices train fastest on one BLAS thread (on this 2-core machine: 9 ms vs 88 ms a trial when
    other processes compete for the cores); threadpoolctl is optional."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover
        return nullcontext()
    return threadpool_limits(limits=1, user_api="blas")

