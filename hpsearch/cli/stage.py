"""What `coarse`, `fine` and `export` share: run a stage on the engine, render its results, pick the exit code.

Exit codes: 0 ok · 1 every trial diverged or failed, or a warning under --strict · 130 SIGINT / 143 SIGTERM
(what finished is saved; the same command resumes).
"""

from __future__ import annotations

import sys

import typer

from hpsearch.cli import env
from hpsearch.cli.errors import fail_line, warn_line
from hpsearch.cli.flags import RunFlags, naming_flags
from hpsearch.cli.output import console, emit_json, search_progress
from hpsearch.errors import DataError


def run(request, run_flags: RunFlags, pool) -> None:
    """Run the stage `request` (an engine.stage.StageRequest), render its outcome and exit with its code."""
    from hpsearch.engine import stage

    with naming_flags(DataError):
        result = stage.run_stage(request, env.runtime(), pool, search_progress(request.command, run_flags.quiet),
                                 warn_line)
    if result.queued is not None:
        _report_queued(result.queued, request.out, run_flags.json_out)
        raise typer.Exit(0)
    doc = result.doc  # (result.problems were told to warn_line as they happened)
    render(doc, request.out, run_flags.top_k, run_flags.quiet, run_flags.json_out)
    raise typer.Exit(_exit_code(doc, request.out, result.stopped_by, run_flags.strict, request.fresh))


def _report_queued(q, out: str, json_out: bool) -> None:
    sys.stderr.write(f"hpsearch: study {q.study!r} in {q.where}: {q.enqueued} trial(s) enqueued, {q.done} of "
                     f"{q.requested} done; run 'hpsearch worker --storage {q.join} --study {q.study}' on each "
                     f"machine, then 'hpsearch export --storage {q.join} --study {q.study} --out {out}'\n")
    if json_out:
        emit_json({"study": q.study, "storage": q.where, "requested": q.requested, "enqueued": q.enqueued,
                   "done": q.done})


def _exit_code(doc: dict, out: str, stopped_by: int | None, strict: bool, fresh: bool = False) -> int:
    if stopped_by is not None:
        p = doc["progress"]
        again = "the same command again without --fresh" if fresh else "the same command again"
        sys.stderr.write(f"hpsearch: interrupted: {p['done']} of {p['requested']} trials done, saved to {out}; "
                         f"run {again} to resume\n")
        return 128 + int(stopped_by)
    if gate(doc, out):
        return 1
    if strict and doc["warnings"]:
        fail_line(f"--strict: {len(doc['warnings'])} warning(s) (see above); widen or shift the range")
        return 1
    return 0


def gate(doc: dict, out: str) -> int:
    """1 (with the error line) when the results hold trials but none completed: every one diverged, or
    failed; else 0. The exit code of a search, and of `export`, whatever else they report."""
    from hpsearch.results.verdicts import gate_failure

    why = gate_failure(doc, out)
    if why is not None:
        fail_line(why)
        return 1
    return 0


def render(doc: dict, out: str, top_k: int, quiet: bool, json_out: bool) -> None:
    """Warnings (stderr), the report unless quiet (stderr under --json), then the document if --json."""
    for w in doc["warnings"]:
        if w["kind"] != "all_diverged":  # that one is the error line
            warn_line(w["message"] + (f" [evidence: {w['evidence']}]" if w.get("evidence") else ""))
    sys.stderr.flush()
    if not quiet:
        from hpsearch.report.search import report  # Rich tables: not imported by --quiet runs (CI)

        con = console(json_out)
        con.print(report(doc, top_k))
        con.print(f"results: {out}")
    if json_out:
        emit_json(doc)
